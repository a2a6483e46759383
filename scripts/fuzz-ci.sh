#!/usr/bin/env bash
# Fuzzing in CI: builds the libFuzzer harnesses (clang, ASan + UBSan) into
# build-fuzz, replays every committed seed corpus, then fuzzes each harness
# for FUZZ_SECONDS (default 30) on a scratch copy of its corpus, so the
# repository is never modified. Any crash, leak or sanitizer report fails.
# Prints the executions per harness.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${FUZZ_SECONDS:-30}
harnesses=(dotenv identity template vault-open)
declare -A maxlen=([dotenv]=8192 [identity]=4096 [template]=8192 [vault-open]=131072)

if [ ! -f build-fuzz/build.ninja ]; then
  CC=clang meson setup build-fuzz -Dfuzz=true -Ddocs=false \
    -Db_sanitize=address,undefined -Db_lundef=false >/dev/null
fi
ninja -C build-fuzz >/dev/null

scratch=$(mktemp -d "${TMPDIR:-/tmp}/envx-fuzz.XXXXXX")
trap 'rm -rf "$scratch"' EXIT
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1

printf '%-12s %10s %10s %8s\n' harness seeds execs exec/s
for h in "${harnesses[@]}"; do
  bin="build-fuzz/tests/fuzz-$h"
  seeds="tests/fuzz/corpus/$h"
  [ -d "$seeds" ] || { echo "no seed corpus for $h" >&2; exit 1; }
  # 1. replay: every committed input must pass
  "$bin" -runs=0 "$seeds" >"$scratch/$h.replay" 2>&1 || {
    cat "$scratch/$h.replay" >&2
    echo "fuzz-$h: a committed seed fails" >&2
    exit 1
  }
  # 2. fuzz on a copy of the corpus; artifacts in the scratch directory
  mkdir -p "$scratch/$h"
  cp -r "$seeds"/. "$scratch/$h/"
  rm -f "$scratch/$h/README.md"
  "$bin" -max_total_time="$seconds" -max_len="${maxlen[$h]}" -print_final_stats=1 \
    -artifact_prefix="$scratch/$h-" -timeout=10 -rss_limit_mb=2048 \
    "$scratch/$h" >"$scratch/$h.log" 2>&1 || {
    tail -60 "$scratch/$h.log" >&2
    mkdir -p fuzz-artifacts && cp "$scratch/$h-"* fuzz-artifacts/ 2>/dev/null || true
    echo "fuzz-$h: crash (the input is in fuzz-artifacts/)" >&2
    exit 1
  }
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$scratch/$h.log" | tail -1)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$scratch/$h.log" | tail -1)
  printf '%-12s %10s %10s %8s\n' "$h" "$(ls "$seeds" | wc -l)" "${execs:-?}" "${rate:-?}"
done
