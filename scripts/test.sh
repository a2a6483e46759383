#!/usr/bin/env bash
# The README's test command, and CI's test stage (.ci/run runs exactly this):
# install the packages if any is missing, configure ./build with warnings as
# errors (or reconfigure it when its options differ from these), build, and
# run the whole test suite. Works alone on a fresh clone; exits non-zero on
# any failure.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

bash scripts/deps.sh

# The options this build must have: warnings are errors, the tests are built,
# no sanitizer (that is .ci/run's second build), and the default clock
# (ENVX_NOW ignored), as in a build people use.
want=(werror=true tests=true b_sanitize=none test_clock=false)

# Prints the options of ./build that differ from $want, one per line; fails
# when this meson cannot read ./build (made by another meson version, or
# broken).
differing() {
  local opts
  opts=$(meson introspect build --buildoptions 2>/dev/null) || return 1
  python3 -c '
import json, sys
have = {o["name"]: o["value"] for o in json.loads(sys.argv[1])}
for w in sys.argv[2:]:
    name, value = w.split("=", 1)
    v = have.get(name)
    v = str(v).lower() if isinstance(v, bool) else str(v)
    if v != value:
        print(f"{name}={v} (want {value})")
' "$opts" "${want[@]}"
}

setup_args=()
for w in "${want[@]}"; do setup_args+=("-D$w"); done
if [ ! -f build/meson-private/coredata.dat ]; then
  meson setup build "${setup_args[@]}" >/dev/null
elif ! diff=$(differing); then
  echo "scripts/test.sh: meson cannot read ./build; setting it up again" >&2
  meson setup --wipe build "${setup_args[@]}" >/dev/null
elif [ -n "$diff" ]; then
  echo "scripts/test.sh: reconfiguring ./build:" $diff >&2
  meson setup --reconfigure build "${setup_args[@]}" >/dev/null ||
    meson setup --wipe build "${setup_args[@]}" >/dev/null
fi

# The compiler's output only when it fails: a warning is an error here.
if ! log=$(meson compile -C build 2>&1); then
  printf '%s\n' "$log" >&2
  echo "scripts/test.sh: the build failed" >&2
  exit 1
fi
meson test -C build --print-errorlogs "$@"
