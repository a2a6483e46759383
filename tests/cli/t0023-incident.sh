#!/usr/bin/env bash
# `envx incident` (SPEC.md VF-3.10): one signed transaction marks every
# secret of the environment compromised, revokes the named recipients,
# rekeys, and records one audit event; the checklist names every secret.
# A new value clears a secret's compromised state; a rollback to a value
# from before the incident does not. Refusals leave the vault unchanged.
. "$ENVX_SOURCE_ROOT/tests/cli/test-lib.sh"
setup_vault
sql() { sqlite3 envx.vault "$1"; }
printf 'postgres://app:pw1@db/app' | "$ENVX" set production DATABASE_URL --rotate-every 180d -q
printf 'postgres://app:pw2@db/app' | "$ENVX" set production DATABASE_URL -q
"$ENVX" set production JWT_SECRET --generate=48 -q
printf 'sk_live_1' | "$ENVX" set production STRIPE_KEY --rotate-every 90d -q
printf 'stg' | "$ENVX" set staging DATABASE_URL -q
"$ENVX" access grant production --new-key --label alice-laptop >"$TEST_DIR/laptop.id" 2>/dev/null
LAPTOP=$(cat "$TEST_DIR/laptop.id")
mkdir -p "$TEST_DIR/laptop-home"
laptop() { ENVX_IDENTITY="$LAPTOP" HOME="$TEST_DIR/laptop-home" "$ENVX" "$@"; }
"$ENVX" export production >"$TEST_DIR/values.before"

t_refusals() {
  local before
  before=$(sum_of envx.vault)
  fails 2 "missing --reason" incident production &&
    fails 2 "usage" incident --reason x &&
    fails 7 "invalid --reason" incident production --reason "$(printf 'two\nlines')" &&
    fails 7 "invalid --reason" incident production --reason $'bidi \u202e' &&
    fails 7 "without control characters" rotate production STRIPE_KEY --generate --reason $'c1 \xc2\x9b' &&
    fails 9 "no environment 'prod'" incident prod --reason x &&
    fails 9 "'nobody' is not a recipient" incident production --reason x --revoke nobody &&
    [ "$(sum_of envx.vault)" = "$before" ] && [ "$(sql "SELECT count(*) FROM audit WHERE action = 'incident'")" = 0 ]
}
ok "bad incidents (exit 2, 7, 9) change nothing" t_refusals

t_reader_cannot() {
  local before
  before=$(sum_of envx.vault)
  ENVX_IDENTITY="$LAPTOP" HOME="$TEST_DIR/laptop-home" "$ENVX" incident production --reason x >"$TEST_DIR/o" 2>"$TEST_DIR/e"
  [ $? = 3 ] && grep -q "only an admin\|cannot write" "$TEST_DIR/e" && [ "$(sum_of envx.vault)" = "$before" ]
}
ok "a reader cannot declare an incident (exit 3), vault unchanged" t_reader_cannot

t_incident() {
  run incident production --reason "laptop lost" --revoke alice-laptop
  expect_rc 0 && expect_out "incident recorded for 'production': laptop lost" &&
    expect_out "3 secrets marked compromised" && expect_out "revoked: alice-laptop" &&
    expect_out "DATABASE_URL" && expect_out "JWT_SECRET" && expect_out "STRIPE_KEY" || return 1
  # the checklist: JWT_SECRET was generated, DATABASE_URL carries a password
  echo "$OUT" | grep -q '^JWT_SECRET .* yes ' &&
    echo "$OUT" | grep -q '^DATABASE_URL .* 180d  no ' &&
    echo "$OUT" | grep -q '^STRIPE_KEY .* 90d  maybe '
}
ok "incident: every secret compromised, the laptop revoked, a checklist printed" t_incident

t_one_event() {
  [ "$(sql "SELECT count(*) FROM audit WHERE action = 'incident' AND env = 'production'")" = 1 ] &&
    sql "SELECT detail FROM audit WHERE action = 'incident'" | grep -q '^laptop lost; revoked alice-laptop; 3 secrets compromised; rekeyed$' &&
    [ "$(sql "SELECT count(*) FROM audit WHERE action IN ('rekey', 'access-revoke')")" = 0 ] &&
    [ "$(sql "SELECT count(*) FROM secrets s JOIN envs e ON e.id = s.env_id WHERE e.name = 'production' AND state = 1")" = 3 ] &&
    [ "$(sql "SELECT count(*) FROM secrets s JOIN envs e ON e.id = s.env_id WHERE e.name = 'staging' AND state = 1")" = 0 ]
}
ok "one audit event; production's secrets compromised, staging's not" t_one_event

t_revoked() {
  laptop get production JWT_SECRET >"$TEST_DIR/o" 2>"$TEST_DIR/e"
  [ $? = 3 ] && [ ! -s "$TEST_DIR/o" ] &&
    "$ENVX" export production >"$TEST_DIR/values.after" &&
    same_file "$TEST_DIR/values.before" "$TEST_DIR/values.after"
}
ok "the revoked key opens nothing; every value survived the rekey" t_revoked

t_list_json() {
  "$ENVX" list production | grep -q 'compromised' &&
    "$ENVX" incident production --reason again --json >"$TEST_DIR/i.json" &&
    python3 - "$TEST_DIR/i.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
assert d["env"] == "production" and d["reason"] == "again" and d["revoked"] == []
names = {c["name"]: c for c in d["checklist"]}
assert set(names) == {"DATABASE_URL", "JWT_SECRET", "STRIPE_KEY"}, names
assert names["JWT_SECRET"]["generate"] == "yes" and names["JWT_SECRET"]["length"] == 48
assert names["DATABASE_URL"]["rotate_every_seconds"] == 180 * 86400
assert d["versions_reencrypted"] == 4
PY
}
ok "incident --json gives the checklist as data" t_list_json

t_new_value_clears() {
  # times are seconds: a value written in the incident's second counts as
  # from before it, so the new value comes a second later
  sleep 1
  printf 'sk_live_2' | "$ENVX" set production STRIPE_KEY -q &&
    [ "$(sql "SELECT state FROM secrets WHERE name = 'STRIPE_KEY'")" = 0 ] &&
    "$ENVX" rollback production STRIPE_KEY 1 -q &&
    [ "$(sql "SELECT state FROM secrets WHERE name = 'STRIPE_KEY'")" = 1 ] &&
    "$ENVX" rollback production STRIPE_KEY 2 -q &&
    [ "$(sql "SELECT state FROM secrets WHERE name = 'STRIPE_KEY'")" = 0 ] &&
    [ "$("$ENVX" get production STRIPE_KEY)" = sk_live_2 ] || return 1
  # the leaked value brought back any other way is no new value: a
  # rollback to the rollback that restored it, or set again by hand
  "$ENVX" rollback production STRIPE_KEY 3 -q &&
    [ "$("$ENVX" get production STRIPE_KEY)" = sk_live_1 ] &&
    [ "$(sql "SELECT state FROM secrets WHERE name = 'STRIPE_KEY'")" = 1 ] &&
    printf 'sk_live_2' | "$ENVX" set production STRIPE_KEY -q &&
    printf 'sk_live_1' | "$ENVX" set production STRIPE_KEY -q &&
    [ "$(sql "SELECT state FROM secrets WHERE name = 'STRIPE_KEY'")" = 1 ] &&
    printf 'sk_live_2' | "$ENVX" set production STRIPE_KEY -q &&
    [ "$(sql "SELECT state FROM secrets WHERE name = 'STRIPE_KEY'")" = 0 ]
}
ok "a new value clears compromised; the leaked value back (rollback, rollback of a rollback, set again) keeps it" t_new_value_clears

# VF-3.10 and VF-3.8: a writer that needs the incident's time (the value
# written was held before) verifies the whole chain first: the incident
# event's time moved back (so the leaked value would count as new) is
# refused, the vault unchanged; a value nobody held needs no time.
t_incident_time_verified() {
  local keep="$TEST_DIR/before-edit.vault" before rc
  cp envx.vault "$keep" &&
    sql "UPDATE audit SET at = 0 WHERE action = 'incident' AND env = 'production'" &&
    printf 'sk_live_9' | "$ENVX" set production STRIPE_KEY -q &&
    before=$(sum_of envx.vault) &&
    printf 'sk_live_1' >"$TEST_DIR/leaked" &&
    run_in "$TEST_DIR/leaked" set production STRIPE_KEY -q &&
    expect_rc 4 && expect_err "was edited" && expect_err "envx does not sign over it" &&
    [ "$(sum_of envx.vault)" = "$before" ]
  rc=$?
  cp "$keep" envx.vault && forget_seen
  return $rc
}
ok "the leaked value set again after the incident's time was edited: exit 4, vault unchanged" t_incident_time_verified

t_signed() {
  # the state after an incident is signed like any other: a reader in a
  # fresh HOME that trusts production's admin reads it
  local tl
  tl=$(trust_line production)
  [ -n "$tl" ] && printf 'x' | "$ENVX" set production JWT_SECRET -q &&
    "$ENVX" get production JWT_SECRET >/dev/null
}
ok "the environment stays readable and writable after incidents" t_signed

t_gate_after_incident() {
  run incident production --reason "drill"
  expect_rc 0 || return 1
  run rotation production --check
  expect_rc 1 && expect_err "3 secrets are overdue or compromised" || return 1
  run exec production -- true
  expect_rc 0 && expect_err "compromised" && expect_err "DATABASE_URL" || return 1
  run exec production --refuse-compromised -- sh -c 'echo ran'
  expect_rc 1 && [ -z "$OUT" ] || return 1
  sleep 1
  "$ENVX" rotate production JWT_SECRET --generate -q &&
    "$ENVX" rotate production DATABASE_URL --generate=24 --charset alnum --run 'test -n "$ENVX_NEW_VALUE"' -q &&
    printf 'sk_live_3' | "$ENVX" rotate production STRIPE_KEY --reason drill -q || return 1
  run rotation production --check
  expect_rc 0
}
ok "after an incident rotation --check fails and exec warns, until every secret is rotated" t_gate_after_incident

t_same_value_no_rotation() {
  local before
  printf 'same-1' | "$ENVX" set staging SAME --rotate-every 1d -q &&
    before=$(sql "SELECT rotated_at FROM secrets WHERE name = 'SAME'") &&
    sleep 1 && printf 'same-1' | "$ENVX" set staging SAME -q &&
    [ "$(sql "SELECT rotated_at FROM secrets WHERE name = 'SAME'")" = "$before" ] &&
    [ "$(sql "SELECT version FROM secrets WHERE name = 'SAME'")" = 2 ] &&
    printf 'same-2' | "$ENVX" set staging SAME -q &&
    [ "$(sql "SELECT rotated_at FROM secrets WHERE name = 'SAME'")" -gt "$before" ]
}
ok "setting the same value again is a new version but no rotation: the clock keeps running" t_same_value_no_rotation

t_removed_env_incident() {
  # an incident (dated 2100) of an environment 'qa' the vault lacks, with
  # an env-rm after it, as a removed environment leaves them: not the
  # incident of a later 'qa', whose rollback stays a new value
  no_rollback_memory
  FORGE_AT=4102444800 forge_event incident qa "" "forged, dated 2100" &&
    forge_event env-rm qa "" "" && "$ENVX" env add qa >/dev/null 2>&1 &&
    printf 'qa-one' | "$ENVX" set qa TOKEN -q && printf 'qa-two' | "$ENVX" set qa TOKEN -q &&
    "$ENVX" rekey qa >/dev/null 2>&1 && "$ENVX" rollback qa TOKEN 1 -q &&
    [ "$(sql "SELECT s.state FROM secrets s JOIN envs e ON e.id = s.env_id WHERE e.name = 'qa' AND s.name = 'TOKEN'")" = 0 ]
}
ok "an incident event of an environment removed before this one was made does not count for it" t_removed_env_incident

finish
