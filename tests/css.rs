//! The build's stylesheet minifier (style/minify.rs, run by build.rs): what it drops and what
//! it must keep.
#![cfg(not(target_arch = "wasm32"))]

#[path = "../style/minify.rs"]
mod minify;

use minify::minify_css;

#[test]
fn comments_and_needless_whitespace_go() {
    assert_eq!(
        minify_css("/* a */ .a ,\n .b > .c {\n  color : red ;\n  margin: 0 0 1px; /* b */\n}\n"),
        ".a,.b>.c{color :red;margin:0 0 1px}"
    );
}

#[test]
fn what_css_needs_stays() {
    // A descendant combinator before a pseudo-class, values' own spaces, quoted strings as
    // written (a comment marker inside one included), `!important`, a media query.
    assert_eq!(minify_css(".a :focus { x: 1 }"), ".a :focus{x:1}");
    assert_eq!(
        minify_css("a { font-family: \"Segoe  UI /* no */\", Arial; grid-area: 1 / 1 }"),
        "a{font-family:\"Segoe  UI /* no */\",Arial;grid-area:1 / 1}"
    );
    assert_eq!(
        minify_css("[hidden] { display: none !important; }"),
        "[hidden]{display:none !important}"
    );
    assert_eq!(
        minify_css("@media (prefers-reduced-motion: reduce) {\n  * { transition: none; }\n}"),
        "@media (prefers-reduced-motion:reduce){*{transition:none}}"
    );
}

#[test]
fn the_widget_stylesheet_keeps_every_rule() {
    let source = std::fs::read_to_string("style/widget.css").unwrap();
    let small = minify_css(&source);
    assert!(!small.contains("/*"), "a comment survived");
    assert!(small.len() * 10 < source.len() * 8, "{} of {} bytes", small.len(), source.len());
    // The same blocks and declarations, only less whitespace (comments hold braces too).
    let mut bare = String::new();
    for (i, part) in source.split("/*").enumerate() {
        bare.push_str(if i == 0 { part } else { part.split_once("*/").unwrap().1 });
    }
    let squeezed: String = bare.chars().filter(|c| !c.is_whitespace()).collect();
    let count = |s: &str, c: char| s.chars().filter(|&x| x == c).count();
    for c in ['{', '}', ':', ','] {
        assert_eq!(count(&small, c), count(&squeezed, c), "{c}");
    }
    // Each block's last `;` goes.
    assert_eq!(count(&small, ';'), count(&squeezed, ';') - squeezed.matches(";}").count());
}
