// Shrinks the widget's stylesheet at build time (included by build.rs, and tested by
// tests/css.rs): comments out, whitespace collapsed and dropped where CSS's grammar does not
// need it. The stylesheet ships inside every widget's wasm; its comments alone were a quarter
// of its 5.5 KB. A CSS library (lightningcss) would be ~100 crates of build dependency on
// every build for a file this regular; these four rules are all the file needs.

/// `css` without comments and without the whitespace the grammar does not need: around
/// `{ } ; , >`, after `:`, and the last `;` of a block. Quoted strings are kept as written.
pub fn minify_css(css: &str) -> String {
    let mut out = String::with_capacity(css.len());
    let mut chars = css.chars().peekable();
    let mut space = false;
    while let Some(c) = chars.next() {
        match c {
            '/' if chars.peek() == Some(&'*') => {
                chars.next();
                let mut last = ' ';
                for c in chars.by_ref() {
                    if last == '*' && c == '/' {
                        break;
                    }
                    last = c;
                }
                space = true;
            }
            '"' | '\'' => {
                flush_space(&mut out, &mut space);
                out.push(c);
                for q in chars.by_ref() {
                    out.push(q);
                    if q == c {
                        break;
                    }
                }
            }
            c if c.is_whitespace() => space = true,
            '{' | '}' | ';' | ',' | '>' | ':' => {
                if c == ':' {
                    // A space before a colon can be a descendant combinator (`.a :focus`).
                    flush_space(&mut out, &mut space);
                }
                space = false;
                if c == '}' && out.ends_with(';') {
                    out.pop();
                }
                out.push(c);
            }
            c => {
                flush_space(&mut out, &mut space);
                out.push(c);
            }
        }
    }
    out
}

/// Writes the pending space, unless what came before makes it pointless.
fn flush_space(out: &mut String, space: &mut bool) {
    if *space && !(out.is_empty() || out.ends_with(['{', '}', ';', ',', '>', ':'])) {
        out.push(' ');
    }
    *space = false;
}
