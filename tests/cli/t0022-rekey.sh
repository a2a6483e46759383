#!/usr/bin/env bash
# Access that ends (SPEC.md VF-3.9): `access grant --new-key` makes a CI key
# that opens its environment and nothing else; `access revoke` and `rekey`
# draw a new environment key, re-encrypt every version and re-wrap it for
# the recipients left, so a revoked key opens nothing, not even older
# versions, and every value survives. Refusals leave the vault unchanged.
# shellcheck disable=SC2046 # trust lines are split into words on purpose
. "$ENVX_SOURCE_ROOT/tests/cli/test-lib.sh"
setup_vault
sql() { sqlite3 envx.vault "$1"; }
for i in 1 2 3; do
  printf 'stg-v%s' "$i" | "$ENVX" set staging DATABASE_URL -q
done
printf 'stg-api' | "$ENVX" set staging API_KEY -q
printf 'prod-db' | "$ENVX" set production DATABASE_URL -q

"$ENVX" access grant staging --new-key --label ci >"$TEST_DIR/ci.id" 2>"$TEST_DIR/ci.err"
ci_rc=$?
CI_ID=$(cat "$TEST_DIR/ci.id")
ci() { ENVX_IDENTITY="$CI_ID" HOME="$TEST_DIR/ci-home" "$ENVX" "$@"; }
mkdir -p "$TEST_DIR/ci-home"

t_new_key() {
  [ "$ci_rc" = 0 ] || return 1
  grep -q '^ENVX-SECRET-KEY-1-' "$TEST_DIR/ci.id" &&
    grep -q '^trust [0-9a-f]\{32\} staging envxsig1' "$TEST_DIR/ci.id" &&
    grep -q 'ENVX_IDENTITY' "$TEST_DIR/ci.err" &&
    ! grep -q 'ENVX-SECRET-KEY' "$TEST_DIR/ci.err" || return 1
  # only the public half is kept
  ! sqlite3 envx.vault .dump | grep -q "$(sed -n 's/^ENVX-SECRET-KEY-1-//p' "$TEST_DIR/ci.id")"
}
ok "grant --new-key prints the secret key text and its trust line once, on stdout" t_new_key

t_ci_scope() {
  [ "$(ci get staging DATABASE_URL)" = "stg-v3" ] || return 1
  ENVX_IDENTITY="$CI_ID" HOME="$TEST_DIR/ci-home" "$ENVX" get production DATABASE_URL \
    >"$TEST_DIR/o" 2>"$TEST_DIR/e"
  [ $? = 3 ] && [ ! -s "$TEST_DIR/o" ]
}
ok "the new CI key opens staging (fresh HOME) and nothing else (exit 3)" t_ci_scope

t_dup_label() {
  local before
  before=$(sum_of envx.vault)
  fails 7 "already exists" access grant staging --new-key --label ci &&
    [ -z "$OUT" ] &&
    ENVX_PASSPHRASE=pw fails 7 "already exists" access grant staging --passphrase --label ci &&
    [ "$(sum_of envx.vault)" = "$before" ]
}
ok "a duplicate label is exit 7 and prints no key; vault unchanged" t_dup_label

t_usage() {
  fails 2 "usage" access grant staging --label x &&
    fails 2 "usage" access grant staging --new-key --passphrase --label x &&
    fails 2 "missing --label" access grant staging --new-key &&
    fails 2 "only read" access grant staging --passphrase --label x --role write &&
    fails 2 "usage" rekey &&
    fails 2 "wrong arguments" access revoke staging
}
ok "bad grant, revoke and rekey arguments are usage errors (exit 2)" t_usage

ENVX_PASSPHRASE=glass-pw "$ENVX" access grant staging --passphrase --label breakglass -q
STG_TRUST=$(trust_line staging)
pass_reader() {
  ENVX_PASSPHRASE=$1 ENVX_TRUST="$STG_TRUST" HOME="$TEST_DIR/pw-home" \
    "$ENVX" "${@:2}"
}
mkdir -p "$TEST_DIR/pw-home"

t_list_kinds() {
  run access list staging
  expect_rc 0 && expect_out "breakglass" && expect_out "passphrase" &&
    expect_out "ci" && [ "$(pass_reader glass-pw get staging API_KEY 2>/dev/null)" = "stg-api" ] ||
    { pass_reader glass-pw get staging API_KEY; return 1; }
}
ok "access list shows key and passphrase recipients; the passphrase reads" t_list_kinds

snapshot() {
  sqlite3 envx.vault "SELECT hex(nonce) || hex(ciphertext) FROM versions ORDER BY 1" >"$1.ct"
  sqlite3 envx.vault "SELECT hex(key_commit) FROM envs WHERE name = 'staging'" >"$1.kc"
  sqlite3 envx.vault "SELECT label || hex(wrapped_key) FROM recipients r JOIN envs e ON e.id = r.env_id WHERE e.name = 'staging' ORDER BY r.id" >"$1.rw"
  "$ENVX" export staging >"$1.values"
  "$ENVX" export production >"$1.prod"
}
snapshot "$TEST_DIR/a"
cp envx.vault "$TEST_DIR/pre-rekey.vault"

t_rekey() {
  ENVX_PASSPHRASE=glass-pw run rekey staging
  expect_rc 0 && expect_err "4 versions re-encrypted" &&
    expect_err "3 recipients" || return 1
  snapshot "$TEST_DIR/b"
  # values the same, every ciphertext, wrap and the commitment new
  same_file "$TEST_DIR/a.values" "$TEST_DIR/b.values" &&
    same_file "$TEST_DIR/a.prod" "$TEST_DIR/b.prod" &&
    ! cmp -s "$TEST_DIR/a.kc" "$TEST_DIR/b.kc" &&
    [ -z "$(comm -12 "$TEST_DIR/a.rw" "$TEST_DIR/b.rw")" ] &&
    [ "$(comm -12 "$TEST_DIR/a.ct" "$TEST_DIR/b.ct" | wc -l)" = 1 ] # production's
}
ok "rekey: new commitment, every staging ciphertext and wrap new, values the same" t_rekey

t_rekey_readers() {
  [ "$(ci get staging API_KEY)" = "stg-api" ] &&
    [ "$(pass_reader glass-pw get staging DATABASE_URL)" = "stg-v3" ] &&
    "$ENVX" rollback staging DATABASE_URL 1 -q &&
    [ "$(ci get staging DATABASE_URL)" = "stg-v1" ]
}
ok "after a rekey every recipient still reads, old versions too" t_rekey_readers

t_rekey_wrong_pass() {
  local before
  before=$(sum_of envx.vault)
  ENVX_PASSPHRASE=not-it fails 3 "does not open its passphrase recipient 'breakglass'" rekey staging &&
    [ "$(sum_of envx.vault)" = "$before" ]
}
ok "rekey without the passphrase of a passphrase recipient is exit 3, vault unchanged" t_rekey_wrong_pass

BOB="$TEST_DIR/bob.id"
"$ENVX" identity new -o "$BOB" -q >/dev/null
"$ENVX" access grant staging "$("$ENVX" --identity "$BOB" identity show)" --label bob --role write -q
"$ENVX" --identity "$BOB" access accept $(trust_line staging) -q

t_not_admin() {
  local before
  before=$(sum_of envx.vault)
  fails 3 "only an admin" --identity "$BOB" rekey staging &&
    fails 3 "only an admin" --identity "$BOB" access revoke staging ci &&
    [ "$(sum_of envx.vault)" = "$before" ]
}
ok "a writer cannot rekey or revoke (exit 3), vault unchanged" t_not_admin

t_revoke_refusals() {
  local before me
  before=$(sum_of envx.vault)
  me=$(sqlite3 envx.vault "SELECT label FROM recipients WHERE id = 1")
  fails 9 "'nobody' is not a recipient" access revoke staging nobody &&
    fails 7 "cannot revoke yourself" access revoke staging "$me" &&
    [ "$(sum_of envx.vault)" = "$before" ] || return 1
  before=$(sum_of envx.vault)
  fails 7 "the last recipient of 'production'" access revoke production "$me" &&
    [ "$(sum_of envx.vault)" = "$before" ]
}
ok "revoking an unknown label (9), yourself or the last recipient (7) is refused, vault unchanged" t_revoke_refusals

cp envx.vault "$TEST_DIR/pre-revoke.vault"
t_revoke() {
  ENVX_PASSPHRASE=glass-pw run access revoke staging ci
  expect_rc 0 && expect_out "rotate them" && expect_out "  API_KEY" &&
    expect_out "  DATABASE_URL" && [ "$(sql "SELECT count(*) FROM recipients WHERE label = 'ci'")" = 0 ] || return 1
  ENVX_IDENTITY="$CI_ID" HOME="$TEST_DIR/ci-home" "$ENVX" get staging API_KEY >"$TEST_DIR/o" 2>"$TEST_DIR/e"
  [ $? = 3 ] && [ ! -s "$TEST_DIR/o" ] &&
    [ "$(pass_reader glass-pw get staging API_KEY)" = "stg-api" ] &&
    [ "$("$ENVX" --identity "$BOB" get staging DATABASE_URL)" = "stg-v1" ]
}
ok "revoke: the CI key opens nothing (exit 3); the others still read; rotate list printed" t_revoke

# The revoked key still opens its old wrapped key; put that row back into
# the new vault: it must not open anything, old versions included.
t_revoked_row_back() {
  cp envx.vault "$TEST_DIR/post-revoke.vault"
  sqlite3 envx.vault "ATTACH '$TEST_DIR/pre-revoke.vault' AS old;
    INSERT INTO recipients (env_id, label, kind, public_key, kdf, wrapped_key, created_at)
    SELECT env_id, label, kind, public_key, kdf, wrapped_key, created_at FROM old.recipients WHERE label = 'ci';" || return 1
  ENVX_IDENTITY="$CI_ID" HOME="$TEST_DIR/ci-home2" "$ENVX" get staging DATABASE_URL >"$TEST_DIR/o" 2>"$TEST_DIR/e"
  local rc=$?
  cp "$TEST_DIR/post-revoke.vault" envx.vault
  [ $rc = 4 ] && [ ! -s "$TEST_DIR/o" ]
}
mkdir -p "$TEST_DIR/ci-home2"
ok "the revoked key's old wrap put back opens nothing (exit 4, no value)" t_revoked_row_back

t_old_key_old_ct() {
  # the old key (through the old wrap) against the new ciphertexts: every
  # version of staging was re-encrypted, so none is left under it
  [ -z "$(comm -12 <(sqlite3 "$TEST_DIR/pre-revoke.vault" "SELECT hex(ciphertext) FROM versions v JOIN secrets s ON s.id = v.secret_id JOIN envs e ON e.id = s.env_id WHERE e.name = 'staging' ORDER BY 1") \
    <(sql "SELECT hex(ciphertext) FROM versions v JOIN secrets s ON s.id = v.secret_id JOIN envs e ON e.id = s.env_id WHERE e.name = 'staging' ORDER BY 1"))" ] &&
    [ "$(sql "SELECT count(*) FROM versions v JOIN secrets s ON s.id = v.secret_id JOIN envs e ON e.id = s.env_id WHERE e.name = 'staging'")" = 5 ]
}
ok "no staging ciphertext from before the revoke is left in the vault" t_old_key_old_ct

t_log_and_audit() {
  [ "$(sql "SELECT action || ' ' || label || ' ' || role FROM access_log a JOIN envs e ON e.id = a.env_id WHERE e.name = 'staging' ORDER BY seq DESC LIMIT 1")" = "revoke ci none" ] &&
    sql "SELECT action FROM access_log WHERE action = 'rekey'" | grep -q rekey &&
    [ "$(sql "SELECT count(*) FROM audit WHERE action = 'access-revoke' AND env = 'staging' AND detail = 'ci'")" = 1 ] &&
    [ "$(sql "SELECT count(*) FROM audit WHERE action = 'rekey' AND env = 'staging'")" = 2 ]
}
ok "signed access-log entries (rekey, revoke) and audit events are written" t_log_and_audit

# A rekey entry must name its signer as it is (VF-3.9): an admin who signs
# one that changes a member is a forgery of the log.
t_forged_rekey_entry() {
  cp envx.vault "$TEST_DIR/keep.vault"
  sql "UPDATE access_log SET role = 'read' WHERE action = 'rekey'" || return 1
  fails 4 "access log" get staging API_KEY
  local rc=$?
  cp "$TEST_DIR/keep.vault" envx.vault
  return $rc
}
ok "an edited rekey entry is an integrity failure (exit 4)" t_forged_rekey_entry

t_grant_again() {
  "$ENVX" access grant staging --new-key --label ci >"$TEST_DIR/ci2.id" 2>/dev/null &&
    [ "$(ENVX_IDENTITY="$(cat "$TEST_DIR/ci2.id")" HOME="$TEST_DIR/ci-home3" "$ENVX" get staging API_KEY)" = "stg-api" ]
}
mkdir -p "$TEST_DIR/ci-home3"
ok "a revoked label can be granted again, to a new key" t_grant_again

t_dup_and_full() {
  local before
  "$ENVX" access grant staging --new-key --label tmp1 >/dev/null 2>&1 || return 1
  ENVX_PASSPHRASE=glass-pw run access revoke staging tmp1 tmp1
  expect_rc 0 &&
    [ "$(sql "SELECT count(*) FROM access_log WHERE action = 'revoke' AND label = 'tmp1'")" = 1 ] &&
    [ "$(sql "SELECT count(*) FROM audit WHERE action = 'access-revoke' AND detail = 'tmp1'")" = 1 ] || return 1
  # a key that cannot be printed is never granted
  before=$(sum_of envx.vault)
  "$ENVX" access grant staging --new-key --label full1 >/dev/full 2>"$TEST_DIR/e"
  [ $? = 6 ] && grep -q "nothing was granted" "$TEST_DIR/e" &&
    [ "$(sum_of envx.vault)" = "$before" ]
}
ok "a label named twice is revoked and audited once; --new-key to a full stdout grants nothing" t_dup_and_full

t_new_key_json() {
  local key
  "$ENVX" --json access grant staging --new-key --label ci-json >"$TEST_DIR/nk.json" 2>/dev/null || return 1
  key=$(python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
assert d["env"] == "staging" and d["label"] == "ci-json" and d["role"] == "read", d
assert d["public_key"].startswith("envxpub2"), d
assert d["identity"].count("ENVX-SECRET-KEY-1-") == 1 and "\ntrust " in d["identity"], d
sys.stdout.write(d["identity"])' "$TEST_DIR/nk.json") || return 1
  (export HOME="$TEST_DIR/json-home" ENVX_IDENTITY="$key"; mkdir -p "$HOME"
    "$ENVX" get staging DATABASE_URL >/dev/null 2>&1)
}
ok "grant --new-key --json prints one object whose identity text opens the environment" t_new_key_json

t_index_disagrees() {
  # an index that disagrees with its table (its root page swapped for
  # another index's, as an edit of the file's pages could do): the rekey
  # would list other rows than the MAC covers, so it checks the whole file
  # first and refuses, the vault unchanged
  local before
  cp envx.vault "$TEST_DIR/idx.vault" &&
    sqlite3 "$TEST_DIR/idx.vault" "PRAGMA writable_schema = ON;
      UPDATE sqlite_master SET rootpage = (SELECT rootpage FROM sqlite_master WHERE name = 'sqlite_autoindex_recipients_1')
        WHERE name = 'secrets_bucket';" &&
    before=$(sum_of "$TEST_DIR/idx.vault") &&
    run --vault "$TEST_DIR/idx.vault" rekey staging && expect_rc 4 &&
    expect_err "integrity" && [ "$(sum_of "$TEST_DIR/idx.vault")" = "$before" ]
}
ok "rekey checks the whole file first: an index that disagrees with its table is exit 4" t_index_disagrees

finish
