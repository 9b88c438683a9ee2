#!/usr/bin/env bash
# Sets up what is missing, then runs every check and test: format, lints (native and wasm32),
# the release build with its size budget, native unit/integration/end-to-end tests, and the
# widget's browser tests in headless Chromium.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export PATH="$HOME/.cargo/bin:$PWD/node_modules/.bin:$PATH"
export CHROMEDRIVER="${CHROMEDRIVER:-$(command -v chromedriver)}"

step() { printf '\n== test: %s\n' "$*"; }
step "format"
cargo fmt --all -- --check
step "clippy (native)"
cargo clippy --workspace --all-targets -- -D warnings
step "clippy (wasm32)"
# The widget with its browser tests, and the core library it ships (core's own tests and
# benches are native: proptest and criterion do not build for wasm32).
cargo clippy -p leadgate --all-targets --target wasm32-unknown-unknown -- -D warnings
cargo clippy -p leadgate-core --lib --target wasm32-unknown-unknown -- -D warnings
step "release build + size budget"
bash scripts/build.sh
step "native tests: core (spec fixtures, properties), relay, end-to-end in headless Chromium"
cargo test --workspace
step "core with the relay's features; the committed JSON Schema matches the code"
cargo test -p leadgate-core --features schema,full-email-lists
step "widget browser tests (wasm-bindgen-test, headless Chromium)"
cargo test -p leadgate --target wasm32-unknown-unknown --test web
