#!/usr/bin/env bash
# Coverage-guided fuzzing of leadgate's core with cargo-fuzz (libFuzzer): five targets in
# fuzz/fuzz_targets/ (the JSON reader against serde_json, the config reader + scoring, the
# relay's payload intake + re-scoring, the widget's stored visitor memory and outbox, the
# e-mail checks), one after another, each from its committed seeds (fuzz/corpus/<target>)
# with its dictionary (fuzz/dict/<target>.dict). A panic, a timeout (5 s) or running out of
# memory (2 GB) stops that target and fails the run (the other targets still run); the input
# is left in fuzz/artifacts/<target>/.
#   bash scripts/fuzz.sh              # the long run: 10,000,000 executions per target
#   bash scripts/fuzz.sh short        # CI: 25 s per target (~2 min, plus the build)
#   bash scripts/fuzz.sh cmin         # shrink the committed seeds to what adds coverage
#   bash scripts/fuzz.sh install      # only install cargo-fuzz, if missing (setup.sh)
#   RUNS=50000000 TARGETS="json config" bash scripts/fuzz.sh
# New inputs a run finds go to fuzz/work/<target> (ignored by git), read again by the next run.
#
# The toolchain is stable Rust 1.95. The targets are built without a sanitizer
# (`--sanitizer none`), which needs only stable flags: leadgate forbids `unsafe`, so
# AddressSanitizer has nothing of ours to check, and it costs ~9x (json target, same seeds,
# 20 s, 2 busy cores: 2,033 executions/s with ASan, 18,809/s without; ASan's build took
# 9.5 min). `SANITIZER=address bash scripts/fuzz.sh short` runs with it all the same:
# `-Zsanitizer` is a nightly flag, so RUSTC_BOOTSTRAP=1 is set for that. Built `-O -a`:
# optimised, with debug assertions and overflow checks on, so an overflow is a finding.
set -euo pipefail
cd "$(dirname "$0")/.."

CARGO_FUZZ_VERSION=0.13.2
MODE=${1:-long}
RUNS=${RUNS:-10000000}
SECONDS_PER_TARGET=${SECONDS_PER_TARGET:-25}
TARGETS=${TARGETS:-json config payload visitor_context email}
SANITIZER=${SANITIZER:-none}
export PATH="$HOME/.cargo/bin:$PATH"
[ "$SANITIZER" = none ] || export RUSTC_BOOTSTRAP=1

# (scripts/setup.sh runs `bash scripts/fuzz.sh install`: the version is pinned here only.)
if ! out=$(cargo fuzz --version 2>/dev/null) || ! grep -qF "cargo-fuzz $CARGO_FUZZ_VERSION" <<<"$out"; then
  # 0.13.2 builds on Rust 1.95 (crates.io only). 2 min 41 s measured here (2 cores, busy).
  printf '\n== fuzz: cargo-fuzz %s (cargo install, ~3 min)\n' "$CARGO_FUZZ_VERSION"
  cargo install --locked cargo-fuzz --version "$CARGO_FUZZ_VERSION"
fi
[ "$MODE" = install ] && exit 0

FLAGS=(-O -a --sanitizer "$SANITIZER")
case "$MODE" in
  long) LIMIT=(-runs="$RUNS") ;;
  short) LIMIT=(-max_total_time="$SECONDS_PER_TARGET") ;;
  cmin)
    for target in $TARGETS; do
      cargo fuzz cmin "${FLAGS[@]}" "$target" "fuzz/corpus/$target"
    done
    exit 0
    ;;
  *) echo "usage: bash scripts/fuzz.sh [long|short|cmin|install]" >&2; exit 2 ;;
esac

printf '\n== fuzz: build (%s)\n' "${FLAGS[*]}"
cargo fuzz build "${FLAGS[@]}"

summary=()
for target in $TARGETS; do
  printf '\n== fuzz: %s (%s)\n' "$target" "${LIMIT[*]}"
  mkdir -p "fuzz/work/$target"
  log="fuzz/work/$target.log"
  start=$SECONDS
  # The first corpus folder takes what the run finds; the committed seeds are only read.
  set +e
  cargo fuzz run "${FLAGS[@]}" "$target" "fuzz/work/$target" "fuzz/corpus/$target" -- \
    "${LIMIT[@]}" -timeout=5 -rss_limit_mb=2048 -dict="fuzz/dict/$target.dict" \
    -print_final_stats=1 2>&1 | tee "$log" \
    | grep --line-buffered -E '^(#[0-9]+ +(INITED|DONE|pulse)|Done|stat::)|panicked|ERROR|SUMMARY'
  status=${PIPESTATUS[0]}
  set -e
  runs=$(awk '/^stat::number_of_executed_units:/ {print $2}' "$log")
  per_second=$(awk '/^stat::average_exec_per_sec:/ {print $2}' "$log")
  if [ "$status" != 0 ]; then
    summary+=("$target: FAILED after ${runs:-?} executions: see $log and fuzz/artifacts/$target/")
    failed=1
  else
    summary+=("$target: $runs executions in $((SECONDS - start)) s ($per_second/s), 0 crashes, 0 timeouts")
  fi
done
printf '\n== fuzz: summary\n'
printf '%s\n' "${summary[@]}"
exit "${failed:-0}"
