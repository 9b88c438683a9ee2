# How the shipped wasm is built (sourced by scripts/build.sh and scripts/size-top.sh): the
# standard library is rebuilt for size, with panics that abort on the spot.
#
# - `-Zbuild-std=std,panic_abort` compiles std with the widget's own release profile
#   (opt-level "z", LTO), instead of linking the prebuilt std, which is optimised for speed;
#   `-Zbuild-std-features=` without std's default features leaves out backtraces and the
#   unwinding panic runtime the wasm never uses.
# - `-Zunstable-options -Cpanic=immediate-abort` (Rust >= 1.92; it replaced the std feature
#   `panic_immediate_abort`): a panic is a wasm trap right where it happens, without the
#   formatting machinery that builds a panic message nobody reads. The widget must not panic
#   anyway (a panic loses the lead): the loader reports a trap as `leadgate:error`, reason
#   `start`, like a crash.
# - `-Zbuild-std-features=optimize_for_size`: std's own size-over-speed paths (smaller sort,
#   formatting and string routines; the same results). -303 B brotli (2026-11-29).
# - `-Zlocation-detail=none`: no file/line/column for `#[track_caller]` locations, which only a
#   panic message would print, and panics abort without one. -418 B brotli.
# Measured and left out (scripts/build.sh totals, one lever at a time): `-Zfmt-debug=none`,
# `-Zshare-generics=y`, `-Zmerge-functions=trampolines` (all: the same wasm, byte for byte),
# `-Zinline-mir=yes` (+1,734 B), `-Cllvm-args=-inline-threshold=0` (+81 B), opt-level "s"
# (+13 KB), Leptos's `--cfg erase_components` (+4.1 KB), `-Zvirtual-function-elimination`
# (LLVM cannot lower it for wasm32: "Do not know how to promote this operator!").
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
export CARGO_UNSTABLE_BUILD_STD_FEATURES=optimize_for_size
export CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUSTFLAGS="-Zunstable-options -Cpanic=immediate-abort -Zlocation-detail=none"
