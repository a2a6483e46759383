#!/usr/bin/env bash
# envx exec: secrets arrive, exit codes and signals are the child's own,
# precedence, removed and refused variables, --only and --template gates,
# and --redact filtering output (also across read boundaries, encoded forms,
# the notice naming values too short to redact).
. "$ENVX_SOURCE_ROOT/tests/cli/test-lib.sh"
setup_vault
printf 'postgres://app:hunter2@db:5432/app' | "$ENVX" set staging DATABASE_URL >/dev/null 2>&1
printf 'jwt-signing-key-0123456789' | "$ENVX" set staging JWT_SECRET >/dev/null 2>&1
printf 'from-vault' | "$ENVX" set staging SHARED_NAME >/dev/null 2>&1

t_injected() {
  [ "$("$ENVX" exec staging -- sh -c 'printf %s "$DATABASE_URL"')" = 'postgres://app:hunter2@db:5432/app' ] &&
    [ "$("$ENVX" exec staging -- sh -c 'printf %s "$ENVX_ENV"')" = staging ]
}
ok "secrets and ENVX_ENV arrive in the child" t_injected

t_exit_status() {
  "$ENVX" exec staging -- sh -c 'exit 42'
  [ $? = 42 ] && "$ENVX" exec staging -- true && ! "$ENVX" exec staging -- false
}
ok "the child's exit status is envx's" t_exit_status

t_signal_status() {
  "$ENVX" exec staging -- sh -c 'kill -TERM $$'
  [ $? = 143 ] && { "$ENVX" exec staging --redact -- sh -c 'kill -KILL $$'; [ $? = 137 ]; }
}
ok "a child killed by a signal: 128+N (in place and with --redact)" t_signal_status

t_in_place() {
  # without --redact there is no intermediate process: the command's parent
  # is this shell
  local ppid
  ppid=$("$ENVX" exec staging -- sh -c 'echo $PPID')
  [ "$ppid" = "$$" ] || [ "$ppid" = "$BASHPID" ]
}
ok "without --redact envx execs in place (no intermediate process)" t_in_place

t_not_found() {
  fails 127 "command not found" exec staging -- no-such-command-envx &&
    printf 'echo hi' >"$TEST_DIR/noexec" && chmod 644 "$TEST_DIR/noexec" &&
    fails 126 "permission denied" exec staging -- "$TEST_DIR/noexec" &&
    fails 127 "command not found" exec staging --redact -- no-such-command-envx
}
ok "command not found is 127, not executable is 126" t_not_found

t_precedence() {
  [ "$(SHARED_NAME=from-parent "$ENVX" exec staging -- sh -c 'printf %s "$SHARED_NAME"')" = from-vault ] &&
    [ "$(SHARED_NAME=from-parent "$ENVX" exec staging --keep-existing -- sh -c 'printf %s "$SHARED_NAME"')" = from-parent ]
}
ok "vault values override inherited ones unless --keep-existing" t_precedence

t_removed_vars() {
  local key out
  key=$(grep -v '^#' "$HOME/.config/envx/identity")
  out=$(ENVX_IDENTITY="$key" ENVX_PASSPHRASE=pw "$ENVX" exec staging -- env) &&
    ! echo "$out" | grep -q '^ENVX_IDENTITY=' && ! echo "$out" | grep -q '^ENVX_PASSPHRASE=' &&
    ! echo "$out" | grep -q ENVX-SECRET-KEY
}
ok "ENVX_IDENTITY and ENVX_PASSPHRASE never reach the child" t_removed_vars

t_duplicates() {
  # a parent environment with a duplicate name yields one entry in the child
  [ "$(env -i PATH="$PATH" HOME="$HOME" XDG_CONFIG_HOME="$XDG_CONFIG_HOME" DATABASE_URL=a DATABASE_URL=b \
    "$ENVX" exec staging -- env | grep -c '^DATABASE_URL=')" = 1 ]
}
ok "exactly one entry per name in the child" t_duplicates

t_dangerous_skipped() {
  # a crafted vault row named LD_PRELOAD (set refuses it) is never injected
  cp envx.vault "$TEST_DIR/saved.vault"
  sqlite3 envx.vault "UPDATE secrets SET name = 'LD_PRELOAD' WHERE name = 'SHARED_NAME'"
  # the env MAC catches the edit: a tampered vault never gets to inject it
  fails 4 "integrity" exec staging -- env; local rc=$?
  cp "$TEST_DIR/saved.vault" envx.vault
  return $rc
}
ok "a dangerous name smuggled into the vault is stopped (exit 4)" t_dangerous_skipped

t_only() {
  local out
  out=$("$ENVX" exec staging --only JWT_SECRET -- env) &&
    echo "$out" | grep -q '^JWT_SECRET=' && ! echo "$out" | grep -q '^DATABASE_URL=' &&
    fails 1 "'NOPE' is not set in staging" exec staging --only JWT_SECRET,NOPE -- touch "$TEST_DIR/ran" &&
    [ ! -e "$TEST_DIR/ran" ] && fails 2 "invalid secret name" exec staging --only 'A-B' -- true
}
ok "--only injects only those names; a missing one fails before running (exit 1)" t_only

t_template() {
  printf '# @type url\nDATABASE_URL=postgres://localhost/app\nJWT_SECRET=\n' >"$TEST_DIR/ok.example" &&
    out=$("$ENVX" exec staging --template "$TEST_DIR/ok.example" -- env) &&
    echo "$out" | grep -q '^DATABASE_URL=' && ! echo "$out" | grep -q '^SHARED_NAME=' &&
    printf 'DATABASE_URL=\nREDIS_URL=\n' >"$TEST_DIR/missing.example" &&
    fails 1 "the command was not run" exec staging --template "$TEST_DIR/missing.example" -- touch "$TEST_DIR/ran2" &&
    expect_err REDIS_URL && [ ! -e "$TEST_DIR/ran2" ]
}
ok "--template injects the template's names and refuses when one is missing" t_template

t_redact() {
  local out
  out=$("$ENVX" exec staging --redact -- sh -c 'echo "db=$DATABASE_URL"; echo "jwt=$JWT_SECRET" >&2' 2>&1) &&
    echo "$out" | grep -q 'db=\[redacted:DATABASE_URL\]' &&
    echo "$out" | grep -q 'jwt=\[redacted:JWT_SECRET\]' && ! echo "$out" | grep -q hunter2
}
ok "--redact replaces values on stdout and stderr" t_redact

t_redact_split() {
  # the value is written in two pieces with a pause between them, so it
  # reaches envx in separate reads
  local out
  out=$("$ENVX" exec staging --redact -- sh -c 'printf "%s" "${JWT_SECRET%%0123*}"; sleep 0.2; printf "%s\n" "0123${JWT_SECRET#*0123}"') &&
    [ "$out" = '[redacted:JWT_SECRET]' ]
}
ok "--redact catches a value split across reads" t_redact_split

t_redact_stdin_status() {
  [ "$(echo piped | "$ENVX" exec staging --redact -- cat)" = piped ] &&
    { "$ENVX" exec staging --redact -- sh -c 'exit 9'; [ $? = 9 ]; }
}
ok "--redact passes stdin through and keeps the exit status" t_redact_stdin_status

t_redact_forwards_signal() {
  "$ENVX" exec staging --redact -- sh -c 'trap "exit 42" TERM; echo ready; while :; do sleep 0.05; done' >"$TEST_DIR/sig.out" &
  local pid=$! i
  for i in $(seq 1 100); do grep -q ready "$TEST_DIR/sig.out" 2>/dev/null && break; sleep 0.05; done
  kill -TERM "$pid"
  wait "$pid"
  [ $? = 42 ]
}
ok "--redact forwards SIGTERM to the child" t_redact_forwards_signal

t_redact_encoded() {
  # base64 with and without echo's newline, and the URL's password alone
  local out want
  out=$("$ENVX" exec staging --redact -- sh -c 'printf %s "$JWT_SECRET" | base64; echo "$JWT_SECRET" | base64; echo "pw=${DATABASE_URL#*:*:}"') &&
    want=$(printf '%s\n' '[redacted:JWT_SECRET]' '[redacted:JWT_SECRET]' 'pw=[redacted:DATABASE_URL]@db:5432/app') &&
    [ "$out" = "$want" ] &&
    # the filter really saw the encoded value
    [ "$("$ENVX" exec staging -- sh -c 'printf %s "$JWT_SECRET" | base64')" = "$(printf %s jwt-signing-key-0123456789 | base64)" ]
}
ok "--redact masks base64 of a value and a URL's password" t_redact_encoded

t_redact_short_notice() {
  "$ENVX" env add short >/dev/null 2>&1 &&
    printf 'ab' | "$ENVX" set short PIN >/dev/null 2>&1 &&
    printf '' | "$ENVX" set short --allow-empty EMPTY >/dev/null 2>&1 &&
    printf 'long-enough-value' | "$ENVX" set short TOKEN >/dev/null 2>&1 || return 1
  local out
  out=$("$ENVX" exec short --redact -- sh -c 'echo "$PIN $TOKEN"' 2>"$TEST_DIR/short.err") &&
    [ "$out" = 'ab [redacted:TOKEN]' ] &&
    [ "$(grep -c . "$TEST_DIR/short.err")" = 1 ] &&
    grep -q "^envx: exec: not redacting 'EMPTY', 'PIN': values under 4 bytes are too short to redact safely$" "$TEST_DIR/short.err" &&
    ! grep -q -e TOKEN -e ab "$TEST_DIR/short.err" &&
    # without --redact there is nothing to warn about
    [ -z "$("$ENVX" exec short -- true 2>&1)" ]
}
ok "--redact names the values too short to redact, once, on stderr" t_redact_short_notice

t_child_options_untouched() {
  [ "$("$ENVX" exec staging printf '%s|' a -q --json --vault x b)" = 'a|-q|--json|--vault|x|b|' ] &&
    [ "$("$ENVX" exec staging -- printf '%s|' --identity y)" = '--identity|y|' ] &&
    [ "$("$ENVX" exec --only 'JWT_SECRET, DATABASE_URL' staging -- sh -c 'printf %s "${JWT_SECRET:+set}"')" = set ]
}
ok "the command's own options are never taken as envx's" t_child_options_untouched

t_usage() {
  fails 2 "needs a value" exec staging --template -- true &&
    fails 2 "missing the command" exec staging -- &&
    fails 2 "missing ENV" exec &&
    fails 2 "cannot be used together" exec staging --only A --template x -- true &&
    fails 9 "no environment 'nope'" exec nope -- true
}
ok "exec usage errors" t_usage

t_locked() {
  "$ENVX" identity new -o "$TEST_DIR/other.id" >/dev/null 2>&1 &&
    fails 3 "cannot unlock environment 'staging'" --identity "$TEST_DIR/other.id" exec staging -- touch "$TEST_DIR/ran3" &&
    [ ! -e "$TEST_DIR/ran3" ]
}
ok "an environment the caller cannot unlock: exit 3, nothing runs" t_locked

t_no_value_in_errors() {
  "$ENVX" exec staging --only NOPE -- true 2>"$TEST_DIR/e1"
  "$ENVX" exec staging -- no-such-command-envx 2>>"$TEST_DIR/e1"
  ! grep -q -e hunter2 -e jwt-signing "$TEST_DIR/e1"
}
ok "no error message contains a value" t_no_value_in_errors

finish
