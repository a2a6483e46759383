#!/usr/bin/env bash
# import and export: dotenv parsing with warnings, all-or-nothing import,
# refused names, idempotence, each export format, and the random round-trip
# property test (tests/cli/roundtrip.py).
. "$ENVX_SOURCE_ROOT/tests/cli/test-lib.sh"
setup_vault

t_import_basic() {
  printf 'export A=1\n# comment\nB="two\\nlines"\nC='"'"'$HOME $(id)'"'"'\nD=`back`\n' >in.env
  run import staging in.env && expect_rc 0 && expect_err "imported 4 secrets" &&
    [ "$("$ENVX" get staging A)" = 1 ] &&
    [ "$("$ENVX" get staging B)" = "two
lines" ] && [ "$("$ENVX" get staging C)" = '$HOME $(id)' ] && [ "$("$ENVX" get staging D)" = back ]
}
ok "import reads dotenv; values stay literal (no expansion)" t_import_basic

t_import_idempotent() {
  local before
  before=$("$ENVX" --json list staging)
  run import staging in.env && expect_rc 0 && expect_err "0 secrets" && expect_err "4 unchanged" &&
    [ "$("$ENVX" --json list staging)" = "$before" ]
}
ok "importing the same file again writes no new versions" t_import_idempotent

t_import_stdin() {
  printf 'FROM_STDIN=yes\n' | "$ENVX" import staging - >/dev/null 2>&1 &&
    [ "$("$ENVX" get staging FROM_STDIN)" = yes ]
}
ok "import - reads standard input" t_import_stdin

t_import_error_unchanged() {
  local before
  before=$(sum_of envx.vault)
  printf 'GOOD=1\nthis line is garbage\nALSO=2\n' >bad.env
  run import staging bad.env && expect_rc 7 && expect_err "bad.env:2" && expect_err "nothing was imported" &&
    [ "$(sum_of envx.vault)" = "$before" ] && fails 9 "no secret 'GOOD'" get staging GOOD
}
ok "an unparseable line fails the whole import (exit 7), vault unchanged" t_import_error_unchanged

t_import_lenient() {
  run import staging bad.env --lenient && expect_rc 0 && expect_err "bad.env:2" &&
    [ "$("$ENVX" get staging ALSO)" = 2 ]
}
ok "--lenient skips unparseable lines with a warning" t_import_lenient

t_import_hash_warning() {
  printf 'PASSWORD=abc#def\n' >hash.env
  run import staging hash.env && expect_rc 0 && expect_err "hash.env:1" && expect_err "#"
}
ok "a '#' that truncates a value is warned about with its line" t_import_hash_warning

t_import_dangerous() {
  local before
  before=$(sum_of envx.vault)
  printf 'OK=1\nLD_PRELOAD=/tmp/evil.so\n' >ld.env
  run import staging ld.env && expect_rc 7 && expect_err LD_PRELOAD &&
    [ "$(sum_of envx.vault)" = "$before" ] &&
    printf 'BASH_FUNC_x%%%%=() { id; }\n' >fn.env && run import staging fn.env && expect_rc 7
}
ok "dangerous names are refused at import (exit 7), nothing written" t_import_dangerous

t_import_missing_file() {
  fails 9 "cannot open 'nope.env'" import staging nope.env && fails 2 "missing ENV or FILE" import staging
}
ok "import of a missing file is exit 9; missing arguments exit 2" t_import_missing_file

t_import_values_not_echoed() {
  printf 'SECRET_X="unterminated-s3cr3t-value\nOTHER=1\n' >quote.env
  "$ENVX" import staging quote.env >/dev/null 2>"$TEST_DIR/q.err"
  ! grep -q 's3cr3t' "$TEST_DIR/q.err"
}
ok "diagnostics never quote a value" t_import_values_not_echoed

t_export_formats() {
  "$ENVX" export staging >e.env && grep -q '^A=' e.env &&
    "$ENVX" export staging --format shell | grep -q "^export A='1'" &&
    "$ENVX" export staging --format json | python3 -c 'import json,sys; d=json.load(sys.stdin); assert d["A"]=="1"' &&
    "$ENVX" --json export staging | python3 -c 'import json,sys; json.load(sys.stdin)'
}
ok "export in dotenv, shell and json" t_export_formats

t_shell_injection_inert() {
  printf "'; touch $TEST_DIR/pwned; echo '" | "$ENVX" set staging INJ >/dev/null 2>&1 &&
    "$ENVX" export staging --format shell >inj.sh && sh -c ". ./inj.sh" && [ ! -e "$TEST_DIR/pwned" ]
}
ok "an injection attempt in a value is inert in shell output" t_shell_injection_inert

t_github_needs_env() {
  fails 2 "GITHUB_ENV is not set" export staging --format github
}
ok "--format github without GITHUB_ENV is a usage error" t_github_needs_env

t_export_errors() {
  fails 2 "unknown format" export staging --format yaml &&
    "$ENVX" identity new -o "$TEST_DIR/other.id" >/dev/null 2>&1 &&
    fails 3 "cannot unlock" --identity "$TEST_DIR/other.id" export staging
}
ok "export: unknown format exit 2, locked env exit 3" t_export_errors

# 40 random round trips; under ENVX_TEST_WRAP (valgrind, 30x slower) 8: the
# unwrapped run checks the values, the wrapped one the memory
ROUNDS=40
[ -n "${ENVX_TEST_WRAP:-}" ] && ROUNDS=8
t_roundtrip() {
  mkdir rt && cd rt && "$ENVX" init --env staging --env production --env qa >/dev/null 2>&1 &&
    python3 "$ENVX_SOURCE_ROOT/tests/cli/roundtrip.py" "$PWD" "$ROUNDS" >"$TEST_DIR/rt.out" 2>&1
  local rc=$?
  grep '^not ok\|^#' "$TEST_DIR/rt.out" >&2
  return $rc
}
ok "random values survive set, export, import and get in every format" t_roundtrip

t_git_advice() {
  command -v git >/dev/null || return 0
  local repo="$TEST_DIR/repo"
  mkdir -p "$repo" && git -C "$repo" init -q && printf 'GIT_A=1\n' >"$repo/.env" || return 1
  run import staging "$repo/.env"
  expect_rc 0 && expect_err "inside a git work tree and not ignored" &&
    expect_err "'envx export staging > .env' recreates it" || return 1
  printf '.env\n' >"$repo/.gitignore"
  run import staging "$repo/.env"
  expect_rc 0 && ! expect_err "git" 2>/dev/null || return 1
  rm "$repo/.gitignore" && git -C "$repo" add .env &&
    run import staging "$repo/.env" && expect_rc 0 &&
    expect_err "warning: '$repo/.env' is tracked by git" && expect_err "rotate them" || return 1
  # outside any work tree, and from stdin: no advice
  printf 'GIT_B=1\n' >"$TEST_DIR/plain.env"
  (cd "$TEST_DIR" && GIT_CEILING_DIRECTORIES="$TEST_DIR" "$ENVX" --vault "$TEST_DIR/work/envx.vault" import staging plain.env) 2>"$TEST_DIR/e2" &&
    ! grep -q git "$TEST_DIR/e2" &&
    run_in "$repo/.env" import staging - && ! expect_err "git" 2>/dev/null
}
ok "import from a file git would commit says to delete it and ignore it; tracked is a warning" t_git_advice

t_export_json_flag() {
  "$ENVX" export staging --json | python3 -c 'import json, sys; json.load(sys.stdin)' &&
    "$ENVX" --json export staging | python3 -c 'import json, sys; json.load(sys.stdin)' &&
    "$ENVX" export staging --json --format shell | grep -q "^export "
}
ok "export --json (before or after the command) is the json format; --format wins" t_export_json_flag

finish
