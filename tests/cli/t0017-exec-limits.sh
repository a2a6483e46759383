#!/usr/bin/env bash
# Values exec cannot pass (issue 7, defect 6): Linux passes at most 131072
# bytes per "NAME=value" string (MAX_ARG_STRLEN) and ARG_MAX in all. set and
# import store such a value with a warning that names the secret and the
# limit; exec refuses before running anything, naming the secret; get and
# export still read it.
. "$ENVX_SOURCE_ROOT/tests/cli/test-lib.sh"
setup_vault
LIMIT=131072

# value LEN FILE: LEN bytes of printable, non-repeating text.
value() {
  head -c "$1" /dev/urandom | base64 -w0 | head -c "$1" >"$2"
}

# BIG: its "BIG=value\0" string is one byte over the limit
value $((LIMIT - 5 + 1)) big
# EDGE: exactly at the limit ("EDGE=" + value + NUL = 131072)
value $((LIMIT - 6)) edge
printf 'small-value-1' | "$ENVX" set staging SMALL >/dev/null 2>&1

t_set_warns() {
  run_in big set staging BIG
  expect_rc 0 && expect_err "warning: BIG in staging is $((LIMIT - 4)) bytes" &&
    expect_err "at most $LIMIT bytes" && expect_err "'envx get' and 'envx export' still read it" &&
    ! grep -qF "$(head -c 40 big)" "$TEST_DIR/run.err"
}
ok "set stores a value exec cannot pass, with a warning naming it and the limit" t_set_warns

t_edge_fits() {
  run_in edge set staging EDGE
  expect_rc 0 && ! expect_err "warning" 2>/dev/null &&
    [ "$("$ENVX" exec staging --only EDGE -- sh -c 'printf %s "$EDGE"' | wc -c)" = $((LIMIT - 6)) ]
}
ok "a value exactly at the limit is stored without a warning and reaches the child" t_edge_fits

t_get_export_still_work() {
  "$ENVX" get staging BIG >got && same_file big got &&
    "$ENVX" export staging --format json | grep -qF "$(head -c 64 big)"
}
ok "get and export still read the long value" t_get_export_still_work

t_exec_refuses() {
  rm -f ran
  run exec staging -- touch ran
  expect_rc 7 && expect_err "cannot pass secret 'BIG' to the command" &&
    expect_err "at most $LIMIT per environment string (MAX_ARG_STRLEN)" &&
    [ ! -e ran ] && ! grep -qF "$(head -c 40 big)" "$TEST_DIR/run.err" &&
    run exec staging --redact -- touch ran && expect_rc 7 && [ ! -e ran ]
}
ok "exec refuses before running anything and names the secret and the limit" t_exec_refuses

t_exec_only_others() {
  [ "$("$ENVX" exec staging --only SMALL -- sh -c 'printf %s "$SMALL"')" = small-value-1 ]
}
ok "exec --only without the long secret runs" t_exec_only_others

t_import_warns() {
  { printf 'A=1\nHUGE='; cat big; printf '\n'; } >long.env
  run import staging long.env
  expect_rc 0 && expect_err "warning: HUGE in staging" && ! expect_err "warning: A " 2>/dev/null &&
    "$ENVX" get staging HUGE >got && same_file big got
}
ok "import stores it too and warns for that name only" t_import_warns

t_arg_max() {
  # each value fits one string, together they pass ARG_MAX (a quarter of
  # the stack limit, so a 1 MiB stack gives 256 KiB)
  local i
  "$ENVX" rm staging BIG -q && "$ENVX" rm staging HUGE -q && "$ENVX" rm staging EDGE -q || return 1
  value 100000 mid
  for i in 1 2 3; do
    run_in mid set staging "MID$i" && expect_rc 0 || return 1
  done
  rm -f ran
  (
    ulimit -s 1024 || exit 99
    # unwrapped: valgrind cannot recover when execve() fails (E2BIG here):
    # it reports "EXEC FAILED: I can't recover" and dies with status 101
    "$ENVX_UNWRAPPED" exec staging -- touch ran >"$TEST_DIR/run.out" 2>"$TEST_DIR/run.err"
  )
  RC=$?
  ERR=$(cat "$TEST_DIR/run.err")
  expect_rc 126 && expect_err "argument list and environment too long" &&
    expect_err "(ARG_MAX)" && expect_err "the largest is MID" && [ ! -e ran ] &&
    ! grep -qF "$(head -c 40 mid)" "$TEST_DIR/run.err"
}
ok "past ARG_MAX exec says how big, the limit and the largest name (exit 126)" t_arg_max

finish
