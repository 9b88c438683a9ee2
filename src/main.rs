//! The widget's entry point, called when `leadgate.js` has loaded the wasm.

fn main() {
    console_error_panic_hook::set_once();
    leadgate::start();
}
