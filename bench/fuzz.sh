#!/usr/bin/env bash
# Long fuzzing runs: each harness for DURATION seconds (default 3600), two at
# a time (this is a 2-core machine), on a scratch copy of its seed corpus.
# Reports executions and executions per second per harness, and any crash
# (its input is kept in bench/fuzz-out/). Usage: bash bench/fuzz.sh [SECONDS]
set -euo pipefail
cd "$(dirname "$0")/.."
duration=${1:-3600}
FUZZ_SECONDS=1 bash scripts/fuzz-ci.sh >/dev/null # builds and replays the seeds
out=bench/fuzz-out
mkdir -p "$out"
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
run() {
  local h=$1
  rm -rf "$out/$h.corpus" && cp -r "tests/fuzz/corpus/$h" "$out/$h.corpus"
  "build-fuzz/tests/fuzz-$h" -max_total_time="$duration" -print_final_stats=1 -timeout=10 \
    -artifact_prefix="$out/$h-" "$out/$h.corpus" >"$out/$h.log" 2>&1
  echo $? >"$out/$h.rc"
}
run dotenv & run identity & wait
run template & run vault-open & wait
printf '%-12s %12s %10s %s\n' harness execs exec/s result
for h in dotenv identity template vault-open; do
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$out/$h.log" | tail -1)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$out/$h.log" | tail -1)
  res=ok
  [ "$(cat "$out/$h.rc")" = 0 ] || res="CRASH: see $out/$h.log and $out/$h-*"
  printf '%-12s %12s %10s %s\n' "$h" "${execs:-?}" "${rate:-?}" "$res"
done
