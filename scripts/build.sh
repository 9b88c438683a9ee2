#!/usr/bin/env bash
# Builds the widget for release into dist/ (leadgate.js, leadgate_bg.wasm, the demo page) with
# a size-optimised standard library (scripts/wasm-release-env.sh), checks its size budget, and
# writes brotli and gzip twins of the files (.br, .gz) for servers that serve them precompressed.
# Run scripts/setup.sh first (demo.sh and test.sh do).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PWD/node_modules/.bin:$PATH"
source scripts/wasm-release-env.sh
trunk build --release=true
node scripts/size.mjs
node scripts/precompress.mjs dist
