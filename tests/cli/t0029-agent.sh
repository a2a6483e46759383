#!/usr/bin/env bash
# envx agent: a passphrase typed once serves later commands through the
# agent; keys go when their time is up, on --stop and on SIGTERM; the agent
# serves only its own uid and starts only in a private directory; an agent
# that is stopped, killed mid-request, stale or talking nonsense never makes
# a command fail or hang; a rekeyed environment is never served a stale key.
. "$ENVX_SOURCE_ROOT/tests/cli/test-lib.sh"
mkdir -m 700 "$XDG_RUNTIME_DIR"
SOCK="$XDG_RUNTIME_DIR/envx/agent.sock"
FAKE_PID=
trap 'stop_agent; ENVX_AGENT_SOCK="$TEST_DIR/det/a.sock" "$ENVX_UNWRAPPED" agent --stop >/dev/null 2>&1; [ -n "$FAKE_PID" ] && kill -9 "$FAKE_PID" 2>/dev/null; rm -rf "$TEST_DIR"' EXIT

ENVX_PASSPHRASE=id-pass "$ENVX" identity new --passphrase >/dev/null 2>&1 &&
  ENVX_PASSPHRASE=id-pass "$ENVX" init >/dev/null 2>&1 &&
  printf 'staging-1' | ENVX_PASSPHRASE=id-pass "$ENVX" set staging API_KEY >/dev/null 2>&1 || {
  echo "Bail out! cannot set up a vault with a protected identity"
  exit 1
}

# start_agent [ARGS...]: the agent in the foreground (its log in
# $TEST_DIR/agent.log, its pid in agent.pid, its exit status in agent.rc
# once it ends), once its socket answers. Tests run in subshells, so the
# pid lives in a file. The agent is the binary itself: a valgrind wrapper
# would make it slower than a client waits.
export AGENT_LOG="$TEST_DIR/agent.log" AGENT_PIDF="$TEST_DIR/agent.pid" AGENT_RCF="$TEST_DIR/agent.rc"
start_agent() {
  local i
  rm -f "$AGENT_PIDF" "$AGENT_RCF"
  bash -c '"$0" agent --foreground "$@" >/dev/null 2>"$AGENT_LOG" &
    echo $! >"$AGENT_PIDF"; wait $!; echo $? >"$AGENT_RCF"' "$ENVX_UNWRAPPED" "$@" &
  for i in $(seq 100); do
    [ -s "$AGENT_PIDF" ] && "$ENVX_UNWRAPPED" agent --status >/dev/null 2>&1 && return 0
    [ -e "$AGENT_RCF" ] && break
    sleep 0.05
  done
  echo "agent did not start: $(cat "$AGENT_LOG")" >&2
  return 1
}

agent_pid() { cat "$AGENT_PIDF"; }

# agent_rc: the agent's exit status, once it has ended (at most 5 s)
agent_rc() {
  local i
  for i in $(seq 100); do
    [ -s "$AGENT_RCF" ] && cat "$AGENT_RCF" && return 0
    sleep 0.05
  done
  echo "agent did not end" >&2
  return 1
}

stop_agent() {
  if [ -s "$AGENT_PIDF" ] && [ ! -e "$AGENT_RCF" ]; then
    kill -CONT "$(agent_pid)" 2>/dev/null
    kill "$(agent_pid)" 2>/dev/null
    agent_rc >/dev/null
  fi
  return 0
}

# nopass ARGS...: envx with no passphrase source at all (no variable, no
# file, no terminal), so only the agent can open a protected identity.
nopass() {
  env -u ENVX_PASSPHRASE setsid -w "$ENVX" "$@" </dev/null >"$TEST_DIR/run.out" 2>"$TEST_DIR/run.err"
  RC=$?
  OUT=$(cat "$TEST_DIR/run.out")
  ERR=$(cat "$TEST_DIR/run.err")
}

withpass() {
  ENVX_PASSPHRASE=id-pass run "$@"
}

log_has() {
  grep -qF "$1" "$TEST_DIR/agent.log" || {
    echo "agent log lacks '$1': $(cat "$TEST_DIR/agent.log")" >&2
    return 1
  }
}

t_without_agent_needs_passphrase() {
  nopass get staging API_KEY
  expect_rc 3 && expect_err "passphrase for identity file" && ! expect_err "warning" 2>/dev/null
}
ok "without an agent a protected identity needs its passphrase (and nothing mentions an agent)" \
  t_without_agent_needs_passphrase

t_start_private() {
  start_agent &&
    [ "$(stat -c %a "$XDG_RUNTIME_DIR/envx")" = 700 ] &&
    [ "$(stat -c %a "$SOCK")" = 600 ] && [ -S "$SOCK" ]
}
ok "the agent makes its directory 0700 and its socket 0600 under XDG_RUNTIME_DIR" t_start_private

t_passphrase_once() {
  withpass get staging API_KEY
  expect_rc 0 && [ "$OUT" = staging-1 ] && log_has "holding the key of environment 'staging'" &&
    nopass get staging API_KEY && expect_rc 0 && [ "$OUT" = staging-1 ] &&
    nopass exec staging -- sh -c 'printf %s "$API_KEY"' && expect_rc 0 && [ "$OUT" = staging-1 ] &&
    nopass export staging && expect_rc 0 && expect_out "API_KEY=staging-1"
}
ok "the first command unlocks with the passphrase; later ones need none (get, exec, export)" t_passphrase_once

t_status() {
  run agent --status
  expect_rc 0 && expect_out "1 key, 1 identity, each kept 8h" &&
    run --json agent --status && expect_out '"keys": 1' && expect_out '"ttl_seconds": 28800'
}
ok "--status says what the agent holds, never a key" t_status

t_agent_holds_no_values() {
  # the agent learns names of environments, never values or the secret key
  ! grep -q staging-1 "$TEST_DIR/agent.log" && [ ! -e "$HOME/.local/state/envx/agent" ] &&
    ! find "$XDG_RUNTIME_DIR" -type f | grep -q .
}
ok "nothing but the socket is written; the log names environments, never values" t_agent_holds_no_values

t_writes_still_sign_with_the_identity() {
  printf 'staging-2' | env -u ENVX_PASSPHRASE setsid -w "$ENVX" set staging API_KEY >/dev/null 2>"$TEST_DIR/e"
  [ $? = 3 ] && grep -q "passphrase for identity file" "$TEST_DIR/e" &&
    printf 'staging-2' | ENVX_PASSPHRASE=id-pass "$ENVX" set staging API_KEY >/dev/null 2>&1 &&
    nopass get staging API_KEY && expect_rc 0 && [ "$OUT" = staging-2 ]
}
ok "a write still needs the identity's passphrase (the agent never holds a signing key); reads go on" \
  t_writes_still_sign_with_the_identity

t_rekey_not_stale() {
  ENVX_PASSPHRASE=id-pass "$ENVX" rekey staging >/dev/null 2>&1 || return 1
  nopass get staging API_KEY
  expect_rc 3 && expect_err "passphrase for identity file" && ! expect_err "integrity" 2>/dev/null &&
    withpass get staging API_KEY && expect_rc 0 && [ "$OUT" = staging-2 ] &&
    nopass get staging API_KEY && expect_rc 0 && [ "$OUT" = staging-2 ]
}
ok "a rekeyed environment is not served the old key: the passphrase is needed once more" t_rekey_not_stale

t_other_vault_not_served() {
  # made without the agent, which therefore never saw its keys
  mkdir -p "$TEST_DIR/other" && cd "$TEST_DIR/other" &&
    ENVX_AGENT_SOCK="$TEST_DIR/none.sock" ENVX_PASSPHRASE=id-pass "$ENVX" init >/dev/null 2>&1 &&
    printf 'other' | ENVX_AGENT_SOCK="$TEST_DIR/none.sock" ENVX_PASSPHRASE=id-pass "$ENVX" set staging API_KEY >/dev/null 2>&1 || return 1
  nopass get staging API_KEY
  expect_rc 3
}
ok "another vault's environment of the same name is not served" t_other_vault_not_served

t_stop_wipes() {
  run agent --stop
  expect_rc 0 && expect_err "stopped" && [ "$(agent_rc)" = 0 ] && [ ! -e "$SOCK" ] && log_has "wiped 2 keys" &&
    nopass get staging API_KEY && expect_rc 3 && ! expect_err "warning" 2>/dev/null &&
    fails 9 "no agent at '$SOCK'" agent --stop
}
ok "--stop wipes the keys and removes the socket; later commands unlock without it, silently" t_stop_wipes

# A client speaking the protocol by hand tries KEY_PUTs that no envx
# command sends: each is refused, and nothing of them is served after.
t_agent_refuses_bad_puts() {
  start_agent || return 1
  python3 - "$SOCK" <<'PY'
import hashlib, os, socket, struct, sys
path = sys.argv[1]
def call(t, fields):
    body = bytes([1, t]) + fields
    c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    c.connect(path)
    c.sendall(struct.pack("<I", len(body)) + body)
    n = struct.unpack("<I", c.recv(4))[0]
    r = b""
    while len(r) < n:
        r += c.recv(n - len(r))
    c.close()
    return r[1], r[2:]
def commit(k):  # VF-3.1 subkey 3, VF-3.2
    ck = hashlib.blake2b(b"", digest_size=32, key=k,
                         salt=struct.pack("<Q", 3) + bytes(8),
                         person=b"envx-env" + bytes(8)).digest()
    return hashlib.blake2b(b"envx-key-commitment-v1", digest_size=32, key=ck).digest()
vid, key = os.urandom(16), os.urandom(32)
def ref(env, c=None):
    return vid + (commit(key) if c is None else c) + bytes([len(env)]) + env
REFUSED, OK, NONE, KEY = 0xff, 0x80, 0x81, 0x82
bad = {
    "a name with a NUL inside": ref(b"staging\0x"),
    "an upper-case name": ref(b"Staging"),
    "a name starting with '.'": ref(b".staging"),
    "a key that does not match its commitment": ref(b"staging", os.urandom(32)),
}
for why, r in bad.items():
    t, _ = call(2, r + key)
    assert t == REFUSED, (why, hex(t))
t, _ = call(1, ref(b"staging"))
assert t == NONE, ("served what it should not have stored", hex(t))
t, _ = call(2, ref(b"staging") + key)
assert t == OK, hex(t)
t, got = call(1, ref(b"staging"))
assert t == KEY and got == key, hex(t)
PY
  local rc=$?
  [ "$rc" = 0 ] && log_has "refused a malformed request" &&
    log_has "refused a key for environment 'staging': it does not match its commitment"
  rc=$?
  stop_agent
  return $rc
}
ok "the agent refuses a KEY_PUT with an invalid name or a key that does not match its commitment, and never serves one" \
  t_agent_refuses_bad_puts

# The detached agent keeps nothing its starter had open: 0, 1 and 2 are
# /dev/null, and beyond them only its socket and its signalfd. A
# descriptor left open would hold a file, or keep a pipe's reader
# (a $(...) around the start) waiting for the agent to end.
DET_SOCK="$TEST_DIR/det/a.sock"
t_detached_closes_fds() {
  mkdir -p -m 700 "$TEST_DIR/det" || return 1
  local out pid fd link extra= rcs
  # fd 8 is the pipe to cat: cat ends only when every holder closed it
  ENVX_AGENT_SOCK=$DET_SOCK "$ENVX_UNWRAPPED" agent 7>"$TEST_DIR/det/held" 8>&1 2>/dev/null |
    timeout $((3 * WAIT_FACTOR)) cat >"$TEST_DIR/det/out"
  rcs="${PIPESTATUS[*]}"
  out=$(cat "$TEST_DIR/det/out")
  [ "$out" = "ENVX_AGENT_SOCK='$DET_SOCK'; export ENVX_AGENT_SOCK;" ] || return 1
  [ "$rcs" = "0 0" ] || extra=" the pipe (exit statuses $rcs: its reader waited for the agent)"
  pid=$(ENVX_AGENT_SOCK=$DET_SOCK "$ENVX_UNWRAPPED" --json agent --status |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["pid"])') || return 1
  for fd in 0 1 2; do
    [ "$(readlink "/proc/$pid/fd/$fd")" = /dev/null ] || extra="$extra $fd:$(readlink "/proc/$pid/fd/$fd")"
  done
  for fd in $(ls "/proc/$pid/fd"); do
    [ "$fd" -le 2 ] && continue
    link=$(readlink "/proc/$pid/fd/$fd")
    case $link in
    socket:* | "anon_inode:[signalfd]") ;;
    *) extra="$extra $fd:$link" ;;
    esac
  done
  [ "$(ls "/proc/$pid/fd" | wc -l)" = 5 ] || extra="$extra count:$(ls "/proc/$pid/fd" | wc -l)"
  ENVX_AGENT_SOCK=$DET_SOCK "$ENVX_UNWRAPPED" agent --stop >/dev/null 2>&1
  [ -z "$extra" ] || { echo "the detached agent kept:$extra" >&2; return 1; }
}
if [ -d /proc/self/fd ]; then
  ok "the detached agent closes what it inherited (0-2 on /dev/null, nothing else but its own)" t_detached_closes_fds
else
  skip "the detached agent closes what it inherited" "no /proc"
fi

t_ttl() {
  start_agent --ttl 2s || return 1
  withpass get staging API_KEY
  expect_rc 0 && nopass get staging API_KEY && expect_rc 0 && sleep 2.3 &&
    nopass get staging API_KEY && expect_rc 3 && log_has "its time is up" &&
    run agent --status && expect_out "0 keys, 0 identities, each kept 2s"
}
ok "--ttl 2s: after two seconds the key is wiped and the passphrase is needed again" t_ttl
stop_agent

t_ttl_usage() {
  fails 2 "invalid --ttl '90'" agent --ttl 90 && fails 2 "invalid --ttl '8d'" agent --ttl 8d &&
    fails 2 "invalid --ttl '0s'" agent --ttl 0s &&
    fails 2 "take no other option" agent --stop --ttl 1h &&
    fails 2 "unexpected argument" agent now
}
ok "a bad --ttl or option mix is a usage error" t_ttl_usage

t_sigterm_wipes() {
  start_agent && withpass get staging API_KEY && kill -TERM "$(agent_pid)" &&
    [ "$(agent_rc)" = 0 ] && log_has "stopping: Terminated" && log_has "wiped 1 key" && [ ! -e "$SOCK" ]
}
ok "SIGTERM wipes the keys and removes the socket" t_sigterm_wipes

t_sighup_wipes() {
  start_agent && withpass get staging API_KEY && kill -HUP "$(agent_pid)" &&
    [ "$(agent_rc)" = 0 ] && log_has "stopping: Hangup" && log_has "wiped 1 key"
}
ok "SIGHUP wipes the keys too" t_sighup_wipes

t_second_agent_refused() {
  start_agent || return 1
  fails 6 "an agent is already running at '$SOCK'" agent --foreground
}
ok "a second agent on the same socket is refused" t_second_agent_refused
stop_agent

t_not_private_dir() {
  mkdir -m 755 "$TEST_DIR/open" && mkdir -m 700 "$TEST_DIR/real" &&
    ln -s "$TEST_DIR/real" "$TEST_DIR/link" || return 1
  ENVX_AGENT_SOCK="$TEST_DIR/open/a.sock" fails 8 "socket directory '$TEST_DIR/open' is accessible by group or others (mode 0755)" agent --foreground &&
    ENVX_AGENT_SOCK="$TEST_DIR/link/a.sock" fails 8 "socket directory '$TEST_DIR/link' is a symbolic link" agent --foreground &&
    [ ! -e "$TEST_DIR/open/a.sock" ] && [ ! -e "$TEST_DIR/real/a.sock" ] &&
    ENVX_AGENT_SOCK="relative.sock" fails 2 "no socket path" agent
}
ok "a socket directory open to others, or a symlink, is refused (exit 8)" t_not_private_dir

if [ "$(id -u)" = 0 ] && command -v setpriv >/dev/null; then
  t_foreign_owner() {
    mkdir -m 700 "$TEST_DIR/theirs" && chown 65534:65534 "$TEST_DIR/theirs" &&
      ENVX_AGENT_SOCK="$TEST_DIR/theirs/a.sock" fails 8 "socket directory '$TEST_DIR/theirs' is owned by uid 65534" agent --foreground
  }
  ok "a socket directory owned by another uid is refused (exit 8)" t_foreign_owner

  # the socket made reachable for this test only, so that what refuses
  # uid 65534 is the agent's SO_PEERCRED check, not the file permissions
  t_other_uid_refused() {
    mkdir -m 700 "$TEST_DIR/shared" || return 1
    ENVX_AGENT_SOCK="$TEST_DIR/shared/a.sock" start_agent || return 1
    ENVX_AGENT_SOCK="$TEST_DIR/shared/a.sock" ENVX_PASSPHRASE=id-pass "$ENVX" get staging API_KEY >/dev/null 2>&1 &&
      chmod 711 "$TEST_DIR/shared" "$TEST_DIR" && chmod 666 "$TEST_DIR/shared/a.sock" || return 1
    setpriv --reuid=65534 --regid=65534 --clear-groups /usr/bin/python3 - "$TEST_DIR/shared/a.sock" >"$TEST_DIR/py.out" 2>&1 <<'PY'
import socket, struct, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.settimeout(3)
s.connect(sys.argv[1])
print("connected")
# KEY_GET for a well-formed reference: version 1, type 1
body = bytes([1, 1]) + b"\0" * 48 + bytes([7]) + b"staging"
try:
    s.sendall(struct.pack("<I", len(body)) + body)
    got = s.recv(100)
except (BrokenPipeError, ConnectionResetError):
    got = b""
print("answer", len(got))
PY
    cat "$TEST_DIR/py.out" >&2
    grep -qx connected "$TEST_DIR/py.out" && grep -qx "answer 0" "$TEST_DIR/py.out" &&
      log_has "refused a connection from uid 65534" && log_has "only uid 0 is served"
  }
  ok "another uid reaching the socket is refused by the agent (SO_PEERCRED) and logged" t_other_uid_refused

  t_client_refuses_other_uid_agent() {
    setpriv --reuid=65534 --regid=65534 --clear-groups env ENVX_AGENT_SOCK="$TEST_DIR/shared/a.sock" \
      "$ENVX_UNWRAPPED" agent --status >"$TEST_DIR/run.out" 2>"$TEST_DIR/run.err"
    RC=$?
    ERR=$(cat "$TEST_DIR/run.err")
    expect_rc 8 && expect_err "runs as uid 0, not as you"
  }
  ok "a client never talks to an agent of another uid" t_client_refuses_other_uid_agent
  stop_agent
  chmod 700 "$TEST_DIR"
else
  skip "a socket directory owned by another uid is refused" "needs root"
  skip "another uid reaching the socket is refused by the agent" "needs root and setpriv"
  skip "a client never talks to an agent of another uid" "needs root and setpriv"
fi

t_stopped_agent_times_out() {
  start_agent && withpass get staging API_KEY && kill -STOP "$(agent_pid)" || return 1
  local t0=$SECONDS
  withpass get staging API_KEY
  expect_rc 0 && [ "$OUT" = staging-2 ] && [ $((SECONDS - t0)) -le 4 ] &&
    expect_err "no answer from the agent" && [ "$(grep -c . "$TEST_DIR/run.err")" = 1 ]
}
ok "a stopped agent: the command waits at most about 1 s, warns once and unlocks itself" t_stopped_agent_times_out

t_killed_mid_request() {
  local queued
  queued=$(grep -c " $SOCK\$" /proc/net/unix)
  ENVX_PASSPHRASE=id-pass "$ENVX" get staging API_KEY >"$TEST_DIR/bg.out" 2>"$TEST_DIR/bg.err" &
  local client=$! i
  # The stopped agent cannot accept; the kernel queues the client's
  # connection on the listening socket, as one more socket bound to its path
  # in /proc/net/unix. Kill the agent once the client waits on it, however
  # long a wrapped client takes to start.
  for i in $(seq 200); do
    [ "$(grep -c " $SOCK\$" /proc/net/unix)" -gt "$queued" ] && break
    sleep 0.05
  done
  sleep 0.1
  kill -KILL "$(agent_pid)"
  agent_rc >/dev/null
  local t0=$SECONDS
  wait "$client"
  local rc=$?
  [ "$rc" = 0 ] && [ "$(cat "$TEST_DIR/bg.out")" = staging-2 ] && [ $((SECONDS - t0)) -le $((3 * WAIT_FACTOR)) ] &&
    grep -q "no answer from the agent" "$TEST_DIR/bg.err" ||
    { echo "rc=$rc i=$i took=$((SECONDS - t0)) out=$(cat "$TEST_DIR/bg.out") err=$(cat "$TEST_DIR/bg.err")" >&2; return 1; }
}
ok "the agent killed while a client waits: the client falls back, no hang" t_killed_mid_request

t_stale_socket() {
  [ -S "$SOCK" ] || return 1
  withpass get staging API_KEY
  expect_rc 0 && [ "$OUT" = staging-2 ] && expect_err "stale socket" &&
    nopass get staging API_KEY && expect_rc 3 && start_agent && stop_agent
}
ok "a dead agent's socket: one warning, the normal unlock; a new agent replaces it" t_stale_socket

# fake_agent MODE: a server on $TEST_DIR/fake/a.sock that answers every
# request as MODE says.
fake_agent() {
  mkdir -p -m 700 "$TEST_DIR/fake"
  rm -f "$TEST_DIR/fake/a.sock"
  python3 - "$TEST_DIR/fake/a.sock" "$1" <<'PY' &
import os, socket, struct, sys
path, mode = sys.argv[1], sys.argv[2]
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.bind(path)
s.listen(8)
while True:
    c, _ = s.accept()
    try:
        c.recv(4096)
        if mode == "garbage":
            c.sendall(b"HTTP/1.1 200 OK\r\n\r\nhello")
        elif mode == "huge":
            c.sendall(struct.pack("<I", 0xFFFFFFF0) + b"\1\x82")
        elif mode == "wrongkey":
            body = bytes([1, 0x82]) + os.urandom(32)
            c.sendall(struct.pack("<I", len(body)) + body)
        elif mode == "version":
            body = bytes([9, 0x82]) + os.urandom(32)
            c.sendall(struct.pack("<I", len(body)) + body)
    finally:
        c.close()
PY
  FAKE_PID=$!
  local i
  for i in $(seq 100); do
    [ -S "$TEST_DIR/fake/a.sock" ] && return 0
    sleep 0.05
  done
  return 1
}

for mode in garbage huge wrongkey version; do
  t_fake() {
    fake_agent "$1" || return 1
    ENVX_AGENT_SOCK="$TEST_DIR/fake/a.sock" withpass get staging API_KEY
    local ok1=$?
    expect_rc 0 && [ "$OUT" = staging-2 ] && expect_err "warning" &&
      [ "$(grep -c . "$TEST_DIR/run.err")" = 1 ] &&
      { [ "$1" != wrongkey ] || [ "$ERR" = "envx: warning: the agent at '$TEST_DIR/fake/a.sock' gave a key that does not open staging; unlocking without it" ] ||
        { echo "stderr: $ERR" >&2; false; }; } &&
      ENVX_AGENT_SOCK="$TEST_DIR/fake/a.sock" nopass get staging API_KEY && expect_rc 3 &&
      ! expect_err "integrity" 2>/dev/null
    local rc=$?
    kill -9 "$FAKE_PID" 2>/dev/null
    wait "$FAKE_PID" 2>/dev/null
    FAKE_PID=
    return $rc
  }
  ok "an agent answering $mode: one warning and the normal unlock (exit 3 without a passphrase, never 4)" t_fake "$mode"
done

t_passphrase_recipient() {
  # one passphrase source serves every purpose: the recipient's
  # passphrase is the identity's here
  ENVX_PASSPHRASE=id-pass "$ENVX" access grant production --passphrase --label ops >/dev/null 2>&1 &&
    printf 'prod-1' | ENVX_PASSPHRASE=id-pass "$ENVX" set production DB >/dev/null 2>&1 || return 1
  local trust
  trust=$(ENVX_PASSPHRASE=id-pass trust_line production)
  start_agent || return 1
  HOME="$TEST_DIR/reader" XDG_CONFIG_HOME="$TEST_DIR/reader/.config" ENVX_TRUST=$trust \
    ENVX_PASSPHRASE=id-pass run get production DB
  expect_rc 0 && [ "$OUT" = prod-1 ] &&
    HOME="$TEST_DIR/reader" XDG_CONFIG_HOME="$TEST_DIR/reader/.config" ENVX_TRUST=$trust \
      nopass get production DB && expect_rc 0 && [ "$OUT" = prod-1 ]
}
ok "a passphrase recipient (no identity) is typed once too" t_passphrase_recipient
stop_agent

finish
