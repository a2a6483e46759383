#!/usr/bin/env bash
# Versions: history lists them without values, rollback writes an old value
# as a new version, rm deletes a secret; each failure's exit code.
. "$ENVX_SOURCE_ROOT/tests/cli/test-lib.sh"
setup_vault
for v in first-value second-value third-value; do
  printf '%s' "$v" | "$ENVX" set staging API_TOKEN >/dev/null 2>&1
done

t_history() {
  run history staging API_TOKEN && expect_rc 0 && expect_out VERSION &&
    [ "$(grep -c ' set ' "$TEST_DIR/run.out")" = 3 ] && expect_out tester@ &&
    ! grep -q -- '-value' "$TEST_DIR/run.out" "$TEST_DIR/run.err"
}
ok "history lists every version with author, never values" t_history

t_history_json() {
  run --json history staging API_TOKEN && expect_rc 0 &&
    expect_out '"version": 3' && expect_out '"kind": "set"'
}
ok "history --json" t_history_json

t_rollback_previous() {
  run rollback staging API_TOKEN && expect_rc 0 &&
    [ "$("$ENVX" get staging API_TOKEN)" = second-value ] &&
    run history staging API_TOKEN && expect_out rollback &&
    [ "$(grep -c rollback "$TEST_DIR/run.out")" = 1 ]
}
ok "rollback without VERSION restores the previous value as version 4" t_rollback_previous

t_rollback_version() {
  run rollback staging API_TOKEN 1 && expect_rc 0 &&
    [ "$("$ENVX" get staging API_TOKEN)" = first-value ] &&
    "$ENVX" --json list staging | grep -q '"version": 5'
}
ok "rollback to a given version" t_rollback_version

t_rollback_errors() {
  fails 9 "no version 42" rollback staging API_TOKEN 42 &&
    fails 2 "positive number" rollback staging API_TOKEN x1 &&
    printf 'only' | "$ENVX" set staging SINGLE >/dev/null 2>&1 &&
    fails 9 "no earlier version" rollback staging SINGLE &&
    fails 9 "no secret 'NOPE'" rollback staging NOPE
}
ok "rollback failures: missing version/secret exit 9, bad version exit 2" t_rollback_errors

t_rm() {
  local before
  run rm staging SINGLE && expect_rc 0 && fails 9 "no secret 'SINGLE'" get staging SINGLE &&
    before=$(sum_of envx.vault) && fails 9 "no secret 'SINGLE'" rm staging SINGLE &&
    [ "$(sum_of envx.vault)" = "$before" ] && fails 9 "no secret" history staging SINGLE
}
ok "rm deletes a secret; a second rm is exit 9 and changes nothing" t_rm

t_rm_locked() {
  "$ENVX" identity new -o "$TEST_DIR/other.id" >/dev/null 2>&1 &&
    fails 3 "cannot unlock environment 'staging'" --identity "$TEST_DIR/other.id" rm staging API_TOKEN &&
    fails 3 "cannot unlock" --identity "$TEST_DIR/other.id" rollback staging API_TOKEN &&
    run --identity "$TEST_DIR/other.id" history staging API_TOKEN && expect_rc 0 && expect_err unverified
}
ok "rm and rollback need the key; history works without it (unverified)" t_rm_locked

# Seconds since the epoch of the CREATED time of NAME's newest version.
created_of() {
  "$ENVX" --json history staging "$1" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["versions"][-1]["created_at"])'
}

# $ENVX_NOW is for tests only: a build people use must record the real time,
# or anyone who can set a variable could backdate versions and rotations.
t_clock_ignored() {
  local before after at t
  before=$(date -u +%s) &&
    printf 'v' | ENVX_NOW=2001-01-01T00:00:00Z "$ENVX" set staging CLOCK_REAL >/dev/null 2>&1 &&
    after=$(date -u +%s) && at=$(created_of CLOCK_REAL) && t=$(date -u -d "$at" +%s) &&
    [ "$t" -ge "$before" ] && [ "$t" -le "$after" ] || {
    echo "created_at '$at' is not between $before and $after" >&2
    return 1
  }
}
t_clock_honoured() {
  printf 'v' | ENVX_NOW=2001-01-01T00:00:00Z "$ENVX" set staging CLOCK_FAKE >/dev/null 2>&1 &&
    [ "$(created_of CLOCK_FAKE)" = 2001-01-01T00:00:00Z ]
}
if [ "${ENVX_BUILD_TEST_CLOCK:-false}" = true ]; then
  skip "a default build ignores ENVX_NOW" "built with -Dtest_clock=true"
  ok "a -Dtest_clock=true build records the time ENVX_NOW gives" t_clock_honoured
else
  ok "a default build ignores ENVX_NOW and records the real time" t_clock_ignored
  skip "a -Dtest_clock=true build honours ENVX_NOW" "built without -Dtest_clock=true"
fi

t_usage() {
  fails 2 "missing ENV or NAME" history staging && fails 2 "too many" rm staging A B
}
ok "usage errors" t_usage

finish
