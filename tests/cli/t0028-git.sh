#!/usr/bin/env bash
# git integration (SPEC §9): `envx git setup` wires the merge driver and the
# textconv into a real repository; `envx merge-driver` merges two branches'
# vaults by rows, signed by the merging identity, or reports conflicts by
# name and leaves ours as it was; `envx diff` shows names, never values.
. "$ENVX_SOURCE_ROOT/tests/cli/test-lib.sh"
command -v git >/dev/null || {
  echo "1..0 # SKIP git not installed"
  exit 0
}
# git runs the driver and the textconv as `envx ...` from PATH
PATH="$(dirname "$ENVX"):$PATH"
export GIT_CONFIG_NOSYSTEM=1 GIT_AUTHOR_NAME=t GIT_AUTHOR_EMAIL=t@example.com
export GIT_COMMITTER_NAME=t GIT_COMMITTER_EMAIL=t@example.com

# The setup steps below run envx itself, not through ENVX_TEST_WRAP
# (valgrind): other scripts test init and set under it, and here they are
# most of the envx runs. What this script tests (the merge driver, which git
# runs from PATH, diff, get, audit) stays wrapped.
SETUP_ENVX=$ENVX_UNWRAPPED
# A fresh repository with a vault, set up and committed on main.
repo() {
  rm -rf "$TEST_DIR/repo" "$HOME/.local/state"
  mkdir "$TEST_DIR/repo" && cd "$TEST_DIR/repo" || return 1
  git init -q -b main . && "$SETUP_ENVX" init >/dev/null 2>&1 &&
    "$SETUP_ENVX" git setup >/dev/null && git add -A && git commit -qm init
}
# set ENV NAME VALUE on the current branch and commit it
put() { printf '%s' "$3" | "$SETUP_ENVX" set "$1" "$2" >/dev/null 2>&1 && git commit -qam "set $2"; }
# Two branches from main: feature runs $1, main runs $2 (shell code).
branches() {
  git checkout -qb feature && eval "$1" && git checkout -q main && eval "$2"
}
merge() { git merge --no-edit feature >"$TEST_DIR/merge.out" 2>"$TEST_DIR/merge.err"; }
value_is() { [ "$("$ENVX" get "$1" "$2" 2>/dev/null)" = "$3" ]; }
# merge; it must fail naming $1, and leave ours as it was
refused() {
  cp envx.vault "$TEST_DIR/ours.vault" &&
    ! merge && grep -q "CONFLICT" "$TEST_DIR/merge.out" &&
    grep -qF -- "$1" "$TEST_DIR/merge.err" &&
    cmp -s envx.vault "$TEST_DIR/ours.vault" && git merge --abort
}

t_setup() {
  rm -rf "$TEST_DIR/s" && mkdir "$TEST_DIR/s" && cd "$TEST_DIR/s" &&
    git init -q . && "$ENVX" init >/dev/null 2>&1 &&
    printf '*.png binary\n' >.gitattributes &&
    run git setup && expect_rc 0 &&
    expect_out "set 'envx.vault merge=envx diff=envx'" &&
    expect_out "set merge.envx.driver = envx merge-driver %O %A %B" &&
    [ "$(cat .gitattributes)" = "$(printf '*.png binary\nenvx.vault merge=envx diff=envx')" ] &&
    [ "$(git config --local merge.envx.name)" = "envx vault merge" ] &&
    [ "$(git config --local merge.envx.driver)" = "envx merge-driver %O %A %B" ] &&
    [ "$(git config --local diff.envx.textconv)" = "envx diff" ] &&
    run git setup && expect_rc 0 && expect_out "nothing changed" &&
    ! expect_out "set " 2>/dev/null &&
    [ "$(grep -c envx .gitattributes)" = 1 ] &&
    # a vault in a subdirectory gets its path from the root
    mkdir -p sub && cd sub && "$ENVX" init >/dev/null 2>&1 && cd .. &&
    run --vault sub/envx.vault git setup && expect_rc 0 &&
    grep -qx 'sub/envx.vault merge=envx diff=envx' .gitattributes
}
ok "git setup writes .gitattributes and .git/config, keeps lines, is idempotent" t_setup

t_setup_errors() {
  rm -rf "$TEST_DIR/n" && mkdir "$TEST_DIR/n" && cd "$TEST_DIR/n" &&
    "$ENVX" init >/dev/null 2>&1 &&
    run git setup && expect_rc 9 && expect_err "not in a git work tree" &&
    run git && expect_rc 2 && expect_err "missing subcommand" &&
    run git frobnicate && expect_rc 2 && expect_err "unknown subcommand 'frobnicate'" &&
    run git setup --bogus && expect_rc 2
}
ok "git setup outside a repository, without or with a bad subcommand fails" t_setup_errors

t_hooks() {
  repo && hook=.git/hooks/pre-commit &&
    run git setup --hooks && expect_rc 0 && expect_out "set pre-commit hook" &&
    [ -x "$hook" ] && grep -qx 'exec envx scan --staged' "$hook" &&
    head -1 "$hook" | grep -qx '#!/bin/sh' &&
    run git setup --hooks && expect_rc 0 && expect_out "nothing changed" &&
    printf '#!/bin/sh\nexit 0\n' >"$hook" &&
    run git setup --hooks && expect_rc 7 && expect_err "is not envx's hook" &&
    [ "$(cat "$hook")" = "$(printf '#!/bin/sh\nexit 0')" ]
}
ok "git setup --hooks installs an executable hook running envx scan --staged once, never clobbers another" t_hooks

t_parallel_adds() {
  repo && branches 'put staging FEATURE_KEY feature-value-1' 'put staging MAIN_KEY main-value-1' &&
    merge && grep -q "Merge made" "$TEST_DIR/merge.out" &&
    value_is staging FEATURE_KEY feature-value-1 && value_is staging MAIN_KEY main-value-1 &&
    run audit --verify && expect_rc 0 &&
    run audit && expect_out "merge" && expect_out "FEATURE_KEY" &&
    [ -z "$(git status --porcelain)" ]
}
ok "two branches that each set a different secret merge cleanly; both values read back" t_parallel_adds

t_parallel_edits() {
  repo && put staging TOKEN base-value &&
    branches 'put staging TOKEN feature-edit' 'sleep 1; put staging TOKEN main-edit' &&
    merge && grep -q "merge: staging/TOKEN: both sides wrote new versions" "$TEST_DIR/merge.err" &&
    grep -q "v3 (ours, written last) is current" "$TEST_DIR/merge.err" &&
    value_is staging TOKEN main-edit &&
    run history staging TOKEN && expect_rc 0 &&
    [ "$(printf '%s\n' "$OUT" | grep -c 'set')" -ge 3 ] &&
    [ "$("$ENVX" get staging TOKEN 2>/dev/null)" = main-edit ] &&
    # both versions are in the history, the ancestor's first
    "$ENVX" rollback staging TOKEN 2 >/dev/null 2>&1 && value_is staging TOKEN feature-edit &&
    ! grep -q 'feature-edit\|main-edit\|base-value' "$TEST_DIR/merge.err" "$TEST_DIR/merge.out"
}
ok "parallel edits of one secret: both versions kept, the later is current, the merge says so" t_parallel_edits

t_parallel_edits_theirs_later() {
  repo && put staging TOKEN base-value &&
    # theirs written a second after ours, whatever the machine's speed
    git branch feature && put staging TOKEN main-edit && sleep 1 &&
    git checkout -q feature && put staging TOKEN feature-edit && git checkout -q main &&
    merge && grep -q "v3 (theirs, written last) is current" "$TEST_DIR/merge.err" &&
    value_is staging TOKEN feature-edit && run audit --verify && expect_rc 0
}
ok "the later edit wins when it is theirs too" t_parallel_edits_theirs_later

t_delete_vs_edit() {
  repo && put staging TOKEN base-value &&
    branches '"$ENVX" rm staging TOKEN >/dev/null 2>&1 && git commit -qam rm' 'put staging TOKEN main-edit' &&
    refused "merge conflict: staging/TOKEN: theirs removed it, ours changed it" &&
    ! ls .envx-merge-* >/dev/null 2>&1
}
ok "delete against edit is a conflict by name; the vault on disk is ours, unchanged" t_delete_vs_edit

t_verifies_for_ci() {
  repo && "$ENVX" access grant staging --new-key --label ci --role read >"$TEST_DIR/ci.key" 2>/dev/null &&
    git commit -qam grant &&
    branches 'put staging A_KEY value-a' 'put staging B_KEY value-b' && merge &&
    run audit --verify && expect_rc 0 &&
    [ "$(ENVX_IDENTITY=$(cat "$TEST_DIR/ci.key") HOME=$TEST_DIR/ci-home "$ENVX" get staging A_KEY)" = value-a ] &&
    [ "$(ENVX_IDENTITY=$(cat "$TEST_DIR/ci.key") HOME=$TEST_DIR/ci-home "$ENVX" get staging B_KEY)" = value-b ]
}
ok "a merge result verifies: audit --verify, get, and a CI key with only ENVX_IDENTITY" t_verifies_for_ci

t_no_signer() {
  repo && "$ENVX" access grant staging --new-key --label ci --role read >"$TEST_DIR/ci.key" 2>/dev/null &&
    git commit -qam grant &&
    branches 'put staging A_KEY value-a' 'put staging B_KEY value-b' &&
    ENVX_IDENTITY=$(cat "$TEST_DIR/ci.key") refused "staging: the merged state must be signed by a writer of 'staging', and your identity may only read it" &&
    ENVX_IDENTITY_FILE=$TEST_DIR/none refused "needs your identity"
}
ok "merging without an identity that may sign is a conflict; ours is left as it was" t_no_signer

t_parallel_grants() {
  repo && branches '"$ENVX" access grant staging --new-key --label ci-a --role read >"$TEST_DIR/a.key" 2>/dev/null && git commit -qam a' \
    '"$ENVX" access grant staging --new-key --label ci-b --role read >"$TEST_DIR/b.key" 2>/dev/null && git commit -qam b' &&
    put staging SHARED shared-value && merge &&
    run access list staging && expect_rc 0 && expect_out ci-a && expect_out ci-b &&
    [ "$(ENVX_IDENTITY=$(cat "$TEST_DIR/a.key") HOME=$TEST_DIR/a-home "$ENVX" get staging SHARED)" = shared-value ] &&
    [ "$(ENVX_IDENTITY=$(cat "$TEST_DIR/b.key") HOME=$TEST_DIR/b-home "$ENVX" get staging SHARED)" = shared-value ] &&
    run audit --verify && expect_rc 0
}
ok "parallel grants: both recipients kept, the merged access log re-signed by the admin" t_parallel_grants

t_rekey_one_side() {
  repo && put staging OLD old-value &&
    branches '"$ENVX" rekey staging >/dev/null 2>&1 && git commit -qam rekey' 'put staging NEW new-value' &&
    merge && value_is staging OLD old-value && value_is staging NEW new-value &&
    run audit --verify && expect_rc 0 &&
    [ "$(sql "SELECT count(*) FROM access_log a JOIN envs e ON e.id = a.env_id WHERE e.name = 'staging' AND a.action = 'rekey'")" = 1 ]
}
ok "a rekey on one side: the result has the new key and the other side's versions under it" t_rekey_one_side

t_env_added() {
  repo && branches '"$ENVX" env add qa >/dev/null 2>&1 && put qa Q qa-value' 'put staging S s-value' &&
    merge && value_is qa Q qa-value && value_is staging S s-value
}
ok "an environment added on one side is kept" t_env_added

# Mallory, a writer of staging on her own branch, with her own record of
# verified states.
MAL="$TEST_DIR/mallory.id"
"$ENVX" identity new -o "$MAL" -q >/dev/null || {
  echo "Bail out! identity new"
  exit 1
}
mal() { XDG_STATE_HOME="$TEST_DIR/mal-state" "$ENVX" --identity "$MAL" "$@"; }
# the same, for setup steps (unwrapped, see SETUP_ENVX)
mal_setup() { XDG_STATE_HOME="$TEST_DIR/mal-state" "$SETUP_ENVX" --identity "$MAL" "$@"; }
# skewed SECONDS COMMAND...: COMMAND with time() that many seconds ahead
# (clock-preload.c; ASan's link-order check does not allow a preload)
skewed() {
  ENVX_CLOCK_SKEW=$1 LD_PRELOAD="$ENVX_CLOCK_PRELOAD" \
    ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0" "${@:2}"
}
# a repository where Mallory writes staging
repo_with_mallory() {
  rm -rf "$TEST_DIR/mal-state"
  repo && put staging TOKEN base-value &&
    "$SETUP_ENVX" access grant staging "$("$SETUP_ENVX" --identity "$MAL" identity show)" --label mallory --role write -q &&
    mal_setup access accept $(trust_line staging) -q && git commit -qam "grant mallory"
}

t_revoked_writer() {
  # after an incident on main (Mallory revoked, the key rotated), her
  # branch's value, dated to win, must not come back through the merge
  repo_with_mallory &&
    branches 'printf evil | skewed 86400 mal set staging TOKEN -q && git commit -qam evil' \
      '"$ENVX" access revoke staging mallory >/dev/null 2>&1 && put staging TOKEN rotated-value' &&
    refused "staging: ours revoked or demoted a member since the branch point, and theirs changed its secrets meanwhile" &&
    # the same without a new value on main: only the revoke
    repo_with_mallory &&
    branches 'printf evil | mal set staging TOKEN -q && git commit -qam evil' \
      '"$ENVX" access revoke staging mallory >/dev/null 2>&1 && git commit -qam revoke' &&
    refused "ours revoked or demoted a member" &&
    # and the other way round: the revoke on the branch merged in
    repo_with_mallory &&
    branches '"$ENVX" access revoke staging mallory >/dev/null 2>&1 && git commit -qam revoke' \
      'printf evil | mal set staging TOKEN -q && git commit -qam evil' &&
    refused "staging: theirs revoked or demoted a member since the branch point, and ours changed its secrets meanwhile" &&
    # a demotion to read is the same
    repo_with_mallory &&
    branches '"$ENVX" access grant staging "$("$ENVX" --identity "$MAL" identity show)" --label mallory --role read -q && git commit -qam demote' \
      'printf evil | mal set staging TOKEN -q && git commit -qam evil' &&
    refused "theirs revoked or demoted a member"
}
ok "a member revoked or demoted on one side: the other side's changes of that environment are a conflict" t_revoked_writer

t_future_dated() {
  repo_with_mallory &&
    branches 'printf early | skewed 86400 mal set staging TOKEN -q && git commit -qam early' \
      'put staging TOKEN main-edit' &&
    refused "staging/TOKEN: theirs's v2 is dated" &&
    # a clock a minute ahead is within the allowance
    repo_with_mallory &&
    branches 'printf soon | skewed 60 mal set staging TOKEN -q && git commit -qam soon' \
      'put staging TOKEN main-edit' &&
    merge && value_is staging TOKEN soon && run audit --verify && expect_rc 0
}
ok "a version dated after the merge (a clock set ahead) is a conflict, not the current one" t_future_dated

t_forged_events() {
  # events appended to theirs' file (a valid unkeyed chain) are not signed
  # into the result by the merger
  repo && put staging TOKEN base-value &&
    branches 'put staging FEATURE_KEY f && forge_event incident staging "" "forged" && git commit -qam forged' \
      'put staging MAIN_KEY m' &&
    refused "theirs' audit log has 1 event that no signed state of theirs covers, from #" &&
    # one of an environment theirs did not change at all
    repo && put staging TOKEN base-value &&
    branches 'forge_event access-grant production "" "mallory write" && git commit -qam forged' \
      'put staging MAIN_KEY m' &&
    refused "('access-grant' of production)"
}
ok "audit events added to theirs outside envx are a conflict, never re-signed by the merge" t_forged_events

t_env_removed() {
  repo && put production P p-value &&
    branches '"$ENVX" env rm production --force >/dev/null 2>&1 && git commit -qam rm' 'put staging S s' &&
    refused "environment 'production': theirs removed it; a removal carries no signature" &&
    # removed on both sides: theirs' env-rm event is signed by nobody, so
    # it is not signed into the result either
    repo && put production P p-value &&
    branches '"$ENVX" env rm production --force >/dev/null 2>&1 && git commit -qam rm' \
      '"$ENVX" env rm production --force >/dev/null 2>&1 && put staging S s' &&
    refused "('env-rm' of production): added outside envx"
}
ok "an environment removed on theirs is a conflict (a removal is not signed), even when ours removed it too" t_env_removed

# graft_env OLD ENV: ENV's rows in ./envx.vault replaced by those of the
# older copy OLD, with sqlite alone: an older, validly signed state put back
graft_env() {
  local id="(SELECT id FROM envs WHERE name = '$2')" oid="(SELECT id FROM old.envs WHERE name = '$2')"
  sqlite3 envx.vault "ATTACH '$1' AS old; BEGIN;
    DELETE FROM versions WHERE secret_id IN (SELECT id FROM secrets WHERE env_id = $id);
    DELETE FROM secrets WHERE env_id = $id; DELETE FROM recipients WHERE env_id = $id;
    DELETE FROM access_log WHERE env_id = $id; DELETE FROM seals WHERE env_id = $id;
    DELETE FROM allowed_names WHERE env_id = $id; DELETE FROM mac_buckets WHERE env_id = $id;
    UPDATE envs SET (key_commit, generation, mac) =
      (SELECT key_commit, generation, mac FROM old.envs WHERE name = '$2') WHERE name = '$2';
    INSERT INTO secrets SELECT * FROM old.secrets WHERE env_id = $oid;
    INSERT INTO versions SELECT v.* FROM old.versions v JOIN old.secrets s ON s.id = v.secret_id WHERE s.env_id = $oid;
    INSERT INTO recipients SELECT * FROM old.recipients WHERE env_id = $oid;
    INSERT INTO access_log SELECT * FROM old.access_log WHERE env_id = $oid;
    INSERT INTO seals SELECT * FROM old.seals WHERE env_id = $oid;
    INSERT INTO allowed_names SELECT * FROM old.allowed_names WHERE env_id = $oid;
    INSERT INTO mac_buckets SELECT * FROM old.mac_buckets WHERE env_id = $oid;
    COMMIT;"
}

t_rollback_from_branch() {
  # production rotated and Mallory revoked on main; a branch puts
  # production's older signed rows back (no key needed): not signed again
  repo_with_mallory && put production DB_PASSWORD prod-v1 &&
    "$ENVX" access grant production "$("$ENVX" --identity "$MAL" identity show)" --label mallory --role write -q &&
    git commit -qam "grant mallory production" && git show HEAD:envx.vault >"$TEST_DIR/old.vault" &&
    "$ENVX" access revoke production mallory >/dev/null 2>&1 && put production DB_PASSWORD prod-v2 &&
    branches 'graft_env "$TEST_DIR/old.vault" production && git commit -qam harmless' 'put staging S s' &&
    refused "production: theirs's state of it was signed at audit event" &&
    # the same when ours changed production too (both sides' rows merged)
    git branch -qD feature && branches 'graft_env "$TEST_DIR/old.vault" production && git commit -qam harmless2' \
      'put production OTHER o' &&
    refused "production: theirs's state of it was signed at audit event"
}
ok "an older signed state of an environment put back on a branch is a conflict, never signed again" t_rollback_from_branch

t_demoted_admin_grants() {
  # ours demotes Mallory (an admin); theirs, where she is still admin,
  # grants a key: the merge does not re-sign her grant
  local pin
  repo && pin=$(trust_line staging) && rm -rf "$TEST_DIR/mal-state" &&
    "$ENVX" access grant staging "$("$ENVX" --identity "$MAL" identity show)" --label mallory --role admin -q &&
    mal access accept $pin -q && git commit -qam "mallory admin" &&
    branches 'mal access grant staging --new-key --label eve --role admin >/dev/null 2>&1 && git commit -qam eve' \
      '"$ENVX" access grant staging "$("$ENVX" --identity "$MAL" identity show)" --label mallory --role read -q && git commit -qam demote' &&
    refused "staging: both sides changed access to it and one of them rekeyed, revoked or demoted"
}
ok "a member demoted on one side and grants on the other: a conflict, the grants are not re-signed" t_demoted_admin_grants

t_compromised_kept() {
  # after an incident, ours rotates TOKEN; theirs sets the leaked value
  # again later: it becomes current, and stays marked compromised
  repo_with_mallory && "$ENVX" incident staging --reason leak >/dev/null 2>&1 && git commit -qam incident &&
    git branch feature && put staging TOKEN rotated && sleep 1 &&
    git checkout -q feature && printf base-value | mal set staging TOKEN -q && git commit -qam again &&
    git checkout -q main && merge && value_is staging TOKEN base-value &&
    [ "$(sql "SELECT state FROM secrets WHERE name = 'TOKEN' AND env_id = (SELECT id FROM envs WHERE name = 'staging')")" = 1 ]
}
ok "the compromised mark follows the current version: a leaked value set again on theirs stays marked" t_compromised_kept

state_of() { sql "SELECT state FROM secrets WHERE name = '$2' AND env_id = (SELECT id FROM envs WHERE name = '$1')"; }

t_incident_one_side() {
  # an incident on main after the branch point, its rotation clearing
  # main's mark; the branch, which never saw the incident, sets the leaked
  # value again later and adds a secret, both under the exposed key: they
  # become current and are marked compromised; main's rotation is not
  repo_with_mallory && put staging OTHER other-value && git branch feature &&
    "$ENVX" incident staging --reason leak >/dev/null 2>&1 &&
    put staging TOKEN rotated && put staging OTHER other-rotated && sleep 1 &&
    git checkout -q feature && printf base-value | mal set staging TOKEN -q &&
    printf new-value | mal set staging NEW_KEY -q && git commit -qam again &&
    git checkout -q main && merge && value_is staging TOKEN base-value &&
    [ "$(state_of staging TOKEN)" = 1 ] && [ "$(state_of staging NEW_KEY)" = 1 ] &&
    [ "$(state_of staging OTHER)" = 0 ] && value_is staging OTHER other-rotated &&
    grep -q "staging/TOKEN.*marked compromised: ours had an incident since the branch point" "$TEST_DIR/merge.err" &&
    run exec staging --refuse-compromised -- true && expect_rc 1 &&
    # the merge recorded which versions were written under the exposed
    # key: rotating, then rolling back to one, or setting its value again,
    # is compromised again
    run audit staging --name NEW_KEY && expect_rc 0 && expect_out "exposed" &&
    put staging NEW_KEY fresh-value && [ "$(state_of staging NEW_KEY)" = 0 ] &&
    "$ENVX" rollback staging NEW_KEY 1 -q && [ "$(state_of staging NEW_KEY)" = 1 ] &&
    put staging NEW_KEY fresh-value-2 && [ "$(state_of staging NEW_KEY)" = 0 ] &&
    put staging NEW_KEY new-value && [ "$(state_of staging NEW_KEY)" = 1 ] &&
    # the other way round: the incident on the branch merged into main
    repo_with_mallory && git checkout -qb feature &&
    "$ENVX" incident staging --reason leak >/dev/null 2>&1 && put staging TOKEN rotated &&
    sleep 1 && git checkout -q main && rm -rf "$HOME/.local/state" &&
    printf base-value | mal set staging TOKEN -q && git commit -qam again &&
    merge && value_is staging TOKEN base-value && [ "$(state_of staging TOKEN)" = 1 ] &&
    grep -q "marked compromised: theirs had an incident" "$TEST_DIR/merge.err" &&
    # a value already marked at the branch point, removed and set again on
    # the branch (a new v1, unmarked), while main had another incident: a
    # conflict, not a way around the mark
    repo_with_mallory && "$ENVX" incident staging --reason one >/dev/null 2>&1 && git commit -qam one &&
    git branch feature && "$ENVX" incident staging --reason two >/dev/null 2>&1 && git commit -qam two &&
    git checkout -q feature && mal rm staging TOKEN -q && printf base-value | mal set staging TOKEN -q &&
    git commit -qam again && git checkout -q main &&
    refused "staging/TOKEN: theirs's copy lacks versions the ancestor has"
}
ok "an incident on one side after the branch point: the other side's new values are marked compromised" t_incident_one_side

t_ours_forged_events() {
  # an event forged into ours (committed on main) after production's
  # signed state: the merge signs over it no more than a write does
  repo && put production P p-value && git branch feature &&
    forge_event rollback production P "rolled back to v1" && git commit -qam forged &&
    git checkout -q feature && put staging T t && git checkout -q main &&
    refused "ours' audit event" && grep -q "(rollback, of production) was added after production's last signed state" "$TEST_DIR/merge.err"
}
ok "audit events forged into ours are a conflict too, never signed by the merge" t_ours_forged_events

version_at() { sql "SELECT v.created_at FROM versions v JOIN secrets s ON s.id = v.secret_id WHERE s.name = '$2' AND v.version = $3 AND s.env_id = (SELECT id FROM envs WHERE name = '$1')"; }

t_same_metadata_other_key() {
  # after an incident (a rekey) on main, Mallory writes TOKEN v2 there; on
  # the branch, under the old key, she writes the leaked value as v2 dated
  # to the same second: the two are not one version because their dates
  # and authors match (their values differ), so the branch's is not kept
  local at tries=0
  repo_with_mallory && git branch feature &&
    "$ENVX" incident staging --reason leak >/dev/null 2>&1 && git commit -qam incident &&
    printf main-value | mal set staging TOKEN -q && git commit -qam main-set &&
    at=$(version_at staging TOKEN 2) && git checkout -q feature || return 1
  # (unwrapped: under valgrind the write takes longer than the second the
  # skew is computed for)
  until [ "$(version_at staging TOKEN 2)" = "$at" ]; do
    tries=$((tries + 1)) && [ $tries -le 5 ] || return 1
    git checkout -q -- envx.vault && rm -rf "$TEST_DIR/mal-state/envx" &&
      printf base-value | XDG_STATE_HOME="$TEST_DIR/mal-state" \
        skewed $((at - $(date +%s))) "$SETUP_ENVX" --identity "$MAL" set staging TOKEN -q || return 1
  done
  git commit -qam leaked && rm -rf "$HOME/.local/state" &&
    git merge --no-edit main >"$TEST_DIR/merge.out" 2>"$TEST_DIR/merge.err" &&
    value_is staging TOKEN main-value
}
ok "versions under two keys with the same date and author are compared by value" t_same_metadata_other_key

t_nothing_to_merge() {
  # theirs changed only the file's pages (ANALYZE adds sqlite_stat1): the
  # merge writes no event that no signed state covers; writes go on
  repo && put staging TOKEN base-value &&
    branches 'sqlite3 envx.vault ANALYZE && git commit -qam analyze' 'put staging MAIN_KEY m' &&
    merge && printf v | "$ENVX" set staging AFTER -q && printf v | "$ENVX" set production AFTER -q &&
    run audit --verify && expect_rc 0 && value_is staging MAIN_KEY m
}
ok "a merge with nothing to take writes nothing, and later writes work" t_nothing_to_merge

t_merge_then_env_rm() {
  # the merge's own event of no environment is covered by the seal of the
  # environment it merged; removing that environment leaves the event
  # before an env-rm: later writes of the others go on
  repo && put production P p-value &&
    branches 'put staging A_KEY a' 'put staging B_KEY b' && merge &&
    "$ENVX" env rm staging --force >/dev/null 2>&1 &&
    printf v | "$ENVX" set production AFTER -q && "$ENVX" env add qa >/dev/null 2>&1 &&
    run audit --verify && expect_rc 0
}
ok "a merge, then its environment removed: the others are still written" t_merge_then_env_rm

t_revoked_undone_change() {
  # a member revoked on main; on her branch she allowed a name and took it
  # back (rows as the ancestor's, generation not): still her writes
  repo_with_mallory &&
    branches 'mal env allow staging NODE_OPTIONS -q && mal env allow staging NODE_OPTIONS --remove -q && git commit -qam undo'       '"$ENVX" access revoke staging mallory >/dev/null 2>&1 && git commit -qam revoke' &&
    refused "ours revoked or demoted a member since the branch point, and theirs changed its secrets meanwhile"
}
ok "a revoked member's change undone on her branch is still a conflict" t_revoked_undone_change

t_vault_event_not_signed() {
  # an event of no environment added to the file: the next writer of any
  # environment does not sign over it
  repo && put staging TOKEN base-value &&
    forge_event rotate "" "" "all production secrets rotated, incident closed" &&
    { printf x | "$ENVX" set staging OTHER 2>"$TEST_DIR/set.err"; [ $? = 4 ]; } &&
    grep -q "(rotate, of no environment) was added after every signed state" "$TEST_DIR/set.err"
}
ok "an audit event of no environment added outside envx: no writer signs over it" t_vault_event_not_signed

t_log_names_only() {
  repo && put staging API_TOKEN sup3r-s3cret-value && git log -p >"$TEST_DIR/log" &&
    grep -q '^+  secret API_TOKEN v1' "$TEST_DIR/log" &&
    grep -q '^+audit .* set staging API_TOKEN' "$TEST_DIR/log" &&
    ! grep -q 'sup3r-s3cret-value' "$TEST_DIR/log" &&
    run diff envx.vault && expect_rc 0 && expect_out "(unverified)" &&
    [ "$(printf '%s\n' "$OUT" | grep -c unverified)" = 1 ] && ! expect_out sup3r 2>/dev/null
}
ok "git log -p shows names, versions and audit events, never values" t_log_names_only

t_driver_elsewhere() {
  repo && branches 'put staging FEATURE_KEY feature-value-1' 'put staging MAIN_KEY main-value-1' || return 1
  local d="$TEST_DIR/elsewhere"
  rm -rf "$d" && mkdir -p "$d/in" "$d/cwd" &&
    git show "$(git merge-base main feature):envx.vault" >"$d/in/O" &&
    git show main:envx.vault >"$d/in/A" && git show feature:envx.vault >"$d/in/B" &&
    cp "$d/in/A" "$d/in/A.before" || return 1
  # no vault in the current directory or above it, no ENVX_VAULT: the
  # driver works on the three paths it is given
  (cd "$d/cwd" && run merge-driver "$d/in/O" "$d/in/A" "$d/in/B" &&
    expect_rc 0 && expect_err "merged '$d/in/B' (theirs) into '$d/in/A' (ours)") &&
    ! cmp -s "$d/in/A" "$d/in/A.before" &&
    run --vault "$d/in/A" get staging FEATURE_KEY && expect_rc 0 && [ "$OUT" = feature-value-1 ] &&
    run --vault "$d/in/A" get staging MAIN_KEY && expect_rc 0 && [ "$OUT" = main-value-1 ] &&
    run --vault "$d/in/A" audit --verify && expect_rc 0 &&
    # an ENVX_VAULT naming something else is not the driver's business
    cp "$d/in/A.before" "$d/in/A" &&
    (cd "$d/cwd" && ENVX_VAULT="$d/none" run merge-driver "$d/in/O" "$d/in/A" "$d/in/B" &&
      expect_rc 0) &&
    # (a second result of the same merge: another state at the same
    # generation, which the record of the first would refuse)
    [ ! -e "$d/none" ] && forget_seen && run --vault "$d/in/A" get staging FEATURE_KEY && [ "$OUT" = feature-value-1 ]
}
ok "merge-driver works from any directory on the paths it is given (no ./envx.vault, ENVX_VAULT ignored)" t_driver_elsewhere

t_subdir_vault() {
  # git runs the driver at the top of the work tree; the vault is below it
  rm -rf "$TEST_DIR/repo" "$HOME/.local/state"
  mkdir -p "$TEST_DIR/repo/config" && cd "$TEST_DIR/repo" &&
    git init -q -b main . && "$ENVX" --vault config/envx.vault init >/dev/null 2>&1 &&
    "$ENVX" --vault config/envx.vault git setup >/dev/null && git add -A && git commit -qm init &&
    cd config && branches 'put staging FEATURE_KEY feature-value-1' 'put staging MAIN_KEY main-value-1' &&
    merge && grep -q "Merge made" "$TEST_DIR/merge.out" &&
    value_is staging FEATURE_KEY feature-value-1 && value_is staging MAIN_KEY main-value-1 &&
    [ -z "$(git status --porcelain)" ]
}
ok "a vault in a subdirectory merges through git (the driver runs at the top level)" t_subdir_vault

t_driver_errors() {
  repo && run merge-driver a b && expect_rc 2 && expect_err "missing ANCESTOR" &&
    run merge-driver envx.vault envx.vault "$TEST_DIR/none" && [ "$RC" != 0 ] &&
    expect_err "theirs, %B" &&
    # the textconv works on the file git names, from anywhere
    (cd "$TEST_DIR" && ENVX_VAULT="$TEST_DIR/none" "$ENVX" diff "$TEST_DIR/repo/envx.vault" >/dev/null) &&
    printf 'not a vault' >"$TEST_DIR/junk" &&
    run diff "$TEST_DIR/junk" && expect_rc 4
}
ok "merge-driver and diff refuse missing and broken inputs" t_driver_errors

finish
