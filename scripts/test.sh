#!/usr/bin/env bash
# Sets up what is missing, then runs every check and test: format, lints (native and wasm32),
# the release build with its size budget, native unit/integration/end-to-end tests (the
# end-to-end suite in headless Chromium, then again in headless Firefox and in WebKitGTK under
# Xvfb), the widget's browser tests in headless Chromium, and a short fuzzing run.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export PATH="$HOME/.cargo/bin:$PWD/node_modules/.bin:$PATH"
export CHROMEDRIVER="${CHROMEDRIVER:-$(command -v chromedriver)}"
# One full run builds ~55 test binaries and five target directories: no incremental caches
# (20 of target/debug's 55 GB on a development machine), and the disk left is printed as the
# run goes, since a full disk is what ended stop 12's CI run.
export CARGO_INCREMENTAL=0
disk() { printf 'disk: %s free; target %s\n' "$(df -h --output=avail . | tail -1 | tr -d ' ')" "$(du -sh target 2>/dev/null | cut -f1)"; }

step() { printf '\n== test: %s\n' "$*"; }
disk
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
LEADGATE_BROWSER=chromium cargo test --workspace
# The same end-to-end suite in the other two engines (LEADGATE_BROWSER picks the WebDriver);
# `dashboard` is the relay's dashboard clicked in the browser (it needs no widget build).
E2E_TESTS=(--test e2e --test outbox --test visitor --test embedding --test dashboard --test smart_forms)
step "end-to-end suite in headless Firefox (geckodriver)"
start=$SECONDS
LEADGATE_BROWSER=firefox cargo test -p leadgate "${E2E_TESTS[@]}"
echo "firefox end-to-end: $((SECONDS - start)) s"
step "end-to-end suite in WebKitGTK (WebKitWebDriver, MiniBrowser under Xvfb)"
# MiniBrowser has no headless mode: a private Xvfb, on a display number it picks itself
# (-displayfd), stopped on exit whatever happens.
display_file=$(mktemp)
Xvfb -displayfd 3 -screen 0 1280x1024x24 -nolisten tcp 3>"$display_file" 2>/dev/null &
XVFB_PID=$!
trap 'kill "$XVFB_PID" 2>/dev/null || true; rm -f "$display_file"' EXIT
for _ in $(seq 100); do [ -s "$display_file" ] && break; sleep 0.1; done
[ -s "$display_file" ] || { echo "Xvfb did not start" >&2; exit 1; }
start=$SECONDS
DISPLAY=":$(head -n1 "$display_file")" LEADGATE_BROWSER=webkit cargo test -p leadgate "${E2E_TESTS[@]}"
echo "webkit end-to-end: $((SECONDS - start)) s"
kill "$XVFB_PID" 2>/dev/null || true

step "core with the relay's features; the committed JSON Schema matches the code"
cargo test -p leadgate-core --features schema,full-email-lists
step "widget browser tests (wasm-bindgen-test, headless Chromium)"
cargo test -p leadgate --target wasm32-unknown-unknown --test web
disk
step "fuzzing, short: 25 s per target (the long run: bash scripts/fuzz.sh)"
bash scripts/fuzz.sh short
