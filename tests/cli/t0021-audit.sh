#!/usr/bin/env bash
# envx audit: the log of writes, listed with filters and verified as a hash
# chain (VF-5.1). An edited, deleted, reordered or inserted event is caught
# by --verify (exit 4, naming the first bad event); an intact log prints its
# event count and last hash. It needs no key and never writes the vault.
. "$ENVX_SOURCE_ROOT/tests/cli/test-lib.sh"
setup_vault
printf 'audit-secret-one' | "$ENVX" set staging TOKEN >/dev/null 2>&1
printf 'audit-secret-two' | "$ENVX" set staging TOKEN >/dev/null 2>&1
printf 'audit-secret-three' | "$ENVX" set production DB_URL >/dev/null 2>&1
keep_pristine
# init, env-add x3, set x3
events=7

last_hash() { sql "SELECT lower(hex(hash)) FROM audit ORDER BY seq DESC LIMIT 1"; }
no_values() { ! grep -q 'audit-secret' "$TEST_DIR/run.out" "$TEST_DIR/run.err"; }

t_verify_intact() {
  fresh
  run audit --verify && expect_rc 0 &&
    [ "$OUT" = "audit log intact: $events events, last hash $(last_hash)" ] &&
    [ "$(sql 'SELECT count(*) FROM audit')" = "$events" ]
}
ok "an intact log verifies: exit 0, the event count and the last hash" t_verify_intact

t_list() {
  fresh
  run audit && expect_rc 0 &&
    expect_out "SEQ  TIME" && expect_out "ACTOR" && expect_out "DETAIL" &&
    [ "$(printf '%s\n' "$OUT" | grep -c .)" = $((events + 1)) ] &&
    printf '%s\n' "$OUT" | grep -Eq '^ +1  [0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}Z  tester.* +init +- +- +vault created$' &&
    printf '%s\n' "$OUT" | grep -Eq '^ +5  .* set +staging +TOKEN +set v[0-9]+$' &&
    expect_err "audit log intact: $events events, last hash $(last_hash)" &&
    ! expect_out "[unverified]" 2>/dev/null && no_values
}
ok "audit lists every event oldest first, verified, never a value" t_list

t_filters() {
  fresh
  run audit staging && expect_rc 0 &&
    [ "$(printf '%s\n' "$OUT" | sed 1d | grep -c .)" = 3 ] &&
    ! expect_out "production" 2>/dev/null &&
    run audit staging --name TOKEN && expect_rc 0 &&
    [ "$(printf '%s\n' "$OUT" | sed 1d | grep -c ' TOKEN ')" = 2 ] &&
    run audit --name DB_URL && expect_rc 0 &&
    [ "$(printf '%s\n' "$OUT" | sed 1d | grep -c .)" = 1 ] &&
    run audit --since 2000-01-01 && expect_rc 0 &&
    [ "$(printf '%s\n' "$OUT" | sed 1d | grep -c .)" = "$events" ] &&
    run audit --since 2999-12-31T23:59:59Z && expect_rc 0 && [ -z "$OUT" ] &&
    # a removed (or never created) environment is not an error
    run audit removed-env && expect_rc 0 && [ -z "$OUT" ] &&
    expect_err "audit log intact"
}
ok "ENV, --name and --since filter the listing; an unknown env lists nothing" t_filters

t_json() {
  fresh
  run --json audit staging --name TOKEN && expect_rc 0 &&
    printf '%s' "$OUT" | python3 -c '
import json, sys
d = json.load(sys.stdin)
want = sys.argv[1]
assert d["intact"] is True and d["count"] == 7 and d["verified"] == 7, d
assert d["last_hash"] == want and d["first_bad"] is None and d["error"] is None, d
ev = d["events"]
assert [e["seq"] for e in ev] == [5, 6], ev
for e in ev:
    assert e["action"] == "set" and e["env"] == "staging" and e["name"] == "TOKEN", e
    assert e["actor"].startswith("tester@") and e["verified"] is True, e
    assert e["at"].endswith("Z") and len(e["hash"]) == 64, e
' "$(last_hash)" &&
    run audit --verify --json && expect_rc 0 &&
    printf '%s' "$OUT" | python3 -c '
import json, sys
d = json.load(sys.stdin)
assert d == {"intact": True, "count": 7, "verified": 7, "last_hash": sys.argv[1],
             "first_bad": None, "error": None}, d
' "$(last_hash)"
}
ok "--json prints one document, for a listing and for --verify" t_json

t_usage() {
  fresh
  fails 2 "invalid date '2026-02-30'" audit --since 2026-02-30 &&
    fails 2 "invalid date" audit --since yesterday &&
    fails 2 "needs a value" audit --since &&
    fails 2 "unknown option" audit --bogus &&
    fails 2 "too many arguments" audit staging production &&
    fails 7 "invalid environment name 'Staging'" audit Staging &&
    fails 7 "invalid secret name" audit --name 1BAD &&
    rm envx.vault && fails 9 "" audit --verify
}
ok "bad flags and dates are exit 2, invalid names exit 7, no vault exit 9" t_usage

t_no_key_read_only() {
  fresh
  local before
  before=$(sum_of envx.vault)
  mv "$XDG_CONFIG_HOME/envx" "$TEST_DIR/identity-away" &&
    chmod 444 envx.vault && chmod 555 . &&
    run audit --verify && expect_rc 0 && expect_out "audit log intact" &&
    run audit production && expect_rc 0 && expect_out "DB_URL" &&
    [ "$(sum_of envx.vault)" = "$before" ] && [ ! -e envx.vault-journal ]
  local rc=$?
  chmod 755 . && chmod 644 envx.vault
  mv "$TEST_DIR/identity-away" "$XDG_CONFIG_HOME/envx"
  return $rc
}
ok "audit needs no identity and works on a read-only vault, writing nothing" t_no_key_read_only

# tampered STATEMENT SEQ TEXT: after STATEMENT, --verify exits 4 naming
# event SEQ with TEXT, and the listing marks events from SEQ on.
tampered() {
  fresh
  sql "$1" &&
    fails 4 "audit event $2 $3" audit --verify && [ -z "$OUT" ] &&
    expect_err "the audit log was edited outside envx" &&
    fails 4 "audit event $2 " audit &&
    printf '%s\n' "$OUT" | grep -q '\[unverified\]' &&
    printf '%s\n' "$OUT" | awk -v s="$2" '$1 ~ /^[0-9]+$/ {
      if (($1 < s) == /\[unverified\]/) bad = 1 } END { exit bad }'
}

t_edited() {
  tampered "UPDATE audit SET detail = 'nothing happened' WHERE seq = 5" 5 "was edited" &&
    tampered "UPDATE audit SET actor = 'mallory@evil' WHERE seq = 2" 2 "was edited" &&
    tampered "UPDATE audit SET at = at - 86400 WHERE seq = 6" 6 "was edited"
}
ok "an edited event is caught: exit 4 naming it" t_edited

t_deleted() {
  tampered "DELETE FROM audit WHERE seq = 3" 3 "is missing (the log goes from 2 to 4)" &&
    tampered "DELETE FROM audit WHERE seq = 1" 1 "is missing (the log starts at 2)"
}
ok "a deleted event is caught: exit 4 naming the missing one" t_deleted

t_reordered() {
  tampered "UPDATE audit SET seq = -seq WHERE seq IN (5, 6);
            UPDATE audit SET seq = 6 WHERE seq = -5;
            UPDATE audit SET seq = 5 WHERE seq = -6" 5 "does not follow event 4"
}
ok "two events swapped are caught: exit 4 naming the first" t_reordered

t_inserted() {
  tampered "UPDATE audit SET seq = seq + 100 WHERE seq >= 4;
            UPDATE audit SET seq = seq - 99 WHERE seq >= 100;
            INSERT INTO audit SELECT 4, at, actor, 'rm', env, 'TOKEN', '', prev, hash FROM audit WHERE seq = 3" 4 "does not follow event 3"
}
ok "an inserted event is caught: exit 4 naming it" t_inserted

t_wrong_type() {
  tampered "UPDATE audit SET name = CAST(name AS BLOB) WHERE seq = 5" 5 "is malformed (its name is not text)" &&
    tampered "UPDATE audit SET prev = CAST(prev AS TEXT) WHERE seq = 4" 4 "is malformed (its prev is not a 32-byte blob)"
}
ok "a column of the wrong storage class is caught, not converted" t_wrong_type

t_json_broken() {
  fresh
  sql "DELETE FROM audit WHERE seq = 3" &&
    run --json audit --verify && expect_rc 4 && expect_err "audit event 3 is missing" &&
    printf '%s' "$OUT" | python3 -c '
import json, sys
d = json.load(sys.stdin)
assert d["intact"] is False and d["count"] == 6 and d["verified"] == 2, d
assert d["first_bad"] == 3 and d["last_hash"] is None, d
assert d["error"].startswith("audit event 3 is missing"), d
assert "events" not in d, d
' &&
    run --json audit && expect_rc 4 &&
    printf '%s' "$OUT" | python3 -c '
import json, sys
d = json.load(sys.stdin)
assert [(e["seq"], e["verified"]) for e in d["events"]] == \
    [(1, True), (2, True), (4, False), (5, False), (6, False), (7, False)], d
'
}
ok "--json reports a broken chain too (exit 4), events marked unverified" t_json_broken

# The signed states cover the last event (VF-3.8): editing it makes the
# other commands refuse the vault; audit still reads and verifies it.
t_other_commands_refuse() {
  fresh
  sql "UPDATE audit SET detail = 'x' WHERE seq = $events" &&
    fails 4 "audit event $events" get production DB_URL &&
    fails 4 "audit event $events was edited" audit --verify &&
    fails 4 "audit event $events" audit production && expect_out "DB_URL" && no_values
}
ok "audit --verify works on a vault whose tampered log other commands refuse" t_other_commands_refuse

t_verify_ignores_filters() {
  fresh
  sql "UPDATE audit SET detail = 'x' WHERE seq = 6" &&
    fails 4 "audit event 6" audit production --name DB_URL --verify &&
    expect_err "--verify checks every event" &&
    fresh && run -q audit staging --verify && expect_rc 0 &&
    expect_out "audit log intact: $events events" && [ -z "$ERR" ]
}
ok "--verify checks the whole chain whatever the filters, and says so" t_verify_ignores_filters

t_writers_still_append() {
  fresh
  printf 'audit-secret-four' | "$ENVX" set staging OTHER >/dev/null 2>&1 &&
    run audit --verify && expect_rc 0 &&
    expect_out "audit log intact: $((events + 1)) events, last hash $(last_hash)" &&
    run audit --name OTHER && expect_out " set " && no_values
}
ok "a write after audit appends an event that verifies" t_writers_still_append

# VF-3.8: a writer checks the events since its environment's signed state
# (the earlier ones are bound by that signature through their hashes).
# Event 2 (env-add) comes before production's signed state (event 7): a
# write to production goes ahead, its new state signs the chain as it was,
# and --verify keeps naming the edited event; undoing the edit makes the
# whole chain, the new event included, verify again.
t_old_edit_stays_evident() {
  fresh
  local orig
  orig=$(sql "SELECT detail FROM audit WHERE seq = 2") &&
    sql "UPDATE audit SET detail = 'nothing happened' WHERE seq = 2" &&
    printf 'audit-secret-four' | "$ENVX" set production DB_URL -q &&
    [ "$(sql "SELECT action || ' ' || env FROM audit WHERE seq = $((events + 1))")" = "set production" ] &&
    fails 4 "audit event 2 was edited" audit --verify &&
    run get production DB_URL && expect_rc 0 && expect_out audit-secret-four &&
    sql "UPDATE audit SET detail = '$orig' WHERE seq = 2" &&
    run audit --verify && expect_rc 0 &&
    expect_out "audit log intact: $((events + 1)) events, last hash $(last_hash)"
}
ok "an event edited before the writer's signed state is still caught by --verify after a later write" t_old_edit_stays_evident

# Event 7 (production's write) comes after staging's signed state (event
# 6): staging's writer checks it and signs nothing, the vault unchanged.
t_write_refuses_edit_after_signed_state() {
  fresh
  local before
  sql "UPDATE audit SET detail = 'x' WHERE seq = $events" &&
    before=$(sum_of envx.vault) &&
    printf 'audit-secret-four' >"$TEST_DIR/value" &&
    run_in "$TEST_DIR/value" set staging OTHER -q &&
    expect_rc 4 && expect_err "audit event $events was edited" &&
    expect_err "envx does not sign over it" &&
    [ "$(sum_of envx.vault)" = "$before" ] &&
    run audit --verify && expect_rc 4
}
ok "a write refuses an event edited after its environment's signed state (exit 4, vault unchanged)" t_write_refuses_edit_after_signed_state

# Events added to the file outside envx, of another environment or of one
# the file does not have (a look-alike name): a writer of staging signs
# over none of them; once the forged tail is gone, writes work again.
t_write_refuses_others_forged() {
  local before env
  no_rollback_memory
  for env in production "production " "prоduction"; do
    fresh && forge_event rollback "$env" DB_URL "rolled back to v1" &&
      before=$(sum_of envx.vault) &&
      printf 'audit-secret-four' >"$TEST_DIR/value" &&
      run_in "$TEST_DIR/value" set staging OTHER -q && expect_rc 4 &&
      expect_err "(rollback, of " && expect_err "envx does not sign over it" &&
      if [ "$env" = production ]; then
        expect_err "was added after production's last signed state"
      else
        expect_err "names an environment the vault does not have"
      fi &&
      [ "$(sum_of envx.vault)" = "$before" ] || return 1
  done
  # the forged tail removed: both environments write again
  fresh && forge_event rollback production DB_URL "rolled back to v1" &&
    sql "DELETE FROM audit WHERE seq = $((events + 1))" &&
    run_in "$TEST_DIR/value" set staging OTHER -q && expect_rc 0 &&
    run_in "$TEST_DIR/value" set production OTHER -q && expect_rc 0 &&
    # an environment written and then removed is not forged
    run env add qa && expect_rc 0 && run_in "$TEST_DIR/value" set qa Q -q && expect_rc 0 &&
    run env rm qa --force && expect_rc 0 &&
    run_in "$TEST_DIR/value" set staging OTHER -q && expect_rc 0 &&
    run audit --verify && expect_rc 0
}
ok "a write signs over no forged event of another environment, nor of one the file lacks" t_write_refuses_others_forged

t_edited_seal_covers_nothing() {
  # production's seals.audit_seq raised so that it seems to cover a forged
  # event of production: its state no longer verifies, so a writer of
  # staging does not sign over the event
  local before
  no_rollback_memory
  fresh && sql "UPDATE seals SET audit_seq = audit_seq + 100 WHERE env_id = (SELECT id FROM envs WHERE name = 'production')" &&
    forge_event set production DB_URL "set v9" && before=$(sum_of envx.vault) &&
    printf 'audit-secret-four' >"$TEST_DIR/value" &&
    run_in "$TEST_DIR/value" set staging OTHER -q && expect_rc 4 &&
    expect_err "(set, of production) is covered by no signed state (production's does not verify" &&
    [ "$(sum_of envx.vault)" = "$before" ]
}
ok "a seal edited to cover a forged event covers nothing: no writer signs over the event" t_edited_seal_covers_nothing

t_unsafe() {
  fresh
  chmod 666 envx.vault && fails 8 "writable by others" audit --verify; local rc=$?
  chmod 644 envx.vault
  return $rc
}
ok "a vault writable by others is refused (exit 8)" t_unsafe

t_completion() {
  fresh
  "$ENVX" __complete audit '' | grep -qx staging &&
    "$ENVX" __complete audit -- | grep -qx -- --verify &&
    "$ENVX" __complete audit -- | grep -qx -- --since
}
ok "completion offers environments and audit's options" t_completion

# VF-5.1: every write names what it changed and who did it: the signer's
# label and fingerprint, then the claimed user@host; a new version's event
# carries its number, and an import one event per name it wrote.
t_event_fields() {
  fresh
  printf 'A=1\nB=2\n' >"$TEST_DIR/in.env"
  "$ENVX" import staging "$TEST_DIR/in.env" -q || return 1
  [ "$(sql "SELECT name || ' ' || detail FROM audit WHERE action = 'import' AND name != '' ORDER BY name")" = "$(printf 'A import v1\nB import v1')" ] &&
    sql "SELECT detail FROM audit WHERE action = 'import' AND name = ''" | grep -q '^2 of 2 from' &&
    [ "$(sql "SELECT detail FROM audit WHERE action = 'set' AND name = 'TOKEN' ORDER BY seq DESC LIMIT 1")" = "set v2" ] &&
    sql "SELECT actor FROM audit WHERE action = 'set' LIMIT 1" |
    grep -Eq '^[^ ]+ [0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4} [^ ]+@[^ ]+$'
}
ok "events carry the version written, one import event per name, and the actor's fingerprint and user@host" t_event_fields

finish
