# Shared helpers for tests/cli/tNNNN-*.sh (sourced). Each script gets its own
# temporary HOME and working directory, prints TAP, and must end with
# `finish`. Modelled on git's t/test-lib.sh, much smaller.
set -u

: "${ENVX:?ENVX must point to the built envx binary}"
TEST_NAME=$(basename "$0" .sh)
TEST_DIR=$(mktemp -d "${TMPDIR:-/tmp}/envx-$TEST_NAME.XXXXXX")
export HOME="$TEST_DIR/home"
export XDG_CONFIG_HOME="$HOME/.config"
export USER=tester
mkdir -p "$HOME" "$TEST_DIR/work"
cd "$TEST_DIR/work" || exit 1
unset ENVX_VAULT ENVX_IDENTITY ENVX_IDENTITY_FILE ENVX_PASSPHRASE ENVX_NOW GITHUB_ENV NO_COLOR ENVX_AGENT_SOCK
# no unlock agent of the machine's user serves a test (envx-agent(1))
export XDG_RUNTIME_DIR="$TEST_DIR/run"
# Tests create identities at the Argon2id floor to stay fast (never below).
export ENVX_KDF=2,19456,1
trap 'rm -rf "$TEST_DIR"' EXIT

# ENVX_TEST_WRAP: a command prefix for every envx the tests run, as meson's
# --wrap is for the unit tests; .ci/run sets it to valgrind. $ENVX then names
# a small script that runs the real binary under the prefix, so every way the
# tests start envx (run, fails, "$ENVX" directly, setsid, env -i, python's
# execv) goes through it. valgrind's reports go to $TEST_DIR/wrap/ rather than
# to the stderr the tests examine (or discard), and finish fails the script
# when any report is not empty.
# ENVX_UNWRAPPED is always the binary itself, for the few cases a wrapper
# cannot follow (another user, a tiny stack limit).
export ENVX_UNWRAPPED="$ENVX"
if [ -n "${ENVX_TEST_WRAP:-}" ]; then
  read -r -a _wrap <<<"$ENVX_TEST_WRAP"
  _wrap[0]=$(command -v "${_wrap[0]}") || {
    echo "Bail out! ENVX_TEST_WRAP: '${_wrap[0]}' not found"
    exit 1
  }
  case ${_wrap[0]##*/} in
  valgrind*) _wrap+=("--log-file=$TEST_DIR/wrap/envx.%p.log") ;;
  esac
  mkdir -p "$TEST_DIR/wrap" "$TEST_DIR/bin"
  {
    echo '#!/bin/bash'
    printf 'exec'
    printf ' %q' "${_wrap[@]}" "$ENVX"
    printf ' "$@"\n'
  } >"$TEST_DIR/bin/envx"
  chmod 755 "$TEST_DIR/bin/envx"
  export ENVX="$TEST_DIR/bin/envx"
fi
# WAIT_FACTOR: how many times longer a test may wait for a wrapped envx than
# for the binary itself (valgrind runs it some 30 times slower).
WAIT_FACTOR=1
[ -n "${ENVX_TEST_WRAP:-}" ] && WAIT_FACTOR=8

_n=0
_failed=0

# ok DESCRIPTION COMMAND... : runs COMMAND, passes when it exits 0.
ok() {
  local desc=$1
  shift
  _n=$((_n + 1))
  if ( "$@" ) >"$TEST_DIR/out" 2>"$TEST_DIR/err"; then
    echo "ok $_n - $desc"
  else
    echo "not ok $_n - $desc"
    _failed=$((_failed + 1))
    sed 's/^/# out: /' "$TEST_DIR/out" | tail -30
    sed 's/^/# err: /' "$TEST_DIR/err" | tail -30
  fi
}

# skip DESCRIPTION REASON: counts a test that does not apply to this build.
skip() {
  _n=$((_n + 1))
  echo "ok $_n - $1 # SKIP $2"
}

# Runs envx, capturing stdout/stderr/status into $OUT, $ERR and $RC.
run() {
  "$ENVX" "$@" >"$TEST_DIR/run.out" 2>"$TEST_DIR/run.err"
  RC=$?
  OUT=$(cat "$TEST_DIR/run.out")
  ERR=$(cat "$TEST_DIR/run.err")
  return 0
}

# Runs envx with $1 as its standard input (a file path).
run_in() {
  local input=$1
  shift
  "$ENVX" "$@" <"$input" >"$TEST_DIR/run.out" 2>"$TEST_DIR/run.err"
  RC=$?
  OUT=$(cat "$TEST_DIR/run.out")
  ERR=$(cat "$TEST_DIR/run.err")
  return 0
}

# expect_rc CODE: the last run exited with CODE.
expect_rc() {
  if [ "$RC" != "$1" ]; then
    echo "expected exit $1, got $RC; stderr: $ERR" >&2
    return 1
  fi
}

# expect_err TEXT: stderr of the last run contains TEXT.
expect_err() {
  case "$ERR" in
  *"$1"*) return 0 ;;
  *)
    echo "stderr lacks '$1': $ERR" >&2
    return 1
    ;;
  esac
}

expect_out() {
  case "$OUT" in
  *"$1"*) return 0 ;;
  *)
    echo "stdout lacks '$1': $OUT" >&2
    return 1
    ;;
  esac
}

# fails CODE TEXT ARGS...: envx ARGS exits CODE with TEXT in stderr and
# starts its message with "envx: ".
fails() {
  local code=$1 text=$2
  shift 2
  run "$@"
  expect_rc "$code" && expect_err "$text" && expect_err "envx: "
}

# Byte-exact comparison of two files.
same_file() {
  cmp -s "$1" "$2" || {
    echo "files differ: $1 $2" >&2
    return 1
  }
}

# Checksum of a file, to prove a failed command left it unchanged.
sum_of() {
  sha256sum "$1" | cut -d' ' -f1
}

# Creates a vault with the default environments and an identity.
# envx remembers the highest state it verified per vault and environment
# ($XDG_STATE_HOME/envx/seen, VF-3.8) and refuses an older one. Tests that
# put an older copy of a vault back on purpose forget that record after
# the copy (forget_seen), or, when they replay old states throughout
# (recovery, crashes, faults), run without one (no_rollback_memory: the
# state directory is then a regular file, so nothing can be recorded).
forget_seen() {
  rm -f "$HOME/.local/state/envx/seen"
}

no_rollback_memory() {
  : >"$TEST_DIR/no-state"
  export XDG_STATE_HOME="$TEST_DIR/no-state"
}

# The trust line ("trust VAULTID ENV envxsig1…") that pins ENV's admins,
# as `envx access list` prints it, for readers that are not members.
trust_line() {
  "$ENVX" access list "$1" 2>/dev/null | sed -n 's/^ *\(trust [0-9a-f]* [^ ]* envxsig1[a-z2-7]*\)$/\1/p'
}

# keep_pristine saves ./envx.vault as it is now; fresh puts that copy
# back before a test tampers with it; sql STATEMENT runs STATEMENT on it
# through the sqlite3 CLI (the attacker's view, no envx settings).
keep_pristine() { cp envx.vault "$TEST_DIR/pristine.vault"; }
fresh() { cp "$TEST_DIR/pristine.vault" envx.vault; }
sql() { sqlite3 envx.vault "$1"; }

# forge_event ACTION ENV NAME DETAIL: appends to ./envx.vault an audit
# event (actor mallory; time $FORGE_AT, or 2025-12-29) whose chain verifies
# as SPEC VF-5.1 says but that no signed state covers, as anyone who can
# write the file could.
forge_event() {
  python3 - "$@" <<'EOF'
import hashlib, os, sqlite3, struct, sys
db = sqlite3.connect("envx.vault")
seq = db.execute("SELECT max(seq) FROM audit").fetchone()[0] + 1
vid = db.execute("SELECT vault_id FROM vault").fetchone()[0]
prev = db.execute("SELECT hash FROM audit WHERE seq = ?", (seq - 1,)).fetchone()[0]
row = (seq, int(os.environ.get("FORGE_AT", "1767000000")), "mallory") + tuple(sys.argv[1:5])
lp = lambda b: struct.pack("<Q", len(b)) + b
u = lambda v: lp(struct.pack("<Q", v))
h = hashlib.blake2b(digest_size=32)
h.update(lp(b"envx-audit-v1") + lp(vid) + lp(prev) + u(row[0]) + u(row[1]) +
         b"".join(lp(x.encode()) for x in row[2:]))
db.execute("INSERT INTO audit VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", row + (prev, h.digest()))
db.commit()
EOF
}

setup_vault() {
  "$ENVX" init >/dev/null 2>&1 || {
    echo "Bail out! envx init failed"
    exit 1
  }
}

# With ENVX_TEST_WRAP, one more test: no wrapped envx reported anything.
# Prints every report that is not empty.
_wrap_reports() {
  local f
  for f in "$TEST_DIR"/wrap/*; do
    [ -s "$f" ] && echo "${f##*/}:" && cat "$f"
  done
  return 0
}

finish() {
  local reports
  if [ -d "$TEST_DIR/wrap" ]; then
    # not through ok, which shows 20 lines: a report needs its whole stack
    _n=$((_n + 1))
    reports=$(_wrap_reports)
    if [ -z "$reports" ]; then
      echo "ok $_n - no reports from ENVX_TEST_WRAP ($ENVX_TEST_WRAP)"
    else
      echo "not ok $_n - no reports from ENVX_TEST_WRAP ($ENVX_TEST_WRAP)"
      _failed=$((_failed + 1))
      printf '%s\n' "$reports" | head -400 | sed 's/^/# /'
    fi
  fi
  echo "1..$_n"
  [ "$_failed" -eq 0 ]
}
