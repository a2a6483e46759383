#!/usr/bin/env bash
# Benchmarks `envx rekey ENV` and `envx access revoke ENV LABEL` on an
# environment of 1,000 secrets x 5 versions (5,000 ciphertexts to
# re-encrypt), against baselines measured in the same run on the same
# vault: `envx get ENV NAME` (open, unlock, verify the MAC over all 5,000
# versions, decrypt one) and `envx set ENV NAME` (one signed write).
# Medians of wall time, process start included; the target is a rekey
# under 100 ms.
#
# usage: bench/rekey.sh [--quick]
#   ENVX=path/to/envx (default: build/envx, built if missing)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
runs=15
case ${1:-} in
--quick) runs=5 ;;
"") ;;
*) echo "usage: bench/rekey.sh [--quick]" >&2; exit 2 ;;
esac
envx=${ENVX:-$root/build/envx}
[ -x "$envx" ] || (cd "$root" && meson setup build >/dev/null && ninja -C build >/dev/null)
work=$(mktemp -d /tmp/envx-bench.XXXXXX)
trap 'rm -rf "$work"' EXIT
export HOME="$work/home" XDG_CONFIG_HOME="$work/home/.config"
unset ENVX_VAULT ENVX_IDENTITY ENVX_IDENTITY_FILE ENVX_PASSPHRASE
mkdir -p "$HOME"
cd "$work"

echo "# fixture: 1000 secrets x 5 versions"
"$envx" init --env bench >/dev/null 2>&1
for v in 1 2 3 4 5; do
  python3 - "$v" >"v$v.env" <<'PY'
import sys
v = sys.argv[1]
for i in range(1000):
    print(f"SECRET_{i:04d}=value-{i:04d}-v{v}-0123456789abcdef0123456789")
PY
  "$envx" import bench "v$v.env" >/dev/null 2>&1
done
# two more recipients to re-wrap for
for k in a b; do
  "$envx" identity new -o "$k.id" -q >/dev/null
  "$envx" access grant bench "$("$envx" --identity "$k.id" identity show)" --label "$k" --role read -q
done

python3 - "$envx" "$runs" <<'PY'
import statistics, subprocess, sys, time
envx, runs = sys.argv[1], int(sys.argv[2])

def run(args, stdin=None):
    subprocess.run([envx] + args, check=True, input=stdin,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

def median_ms(args, before=None, stdin=None):
    ts = []
    for i in range(runs):
        if before:
            before(i)
        t = time.perf_counter()
        run(args, stdin)
        ts.append((time.perf_counter() - t) * 1000)
    return statistics.median(ts)

get = median_ms(["get", "bench", "SECRET_0500"])
set_ = median_ms(["set", "bench", "SECRET_0500"], stdin=b"new-value")
rekey = median_ms(["rekey", "bench"])

def grant(i):
    subprocess.run([envx, "identity", "new", "-o", f"r{i}.id", "-q"], check=True,
                   stdout=subprocess.DEVNULL)
    pub = subprocess.run([envx, "--identity", f"r{i}.id", "identity", "show"],
                         check=True, capture_output=True, text=True).stdout.strip()
    run(["access", "grant", "bench", pub, "--label", f"r{i}", "--role", "read"])

revoke_ts = []
for i in range(runs):
    grant(i)
    t = time.perf_counter()
    run(["access", "revoke", "bench", f"r{i}"])
    revoke_ts.append((time.perf_counter() - t) * 1000)
revoke = statistics.median(revoke_ts)

print(f"get (unlock + verify 5000 versions + decrypt 1): {get:7.1f} ms")
print(f"set (one signed write):                          {set_:7.1f} ms")
print(f"rekey (re-encrypt 5000, re-wrap 3):              {rekey:7.1f} ms   {rekey/get:.2f}x get, {rekey/set_:.2f}x set")
print(f"access revoke (remove 1, then rekey):            {revoke:7.1f} ms   {revoke/get:.2f}x get, {revoke/set_:.2f}x set")
print("target: rekey and revoke under 100 ms:", "met" if max(rekey, revoke) < 100 else "NOT met")
print(f"(medians of {runs} runs, wall clock, process start included)")
PY
