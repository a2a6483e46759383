#!/usr/bin/env bash
# Benchmarks an unlock through the agent (envx-agent(1)) against the
# passphrase path, with a passphrase-protected identity at the default
# Argon2id cost (t=3, m=64 MiB, p=4; ENVX_KDF unset), on the same vault in
# the same run: `envx get ENV NAME` with the agent holding the key and no
# passphrase available, against the same command with ENVX_PASSPHRASE set
# and no agent (one Argon2id run to open the identity). The two are
# interleaved, run by run, so load on the machine hits both alike; medians
# of wall time, process start included, and their ratio.
#
# usage: bench/agent.sh [--quick]
#   ENVX=path/to/envx (default: build/envx, built if missing)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
runs=21
case ${1:-} in
--quick) runs=7 ;;
"") ;;
*) echo "usage: bench/agent.sh [--quick]" >&2; exit 2 ;;
esac
envx=${ENVX:-$root/build/envx}
[ -x "$envx" ] || (cd "$root" && meson setup build >/dev/null && ninja -C build >/dev/null)
work=$(mktemp -d /tmp/envx-bench.XXXXXX)
export HOME="$work/home" XDG_CONFIG_HOME="$work/home/.config" XDG_STATE_HOME="$work/state"
export ENVX_AGENT_SOCK="$work/run/agent.sock"
unset ENVX_VAULT ENVX_IDENTITY ENVX_IDENTITY_FILE ENVX_PASSPHRASE ENVX_KDF
trap '"$envx" agent --stop -q 2>/dev/null || true; rm -rf "$work"' EXIT
mkdir -p "$HOME" && mkdir -m 700 "$work/run"
cd "$work"

echo "# fixture: a protected identity (default Argon2id cost), 20 secrets in 'bench'"
ENVX_PASSPHRASE=bench-pass "$envx" identity new --passphrase -q >/dev/null 2>&1
ENVX_PASSPHRASE=bench-pass "$envx" init --env bench >/dev/null 2>&1
for i in $(seq -w 1 20); do echo "SECRET_$i=value-$i-0123456789abcdef"; done >b.env
ENVX_PASSPHRASE=bench-pass "$envx" import bench b.env >/dev/null 2>&1
"$envx" agent --ttl 1h -q >/dev/null
# the first read after the agent starts hands it the key
ENVX_PASSPHRASE=bench-pass "$envx" get bench SECRET_10 >/dev/null

python3 - "$envx" "$runs" "$work/none.sock" <<'PY'
import os, statistics, subprocess, sys, time
envx, runs, nosock = sys.argv[1], int(sys.argv[2]), sys.argv[3]
base = dict(os.environ)
via_agent = {k: v for k, v in base.items() if k != "ENVX_PASSPHRASE"}
with_pass = dict(base, ENVX_PASSPHRASE="bench-pass", ENVX_AGENT_SOCK=nosock)

def once(env):
    t = time.perf_counter()
    p = subprocess.run([envx, "get", "bench", "SECRET_10"], env=env,
                       stdin=subprocess.DEVNULL, capture_output=True,
                       start_new_session=True)
    dt = (time.perf_counter() - t) * 1000
    if p.returncode != 0 or p.stdout != b"value-10-0123456789abcdef":
        sys.exit("bench: get failed (%d): %s" % (p.returncode, p.stderr.decode()))
    return dt

agent, passphrase = [], []
for i in range(runs):
    agent.append(once(via_agent))
    passphrase.append(once(with_pass))
a, p = statistics.median(agent), statistics.median(passphrase)
print(f"runs: {runs} each, interleaved")
print(f"get through the agent (no passphrase):  median {a:7.1f} ms")
print(f"get with the passphrase (Argon2id):     median {p:7.1f} ms")
print(f"ratio passphrase / agent:               {p / a:7.1f}x")
PY
