#!/usr/bin/env bash
# Writer authentication (vault format 4, SPEC.md VF-3.8), attacked with real
# second identities and envx itself: Mallory can write the vault file but
# holds no access; Bob writes staging only; a CI runner has a fresh HOME and
# only $ENVX_IDENTITY. Every forgery is exit 4 naming why, and no forged
# value is ever printed or injected.
# shellcheck disable=SC2046 # trust lines are split into words on purpose
. "$ENVX_SOURCE_ROOT/tests/cli/test-lib.sh"
setup_vault
printf 'postgres://real' | "$ENVX" set production DATABASE_URL -q
printf 'stg-real' | "$ENVX" set staging API_KEY -q
alice_pub=$("$ENVX" identity show)

BOB="$TEST_DIR/bob.id"
MAL="$TEST_DIR/mallory.id"
CI="$TEST_DIR/ci.id"
for id in "$BOB" "$MAL" "$CI"; do
  "$ENVX" identity new -o "$id" -q >/dev/null || {
    echo "Bail out! identity new"
    exit 1
  }
done
ci_pub=$("$ENVX" --identity "$CI" identity show)
bob_pub=$("$ENVX" --identity "$BOB" identity show)
"$ENVX" access grant staging "$bob_pub" --label bob --role write -q &&
  "$ENVX" access grant production "$ci_pub" --label ci --role read -q &&
  "$ENVX" --identity "$BOB" access accept $(trust_line staging) -q &&
  "$ENVX" --identity "$CI" access accept $(trust_line production) -q || {
  echo "Bail out! grant and accept"
  exit 1
}
printf 'stg-by-bob' | "$ENVX" --identity "$BOB" set staging BOB_KEY -q || {
  echo "Bail out! bob cannot write staging"
  exit 1
}
cp envx.vault "$TEST_DIR/good.vault"
printf 'x' >"$TEST_DIR/x"

# Mallory works on her own machine: her own record of verified states.
mal() {
  XDG_STATE_HOME="$TEST_DIR/mal-state" "$ENVX" --identity "$MAL" "$@"
}

# A CI runner: a fresh HOME, the identity (with its trust line) in
# $ENVX_IDENTITY, nothing else.
ci() {
  local home
  home=$(mktemp -d "$TEST_DIR/runner.XXXXXX")
  HOME="$home" XDG_CONFIG_HOME="$home/.config" XDG_STATE_HOME="$home/.state" \
    ENVX_IDENTITY="$(cat "$CI")" run --vault "$PWD/envx.vault" "$@"
}

restore() {
  cp "$TEST_DIR/good.vault" envx.vault && forget_seen
}

# refused_everywhere MESSAGE: Alice's get, export and exec and the CI
# runner's all exit 4 with MESSAGE, and print or run nothing forged.
refused_everywhere() {
  local msg=$1
  rm -f ran
  fails 4 "$msg" get production DATABASE_URL &&
    ! expect_out evil 2>/dev/null &&
    fails 4 "$msg" export production &&
    ! expect_out evil 2>/dev/null &&
    fails 4 "$msg" exec production -- touch ran && [ ! -e ran ] &&
    ci get production DATABASE_URL && expect_rc 4 && expect_err "$msg" &&
    ! expect_out evil 2>/dev/null
}

t_baseline() {
  run get production DATABASE_URL && expect_rc 0 && expect_out postgres://real &&
    ci get production DATABASE_URL && expect_rc 0 && expect_out postgres://real &&
    run --identity "$BOB" get staging BOB_KEY && expect_out stg-by-bob &&
    run history staging BOB_KEY && expect_out "bob " &&
    run access list staging && expect_out "bob" && expect_out "write" &&
    expect_out "only one admin"
}
ok "baseline: Alice, Bob and the CI runner read what they may; the author is the signer" t_baseline

# 1. Mallory re-creates production with envx itself: a new key sealed to
# Alice's and the CI key's public keys, her value, a valid MAC, her own
# signed access log.
t_env_recreated() {
  mal env rm production --force -q &&
    mal env add production -q &&
    mal access grant production "$alice_pub" --label alice --role admin -q &&
    mal access grant production "$ci_pub" --label ci --role read -q &&
    printf 'postgres://evil' | mal set production DATABASE_URL -q &&
    refused_everywhere "no admin this identity trusts"
  local rc=$?
  restore
  return $rc
}
ok "an environment re-created by someone without access: exit 4 for Alice and a fresh CI runner" t_env_recreated

# 2. Mallory substitutes the whole vault with one she made, granting Alice's
# and CI's keys; with her own vault id, and with the victim's id copied in.
t_substituted_vault() {
  mkdir -p "$TEST_DIR/mal" &&
    (cd "$TEST_DIR/mal" && mal init --env production -q &&
      mal access grant production "$alice_pub" --label alice --role admin -q &&
      mal access grant production "$ci_pub" --label ci -q &&
      printf 'postgres://evil' | mal set production DATABASE_URL -q) &&
    cp "$TEST_DIR/mal/envx.vault" envx.vault &&
    refused_everywhere "no admin this identity trusts" &&
    sqlite3 envx.vault "ATTACH '$TEST_DIR/good.vault' AS old; UPDATE vault SET vault_id = (SELECT vault_id FROM old.vault)" &&
    fails 4 "does not verify" get production DATABASE_URL && ! expect_out evil 2>/dev/null &&
    ci get production DATABASE_URL && expect_rc 4 && ! expect_out evil 2>/dev/null
  local rc=$?
  restore
  return $rc
}
ok "a whole vault substituted by one the attacker made (own or copied vault id): exit 4" t_substituted_vault

# 2b. Another vault Alice signed herself (another project's) put in this
# one's place: her own key trusts it, the path she read before does not.
t_own_other_vault() {
  mkdir -p "$TEST_DIR/other" &&
    (cd "$TEST_DIR/other" && "$ENVX" init --env production -q &&
      printf 'postgres://other-project' | "$ENVX" set production DATABASE_URL -q) &&
    run get production DATABASE_URL && expect_rc 0 &&
    cp "$TEST_DIR/other/envx.vault" envx.vault &&
    fails 4 "held another vault" get production DATABASE_URL &&
    ! expect_out other-project 2>/dev/null && expect_err "envx trust reset production" &&
    run trust reset production && expect_rc 0 &&
    run get production DATABASE_URL && expect_out postgres://other-project
  local rc=$?
  restore
  return $rc
}
ok "another vault of your own put in this one's place: exit 4 until trust reset" t_own_other_vault

# 3. Bob, a writer of staging only, cannot write production, cannot change
# staging's access, and rows he adds by hand are refused.
t_bob_limits() {
  local before
  before=$(sum_of envx.vault)
  run_in "$TEST_DIR/x" --identity "$BOB" set production X && expect_rc 3 &&
    expect_err "cannot unlock environment 'production'" &&
    run --identity "$BOB" access grant staging "$ci_pub" --label ci2 --role read &&
    expect_rc 3 && expect_err "only an admin of 'staging'" &&
    [ "$(sum_of envx.vault)" = "$before" ] &&
    # a recipient row copied in by hand: the signed recipients differ
    sqlite3 envx.vault "INSERT INTO recipients (env_id, label, kind, public_key, kdf, wrapped_key, created_at)
      SELECT env_id, 'sneaky', kind, public_key, kdf, wrapped_key, created_at FROM recipients
      WHERE label = 'bob'" &&
    fails 4 "recipients differ from those its admins signed" get staging API_KEY
  local rc=$?
  restore
  return $rc
}
ok "a staging writer cannot write production or grant, and a recipient added by hand is refused" t_bob_limits

# 4. The signer set and signatures edited in the file.
t_signer_set_edited() {
  sqlite3 envx.vault "UPDATE access_log SET role = 'admin' WHERE label = 'bob'" &&
    fails 4 "signature that does not verify" get staging API_KEY && restore &&
    sqlite3 envx.vault "UPDATE access_log SET subject = (SELECT signer FROM access_log WHERE seq = 1 LIMIT 1) WHERE label = 'bob'" &&
    fails 4 "refused" get staging API_KEY && restore &&
    sqlite3 envx.vault "DELETE FROM access_log WHERE label = 'bob'" &&
    fails 4 "refused" get staging API_KEY && restore &&
    sqlite3 envx.vault "UPDATE seals SET sig = zeroblob(64)" &&
    fails 4 "signature does not verify" get staging API_KEY && restore &&
    sqlite3 envx.vault "DELETE FROM seals WHERE env_id = (SELECT id FROM envs WHERE name = 'staging')" &&
    fails 4 "signed state is missing" get staging API_KEY && restore &&
    sqlite3 envx.vault "UPDATE envs SET generation = generation + 1 WHERE name = 'staging'" &&
    fails 4 "refused" get staging API_KEY
  local rc=$?
  restore
  return $rc
}
ok "roles, subjects, log entries, state signatures and generations edited in the file: exit 4" t_signer_set_edited

# 5. An access entry Bob signed in his own vault, spliced into this one.
t_grant_not_by_admin() {
  mkdir -p "$TEST_DIR/bobs" &&
    (cd "$TEST_DIR/bobs" && "$ENVX" --identity "$BOB" init --env staging -q &&
      "$ENVX" --identity "$BOB" access grant staging "$ci_pub" --label ci -q) &&
    sqlite3 envx.vault "ATTACH '$TEST_DIR/bobs/envx.vault' AS b;
      INSERT INTO access_log SELECT (SELECT id FROM envs WHERE name = 'staging'),
        (SELECT max(seq) + 1 FROM access_log WHERE env_id = (SELECT id FROM envs WHERE name = 'staging')),
        at, action, label, role, subject, recipients, signer, prev, sig FROM b.access_log WHERE seq = 2" &&
    fails 4 "refused" get staging API_KEY
  local rc=$?
  restore
  return $rc
}
ok "a grant signed elsewhere and spliced into the access log: exit 4" t_grant_not_by_admin

# 6. The audit log's actor is the signer; editing the event its state
# covers is refused.
t_audit_actor() {
  run --json history staging BOB_KEY && expect_out '"author": "bob ' &&
    sqlite3 envx.vault "UPDATE audit SET actor = 'alice' WHERE seq = (SELECT max(seq) FROM audit)" &&
    fails 4 "audit event" get staging API_KEY && restore &&
    # an event edited after production's signed state (Bob's write to
    # staging): production's next writer refuses to sign over it
    sqlite3 envx.vault "UPDATE audit SET actor = 'mallory', detail = 'x' WHERE seq = (SELECT max(seq) FROM audit)" &&
    local before && before=$(sum_of envx.vault) &&
    run_in "$TEST_DIR/x" set production DATABASE_URL && expect_rc 4 &&
    expect_err "audit log was edited" && [ "$(sum_of envx.vault)" = "$before" ]
  local rc=$?
  restore
  return $rc
}
ok "the audit actor is the signer; an edited covered event is exit 4, and no writer signs over an event edited since its signed state" t_audit_actor

# 7. A writer demoted to read can no longer write; his old write, replayed
# from a copy made while he could, is refused where the demotion was seen.
t_demoted_writer() {
  cp envx.vault "$TEST_DIR/bob-era.vault" &&
    "$ENVX" access grant staging "$bob_pub" --label bob --role read -q &&
    run access list staging && expect_out "bob" && expect_out "read" &&
    run_in "$TEST_DIR/x" --identity "$BOB" set staging BOB_KEY && expect_rc 3 &&
    expect_err "may only read it" &&
    run get staging API_KEY && expect_rc 0 &&
    # Bob writes on his old copy, where he was a writer, and puts it back
    cp "$TEST_DIR/bob-era.vault" "$TEST_DIR/bobcopy.vault" &&
    printf 'postgres://evil' | XDG_STATE_HOME="$TEST_DIR/bobstate" "$ENVX" --vault "$TEST_DIR/bobcopy.vault" \
      --identity "$BOB" set staging API_KEY -q &&
    cp "$TEST_DIR/bobcopy.vault" envx.vault &&
    fails 4 "this machine verified" get staging API_KEY && ! expect_out evil 2>/dev/null
  local rc=$?
  restore
  return $rc
}
ok "a demoted writer cannot write; his write replayed from an older copy is refused (exit 4)" t_demoted_writer

# 8. Rollback of one environment to an older, validly signed state.
t_rollback() {
  printf 'postgres://new' | "$ENVX" set production DATABASE_URL -q &&
    run get production DATABASE_URL && expect_out postgres://new &&
    cp "$TEST_DIR/good.vault" envx.vault &&
    fails 4 "older than the state this machine verified" get production DATABASE_URL &&
    expect_err "envx trust reset production" && ! expect_out postgres://real 2>/dev/null &&
    # a CI runner has no memory: ENVX_MIN_GENERATION pins one
    ci get production DATABASE_URL && expect_rc 0 &&
    ci --json access list production && expect_rc 0 &&
    gen=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["generation"])' "$TEST_DIR/run.out") &&
    ENVX_MIN_GENERATION=$((gen + 1)) ci get production DATABASE_URL && expect_rc 4 &&
    expect_err "below ENVX_MIN_GENERATION" &&
    ENVX_MIN_GENERATION="staging=99,production=$gen" ci get production DATABASE_URL && expect_rc 0 &&
    # accepting it deliberately is audited
    run trust reset production && expect_rc 0 &&
    run get production DATABASE_URL && expect_rc 0 && expect_out postgres://real &&
    [ "$(sqlite3 envx.vault "SELECT count(*) FROM audit WHERE action = 'trust-reset' AND env = 'production'")" = 1 ]
  local rc=$?
  restore
  return $rc
}
ok "a rolled-back environment: exit 4 naming trust reset; ENVX_MIN_GENERATION for CI; trust reset audited" t_rollback

# 9. Downgrade: the forged vault dressed as format 3 (no signatures).
t_downgrade() {
  run get production DATABASE_URL && expect_rc 0 &&
    sqlite3 envx.vault "DROP TABLE access_log; DROP TABLE seals; DROP TABLE mac_buckets; DROP INDEX secrets_bucket; ALTER TABLE secrets DROP COLUMN bucket; PRAGMA user_version = 3" &&
    fails 4 "cannot prove who wrote it" get production DATABASE_URL &&
    ci get production DATABASE_URL && expect_rc 4 && expect_err "cannot prove who wrote it"
  local rc=$?
  restore
  return $rc
}
ok "a signed vault turned back into format 3: exit 4 for a reader that trusts it" t_downgrade

# 10. Accepting is explicit: an identity that was granted but did not
# accept, and malformed trust lines.
t_accept_explicit() {
  local dave="$TEST_DIR/dave.id"
  "$ENVX" identity new -o "$dave" -q >/dev/null &&
    "$ENVX" access grant staging "$("$ENVX" --identity "$dave" identity show)" --label dave --role read -q &&
    fails 4 "no admin this identity trusts" --identity "$dave" get staging API_KEY &&
    expect_err "envx access accept" &&
    run --identity "$dave" access accept 0123 staging envxsig1abc && expect_rc 7 &&
    expect_err "invalid trust line" &&
    ENVX_TRUST="trust nonsense" run --identity "$dave" get staging API_KEY && expect_rc 7 &&
    "$ENVX" --identity "$dave" access accept $(trust_line staging) -q &&
    run --identity "$dave" get staging API_KEY && expect_rc 0 && expect_out stg-real &&
    grep -q '^trust ' "$dave" && [ "$(stat -c %a "$dave")" = 600 ]
  local rc=$?
  restore
  return $rc
}
ok "access must be accepted explicitly (trust line in the identity file); bad trust lines are exit 7" t_accept_explicit

# 11. An older vault is read only on request, never written to silently,
# and upgraded by an identity that opens every environment. The format-3
# vault of tests/data/format3 was made by envx 0.x (format 4: init, set
# staging K=v, grant bob write) with its signature tables then dropped;
# owner.id made it, bob.id is bob. Format 5's MAC differs from format 3's,
# so no SQL turns a vault made now into a valid format-3 one.
t_upgrade() {
  local before F="$ENVX_TEST_DATA/format3"
  local O="--identity $TEST_DIR/owner3.id" B3="--identity $TEST_DIR/bob3.id"
  mkdir -p "$TEST_DIR/old" && cd "$TEST_DIR/old" &&
    cp "$F/envx.vault" . && chmod 644 envx.vault &&
    cp "$F/owner.id" "$TEST_DIR/owner3.id" && cp "$F/bob.id" "$TEST_DIR/bob3.id" &&
    chmod 600 "$TEST_DIR/owner3.id" "$TEST_DIR/bob3.id" &&
    [ "$(sqlite3 envx.vault 'PRAGMA user_version')" = 3 ] &&
    forget_seen && before=$(sum_of envx.vault) &&
    fails 4 "cannot prove who wrote it" $O get staging K && expect_err "envx upgrade" &&
    ENVX_ACCEPT_UNSIGNED=1 run $O get staging K && expect_rc 0 && expect_out v &&
    expect_err "warning: vault" &&
    ENVX_ACCEPT_UNSIGNED=1 run_in "$TEST_DIR/x" $O set staging K && expect_rc 4 &&
    expect_err "run 'envx upgrade'" &&
    run $B3 upgrade && expect_rc 3 && expect_err "cannot open 'local'" &&
    [ "$(sum_of envx.vault)" = "$before" ] &&
    run $O upgrade && expect_rc 0 && expect_err "from format 3 to 5" &&
    [ "$(sqlite3 envx.vault 'PRAGMA user_version')" = 5 ] &&
    run $O get staging K && expect_rc 0 && expect_out v && ! expect_err warning 2>/dev/null &&
    run $O list staging && expect_rc 0 &&
    run $O access list staging && expect_out admin &&
    # upgraded again: nothing to do
    run $O upgrade && expect_rc 0 && expect_err "already in format 5"
  local rc=$?
  cd "$TEST_DIR/work" || return 1
  return $rc
}
ok "an older vault: refused unless ENVX_ACCEPT_UNSIGNED=1, never written to, and envx upgrade signs it" t_upgrade

# 11b. Format 4 to 5 (SPEC VF-4.5): tests/data/format4 was made by envx 0.x
# (format 4): owner.id made every environment, staging's API_KEY has three
# versions, bob writes staging only, carol reads all three (both accepted
# the owner's trust lines). The upgrade re-signs every state, so only an
# identity that writes to every environment may run it; otherwise nothing
# changes. Afterwards the values and history read back, generations are one
# higher, and writes work.
t_upgrade_4_to_5() {
  local before gens F="$ENVX_TEST_DATA/format4"
  local O="--identity $TEST_DIR/owner4.id"
  mkdir -p "$TEST_DIR/old4" && cd "$TEST_DIR/old4" &&
    cp "$F/envx.vault" . && chmod 644 envx.vault &&
    for w in owner bob carol; do cp "$F/$w.id" "$TEST_DIR/${w}4.id" && chmod 600 "$TEST_DIR/${w}4.id" || return 1; done &&
    [ "$(sqlite3 envx.vault 'PRAGMA user_version')" = 4 ] &&
    before=$(sum_of envx.vault) &&
    gens=$(sqlite3 envx.vault "SELECT group_concat(generation + 1) FROM (SELECT generation FROM envs ORDER BY name)") &&
    # format 4 is read by its own rules, and not written to
    run $O get staging API_KEY && expect_rc 0 && expect_out stg-3 &&
    run_in "$TEST_DIR/x" $O set staging K && expect_rc 4 && expect_err "run 'envx upgrade'" &&
    run --identity "$TEST_DIR/bob4.id" upgrade && expect_rc 3 && expect_err "cannot open 'local'" &&
    run --identity "$TEST_DIR/carol4.id" get production DATABASE_URL && expect_rc 0 &&
    run --identity "$TEST_DIR/carol4.id" upgrade && expect_rc 3 && expect_err "not a writer of 'local'" &&
    [ "$(sum_of envx.vault)" = "$before" ] &&
    # an index that disagrees with its table (envs' name index swapped for
    # another's root page) could hide an environment from the upgrade: the
    # whole file is checked first
    cp envx.vault "$TEST_DIR/idx4.vault" &&
    sqlite3 "$TEST_DIR/idx4.vault" "PRAGMA writable_schema = ON; UPDATE sqlite_master SET rootpage =
      (SELECT rootpage FROM sqlite_master WHERE name = 'sqlite_autoindex_recipients_1') WHERE name = 'sqlite_autoindex_envs_1';" &&
    run $O --vault "$TEST_DIR/idx4.vault" upgrade && expect_rc 4 &&
    [ "$(sqlite3 "$TEST_DIR/idx4.vault" 'PRAGMA user_version')" = 4 ] &&
    run $O upgrade && expect_rc 0 && expect_err "from format 4 to 5" &&
    [ "$(sqlite3 envx.vault 'PRAGMA user_version')" = 5 ] &&
    [ "$(sqlite3 envx.vault "SELECT group_concat(generation) FROM (SELECT generation FROM envs ORDER BY name)")" = "$gens" ] &&
    [ "$(sqlite3 envx.vault "SELECT count(*) FROM secrets WHERE bucket < 0")" = 0 ] &&
    [ "$(sqlite3 envx.vault "SELECT count(*) FROM audit WHERE action = 'upgrade' AND detail = 'format 4 to 5'")" = 3 ] &&
    run $O get staging API_KEY && expect_rc 0 && expect_out stg-3 &&
    run $O history staging API_KEY && expect_rc 0 &&
    [ "$(printf '%s\n' "$OUT" | grep -c '^ *[0-9]')" = 3 ] &&
    run $O get production DATABASE_URL && expect_out postgres://prod &&
    run $O exec local -- sh -c 'test "$LOCAL_ONLY" = l' && expect_rc 0 &&
    run --identity "$TEST_DIR/carol4.id" get production DATABASE_URL && expect_rc 0 && expect_out postgres://prod &&
    printf 'stg-4' | "$ENVX" --identity "$TEST_DIR/bob4.id" set staging API_KEY -q &&
    run $O get staging API_KEY && expect_out stg-4 &&
    run $O upgrade && expect_rc 0 && expect_err "already in format 5"
  local rc=$?
  cd "$TEST_DIR/work" || return 1
  return $rc
}
ok "format 4 to 5: refused (file unchanged) unless the upgrader writes every environment; values, history and writes afterwards" t_upgrade_4_to_5

# 12. The trust settings fail closed: a mistyped floor is a usage error,
# and a record of verified states that is not a private regular file is
# refused, never skipped (and a FIFO never waited on).
t_trust_settings_fail_closed() {
  local bad state="$HOME/.local/state/envx"
  for bad in abc production=abc 0x10 production=1e3 Production=9 'production = 9' \
    production=1,production=2 'production=9;staging=1' 0 production=; do
    ENVX_MIN_GENERATION=$bad run get production DATABASE_URL && expect_rc 2 &&
      expect_err "invalid ENVX_MIN_GENERATION" || { echo "accepted: $bad" >&2; return 1; }
  done
  mv "$state/seen" "$TEST_DIR/seen.real" && ln -s "$TEST_DIR/seen.real" "$state/seen" &&
    fails 8 "regular file" get production DATABASE_URL &&
    rm "$state/seen" && mkfifo "$state/seen" &&
    timeout 10 "$ENVX" get production DATABASE_URL >/dev/null 2>"$TEST_DIR/fifo.err"; local rc=$?
  rm -f "$state/seen" && mv "$TEST_DIR/seen.real" "$state/seen"
  [ "$rc" = 8 ] && grep -q "regular file" "$TEST_DIR/fifo.err"
}
ok "a malformed ENVX_MIN_GENERATION is exit 2; a symlinked or FIFO record of verified states is exit 8" t_trust_settings_fail_closed

finish
