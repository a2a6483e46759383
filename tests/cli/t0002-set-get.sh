#!/usr/bin/env bash
# set/get round trips of awkward values, metadata in list, versions, and
# proof that no plaintext value reaches the vault file.
. "$ENVX_SOURCE_ROOT/tests/cli/test-lib.sh"
setup_vault

# set_raw ENV NAME FILE: store FILE's bytes exactly.
set_raw() {
  "$ENVX" set "$1" "$2" --raw --allow-empty <"$3" >/dev/null 2>&1
}

# roundtrip NAME FILE: the value comes back byte for byte.
roundtrip() {
  set_raw staging "$1" "$2" && "$ENVX" get staging "$1" >"$TEST_DIR/got" &&
    same_file "$2" "$TEST_DIR/got"
}

printf '' >"$TEST_DIR/v-empty"
printf 'line one\nline two\n\nline four' >"$TEST_DIR/v-multi"
printf '%s' "it's \"quoted\" \`back\` 'single'" >"$TEST_DIR/v-quotes"
printf '%s' '$HOME ${PATH} $(id) `id` \$ %s %n' >"$TEST_DIR/v-dollar"
printf '%s' 'ünïcødé — 日本語 🔑' >"$TEST_DIR/v-unicode"
head -c 30000 /dev/urandom | base64 -w 76 | head -c 40960 >"$TEST_DIR/v-40k"
printf '  leading and trailing  \t' >"$TEST_DIR/v-space"
printf 'crlf\r\nline\r\n' >"$TEST_DIR/v-crlf"

for v in empty multi quotes dollar unicode 40k space crlf; do
  ok "round trip of a $v value" roundtrip "V_$(echo $v | tr a-z A-Z | tr -d 0-9)X" "$TEST_DIR/v-$v"
done

t_trailing_newline() {
  printf 'abc\n' | "$ENVX" set staging NL >/dev/null 2>&1 &&
    [ "$("$ENVX" get staging NL | od -An -c | tr -d ' \n')" = abc ] &&
    printf 'abc\n' | "$ENVX" set staging NL --raw >/dev/null 2>&1 &&
    [ "$("$ENVX" get staging NL | wc -c)" = 4 ]
}
ok "one trailing newline is stripped unless --raw" t_trailing_newline

t_empty_refused() {
  local before
  printf 'keep-me' | "$ENVX" set staging KEPT >/dev/null 2>&1
  before=$(sum_of envx.vault)
  run set staging KEPT </dev/null
  expect_rc 7 && expect_err "--allow-empty" && [ "$(sum_of envx.vault)" = "$before" ] &&
    [ "$("$ENVX" get staging KEPT)" = keep-me ] &&
    run set staging KEPT --allow-empty </dev/null && expect_rc 0 &&
    [ "$("$ENVX" get staging KEPT | wc -c)" = 0 ]
}
ok "an empty value is refused (exit 7) unless --allow-empty" t_empty_refused

t_nul_refused() {
  local before
  before=$(sum_of envx.vault)
  printf 'a\0b' >"$TEST_DIR/nul"
  run_in "$TEST_DIR/nul" set staging HASNUL --raw
  expect_rc 7 && expect_err "NUL" && [ "$(sum_of envx.vault)" = "$before" ]
}
ok "a value with a NUL byte is refused (exit 7), vault unchanged" t_nul_refused

t_too_large() {
  head -c 1048577 /dev/zero | tr '\0' x >"$TEST_DIR/big"
  run_in "$TEST_DIR/big" set staging BIG --raw
  expect_rc 7 && expect_err "too large"
}
ok "a value over 1 MiB is refused (exit 7)" t_too_large

t_bad_names() {
  echo v >"$TEST_DIR/v"
  run_in "$TEST_DIR/v" set staging 9LIVES && expect_rc 7 && expect_err "invalid secret name" &&
    run_in "$TEST_DIR/v" set staging LD_PRELOAD && expect_rc 7 && expect_err "code to run" &&
    expect_err "envx env allow staging LD_PRELOAD" &&
    run_in "$TEST_DIR/v" set staging BASH_ENV && expect_rc 7 &&
    run_in "$TEST_DIR/v" set staging "A-B" && expect_rc 7
}
ok "invalid and dangerous names are refused (exit 7)" t_bad_names

t_value_never_on_argv() {
  fails 2 "never from the command line" set staging X value-on-argv
}
ok "a value on the command line is a usage error" t_value_never_on_argv

t_metadata() {
  printf 'x' | "$ENVX" set staging API_KEY --rotate-every 90d --description "payments key" >/dev/null 2>&1 &&
    run list staging && expect_rc 0 && expect_out API_KEY && expect_out "90d" &&
    expect_out "payments key" && run --json list staging && expect_out '"verified": true' &&
    expect_out '"rotate_every_seconds": 7776000'
}
ok "list shows rotation interval and description" t_metadata

t_bad_duration() {
  printf 'x' >"$TEST_DIR/x"
  run_in "$TEST_DIR/x" set staging K --rotate-every 90 && expect_rc 2 && expect_err "invalid duration"
}
ok "a bad --rotate-every is a usage error" t_bad_duration

t_versions() {
  printf 'one' | "$ENVX" set staging VERSIONED >/dev/null 2>&1 &&
    printf 'two' | "$ENVX" set staging VERSIONED >/dev/null 2>&1 &&
    [ "$("$ENVX" get staging VERSIONED)" = two ] &&
    "$ENVX" --json list staging | grep -q '"name": "VERSIONED", "version": 2'
}
ok "every write adds a version; get returns the latest" t_versions

t_generate() {
  run set staging GEN --generate=48 && expect_rc 0 &&
    [ "$("$ENVX" get staging GEN | wc -c)" = 48 ] &&
    fails 2 "length" set staging GEN --generate=3
}
ok "--generate[=LEN] stores a random value" t_generate

t_list_no_values() {
  printf 'sup3r-s3cret-list-value' | "$ENVX" set staging LISTED >/dev/null 2>&1 &&
    run list staging && ! grep -q 'sup3r-s3cret-list-value' "$TEST_DIR/run.out" "$TEST_DIR/run.err" &&
    run --json list staging && ! grep -q 'sup3r-s3cret-list-value' "$TEST_DIR/run.out"
}
ok "list never prints values" t_list_no_values

t_no_plaintext_in_vault() {
  local marker=plaintext-marker-7f3a9c
  printf '%s' "$marker" | "$ENVX" set production MARKED >/dev/null 2>&1 &&
    printf '%s' "$marker" | "$ENVX" set production MARKED >/dev/null 2>&1 &&
    ! grep -a -q "$marker" envx.vault &&
    ! grep -a -q "ünïcødé" envx.vault &&
    ! grep -a -q "line two" envx.vault &&
    [ ! -e envx.vault-journal ]
}
ok "no plaintext value appears anywhere in the vault file" t_no_plaintext_in_vault

t_get_missing() {
  fails 9 "no secret 'NOPE' in environment 'staging'" get staging NOPE &&
    fails 9 "no environment 'nope'" get nope X &&
    fails 2 "missing ENV or NAME" get staging &&
    fails 2 "unknown option" get staging X --frob
}
ok "get: missing secret and env are exit 9, bad usage exit 2" t_get_missing

t_reads_do_not_write() {
  local before
  before=$(sum_of envx.vault)
  "$ENVX" get staging API_KEY >/dev/null && "$ENVX" list staging >/dev/null &&
    "$ENVX" env list >/dev/null && [ "$(sum_of envx.vault)" = "$before" ]
}
ok "get, list and env list never change the vault file" t_reads_do_not_write

t_read_only_checkout() {
  mkdir ro && cp envx.vault ro/ && chmod 444 ro/envx.vault && chmod 555 ro &&
    (cd ro && [ "$("$ENVX" get staging VERSIONED)" = two ]) ; local rc=$?
  chmod 755 ro
  return $rc
}
ok "a read-only checkout can be read" t_read_only_checkout

t_tty_prompt_no_echo() {
  python3 - "$ENVX" <<'PY'
import os, pty, select, signal, sys, time
envx = sys.argv[1]
pid, fd = pty.fork()
if pid == 0:
    os.execv(envx, [envx, "set", "staging", "TYPED"])
out = b""
typed = False
deadline = time.time() + 10
done = False
while time.time() < deadline and not done:
    ready, _, _ = select.select([fd], [], [], 0.2)
    if ready:
        try:
            chunk = os.read(fd, 1024)
        except OSError:
            chunk = b""
        if not chunk:
            done = True
        out += chunk
    if not typed and b"value for TYPED in staging" in out:
        os.write(fd, b"typed-s3cret-value\n")
        typed = True
if not done:
    os.kill(pid, signal.SIGKILL)
_, status = os.waitpid(pid, 0)
assert done, "envx did not finish: %r" % out
assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0, out
assert b"typed-s3cret-value" not in out, "the value was echoed"
PY
  [ "$("$ENVX" get staging TYPED)" = typed-s3cret-value ]
}
ok "on a terminal, set prompts without echo" t_tty_prompt_no_echo

t_tty_prompt_interrupt_restores_echo() {
  python3 - "$ENVX" <<'PY'
import os, pty, select, signal, sys, termios, time
envx = sys.argv[1]
pid, fd = pty.fork()
if pid == 0:
    os.execv(envx, [envx, "set", "staging", "INTERRUPTED"])
out = b""
deadline = time.time() + 10
while b"value for INTERRUPTED" not in out and time.time() < deadline:
    if select.select([fd], [], [], 0.2)[0]:
        out += os.read(fd, 1024)
assert termios.tcgetattr(fd)[3] & termios.ECHO == 0, "echo on at the prompt"
os.write(fd, b"\x03")  # ^C
for _ in range(50):
    done, status = os.waitpid(pid, os.WNOHANG)
    if done:
        break
    time.sleep(0.1)
else:
    os.kill(pid, signal.SIGKILL)
    sys.exit("envx did not stop on ^C")
assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGINT, status
assert termios.tcgetattr(fd)[3] & termios.ECHO, "echo left off after ^C"
PY
  fails 9 "no secret 'INTERRUPTED'" get staging INTERRUPTED
}
ok "^C at the hidden prompt restores echo and stores nothing" t_tty_prompt_interrupt_restores_echo

t_did_you_mean() {
  fails 2 "unknown command 'exce': did you mean 'exec'?" exce staging &&
    fails 2 "did you mean 'list'?" lst staging &&
    run frobnicate && expect_rc 2 && ! expect_err "did you mean" 2>/dev/null &&
    fails 9 "no environment 'prod' in vault" exec prod -- true &&
    expect_err "did you mean 'production'? (environments: local, production, staging)" &&
    fails 9 "did you mean 'staging'?" get stagin X &&
    fails 9 "(environments: local, production, staging)" get zzz X &&
    ! expect_err "did you mean" 2>/dev/null
}
ok "a mistyped command or environment: the nearest match and what exists" t_did_you_mean

t_next_steps() {
  local other="$TEST_DIR/other-identity"
  ENVX_IDENTITY='' "$ENVX" identity new -o "$other" >/dev/null 2>&1 &&
    fails 3 "to be granted access: run 'envx identity show'" --identity "$other" get staging A &&
    printf '' >"$TEST_DIR/empty" && run_in "$TEST_DIR/empty" set staging EMPTY_ONE &&
    expect_rc 7 && expect_err "pipe the value in" && expect_err "--generate"
}
ok "cannot unlock and an empty stdin say what to do next" t_next_steps

finish
