#!/usr/bin/env bash
# Scale measurement (issue 15): fills a release relay on a fresh SQLite file with LEADS demo
# leads (default 1000000) from CONCURRENCY keep-alive clients (default 8), posts outcomes for
# 20% of them, and prints the reading routes' times (median of 5), the CSV export's first
# byte, total and RSS growth, and database bytes per lead, at 100,000 leads and at LEADS.
# On PostgreSQL with --postgres (a throwaway cluster, as the tests start) or with
# LEADGATE_DATABASE_URL set. Not a timed test: it prints numbers.
#   scripts/million.sh [--postgres] [LEADS] [CONCURRENCY]
set -euo pipefail
cd "$(dirname "$0")/.."
flags=()
args=()
for a in "$@"; do
  case "$a" in
    --postgres) flags+=(--postgres) ;;
    *) args+=("$a") ;;
  esac
done
cargo build --profile relay -p leadgate-relay --bin leadgate-relay --example million
target="${CARGO_TARGET_DIR:-target}"
exec "$target/relay/examples/million" "$target/relay/leadgate-relay" "${args[0]:-1000000}" "${args[1]:-8}" ${flags[@]+"${flags[@]}"}
