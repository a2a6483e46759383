#!/usr/bin/env bash
# CI fuzzing: builds the libFuzzer harnesses (clang, ASan + UBSan,
# -Dfuzz=true) into build-fuzz, replays every committed seed corpus
# (tests/fuzz/corpus/<harness>/, each input once: none may crash), then
# fuzzes each harness for FUZZ_SECONDS (default 30) on a temporary copy of
# its corpus, so the repository is never modified. Prints executions per
# harness; exits non-zero on any crash, leak, sanitizer report or timeout,
# and keeps the inputs that caused them in build-fuzz/fuzz-artifacts/.
#
# usage: scripts/fuzz-ci.sh
# FUZZ_SECONDS=N: time per harness; FUZZ_JOBS=N: harnesses run at once
# (default: the number of CPUs, at most 2); FUZZ_HARNESSES="dotenv ...":
# only these; FUZZ_KEEP_CORPUS=DIR: keep the grown corpora in DIR/<harness>
# (bench/fuzz.sh runs this for longer).
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${FUZZ_SECONDS:-30}
jobs=${FUZZ_JOBS:-$(nproc)}
if [ "$jobs" -gt 2 ] && [ -z "${FUZZ_JOBS:-}" ]; then jobs=2; fi
build=build-fuzz
artifacts=$build/fuzz-artifacts
# harness and the -max_len its inputs need (the largest seed fits)
harnesses=(dotenv:16384 identity:4096 template:4096 vault-open:65536)
if [ -n "${FUZZ_HARNESSES:-}" ]; then
	chosen=()
	for want in $FUZZ_HARNESSES; do
		for h in "${harnesses[@]}"; do
			[ "${h%%:*}" = "$want" ] && chosen+=("$h")
		done
	done
	[ ${#chosen[@]} -gt 0 ] || { echo "fuzz: no harness in '$FUZZ_HARNESSES'" >&2; exit 2; }
	harnesses=("${chosen[@]}")
fi

start=$(date +%s)
echo "== fuzz (libFuzzer, ASan + UBSan: replay the corpora, ${seconds} s per harness)"

# --- build
if [ -f "$build/meson-info/intro-compilers.json" ] &&
	! grep -q '"id": "clang"' "$build/meson-info/intro-compilers.json"; then
	rm -rf "$build" # configured with another compiler
fi
opts=(-Dfuzz=true -Ddocs=false -Db_sanitize=address,undefined -Db_lundef=false)
if [ -d "$build/meson-info" ]; then
	meson configure "$build" "${opts[@]}" >/dev/null
else
	CC=clang meson setup "$build" "${opts[@]}" >/dev/null
fi
targets=()
for h in "${harnesses[@]}"; do targets+=("tests/fuzz-${h%%:*}"); done
ninja -C "$build" "${targets[@]}" >/dev/null

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# the vault harness writes its inputs to a file under TMPDIR: after a crash
# (no exit handlers run) it is left in $tmp, which goes too
export TMPDIR=$tmp
export ASAN_OPTIONS=detect_leaks=1${ASAN_OPTIONS:+:$ASAN_OPTIONS}
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1${UBSAN_OPTIONS:+:$UBSAN_OPTIONS}
rm -rf "$artifacts" # only this run's findings
mkdir -p "$artifacts"
fail=0

# --- replay: every committed input once, as individual files
for h in "${harnesses[@]}"; do
	name=${h%%:*}
	mapfile -t inputs < <(find "tests/fuzz/corpus/$name" -type f | sort)
	if ! "$build/tests/fuzz-$name" -timeout=30 "${inputs[@]}" \
		>"$tmp/replay-$name.log" 2>&1; then
		echo "fuzz-$name: replaying tests/fuzz/corpus/$name crashed:"
		# the input running when it failed, and the report
		awk '/^Running:/ { r = $0 } /ERROR|SUMMARY|runtime error/ {
			if (r != "") { print r; r = "" } print }' \
			"$tmp/replay-$name.log" | head -n 20
		fail=1
	else
		echo "fuzz-$name: replayed ${#inputs[@]} committed inputs"
	fi
done

# --- fuzz, $jobs harnesses at a time
run() { # run NAME MAXLEN
	local name=$1 maxlen=$2
	cp -r "tests/fuzz/corpus/$name" "$tmp/corpus-$name"
	mkdir -p "$tmp/art-$name"
	"$build/tests/fuzz-$name" -max_total_time="$seconds" -max_len="$maxlen" \
		-timeout=10 -print_final_stats=1 \
		-artifact_prefix="$tmp/art-$name/" "$tmp/corpus-$name" \
		>"$tmp/fuzz-$name.log" 2>&1
}
pids=()
names=()
for h in "${harnesses[@]}"; do
	run "${h%%:*}" "${h##*:}" &
	pids+=($!)
	names+=("${h%%:*}")
	if [ ${#pids[@]} -ge "$jobs" ]; then
		wait "${pids[0]}" || echo "${names[0]}" >>"$tmp/failed"
		pids=("${pids[@]:1}")
		names=("${names[@]:1}")
	fi
done
for i in "${!pids[@]}"; do
	wait "${pids[$i]}" || echo "${names[$i]}" >>"$tmp/failed"
done

final_stat() { # final_stat LOG NAME: a -print_final_stats=1 value
	sed -n "s/^stat::$2: *//p" "$1" | tail -n 1
}
printf '%-12s %7s %14s %10s %8s  %s\n' harness seconds executions exec/s 'new' result
for h in "${harnesses[@]}"; do
	name=${h%%:*}
	log=$tmp/fuzz-$name.log
	result=ok
	if grep -qx "$name" "$tmp/failed" 2>/dev/null; then
		result=FAILED
		fail=1
		for a in "$tmp/art-$name"/*; do
			[ -e "$a" ] || continue
			cp "$a" "$artifacts/$name-$(basename "$a")"
			result="FAILED: $artifacts/$name-$(basename "$a")"
		done
	fi
	secs=$(sed -n 's/^Done [0-9]* runs in \([0-9]*\) second.*/\1/p' "$log")
	printf '%-12s %7s %14s %10s %8s  %s\n' "$name" "${secs:--}" \
		"$(final_stat "$log" number_of_executed_units)" \
		"$(final_stat "$log" average_exec_per_sec)" \
		"$(final_stat "$log" new_units_added)" "$result"
done
if [ -n "${FUZZ_KEEP_CORPUS:-}" ]; then
	for h in "${harnesses[@]}"; do
		mkdir -p "$FUZZ_KEEP_CORPUS"
		rm -rf "${FUZZ_KEEP_CORPUS:?}/${h%%:*}"
		cp -r "$tmp/corpus-${h%%:*}" "$FUZZ_KEEP_CORPUS/${h%%:*}"
	done
	echo "grown corpora kept in $FUZZ_KEEP_CORPUS"
fi
for h in "${harnesses[@]}"; do
	name=${h%%:*}
	if grep -qx "$name" "$tmp/failed" 2>/dev/null; then
		echo "--- fuzz-$name:"
		grep -E -A 30 'ERROR|runtime error|SUMMARY' "$tmp/fuzz-$name.log" | head -n 60
		echo "reproduce: $build/tests/fuzz-$name FILE (the file above)"
	fi
done
echo "fuzz: $(($(date +%s) - start)) s"
exit "$fail"
