#!/usr/bin/env bash
# How `envx get` and `envx set` of one secret grow with the environment's
# size (10, 1,000, 10,000 and 100,000 secrets), as ratios against the
# minimal get and set of bench/floor.c measured in the same run (and
# `envx exec ENV -- true`, a full verification, against floor run, up to
# 10,000), for this
# envx and, when ENVX_BASE names one, another build (an earlier format, to
# compare before and after). Runs are interleaved (floor, base, envx, in
# turn) and reported as medians: the machine is noisy.
#
# usage: bench/scale.sh [--quick] [--sizes "10 1000"]
#   ENVX=path/to/envx (default: build/envx, built if missing)
#   ENVX_BASE=path/to/another/envx (optional)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
runs=15
sizes="10 1000 10000 100000"
while [ $# -gt 0 ]; do
  case $1 in
  --quick) runs=7 ;;
  --sizes) sizes=$2; shift ;;
  *) echo "usage: bench/scale.sh [--quick] [--sizes LIST]" >&2; exit 2 ;;
  esac
  shift
done
envx=${ENVX:-$root/build/envx}
base=${ENVX_BASE:-}
[ -x "$envx" ] || (cd "$root" && meson setup build >/dev/null && ninja -C build >/dev/null)
work=$(mktemp -d /tmp/envx-scale.XXXXXX)
trap 'rm -rf "$work"' EXIT
export HOME="$work/home" XDG_CONFIG_HOME="$work/home/.config"
export XDG_STATE_HOME="$work/home/.local/state"
unset ENVX_VAULT ENVX_IDENTITY ENVX_IDENTITY_FILE ENVX_PASSPHRASE
mkdir -p "$HOME" "$work/new" "$work/base"
cd "$work"
cc -O2 -o floor "$root/bench/floor.c" $(pkg-config --cflags --libs libsodium sqlite3)

echo "# fixtures: $sizes secrets"
for n in $sizes; do
  python3 - "$n" >"fixture-$n.env" <<'PY'
import sys
n = int(sys.argv[1])
for i in range(n):
    print(f"SECRET_{i:05d}=value-{i:05d}-0123456789abcdef0123456789")
PY
  ./floor make "floor-$n.db" "$n"
done
# one vault per size (DIR/N/envx.vault): a write verifies the whole audit
# log (VF-5.1), one event per imported line, so sizes must not share one
make_vaults() { # DIR ENVX
  for n in $sizes; do
    mkdir -p "$1/$n" && (cd "$1/$n" && "$2" init --env bench >/dev/null 2>&1 &&
      "$2" env add "s$n" >/dev/null 2>&1 && "$2" import "s$n" "$work/fixture-$n.env" >/dev/null 2>&1) || exit 1
  done
}
make_vaults new "$envx"
[ -n "$base" ] && make_vaults base "$base"
first=${sizes%% *}
echo "# envx: format $(sqlite3 "new/$first/envx.vault" 'PRAGMA user_version')${base:+; base: format $(sqlite3 "base/$first/envx.vault" 'PRAGMA user_version')}"

python3 - "$envx" "${base:-}" "$runs" "$sizes" "$work" <<'PY'
import statistics, subprocess, sys, time
envx, base, runs, sizes, work = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4].split(), sys.argv[5]
name = "SECRET_00005"
value = b"new-value-0123456789"

def once(cmd, cwd, data=None):
    t = time.perf_counter()
    subprocess.run(cmd, cwd=cwd, input=data, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL, check=True)
    return (time.perf_counter() - t) * 1000

cols = ["floor"] + (["base"] if base else []) + ["envx"]
print()
print(f"{'secrets':>8} {'op':>4} " + " ".join(f"{c + ' ms':>10}" for c in cols) +
      "   " + " ".join(f"{c + '/floor':>12}" for c in cols[1:]))
for n in sizes:
    # exec (a full verification) too, where the environment fits ARG_MAX
    for op in ("get", "set") + (("exec",) if int(n) <= 10000 else ()):
        t = {c: [] for c in cols}
        for _ in range(runs):
            for c in cols:
                if c == "floor" and op == "exec":
                    cmd, cwd = ["./floor", "run", f"floor-{n}.db", "true"], work
                elif c == "floor":
                    cmd, cwd = ["./floor", op, f"floor-{n}.db", name], work
                else:
                    exe = base if c == "base" else envx
                    cmd = [exe, op, f"s{n}"] + (["--", "true"] if op == "exec" else [name]) + \
                          (["-q"] if op == "set" else [])
                    cwd = f"{work}/{'base' if c == 'base' else 'new'}/{n}"
                t[c].append(once(cmd, cwd, value if op == "set" else None))
        m = {c: statistics.median(v) for c, v in t.items()}
        print(f"{n:>8} {op:>4} " + " ".join(f"{m[c]:10.2f}" for c in cols) +
              "   " + " ".join(f"{m[c] / m['floor']:12.2f}" for c in cols[1:]))
print("\n(medians in ms, wall clock, process start included; the floors do no MAC, signature or audit event;")
print(" each size is its own vault, whose audit log holds one event per imported secret; a write")
print(" checks the audit events after its environment's signed state, and one bucket and the root)")
PY
