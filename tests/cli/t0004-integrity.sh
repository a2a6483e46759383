#!/usr/bin/env bash
# Tampering and unsafe files: flipped ciphertext bytes, deleted or rolled
# back rows, foreign files and newer formats are exit 4; a world-writable
# vault or a symlinked one is exit 8. Values never appear in any message.
. "$ENVX_SOURCE_ROOT/tests/cli/test-lib.sh"
setup_vault
printf 'tamper-target-value' | "$ENVX" set staging TOKEN >/dev/null 2>&1
printf 'second-version' | "$ENVX" set staging TOKEN >/dev/null 2>&1
printf 'other' | "$ENVX" set staging OTHER >/dev/null 2>&1
keep_pristine

t_flipped_ciphertext() {
  fresh
  sql "UPDATE versions SET ciphertext = CASE WHEN substr(hex(ciphertext), 1, 2) = '00' THEN X'01' ELSE X'00' END || substr(ciphertext, 2) WHERE version = 2" &&
    fails 4 "integrity" get staging TOKEN &&
    ! grep -q tamper-target "$TEST_DIR/run.err"
}
ok "a flipped ciphertext byte is an integrity failure (exit 4)" t_flipped_ciphertext

t_deleted_version() {
  fresh
  sql "DELETE FROM versions WHERE version = 1 AND secret_id = (SELECT id FROM secrets WHERE name = 'TOKEN')" &&
    fails 4 "integrity check" get staging TOKEN &&
    fails 4 "integrity check" list staging &&
    fails 4 "integrity check" exec staging -- true
}
ok "a deleted old version row fails the environment MAC (exit 4)" t_deleted_version

t_rolled_back_row() {
  fresh
  sql "UPDATE secrets SET version = 1 WHERE name = 'TOKEN'" &&
    fails 4 "integrity check" get staging TOKEN
}
ok "a secret rolled back to an older version outside envx is detected" t_rolled_back_row

t_deleted_secret() {
  fresh
  sql "DELETE FROM secrets WHERE name = 'OTHER'" &&
    fails 4 "integrity check" get staging OTHER &&
    fails 4 "integrity check" export staging &&
    fails 4 "integrity check" exec staging -- true
}
ok "a deleted secret row is detected" t_deleted_secret

# SPEC VF-3.4 (format 5): get verifies the root and the rows of its name's
# bucket only. TOKEN is in bucket 258, OTHER in 653: a row of OTHER edited
# outside envx is not noticed by get TOKEN, and is by every full read and
# by get OTHER.
t_other_bucket() {
  fresh
  sql "UPDATE secrets SET description = 'edited' WHERE name = 'OTHER'" &&
    "$ENVX" get staging TOKEN >out 2>/dev/null && [ "$(cat out)" = second-version ] &&
    fails 4 "integrity check" get staging OTHER &&
    fails 4 "integrity check" list staging &&
    fails 4 "integrity check" exec staging -- true
}
ok "a row of another bucket is not noticed by get, and is by get of its name, list and exec" t_other_bucket

t_moved_ciphertext() {
  fresh
  sql "UPDATE versions SET nonce = (SELECT nonce FROM versions v2 JOIN secrets s ON s.id = v2.secret_id WHERE s.name = 'OTHER'), ciphertext = (SELECT ciphertext FROM versions v2 JOIN secrets s ON s.id = v2.secret_id WHERE s.name = 'OTHER') WHERE version = 2" &&
    fails 4 "" get staging TOKEN
}
ok "a ciphertext copied to another name is detected" t_moved_ciphertext

t_metadata_tamper() {
  fresh
  sql "UPDATE secrets SET rotate_every = 86400 WHERE name = 'TOKEN'" &&
    fails 4 "integrity check" get staging TOKEN
}
ok "edited metadata (rotation interval) is detected" t_metadata_tamper

t_not_a_vault() {
  echo "just some text" >notvault && fails 4 "not an envx vault" --vault notvault list staging &&
    sqlite3 other.db "CREATE TABLE t (x)" && fails 4 "not an envx vault" --vault other.db list staging
}
ok "a file that is not an envx vault is exit 4" t_not_a_vault

t_newer_format() {
  fresh
  sql "PRAGMA user_version = 99" && fails 4 "newer than this envx" list staging
}
ok "a vault from a newer envx is refused (exit 4)" t_newer_format

t_extra_schema() {
  fresh
  sql "CREATE TABLE sneaky (x)" && fails 4 "unexpected schema" list staging
}
ok "an unexpected schema object is refused (exit 4)" t_extra_schema

t_world_writable() {
  fresh
  chmod 666 envx.vault && fails 8 "writable by others" list staging; local rc=$?
  chmod 644 envx.vault
  return $rc
}
ok "a vault writable by others is refused (exit 8)" t_world_writable

t_symlink_vault() {
  fresh
  ln -sf envx.vault link.vault && fails 8 "symbolic link" --vault link.vault list staging
}
ok "a symlinked vault is refused (exit 8)" t_symlink_vault

t_failed_write_unchanged() {
  fresh
  local before
  before=$(sum_of envx.vault)
  printf 'x' >"$TEST_DIR/x"
  run_in "$TEST_DIR/x" set staging "BAD NAME" && expect_rc 7 &&
    run_in "$TEST_DIR/x" --identity /nonexistent set staging OK && [ "$RC" != 0 ] &&
    [ "$(sum_of envx.vault)" = "$before" ]
}
ok "failed writes leave the vault byte-identical" t_failed_write_unchanged

t_damaged_index() {
  # change 'production' in the envs name index only: the table row is
  # intact, so a lookup through the index finds nothing
  fresh
  python3 - envx.vault <<'PY' || return 1
import sqlite3, sys
path = sys.argv[1]
db = sqlite3.connect(path)
size = db.execute("PRAGMA page_size").fetchone()[0]
root = db.execute("SELECT rootpage FROM sqlite_schema WHERE name = 'sqlite_autoindex_envs_1'").fetchone()[0]
db.close()
data = bytearray(open(path, "rb").read())
at = data.index(b"production", (root - 1) * size, root * size)
data[at] ^= 0x20
open(path, "wb").write(data)
PY
  fails 4 "is corrupt" get production TOKEN && fails 4 "is corrupt" list production
}
ok "a damaged index is corruption (exit 4), not 'no environment' (exit 9)" t_damaged_index

t_parent_vault_other_owner() {
  [ "$(id -u)" = 0 ] || return 0 # needs chown
  fresh
  mkdir -p sub/deeper && chown nobody envx.vault || return 1
  (cd sub/deeper && "$ENVX" get staging TOKEN >/dev/null 2>"$TEST_DIR/e")
  local rc=$?
  chown 0 envx.vault
  [ $rc = 8 ] && grep -q "found in a parent directory and owned by another user" "$TEST_DIR/e" &&
    chown nobody envx.vault &&
    (cd sub/deeper && "$ENVX" --vault ../../envx.vault get staging TOKEN >/dev/null) &&
    "$ENVX" get staging TOKEN >/dev/null
  rc=$?
  chown 0 envx.vault
  return $rc
}
ok "a vault in a parent directory owned by another user is refused unless named (exit 8)" t_parent_vault_other_owner

t_symlinked_dir() {
  fresh
  mkdir -p real && cp envx.vault real/ && ln -sfn real linked &&
    fails 8 "'linked' in its path is a symbolic link" --vault linked/envx.vault get staging TOKEN &&
    "$ENVX" --vault real/envx.vault get staging TOKEN >/dev/null
}
ok "a vault reached through a symlinked directory is exit 8 with a clear message" t_symlinked_dir

t_analyzed_reads() {
  fresh
  sql "ANALYZE" && [ "$(sql "SELECT count(*) FROM sqlite_schema WHERE name = 'sqlite_stat1'")" = 1 ] &&
    [ "$("$ENVX" get staging TOKEN)" = second-version ] &&
    printf 'after' | "$ENVX" set staging AFTER_ANALYZE -q
}
ok "a vault someone ran ANALYZE on (sqlite_stat1) still reads and writes" t_analyzed_reads

t_header_storage_classes() {
  # VF-4.6: envs.generation, key_commit and mac with the wrong storage
  # class (a REAL reads as its integer part, TEXT as its bytes) are exit 4
  local set
  for set in "generation = generation + 0.5" "generation = CAST(generation AS TEXT) || 'x'" \
    "mac = CAST(mac AS TEXT)" "key_commit = CAST(key_commit AS TEXT)"; do
    fresh && sql "UPDATE envs SET $set WHERE name = 'staging'" &&
      run get staging TOKEN && expect_rc 4 || return 1
  done
}
ok "an environment header with another storage class (REAL, TEXT) is exit 4" t_header_storage_classes

t_index_decoy() {
  # the bucket index edited (tests/cli/index-decoy.py) so that the check
  # of API_KEY's bucket reads the sealed row and the lookup of API_KEY a
  # decoy one version back: get refuses what the check did not read
  local d="$TEST_DIR/decoy" v
  mkdir -p "$d" && cd "$d" && "$ENVX" init >/dev/null 2>&1 || return 1
  for v in 1 2 3; do printf 'tok-v%s' "$v" | "$ENVX" set staging API_KEY -q || return 1; done
  for v in A B C D E; do printf x | "$ENVX" set staging "OTHER_$v" -q || return 1; done
  python3 "$ENVX_SOURCE_ROOT/tests/cli/index-decoy.py" envx.vault staging API_KEY &&
    run get staging API_KEY && expect_rc 4 && expect_err "the row read is not one the integrity check read" &&
    ! grep -q tok-v2 "$TEST_DIR/run.out" &&
    # a write or a removal of it would act on the decoy: refused, the
    # file unchanged
    v=$(sum_of envx.vault) && printf 'tok-v4' >"$TEST_DIR/v4" &&
    run_in "$TEST_DIR/v4" set staging API_KEY -q && expect_rc 4 &&
    expect_err "the row found is not one the integrity check read" &&
    run rm staging API_KEY && expect_rc 4 && [ "$(sum_of envx.vault)" = "$v" ]
}
ok "an index edited to lead get, set and rm to another row than the one verified: exit 4, no value, nothing written" t_index_decoy

t_wal_refused_on_read() {
  fresh
  [ "$(sql "PRAGMA journal_mode = WAL")" = wal ] || return 1
  fails 4 "journal mode envx never writes" get staging TOKEN &&
    [ ! -e envx.vault-wal ] && [ ! -e envx.vault-shm ] &&
    printf 'v' | "$ENVX" set staging AFTER_WAL -q &&
    [ "$(od -A n -t u1 -j 18 -N 2 envx.vault | tr -s ' ')" = " 1 1" ] &&
    [ "$("$ENVX" get staging TOKEN)" = second-version ]
}
ok "a vault switched to WAL: readers refuse it (exit 4, no -wal/-shm made), a write converts it back" t_wal_refused_on_read

finish
