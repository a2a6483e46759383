#!/usr/bin/env bash
# Who can unlock what: a second identity cannot read, key files must be
# private, passphrase-protected identities, ENVX_IDENTITY for CI, and the
# "cannot unlock" exit code with a message that names the environment.
. "$ENVX_SOURCE_ROOT/tests/cli/test-lib.sh"
setup_vault
printf 'owner-only-value' | "$ENVX" set production DB_PASSWORD >/dev/null 2>&1

t_second_identity_cannot_read() {
  "$ENVX" identity new -o "$TEST_DIR/other.id" >/dev/null 2>&1 &&
    fails 3 "cannot unlock environment 'production'" --identity "$TEST_DIR/other.id" get production DB_PASSWORD &&
    ! grep -q owner-only-value "$TEST_DIR/run.out" "$TEST_DIR/run.err"
}
ok "a second identity cannot read (exit 3, names the env)" t_second_identity_cannot_read

t_no_identity() {
  HOME="$TEST_DIR/nobody" XDG_CONFIG_HOME="$TEST_DIR/nobody/.config" run get production DB_PASSWORD
  expect_rc 3 && expect_err "cannot unlock environment 'production'" && expect_err "identity new"
}
ok "no identity at all: exit 3 with a hint" t_no_identity

t_list_without_key() {
  run --identity "$TEST_DIR/other.id" list production
  expect_rc 0 && expect_out DB_PASSWORD && expect_err "unverified"
}
ok "list works without the key and says names are unverified" t_list_without_key

t_group_readable_identity() {
  cp "$HOME/.config/envx/identity" "$TEST_DIR/loose.id" && chmod 640 "$TEST_DIR/loose.id" &&
    fails 8 "too open" --identity "$TEST_DIR/loose.id" get production DB_PASSWORD &&
    chmod 604 "$TEST_DIR/loose.id" &&
    fails 8 "too open" --identity "$TEST_DIR/loose.id" get production DB_PASSWORD
}
ok "an identity readable by group or others is refused (exit 8)" t_group_readable_identity

t_symlink_identity() {
  ln -s "$HOME/.config/envx/identity" "$TEST_DIR/link.id" &&
    fails 8 "symbolic link" --identity "$TEST_DIR/link.id" get production DB_PASSWORD
}
ok "an identity that is a symlink is refused (exit 8)" t_symlink_identity

t_envx_identity_text() {
  local key
  key=$(grep -v '^#' "$HOME/.config/envx/identity")
  [ "$(ENVX_IDENTITY="$key" HOME=/nonexistent "$ENVX" get production DB_PASSWORD)" = owner-only-value ]
}
ok "ENVX_IDENTITY carries the key text itself (CI)" t_envx_identity_text

t_identity_typo() {
  local key bad
  key=$(grep -v '^#' "$HOME/.config/envx/identity")
  # change one character of the key body: the checksum must catch it
  bad="${key%?????}AAAAA"
  [ "$bad" != "$key" ] || bad="${key%?????}BBBBB"
  ENVX_IDENTITY="$bad" run get production DB_PASSWORD
  expect_rc 7 && expect_err "checksum" && ! expect_err "$key" 2>/dev/null
}
ok "a mistyped key is caught by its checksum (exit 7), never echoed" t_identity_typo

t_identity_show() {
  local pub
  run identity show && expect_rc 0 && pub=$OUT &&
    [ "${pub#envxpub2}" != "$pub" ] && grep -q "$pub" "$HOME/.config/envx/identity"
}
ok "identity show prints the public key" t_identity_show

t_identity_new_refuses_overwrite() {
  local before
  before=$(sum_of "$HOME/.config/envx/identity")
  fails 6 "refusing to overwrite" identity new &&
    [ "$(sum_of "$HOME/.config/envx/identity")" = "$before" ]
}
ok "identity new refuses to overwrite an identity" t_identity_new_refuses_overwrite

t_protected_identity() {
  ENVX_PASSPHRASE='correct horse' run identity new --passphrase -o "$TEST_DIR/prot.id" &&
    expect_rc 0 && grep -q ENVX-ENCRYPTED-KEY-1- "$TEST_DIR/prot.id" &&
    ! grep -q ENVX-SECRET-KEY-1- "$TEST_DIR/prot.id" &&
    ENVX_PASSPHRASE='correct horse' run --identity "$TEST_DIR/prot.id" identity show &&
    expect_rc 0 && expect_out envxpub2
}
ok "a passphrase-protected identity is stored encrypted and opens" t_protected_identity

t_wrong_passphrase() {
  ENVX_PASSPHRASE='wrong' run --identity "$TEST_DIR/prot.id" identity show
  expect_rc 3 && expect_err "wrong passphrase"
}
ok "a wrong passphrase is 'cannot unlock' (exit 3)" t_wrong_passphrase

t_no_tty_no_passphrase() {
  # setsid: no controlling terminal, whatever the test runner has
  setsid -w "$ENVX" --identity "$TEST_DIR/prot.id" identity show </dev/null \
    >"$TEST_DIR/run.out" 2>"$TEST_DIR/run.err"
  RC=$?
  ERR=$(cat "$TEST_DIR/run.err")
  expect_rc 3 && expect_err "ENVX_PASSPHRASE" && expect_err "--passphrase-file"
}
ok "no terminal and no passphrase: exit 3 saying how to give one" t_no_tty_no_passphrase

t_passphrase_file() {
  printf 'correct horse\n' >"$TEST_DIR/pass" && chmod 600 "$TEST_DIR/pass" &&
    run --identity "$TEST_DIR/prot.id" --passphrase-file "$TEST_DIR/pass" identity show &&
    expect_rc 0 &&
    ENVX_PASSPHRASE=wrong run --identity "$TEST_DIR/prot.id" --passphrase-file "$TEST_DIR/pass" identity show &&
    expect_rc 0 &&
    chmod 644 "$TEST_DIR/pass" &&
    fails 8 "too open" --identity "$TEST_DIR/prot.id" --passphrase-file "$TEST_DIR/pass" identity show
}
ok "--passphrase-file supplies the passphrase, wins over ENVX_PASSPHRASE, must be private" t_passphrase_file

t_missing_explicit_identity() {
  printf 'DATABASE_PASSWORD=\n' >"$TEST_DIR/t.example" &&
    fails 9 "/nonexistent.id" --identity /nonexistent.id list production &&
    fails 9 "/nonexistent.id" --identity /nonexistent.id check production --template "$TEST_DIR/t.example" &&
    ENVX_IDENTITY_FILE=/nonexistent.id run list production && expect_rc 9
}
ok "a named identity that does not exist is an error, never a names-only fallback" t_missing_explicit_identity

t_globals_anywhere_before_args() {
  run list production --json && expect_rc 0 && expect_out '"verified": true' &&
    run list --json production && expect_rc 0 && expect_out '"env": "production"' &&
    fails 2 "unknown option '--frob'" --frob list production
}
ok "global options work before and after the command name" t_globals_anywhere_before_args

t_global_option_errors() {
  fails 2 "needs a value" --vault && fails 2 "unknown command" frobnicate &&
    fails 2 "unknown option" list staging --nope
}
ok "global option and command usage errors are exit 2" t_global_option_errors

finish
