#!/usr/bin/env bash
# What linking libcurl would cost the commands that never talk to GitHub.
#
# envx loads libcurl with dlopen only inside `envx sync` (src/sync/github.c),
# so `envx exec` does not pay for loading it and the libraries it pulls in.
# This measures that choice: `envx exec ENV -- true` (10 secrets) and
# `envx version` as built, against the same commands with libcurl loaded at
# start-up (LD_PRELOAD of the libcurl envx would otherwise link), in one
# interleaved run, medians of wall time with process start. The issue's
# bound: linking may cost at most 0.2 ms, else load it on demand.
#
# usage: bench/startup.sh [--quick]
#   ENVX=path/to/envx (default: build/envx, built if missing)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
runs=200
case ${1:-} in
--quick) runs=40 ;;
"") ;;
*) echo "usage: bench/startup.sh [--quick]" >&2; exit 2 ;;
esac
envx=${ENVX:-$root/build/envx}
[ -x "$envx" ] || (cd "$root" && meson setup build >/dev/null && ninja -C build >/dev/null)
curl_so=$(ldconfig -p | sed -n 's/^[[:space:]]*libcurl\.so\.4 .*=> //p' | head -1)
[ -n "$curl_so" ] || { echo "bench/startup.sh: libcurl.so.4 not found" >&2; exit 1; }
if readelf -d "$envx" | grep -q 'libcurl'; then
  echo "note: this envx links libcurl itself; both columns then include it"
fi
work=$(mktemp -d /tmp/envx-bench.XXXXXX)
trap 'rm -rf "$work"' EXIT
export HOME="$work/home" XDG_CONFIG_HOME="$work/home/.config" ENVX_KDF=2,19456,1
unset ENVX_VAULT ENVX_IDENTITY ENVX_IDENTITY_FILE ENVX_PASSPHRASE
mkdir -p "$HOME"
cd "$work"
"$envx" init --env bench >/dev/null 2>&1
for i in $(seq 10); do echo "S_$i=value-$i"; done >ten.env
"$envx" import bench ten.env >/dev/null 2>&1

echo "# $runs interleaved runs each; libcurl: $curl_so ($(ldd "$curl_so" | wc -l) libraries with its dependencies)"
python3 - "$envx" "$runs" "$curl_so" <<'PY'
import os, statistics, subprocess, sys, time
envx, runs, curl = sys.argv[1], int(sys.argv[2]), sys.argv[3]
cases = {
    "exec -- true": [envx, "exec", "bench", "--", "true"],
    "version": [envx, "version"],
}
plain = dict(os.environ)
loaded = dict(os.environ, LD_PRELOAD=curl)
times = {(c, k): [] for c in cases for k in ("as built", "with libcurl")}
for _ in range(runs):
    for c, argv in cases.items():
        for k, env in (("as built", plain), ("with libcurl", loaded)):
            t = time.perf_counter()
            subprocess.run(argv, env=env, check=True,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            times[(c, k)].append(time.perf_counter() - t)
print(f"{'command':<16} {'as built':>10} {'with libcurl':>13} {'cost':>9} {'ratio':>7}")
for c in cases:
    a = statistics.median(times[(c, "as built")]) * 1000
    b = statistics.median(times[(c, "with libcurl")]) * 1000
    print(f"{c:<16} {a:9.2f}ms {b:12.2f}ms {b - a:+8.2f}ms {b / a:6.2f}x")
PY
