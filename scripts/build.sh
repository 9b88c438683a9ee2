#!/usr/bin/env bash
# Builds the widget for release into dist/ (leadgate.js, leadgate_bg.wasm, the demo page) and
# checks its size budget. Run scripts/setup.sh first (demo.sh and test.sh do).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PWD/node_modules/.bin:$PATH"
trunk build --release=true
node scripts/size.mjs
