#!/usr/bin/env bash
# Benchmarks `envx scan` against `grep -F -f` looking for the same 10,000
# values in the same generated text (1 GiB; --quick: 128 MiB), in the same
# run: MB/s of both (the data size over the median wall time of interleaved
# runs, the file in the page cache) and their ratio. envx's time is the
# whole command: unlocking, decrypting the 10,000 values, deriving their
# forms (about 7 each: base64 at three alignments, URL, JSON, ...) and
# building the matcher included; grep looks for the raw values only.
#
# usage: bench/scan.sh [--quick]
#   ENVX=path/to/envx (default: build/envx, built if missing)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
quick=0
for a in "$@"; do
  case $a in
  --quick) quick=1 ;;
  *) echo "usage: bench/scan.sh [--quick]" >&2; exit 2 ;;
  esac
done
envx=${ENVX:-$root/build/envx}
[ -x "$envx" ] || (cd "$root" && meson setup build >/dev/null && ninja -C build >/dev/null)
work=$(mktemp -d /tmp/envx-bench-scan.XXXXXX)
trap 'rm -rf "$work"' EXIT
export HOME="$work/home" XDG_CONFIG_HOME="$work/home/.config"
unset ENVX_VAULT ENVX_IDENTITY ENVX_IDENTITY_FILE ENVX_PASSPHRASE
mkdir -p "$HOME"
cd "$work"

nvalues=10000
blocks=64 # of 16 MiB
runs=5
[ $quick = 1 ] && blocks=8 && runs=3

echo "# fixtures: $nvalues values, $((blocks * 16)) MiB of text"
python3 - "$nvalues" <<'PY'
import random, sys
rnd = random.Random(7)
n = int(sys.argv[1])
alnum = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
prefixes = ["", "", "sk_live_", "ghp_", "AKIA", "xoxb-"]
with open("values.env", "w") as env, open("values.txt", "w") as raw:
    for i in range(n):
        v = rnd.choice(prefixes) + "".join(rnd.choice(alnum) for _ in range(rnd.randint(20, 40)))
        env.write(f"SECRET_{i:05d}={v}\n")
        raw.write(v + "\n")
# 16 MiB of log- and source-like text: words, numbers, paths, hex ids
words = ("the request user id status error info debug warn config value "
         "return function const let var import from export default class "
         "self def if else for while try catch null true false GET POST "
         "/api/v1/users /var/log/app.log INFO ERROR WARN 200 404 500").split()
hexd = "0123456789abcdef"
out = []
size = 0
while size < 16 * 1024 * 1024:
    k = rnd.randint(4, 14)
    line = " ".join(rnd.choice(words) for _ in range(k))
    if rnd.random() < 0.3:
        line += " id=" + "".join(rnd.choice(hexd) for _ in range(32))
    if rnd.random() < 0.2:
        line += " token=" + "".join(rnd.choice(alnum) for _ in range(24))
    out.append(line)
    size += len(line) + 1
with open("block.txt", "w") as f:
    f.write("\n".join(out)[: 16 * 1024 * 1024 - 1] + "\n")
PY
"$envx" init --env bench >/dev/null 2>&1
"$envx" import bench values.env >/dev/null 2>&1
for _ in $(seq "$blocks"); do cat block.txt; done >data.txt
# three planted values, so both tools have something to find
sed -n '1p;5000p;9999p' values.txt | sed 's/^/leaked: /' >>data.txt
bytes=$(stat -c %s data.txt)
cat data.txt >/dev/null

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
now() { date +%s.%N; }

: >t-envx
: >t-grep
for _ in $(seq "$runs"); do
  t0=$(now)
  "$envx" -q scan bench data.txt >envx.out 2>envx.err && rc=0 || rc=$?
  t1=$(now)
  [ "$rc" = 1 ] || { echo "envx scan exited $rc"; cat envx.err; exit 1; }
  echo "$t1 - $t0" | bc -l >>t-envx
  t0=$(now)
  LC_ALL=C grep -F -c -f values.txt data.txt >grep.out || true
  t1=$(now)
  echo "$t1 - $t0" | bc -l >>t-grep
done
found_envx=$(wc -l <envx.out)
found_grep=$(cat grep.out)
te=$(median <t-envx)
tg=$(median <t-grep)
mbe=$(echo "$bytes / 1000000 / $te" | bc -l)
mbg=$(echo "$bytes / 1000000 / $tg" | bc -l)
printf '# %d MB, %d runs each (medians), %s findings by envx, %s lines by grep\n' \
  $((bytes / 1000000)) "$runs" "$found_envx" "$found_grep"
printf '%-36s %8.2f s %8.0f MB/s\n' "envx scan (10,000 values, all forms)" "$te" "$mbe"
printf '%-36s %8.2f s %8.0f MB/s\n' "LC_ALL=C grep -F -c -f (raw values)" "$tg" "$mbg"
printf 'ratio envx/grep throughput: %.2fx\n' "$(echo "$mbe / $mbg" | bc -l)"
