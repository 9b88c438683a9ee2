# How the shipped wasm is built (sourced by scripts/build.sh and scripts/size-top.sh): the
# standard library is rebuilt for size, with panics that abort on the spot.
#
# - `-Zbuild-std=std,panic_abort` compiles std with the widget's own release profile
#   (opt-level "z", LTO), instead of linking the prebuilt std, which is optimised for speed;
#   an empty `-Zbuild-std-features=` leaves out std's default features (backtraces and the
#   unwinding panic runtime the wasm never uses).
# - `-Zunstable-options -Cpanic=immediate-abort` (Rust >= 1.92; it replaced the std feature
#   `panic_immediate_abort`): a panic is a wasm trap right where it happens, without the
#   formatting machinery that builds a panic message nobody reads. The widget must not panic
#   anyway (a panic loses the lead): the loader reports a trap as `leadgate:error`, reason
#   `start`, like a crash.
#
# These are unstable flags; they run on the project's one pinned stable toolchain with
# RUSTC_BOOTSTRAP=1, rather than on a pinned nightly: one compiler for the widget, the relay, the
# tests and CI (a nightly would be a second ~300 MB toolchain to install and keep in step, and
# `rust-src`, which build-std needs, is installed for stable by scripts/setup.sh). The flags are
# set here, in the environment of the release build only, and scoped to the wasm32 target: a
# plain `cargo build` / `cargo test` (native or wasm32) never sees them, and since Trunk
# always passes `--target wasm32-unknown-unknown`, build-std never applies to a native build.
export RUSTC_BOOTSTRAP=1
export CARGO_UNSTABLE_BUILD_STD=std,panic_abort
export CARGO_UNSTABLE_BUILD_STD_FEATURES=
export CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUSTFLAGS="-Zunstable-options -Cpanic=immediate-abort"
