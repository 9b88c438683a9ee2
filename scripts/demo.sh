#!/usr/bin/env bash
# Sets up what is missing, builds the widget and starts the demo: the landing page with the
# widget at http://127.0.0.1:$PORT/ and the leads it sends at http://127.0.0.1:$PORT/leads.
set -euo pipefail
cd "$(dirname "$0")/.."
PORT="${PORT:-4870}"
bash scripts/setup.sh
bash scripts/build.sh
export PATH="$HOME/.cargo/bin:$PATH"
cargo build --profile relay -p leadgate-relay
echo
echo "Landing page: http://127.0.0.1:$PORT/   Leads: http://127.0.0.1:$PORT/leads   (Ctrl-C stops)"
exec target/relay/leadgate-relay --listen "127.0.0.1:$PORT" --db "${DB:-leads.db}" \
  --demo-dir dist --form demo/contact.json --allow-origin "http://127.0.0.1:$PORT"
