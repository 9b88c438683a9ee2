#!/usr/bin/env bash
# Crash test of the relay: under load, kill -9 the relay, restart it on the same SQLite file,
# then check that every lead that got a 2xx is in the database and that every qualified lead
# reached the webhook receiver exactly once. Exits non-zero when a lead was lost.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --profile relay -p leadgate-relay --bin leadgate-relay --example loadgen
exec target/relay/examples/loadgen crash target/relay/leadgate-relay "${1:-50000}" "${2:-16}"
