#!/usr/bin/env bash
# Benchmarks `envx exec ENV -- true` against bare `true`, a minimal C floor
# (open SQLite, decrypt N values, exec) and `dotenvx run`, on fixtures of
# 10, 100, 1000 and 10000 secrets; `envx get` and `envx set` of one secret
# against minimal ones (bench/floor.c get|set); then `--redact` throughput
# against cat.
# Figures are medians over repeated runs, reported as ratios against
# baselines measured in the same run (machines are noisy).
#
# usage: bench/exec.sh [--quick] [--no-dotenvx]
#   ENVX=path/to/envx (default: build/envx, built if missing)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
quick=0
dotenvx=1
for a in "$@"; do
  case $a in
  --quick) quick=1 ;;
  --no-dotenvx) dotenvx=0 ;;
  *) echo "usage: bench/exec.sh [--quick] [--no-dotenvx]" >&2; exit 2 ;;
  esac
done
envx=${ENVX:-$root/build/envx}
[ -x "$envx" ] || (cd "$root" && meson setup build >/dev/null && ninja -C build >/dev/null)
work=$(mktemp -d /tmp/envx-bench.XXXXXX)
trap 'rm -rf "$work"' EXIT
export HOME="$work/home" XDG_CONFIG_HOME="$work/home/.config"
unset ENVX_VAULT ENVX_IDENTITY ENVX_IDENTITY_FILE ENVX_PASSPHRASE
mkdir -p "$HOME"
cd "$work"

cc -O2 -o floor "$root/bench/floor.c" $(pkg-config --cflags --libs libsodium sqlite3)

sizes="10 100 1000 10000"
runs=30
[ $quick = 1 ] && runs=10

echo "# fixtures"
"$envx" init --env bench >/dev/null 2>&1
for n in $sizes; do
  "$envx" env add "s$n" >/dev/null 2>&1
  python3 - "$n" >"fixture-$n.env" <<'PY'
import sys
n = int(sys.argv[1])
for i in range(n):
    print(f"SECRET_{i:05d}=value-{i:05d}-0123456789abcdef0123456789")
PY
  "$envx" import "s$n" "fixture-$n.env" >/dev/null 2>&1
  ./floor make "floor-$n.db" "$n"
done

if [ $dotenvx = 1 ]; then
  if [ ! -x "$root/bench/.dotenvx/node_modules/.bin/dotenvx" ]; then
    echo "# installing dotenvx from the npm registry into bench/.dotenvx (not committed)"
    mkdir -p "$root/bench/.dotenvx"
    (cd "$root/bench/.dotenvx" && npm install --silent --no-audit --no-fund @dotenvx/dotenvx >/dev/null 2>&1) ||
      { echo "# dotenvx could not be installed; skipping it"; dotenvx=0; }
  fi
fi
dx="$root/bench/.dotenvx/node_modules/.bin/dotenvx"
if [ $dotenvx = 1 ]; then
  for n in $sizes; do
    cp "fixture-$n.env" ".env.s$n"
    "$dx" encrypt -f ".env.s$n" >/dev/null 2>&1
  done
fi

# median wall time in ms of a command, over $2 runs
python3 - "$envx" "$runs" "$sizes" "$dotenvx" "$dx" "$quick" <<'PY'
import os, subprocess, statistics, sys, time
envx, runs, sizes, use_dx, dx, quick = sys.argv[1], int(sys.argv[2]), sys.argv[3].split(), sys.argv[4] == "1", sys.argv[5], sys.argv[6] == "1"

def median_ms(cmd, n, env=None):
    ts = []
    for _ in range(n):
        t = time.perf_counter()
        subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, check=True)
        ts.append((time.perf_counter() - t) * 1000)
    return statistics.median(ts)

def dx_key(n):
    for line in open(".env.keys"):
        if line.startswith(f"DOTENV_PRIVATE_KEY_S{n}="):
            return line.split("=", 1)[1].strip().strip('"')
    return None

print()
print(f"{'secrets':>8} {'true':>8} {'floor':>8} {'envx':>8} {'dotenvx':>10}   {'envx/floor':>10} {'envx-true':>10} {'dotenvx/envx':>12}")
for n in sizes:
    base = median_ms(["true"], runs)
    floor = median_ms(["./floor", "run", f"floor-{n}.db", "true"], runs)
    ex = median_ms([envx, "exec", f"s{n}", "--", "true"], runs)
    d = float("nan")
    if use_dx and not (quick and int(n) > 1000):
        env = dict(os.environ)
        env[f"DOTENV_PRIVATE_KEY_S{n}"] = dx_key(n) or ""
        # dotenvx takes seconds per run at these sizes: fewer runs
        dx_runs = {10: 10, 100: 10, 1000: 5}.get(int(n), 1)
        d = median_ms([dx, "run", "-q", "-f", f".env.s{n}", "--", "true"], dx_runs, env)
    print(f"{n:>8} {base:8.2f} {floor:8.2f} {ex:8.2f} {d:10.1f}   {ex/floor:10.2f} {ex-base:10.2f} {d/ex:12.1f}")
print("\n(times are medians in ms, wall clock, process start included)")

# get and set of one secret against their floors (bench/floor.c): an
# indexed read and decrypt; an encrypt and one-row write transaction
def median_in(cmd, n, data):
    ts = []
    for _ in range(n):
        t = time.perf_counter()
        subprocess.run(cmd, input=data, stdout=subprocess.DEVNULL, check=True)
        ts.append((time.perf_counter() - t) * 1000)
    return statistics.median(ts)

print()
print(f"{'secrets':>8} {'get floor':>10} {'envx get':>10} {'ratio':>7}   {'set floor':>10} {'envx set':>10} {'ratio':>7}")
for n in sizes:
    name = "SECRET_00005"
    gf = median_ms(["./floor", "get", f"floor-{n}.db", name], runs)
    ge = median_ms([envx, "get", f"s{n}", name], runs)
    sf = median_in(["./floor", "set", f"floor-{n}.db", name], runs, b"new-value-0123456789")
    se = median_in([envx, "set", f"s{n}", name, "-q"], runs, b"new-value-0123456789")
    print(f"{n:>8} {gf:10.2f} {ge:10.2f} {ge/gf:7.2f}   {sf:10.2f} {se:10.2f} {se/sf:7.2f}")
print("\n(medians in ms; the floors do no MAC, no signature, no audit event)")
PY

echo
echo "# --redact throughput, 100 secrets, 256 MiB of log-like text through the child's stdout"
python3 - >"log.txt" <<'PY'
import random
rng = random.Random(1)
words = ["GET", "/api/v1/users", "200", "OK", "INFO", "request", "id", "took", "ms", "db", "query"]
out = []
size = 0
while size < 16 * 1024 * 1024:
    line = " ".join(rng.choice(words) for _ in range(12)) + f" {rng.randint(0, 10**9)}\n"
    out.append(line)
    size += len(line)
print("".join(out), end="")
PY
for i in $(seq 16); do cat log.txt; done >big.txt
python3 - "$envx" <<'PY'
import subprocess, sys, time, statistics, os
envx = sys.argv[1]
size = os.path.getsize("big.txt")
def rate(cmd):
    ts = []
    for _ in range(3):
        t = time.perf_counter()
        subprocess.run(cmd, stdout=subprocess.DEVNULL, check=True)
        ts.append(time.perf_counter() - t)
    return size / statistics.median(ts) / 1e6
cat = rate(["cat", "big.txt"])
catcat = rate(["sh", "-c", "cat big.txt | cat"])
red = rate([envx, "exec", "s100", "--redact", "--", "cat", "big.txt"])
print(f"cat: {cat:8.0f} MB/s   cat|cat: {catcat:8.0f} MB/s   envx exec --redact -- cat: {red:8.0f} MB/s   ratio redact/(cat|cat): {red/catcat:.2f}")
PY
