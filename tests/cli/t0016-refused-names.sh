#!/usr/bin/env bash
# Refused names (DESIGN §5): the one list in the binary is the one in
# envx(1); set and import refuse every entry; `envx env allow` lets one name
# into one environment (MAC-covered, audited); exec and every export format
# leave out a refused name that is not allowed, with an error. Also: user
# input in messages is escaped, and NAME=value is never echoed.
# shellcheck disable=SC2046 # trust lines are split into words on purpose
. "$ENVX_SOURCE_ROOT/tests/cli/test-lib.sh"
setup_vault
man="$ENVX_SOURCE_ROOT/docs/envx.1.scd"
echo v >"$TEST_DIR/v"

# the patterns of envx(1)'s REFUSED NAMES table, unescaped
man_patterns() {
  sed -n '/^# REFUSED NAMES/,/^# /p' "$man" | sed -n 's/^|\[ \*\(.*\)\*$/\1/p' |
    sed 's/\\//g'
}

t_list_is_documented() {
  local bin doc
  bin=$("$ENVX" __refused | cut -f1)
  doc=$(man_patterns)
  [ "$(echo "$bin" | wc -l)" -ge 60 ] &&
    diff <(echo "$bin") <(echo "$doc") >&2
}
ok "envx(1)'s REFUSED NAMES table is exactly the binary's list" t_list_is_documented

t_each_refused() {
  local before pat name
  before=$(sum_of envx.vault)
  local i=0 step=1
  # under ENVX_TEST_WRAP (valgrind) every 10th: the unwrapped run tries all
  [ -n "${ENVX_TEST_WRAP:-}" ] && step=10
  for pat in $("$ENVX" __refused | cut -f1); do
    i=$((i + 1))
    [ $((i % step)) = 0 ] || continue
    name=${pat%\*}
    [ "$name" != "$pat" ] && name="${name}X"
    run_in "$TEST_DIR/v" set staging "$name"
    expect_rc 7 && expect_err "refusing secret name '$name'" &&
      expect_err "envx env allow staging $name" || return 1
  done
  [ "$(sum_of envx.vault)" = "$before" ]
}
ok "set refuses every listed name (exit 7), vault unchanged" t_each_refused

t_issue_names() {
  local n
  for n in PERL5OPT PERL5LIB PYTHONSTARTUP PYTHONPATH PYTHONWARNINGS NODE_OPTIONS \
    RUBYOPT GCONV_PATH GLIBC_TUNABLES GIT_SSH_COMMAND GIT_CONFIG_COUNT \
    GIT_CONFIG_KEY_0 GIT_CONFIG_VALUE_0 PROMPT_COMMAND PATH LD_PRELOAD BASH_ENV \
    ENV BASH_FUNC_x SHELLOPTS BASHOPTS PS4 IFS DYLD_INSERT_LIBRARIES; do
    run_in "$TEST_DIR/v" set staging "$n" && expect_rc 7 || return 1
  done
  printf 'OK_NAME=1\nPERL5OPT=-Mx\n' >p.env
  run import staging p.env && expect_rc 7 && expect_err PERL5OPT &&
    run get staging OK_NAME && expect_rc 9
}
ok "the names the review found are refused by set and import" t_issue_names

t_not_refused() {
  printf 'x' | "$ENVX" set staging NODE_ENV 2>/dev/null && printf 'x' | "$ENVX" set staging PATHS 2>/dev/null &&
    fails 7 "not a refused name" env allow staging NODE_ENV
}
ok "near misses are ordinary names; allowing one is exit 7" t_not_refused

t_allow() {
  run env allow staging NODE_OPTIONS && expect_rc 0 && expect_err "allowed 'NODE_OPTIONS' in staging" &&
    printf -- '--max-old-space-size=4096' | "$ENVX" set staging NODE_OPTIONS 2>/dev/null &&
    out=$("$ENVX" exec staging -- sh -c 'printf %s "$NODE_OPTIONS"') &&
    [ "$out" = "--max-old-space-size=4096" ] &&
    run export staging && expect_rc 0 && expect_out "NODE_OPTIONS=" &&
    run env allow staging && expect_out NODE_OPTIONS &&
    run --json env allow staging && expect_out '"allowed": ["NODE_OPTIONS"]' &&
    run env allow production && expect_rc 0 && [ -z "$OUT" ] &&
    run_in "$TEST_DIR/v" set production NODE_OPTIONS && expect_rc 7 &&
    [ "$(sqlite3 envx.vault "SELECT count(*) FROM audit WHERE action = 'allow' AND env = 'staging' AND name = 'NODE_OPTIONS'")" = 1 ]
}
ok "env allow lets one name into one environment, audited" t_allow

t_allow_idempotent() {
  local before
  before=$(sum_of envx.vault)
  run env allow staging NODE_OPTIONS && expect_rc 0 && expect_err "already allowed" &&
    [ "$(sum_of envx.vault)" = "$before" ]
}
ok "allowing twice changes nothing" t_allow_idempotent

t_removed_is_left_out() {
  local before
  run env allow staging NODE_OPTIONS --remove && expect_rc 0 && expect_err "refused in staging again" &&
    [ "$(sqlite3 envx.vault "SELECT count(*) FROM audit WHERE action = 'disallow'")" = 1 ] &&
    run exec staging -- sh -c 'test -z "${NODE_OPTIONS+x}" && test -n "$NODE_ENV"' && expect_rc 0 &&
    expect_err "not injecting 'NODE_OPTIONS' from staging" && expect_err "envx env allow staging NODE_OPTIONS" || return 1
  for f in dotenv shell json; do
    run export staging --format "$f" && expect_rc 7 && expect_err "leaving out 'NODE_OPTIONS'" &&
      expect_out NODE_ENV && case "$OUT" in *max-old-space*) return 1 ;; esac || return 1
  done
  : >"$TEST_DIR/gh"
  GITHUB_ENV="$TEST_DIR/gh" run export staging --format github && expect_rc 7 &&
    grep -q '^NODE_ENV<<' "$TEST_DIR/gh" && ! grep -q NODE_OPTIONS "$TEST_DIR/gh" &&
    before=$(sum_of envx.vault) && run export staging && [ "$(sum_of envx.vault)" = "$before" ]
}
ok "a name no longer allowed is left out of exec and every export format" t_removed_is_left_out

t_forged_allowance() {
  cp envx.vault "$TEST_DIR/saved.vault"
  sqlite3 envx.vault "INSERT INTO allowed_names SELECT id, 'NODE_OPTIONS', 0, 'attacker' FROM envs WHERE name = 'staging'"
  fails 4 "integrity" exec staging -- true || return 1
  cp "$TEST_DIR/saved.vault" envx.vault && forget_seen
  run env allow staging NODE_OPTIONS && sqlite3 envx.vault "DELETE FROM allowed_names" &&
    fails 4 "integrity" export staging; local rc=$?
  cp "$TEST_DIR/saved.vault" envx.vault && forget_seen
  return $rc
}
ok "an allowance added or removed outside envx fails the MAC (exit 4)" t_forged_allowance

t_no_value_echo() {
  run set staging 'API_KEY=s3cret-value' && expect_rc 7 && expect_err "standard input" &&
    expect_err "envx set ENV API_KEY" && case "$ERR" in *s3cret*) return 1 ;; esac &&
    run get staging 'API_KEY=s3cret-value' && expect_rc 7 && case "$ERR" in *s3cret*) return 1 ;; esac &&
    run set --value=s3cret-value staging API_KEY && expect_rc 2 && case "$ERR" in *s3cret*) return 1 ;; esac &&
    run --token=s3cret-value list staging && expect_rc 2 && case "$ERR" in *s3cret*) return 1 ;; esac
}
ok "NAME=value on the command line: refused, never echoed" t_no_value_echo

t_escaped() {
  local esc=$'lo\e]0;pwn\acal' nl=$'A\nB'
  run get "$esc" X && [ "$RC" != 0 ] && ! grep -q $'\e' "$TEST_DIR/run.err" &&
    ! grep -q $'\a' "$TEST_DIR/run.err" && expect_err '\x1b]0;pwn\x07' &&
    run env rm "$esc" && ! grep -q $'\e' "$TEST_DIR/run.err" &&
    run env add "$esc" && ! grep -q $'\e' "$TEST_DIR/run.err" &&
    run get staging "$nl" && [ "$(wc -l <"$TEST_DIR/run.err")" = 1 ] && expect_err "invalid secret name 'A…'" &&
    run frob$'\e[2J' && ! grep -q $'\e' "$TEST_DIR/run.err" &&
    run list $'\xc2\x9b'staging && ! grep -q $'\xc2\x9b' "$TEST_DIR/run.err" && expect_err '\xc2\x9b'
}
ok "control bytes in user input are escaped in every message" t_escaped

t_injection_named() {
  "$ENVX" env allow local PERL5LIB -q && printf '/opt/lib' | "$ENVX" set local PERL5LIB -q &&
    run exec local -- sh -c 'printf %s "$PERL5LIB"' && expect_rc 0 && expect_out /opt/lib &&
    expect_err "exec: injecting PERL5LIB, a refused name that local allows" &&
    run_in /dev/null set local npm_CONFIG_script_shell && expect_rc 7 &&
    run_in /dev/null set local LESS && expect_rc 7 && run_in /dev/null set local MAKEFILES && expect_rc 7 &&
    run set local 'API_KEY:s3cret' && expect_rc 7 && ! expect_err s3cret 2>/dev/null &&
    run exec local --only 'API_KEY=s3cret' -- true && expect_rc 2 && ! expect_err s3cret 2>/dev/null &&
    run exec local 'API_KEY=s3cret' && expect_rc 127 && ! expect_err s3cret 2>/dev/null
}
ok "exec names each allowed refused name it injects; npm config in any case; no value echoed" t_injection_named

t_template_required_refused() {
  "$ENVX" env allow local PERL5LIB --remove -q && printf 'PERL5LIB=\n' >tpl.env &&
    rm -f ran && run exec local --template tpl.env -- touch ran &&
    expect_rc 1 && expect_err "PERL5LIB is required by 'tpl.env' but not injected" && [ ! -e ran ]
}
ok "exec --template refuses to run when a required name is a refused one it withholds" t_template_required_refused

t_bidi_and_c1_escaped() {
  # the author is the signer's label, fingerprint and claimed user@host
  # (VF-5.1): labels refuse C1 and bidi controls, $USER is only claimed
  "$ENVX" identity new -o "$TEST_DIR/c1.id" -q >/dev/null &&
    fails 7 "invalid recipient label" access grant local "$("$ENVX" --identity "$TEST_DIR/c1.id" identity show)" \
      --label $'x\xc2\x9b31m' --role write &&
    fails 7 "invalid recipient label" access grant local --new-key --label $'a\u202eb' &&
    "$ENVX" access grant local "$("$ENVX" --identity "$TEST_DIR/c1.id" identity show)" \
      --label c1 --role write -q &&
    "$ENVX" --identity "$TEST_DIR/c1.id" access accept $(trust_line local) -q &&
    printf 'v' | USER=$'x\xc2\x9b31m' "$ENVX" --identity "$TEST_DIR/c1.id" set local BIDI_T --description $'\u202eevil' -q &&
    run list local && expect_out '\xe2\x80\xaeevil' && ! grep -q $'\u202e' "$TEST_DIR/run.out" &&
    run --json history local BIDI_T && expect_out 'x\u009b31m' &&
    python3 -c 'import json,sys; json.load(open(sys.argv[1]))' "$TEST_DIR/run.out" &&
    run --json list local && expect_out '"\u202eevil"' && ! grep -q $'\xc2\x9b' "$TEST_DIR/run.out"
}
ok "bidi and C1 controls from the vault are escaped in text and JSON output" t_bidi_and_c1_escaped

finish
