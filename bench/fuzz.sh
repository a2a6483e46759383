#!/usr/bin/env bash
# Long fuzzing runs: each libFuzzer harness (ASan + UBSan) for DURATION on a
# temporary copy of its committed corpus, two at a time (this is a 2-core
# machine; FUZZ_JOBS overrides), then a table of seconds, executions,
# exec/s, new corpus units and the result per harness. A harness stops at
# its first crash; the input is kept in build-fuzz/fuzz-artifacts/ and its
# report printed. The repository is not modified.
#
# usage: bench/fuzz.sh [DURATION [HARNESS...]]
#   DURATION: seconds, or a number followed by s, m or h (default 1h, per
#   harness: four harnesses two at a time take twice that);
#   HARNESS: dotenv, identity, template, vault-open (default all).
# FUZZ_KEEP_CORPUS=DIR keeps the grown corpora (to minimize with -merge=1
# and commit the new seeds by hand).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)

duration=${1:-1h}
case $duration in
*h) seconds=$((${duration%h} * 3600)) ;;
*m) seconds=$((${duration%m} * 60)) ;;
*s) seconds=${duration%s} ;;
*) seconds=$duration ;;
esac
if ! [[ $seconds =~ ^[0-9]+$ ]] || [ "$seconds" -lt 1 ]; then
	echo "usage: bench/fuzz.sh [DURATION [HARNESS...]] (e.g. 90s, 30m, 1h)" >&2
	exit 2
fi
shift $(($# > 0 ? 1 : 0))

export FUZZ_SECONDS=$seconds
export FUZZ_JOBS=${FUZZ_JOBS:-2}
if [ $# -gt 0 ]; then
	export FUZZ_HARNESSES="$*"
fi
echo "fuzz bench: ${seconds} s per harness, ${FUZZ_JOBS} at a time," \
	"$(nproc) CPUs, $(clang --version | head -n 1)"
exec bash "$root/scripts/fuzz-ci.sh"
