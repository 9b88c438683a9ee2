#!/usr/bin/env bash
# Crash test of the relay: under load, kill -9 the relay, restart it on the same SQLite file,
# then check that every lead that got a 2xx is in the database and that every qualified lead
# reached the webhook receiver (exactly once after deduplication by webhook-id; the repeats,
# messages in flight at the kill, are counted). Exits non-zero when a lead was lost.
# `cargo test -p leadgate-relay --test crash` runs a short version of this in the test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --profile relay -p leadgate-relay --bin leadgate-relay --example loadgen
target="${CARGO_TARGET_DIR:-target}"
exec "$target/relay/examples/loadgen" crash "$target/relay/leadgate-relay" "${1:-50000}" "${2:-16}"
