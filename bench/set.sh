#!/usr/bin/env bash
# Benchmarks `envx set` of one secret in a 10-secret environment against
# the floor's minimal set (bench/floor.c set), with short and long audit
# histories:
#   before H   H events (an import of H names into another environment,
#              since removed) written before the environment's last signed
#              state: what a writer's audit check no longer walks;
#   after H    the same H events written after it (the environment was
#              last written before the import): a writer still checks the
#              events since its environment's signed state (SPEC VF-3.8);
# and `envx import` of 10,000 names into a new environment against the same
# floor. ENVX_BASE=path/to/other/envx runs that binary too, interleaved
# with ENVX on the same fixtures (a before/after comparison in one run).
# Figures are medians over repeated runs, reported as ratios against the
# floor measured in the same run (machines are noisy). Every run writes to
# a fresh copy of its fixture (and of this machine's record of verified
# states), so that each sees the same history and signed state.
#
# usage: bench/set.sh [--quick]
#   ENVX=path/to/envx (default: build/envx, built if missing)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
quick=0
for a in "$@"; do
  case $a in
  --quick) quick=1 ;;
  *) echo "usage: bench/set.sh [--quick]" >&2; exit 2 ;;
  esac
done
envx=${ENVX:-$root/build/envx}
base=${ENVX_BASE:-}
[ -x "$envx" ] || (cd "$root" && meson setup build >/dev/null && ninja -C build >/dev/null)
work=$(mktemp -d /tmp/envx-bench.XXXXXX)
trap 'rm -rf "$work"' EXIT
export HOME="$work/home" XDG_CONFIG_HOME="$work/home/.config"
unset ENVX_VAULT ENVX_IDENTITY ENVX_IDENTITY_FILE ENVX_PASSPHRASE
mkdir -p "$HOME"
cd "$work"

# shellcheck disable=SC2046 # pkg-config prints several flags
cc -O2 -o floor "$root/bench/floor.c" $(pkg-config --cflags --libs libsodium sqlite3)
./floor make floor-10.db 10

hists="10 1000 10000"
runs=30
[ $quick = 1 ] && runs=10

lines() { # N PREFIX: N lines NAME=value
  python3 - "$1" "$2" <<'PY'
import sys
n, p = int(sys.argv[1]), sys.argv[2]
for i in range(n):
    print(f"{p}_{i:05d}=value-{i:05d}-0123456789abcdef0123456789")
PY
}

echo "# fixtures"
lines 10 SECRET >ten.env
lines 10000 HIST >hist-all.env
lines 10000 BIG >big.env
for h in $hists; do
  head -n "$h" hist-all.env >"hist-$h.env"
  for where in before after; do
    d="$where-$h"
    mkdir "$d"
    (
      cd "$d"
      "$envx" init --env bench >/dev/null 2>&1
      "$envx" import bench ../ten.env >/dev/null 2>&1
      "$envx" env add hist >/dev/null 2>&1
      "$envx" import hist "../hist-$h.env" >/dev/null 2>&1
      "$envx" env rm hist --force >/dev/null
      if [ $where = before ]; then
        printf 'v' | "$envx" set bench SECRET_00001 -q >/dev/null
      fi
      "$envx" audit --verify | sed "s/^/#   $d: /"
    )
  done
done

python3 - "$envx" "$base" "$runs" "$hists" <<'PY'
import os, shutil, statistics, subprocess, sys, time
envx, base, runs, hists = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4].split()
bins = [("envx", envx)] + ([("base", base)] if base else [])
val = b"new-value-0123456789"

def once(cmd, data, cwd=None, env=None):
    t = time.perf_counter()
    subprocess.run(cmd, input=data, cwd=cwd, env=env, stdout=subprocess.DEVNULL, check=True)
    return (time.perf_counter() - t) * 1000

def medians(n, run):
    """run(name, binary) -> ms, interleaved with the floor, n times each."""
    ts = {k: [] for k in ["floor"] + [b[0] for b in bins]}
    for i in range(n):
        ts["floor"].append(once(["./floor", "set", "floor-10.db", "SECRET_00005"], val))
        for name, b in bins:
            ts[name].append(run(name, b, i))
    return {k: statistics.median(v) for k, v in ts.items()}

def table(title, rows):
    print()
    print(title)
    print(f"{'':>16} {'floor':>8}" + "".join(f" {n:>8} {n + '/floor':>11}" for n, _ in bins))
    for label, m in rows:
        print(f"{label:>16} {m['floor']:8.2f}" +
              "".join(f" {m[n]:8.2f} {m[n] / m['floor']:11.2f}" for n, _ in bins))

state = os.path.join(os.environ["HOME"], ".local", "state")

def fresh_copy(src, d):
    """src's vault in d, with this machine's record as it was after the
    fixtures (so every run sees the same history and signed state)."""
    shutil.copytree(src, d)
    shutil.copytree(state, d + "-state")
    os.sync()  # the copy's writeback must not land in the timed run
    return dict(os.environ, XDG_STATE_HOME=os.path.abspath(d + "-state"))

def drop(d):
    shutil.rmtree(d)
    shutil.rmtree(d + "-state")

def set_once(src):
    def run(name, b, i):
        d = f"run-{name}-{i}"
        env = fresh_copy(src, d)
        ms = once([b, "set", "bench", "SECRET_00005", "-q"], val, cwd=d, env=env)
        drop(d)
        return ms
    return run

medians(3, set_once("before-10"))  # warm-up: caches, CPU frequency
rows = []
for where in ("before", "after"):
    for h in hists:
        rows.append((f"{where} {h}", medians(runs, set_once(f"{where}-{h}"))))
table("set of one secret in a 10-secret environment, by audit history", rows)

def import_big(name, b, i):
    d = f"imp-{name}-{i}"
    env = fresh_copy("before-10000", d)
    subprocess.run([b, "env", "add", "big"], cwd=d, env=env, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL, check=True)
    ms = once([b, "import", "big", "../big.env", "-q"], None, cwd=d, env=env)
    drop(d)
    return ms

table("import of 10,000 names into a new environment ('before 10000' vault)",
      [("import 10000", medians(3, import_big))])
print("\n(medians in ms, wall clock, process start included; the floor is one")
print(" minimal set: no MAC, no signature, no audit event)")
PY
