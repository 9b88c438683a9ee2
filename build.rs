//! The widget's stylesheet, minified into OUT_DIR for `include_str!` (style/minify.rs says why).

#[path = "style/minify.rs"]
mod minify;

fn main() {
    println!("cargo::rerun-if-changed=style/widget.css");
    println!("cargo::rerun-if-changed=style/minify.rs");
    let css = std::fs::read_to_string("style/widget.css").expect("style/widget.css is readable");
    let out = std::env::var("OUT_DIR").expect("cargo sets OUT_DIR");
    std::fs::write(format!("{out}/widget.min.css"), minify::minify_css(&css))
        .expect("OUT_DIR is writable");
}
