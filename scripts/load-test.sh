#!/usr/bin/env bash
# Load test of the relay on loopback: LEADS scored leads (default 20000) from CONCURRENCY
# keep-alive clients (default 16) against a release build on a fresh SQLite file
# (WAL, synchronous=FULL). Prints leads/s and p50/p90/p99 latency. Not a timed test.
# MODE=hostile: the same while 1,000 idle connections are open and every lead is forwarded to
# a fast and a 10-second webhook receiver.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --profile relay -p leadgate-relay --bin leadgate-relay --example loadgen
target="${CARGO_TARGET_DIR:-target}"
exec "$target/relay/examples/loadgen" "${MODE:-load}" "$target/relay/leadgate-relay" "${1:-20000}" "${2:-16}"
