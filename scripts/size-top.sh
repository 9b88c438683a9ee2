#!/usr/bin/env bash
# What is big inside the wasm: builds the widget as scripts/build.sh does, but keeps the
# function names (the release profile strips them: stripping in cargo also gives a smaller
# wasm-bindgen output, measured), runs wasm-bindgen and wasm-opt -Os as Trunk does, with -g to
# keep the names, and prints `twiggy top`. Sizes are raw bytes of the optimised wasm; without
# the names subsection they add up to about what dist/leadgate_bg.wasm holds.
#   bash scripts/size-top.sh [N]        (N items, default 20; twiggy: cargo install twiggy)
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PWD/node_modules/.bin:$PATH"
source scripts/wasm-release-env.sh
TOP=${1:-20}
out=target/size-top
# A target dir of its own: another `strip` rebuilds every crate, and the next scripts/build.sh
# would then rebuild them all again (~10 min on 2 busy cores).
export CARGO_TARGET_DIR="$out/cargo"
CARGO_PROFILE_RELEASE_STRIP=none cargo build --release --target wasm32-unknown-unknown \
  --bin leadgate --offline
wasm-bindgen --target no-modules --out-dir "$out" --out-name leadgate \
  "$CARGO_TARGET_DIR/wasm32-unknown-unknown/release/leadgate.wasm"
# The same features and level as index.html gives Trunk's wasm-opt, then what the post-build
# hook does to the wasm (scripts/shrink-glue.mjs: dead exports out, one more pass), names kept.
wasm-opt -Os -g --enable-bulk-memory --enable-bulk-memory-opt \
  --enable-nontrapping-float-to-int --enable-sign-ext --enable-mutable-globals \
  --enable-reference-types --enable-multivalue --low-memory-unused \
  -o "$out/leadgate_bg.opt.wasm" "$out/leadgate_bg.wasm"
node scripts/shrink-glue.mjs "$out/leadgate_bg.opt.wasm" "$out/leadgate.js" --keep-names
twiggy top -n "$TOP" "$out/leadgate_bg.opt.wasm"
