#!/usr/bin/env bash
# Benchmarks `envx check` on a 500-name .env.example against three
# environments of 500 secrets each (one check, and --all with the reuse
# check), as medians over repeated runs, with `envx version` (process start
# and vault-free work) as the baseline measured in the same run.
#
# usage: bench/check.sh   (ENVX=path/to/envx, default build/envx)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
envx=${ENVX:-$root/build/envx}
[ -x "$envx" ] || (cd "$root" && meson setup build >/dev/null && ninja -C build >/dev/null)
work=$(mktemp -d /tmp/envx-bench-check.XXXXXX)
trap 'rm -rf "$work"' EXIT
export HOME="$work/home" XDG_CONFIG_HOME="$work/home/.config"
unset ENVX_VAULT ENVX_IDENTITY ENVX_IDENTITY_FILE ENVX_PASSPHRASE
mkdir -p "$HOME"
cd "$work"
"$envx" init >/dev/null 2>&1
python3 - <<'PY'
types = ["url", "port", "int", "bool", "email", "hostname", "enum(a,b,c)", "regex([a-z0-9-]+)", "string"]
vals = {"url": "https://{e}.example.com/{i}", "port": "{p}", "int": "{i}", "bool": "true",
        "email": "ops{i}@{e}.example.com", "hostname": "h{i}.{e}.example.com", "enum(a,b,c)": "b",
        "regex([a-z0-9-]+)": "k-{i}-{e}", "string": "s3cret-{e}-{i}-0123456789"}
with open(".env.example", "w") as t:
    for i in range(500):
        ty = types[i % len(types)]
        t.write(f"# Setting number {i}.\n# @type {ty}\n")
        if i % 3 == 0:
            t.write("# @rotate 90d\n")
        if i % 50 == 0:
            t.write("# @optional\n")
        t.write(f"NAME_{i:03d}=placeholder-{i}\n\n")
for e in ("local", "staging", "production"):
    with open(f"{e}.env", "w") as f:
        for i in range(500):
            ty = types[i % len(types)]
            f.write(f"NAME_{i:03d}=" + vals[ty].format(e=e, i=i, p=1024 + i) + "\n")
PY
for e in local staging production; do "$envx" import "$e" "$e.env" >/dev/null 2>&1; done
python3 - "$envx" <<'PY'
import subprocess, statistics, sys, time
envx = sys.argv[1]
def med(cmd, n=30):
    ts = []
    for _ in range(n):
        t = time.perf_counter()
        subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        ts.append((time.perf_counter() - t) * 1000)
    return statistics.median(ts)
base = med([envx, "version"])
one = med([envx, "check", "staging"])
all3 = med([envx, "check", "--all"])
js = med([envx, "--json", "check", "--all"])
print(f"envx version (baseline):       {base:7.2f} ms")
print(f"envx check staging (500 names): {one:7.2f} ms   {one/base:5.1f}x baseline")
print(f"envx check --all (3 envs):      {all3:7.2f} ms   {all3/base:5.1f}x baseline")
print(f"envx --json check --all:        {js:7.2f} ms   {js/base:5.1f}x baseline")
PY
