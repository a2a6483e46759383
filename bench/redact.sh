#!/usr/bin/env bash
# Benchmarks `envx exec ENV --redact -- cat FILE` against `cat FILE | cat`
# (the same bytes through one pipe, no filter) on 256 MiB of log-like text,
# with 100 and with 10,000 secrets. Each value of 4 bytes or more brings its
# derived forms (base64, percent/JSON-escaped, URL password), so the filter
# searches several patterns per secret. Figures are medians, reported as MB/s
# and as a ratio against the baseline measured in the same run, with the
# start-up time --redact adds (building the automaton over every form).
#
# usage: bench/redact.sh [--quick]
#   ENVX=path/to/envx (default: build/envx, built if missing)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
runs=5
for a in "$@"; do
  case $a in
  --quick) runs=3 ;;
  *) echo "usage: bench/redact.sh [--quick]" >&2; exit 2 ;;
  esac
done
envx=${ENVX:-$root/build/envx}
[ -x "$envx" ] || (cd "$root" && meson setup build >/dev/null && ninja -C build >/dev/null)
work=$(mktemp -d /tmp/envx-bench-redact.XXXXXX)
trap 'rm -rf "$work"' EXIT
export HOME="$work/home" XDG_CONFIG_HOME="$work/home/.config"
unset ENVX_VAULT ENVX_IDENTITY ENVX_IDENTITY_FILE ENVX_PASSPHRASE
mkdir -p "$HOME"
cd "$work"

sizes="100 10000"
echo "# fixtures: $sizes secrets, 256 MiB of text"
"$envx" init --env bench >/dev/null 2>&1
for n in $sizes; do
  "$envx" env add "s$n" >/dev/null 2>&1
  python3 - "$n" >"fixture-$n.env" <<'PY'
import random, string, sys
n = int(sys.argv[1])
rng = random.Random(n)
alnum = string.ascii_letters + string.digits
for i in range(n):
    k = i % 4
    if k == 0:
        v = "".join(rng.choice(alnum) for _ in range(24))
    elif k == 1:
        v = f"value-{i:05d}-0123456789abcdef0123456789"
    elif k == 2:
        v = "postgres://app:" + "".join(rng.choice(alnum) for _ in range(16)) + f"@db{i}:5432/app"
    else:
        v = "sk_live_" + "".join(rng.choice(alnum + "/+") for _ in range(32))
    print(f"SECRET_{i:05d}={v}")
PY
  "$envx" import "s$n" "fixture-$n.env" >/dev/null 2>&1
done
python3 - >log.txt <<'PY'
import random
rng = random.Random(1)
words = ["GET", "/api/v1/users", "200", "OK", "INFO", "request", "id", "took",
         "ms", "db", "query", "user=alice", "status", "{\"level\":\"info\"}",
         "dGhpcyBpcyBiYXNlNjQ=", "https://example.com/a?b=c%20d"]
out = []
size = 0
while size < 16 * 1024 * 1024:
    line = " ".join(rng.choice(words) for _ in range(12)) + f" {rng.randint(0, 10**9)}\n"
    out.append(line)
    size += len(line)
print("".join(out), end="")
PY
for i in $(seq 16); do cat log.txt; done >big.txt
rm log.txt

python3 - "$envx" "$runs" "$sizes" <<'PY'
import os, statistics, subprocess, sys, time
envx, runs, sizes = sys.argv[1], int(sys.argv[2]), sys.argv[3].split()
size = os.path.getsize("big.txt")

def secs(cmd):
    t = time.perf_counter()
    subprocess.run(cmd, stdout=subprocess.DEVNULL, check=True)
    return time.perf_counter() - t

subprocess.run(["cat", "big.txt"], stdout=subprocess.DEVNULL, check=True)
print(f"\n{'secrets':>8} {'cat|cat MB/s':>13} {'redact MB/s':>12} {'ratio':>7} {'start ms':>9} {'+redact ms':>11}")
for n in sizes:
    # interleaved, so both see the same machine load
    base, red, st, str_ = [], [], [], []
    for _ in range(runs):
        base.append(secs(["sh", "-c", "cat big.txt | cat"]))
        red.append(secs([envx, "exec", f"s{n}", "--redact", "--", "cat", "big.txt"]))
        st.append(secs([envx, "exec", f"s{n}", "--", "true"]))
        str_.append(secs([envx, "exec", f"s{n}", "--redact", "--", "true"]))
    b = size / statistics.median(base) / 1e6
    r = size / statistics.median(red) / 1e6
    s0 = statistics.median(st) * 1e3
    s1 = statistics.median(str_) * 1e3
    print(f"{n:>8} {b:13.0f} {r:12.0f} {r / b:7.2f} {s0:9.1f} {s1 - s0:11.1f}")
print(f"\n(medians of {runs} interleaved runs over {size >> 20} MiB; ratio = redact / cat|cat;")
print(" start = `envx exec ENV -- true`, +redact = what --redact adds to it: building the automaton)")
PY
