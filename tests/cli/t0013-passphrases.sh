#!/usr/bin/env bash
# Passphrases per purpose: a protected identity's passphrase and the one for
# an environment's passphrase recipients are asked for (and cached)
# separately, each prompt saying which it is; a failed unlock says what was
# tried.
. "$ENVX_SOURCE_ROOT/tests/cli/test-lib.sh"
setup_vault
printf 'prod-value' | "$ENVX" set production DB_PASSWORD >/dev/null 2>&1
ENVX_PASSPHRASE=env-pass-two "$ENVX" access grant production --passphrase --label ops >/dev/null 2>&1 || {
  echo "Bail out! cannot add a passphrase recipient"
  exit 1
}
# readers through the passphrase are not members: they trust production's
# admin (the owner) through $ENVX_TRUST, as a CI job would (VF-3.8)
ENVX_TRUST=$(trust_line production)
[ -n "$ENVX_TRUST" ] || {
  echo "Bail out! no trust line for production"
  exit 1
}
export ENVX_TRUST
prot="$TEST_DIR/prot.id"
ENVX_PASSPHRASE=id-pass-one "$ENVX" identity new --passphrase -o "$prot" >/dev/null 2>&1 &&
  ENVX_PASSPHRASE=id-pass-one "$ENVX" --identity "$prot" env add qa >/dev/null 2>&1 &&
  printf 'qa-value' | ENVX_PASSPHRASE=id-pass-one "$ENVX" --identity "$prot" set qa QA_TOKEN >/dev/null 2>&1 || {
  echo "Bail out! cannot set up the protected identity"
  exit 1
}

# on_tty EXPECTED_OUTPUT PROMPT ANSWER [PROMPT ANSWER]... -- ARGS...: runs
# envx ARGS on a pseudo-terminal, answers each prompt in order (failing if
# one does not appear or an unexpected one does), and checks its output.
on_tty() {
  python3 - "$ENVX" "$@" <<'PY'
import os, pty, select, signal, sys, time
envx, want = sys.argv[1], sys.argv[2]
rest = sys.argv[3:]
sep = rest.index("--")
pairs = list(zip(rest[:sep:2], rest[1:sep:2]))
args = rest[sep + 1:]
pid, fd = pty.fork()
if pid == 0:
    os.execv(envx, [envx] + args)
out = b""
seen = 0
deadline = time.time() + 20
done = False
while time.time() < deadline and not done:
    if select.select([fd], [], [], 0.2)[0]:
        try:
            chunk = os.read(fd, 1024)
        except OSError:
            chunk = b""
        if not chunk:
            done = True
        out += chunk
    if seen < len(pairs) and pairs[seen][0].encode() in out:
        out = out.replace(pairs[seen][0].encode(), b"<asked>", 1)
        os.write(fd, pairs[seen][1].encode() + b"\n")
        seen += 1
if not done:
    os.kill(pid, signal.SIGKILL)
_, status = os.waitpid(pid, 0)
assert done, "envx did not finish; prompts answered %d; output %r" % (seen, out)
assert seen == len(pairs), "only %d of %d prompts appeared: %r" % (seen, len(pairs), out)
assert b"passphrase for" not in out, "an unexpected prompt: %r" % out
assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0, (status, out)
assert want.encode() in out, out
for _, answer in pairs:
    assert answer.encode() not in out, "a passphrase was echoed"
PY
}

t_identity_and_recipient_passphrases_differ() {
  on_tty prod-value \
    "passphrase for identity file '$prot'" id-pass-one \
    "passphrase for environment 'production'" env-pass-two \
    -- --identity "$prot" get production DB_PASSWORD
}
ok "a protected identity and a passphrase recipient with another passphrase are both usable" \
  t_identity_and_recipient_passphrases_differ

t_identity_recipient_asks_once() {
  on_tty qa-value "passphrase for identity file '$prot'" id-pass-one \
    -- --identity "$prot" get qa QA_TOKEN
}
ok "an env the protected identity opens asks only for the identity's passphrase" \
  t_identity_recipient_asks_once

t_wrong_passphrase_no_identity() {
  HOME="$TEST_DIR/nobody" XDG_CONFIG_HOME="$TEST_DIR/nobody/.config" ENVX_PASSPHRASE=wrong \
    run get production DB_PASSWORD
  expect_rc 3 && expect_err "cannot unlock environment 'production'" &&
    expect_err "the passphrase given did not open" && expect_err "no identity" &&
    expect_err "identity new"
}
ok "a wrong passphrase with no identity says both, not only 'no identity'" t_wrong_passphrase_no_identity

t_what_was_tried() {
  ENVX_PASSPHRASE=id-pass-one run --identity "$prot" get production DB_PASSWORD
  expect_rc 3 &&
    expect_err "cannot unlock environment 'production': identity file '$prot' is not one of its recipients" &&
    expect_err "the passphrase given did not open any of its passphrase recipients"
}
ok "cannot unlock: the message names the identity and the passphrase tried" t_what_was_tried

t_no_passphrase_recipient() {
  ENVX_PASSPHRASE=id-pass-one run --identity "$prot" get staging X
  expect_rc 3 && expect_err "identity file '$prot' is not one of its recipients and it has no passphrase recipient"
}
ok "cannot unlock an env without passphrase recipients: says so" t_no_passphrase_recipient

t_no_terminal_names_identity() {
  "$ENVX" identity new -o "$TEST_DIR/other.id" >/dev/null 2>&1
  setsid -w "$ENVX" --identity "$TEST_DIR/other.id" get production DB_PASSWORD </dev/null \
    >"$TEST_DIR/run.out" 2>"$TEST_DIR/run.err"
  RC=$?
  ERR=$(cat "$TEST_DIR/run.err")
  expect_rc 3 && expect_err "identity file '$TEST_DIR/other.id' is not one of its recipients, and" &&
    expect_err "passphrase for environment 'production' is needed" && expect_err "ENVX_PASSPHRASE"
}
ok "no terminal: the message says the identity was tried and how to give a passphrase" t_no_terminal_names_identity

t_ci_sources_serve_recipients() {
  HOME="$TEST_DIR/nobody" XDG_CONFIG_HOME="$TEST_DIR/nobody/.config" ENVX_PASSPHRASE=env-pass-two \
    run get production DB_PASSWORD && expect_rc 0 && [ "$OUT" = prod-value ] &&
    printf 'env-pass-two\n' >"$TEST_DIR/pass" && chmod 600 "$TEST_DIR/pass" &&
    HOME="$TEST_DIR/nobody" XDG_CONFIG_HOME="$TEST_DIR/nobody/.config" \
      run --passphrase-file "$TEST_DIR/pass" get production DB_PASSWORD && expect_rc 0 &&
    [ "$OUT" = prod-value ]
}
ok "ENVX_PASSPHRASE and --passphrase-file open a passphrase recipient" t_ci_sources_serve_recipients

t_env_passphrase_past_protected_identity() {
  # ENVX_PASSPHRASE is the environment's, not the identity's: the identity
  # stays locked, the passphrase recipient opens production
  [ "$(ENVX_PASSPHRASE=env-pass-two "$ENVX" --identity "$prot" get production DB_PASSWORD)" = prod-value ] &&
    run --identity "$prot" get production DB_PASSWORD </dev/null &&
    ENVX_PASSPHRASE=nope "$ENVX" --identity "$prot" get production DB_PASSWORD 2>"$TEST_DIR/e" </dev/null
  [ $? = 3 ] && grep -q "wrong passphrase" "$TEST_DIR/e" &&
    grep -q "the passphrase given did not open any of its passphrase recipients" "$TEST_DIR/e"
}
ok "a passphrase that does not open a protected identity is still tried on passphrase recipients" t_env_passphrase_past_protected_identity

finish
