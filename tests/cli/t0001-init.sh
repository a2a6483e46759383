#!/usr/bin/env bash
# envx init: a vault and an identity in an empty directory, default and
# named environments, and refusing to clobber an existing vault.
. "$ENVX_SOURCE_ROOT/tests/cli/test-lib.sh"

t_init_creates_vault_and_identity() {
  run init
  expect_rc 0 && [ -f envx.vault ] && [ -f "$HOME/.config/envx/identity" ] &&
    [ "$(stat -c %a "$HOME/.config/envx/identity")" = 600 ] &&
    expect_out "local staging production"
}
ok "init creates envx.vault and a 0600 identity" t_init_creates_vault_and_identity

t_env_list() {
  run env list
  expect_rc 0 && expect_out local && expect_out staging && expect_out production
}
ok "env list shows the default environments" t_env_list

t_init_refuses_existing() {
  local before
  before=$(sum_of envx.vault)
  fails 6 "already exists" init && [ "$(sum_of envx.vault)" = "$before" ]
}
ok "init refuses to overwrite an existing vault" t_init_refuses_existing

t_init_named_envs() {
  mkdir named && cd named && run init --env dev --env prod &&
    expect_rc 0 && run env list && expect_out dev && expect_out prod &&
    case "$OUT" in *staging*) return 1 ;; esac
}
ok "init --env NAME creates only the named environments" t_init_named_envs

t_init_bad_env_name() {
  mkdir bad && cd bad && fails 7 "invalid environment name" init --env Prod &&
    [ ! -e envx.vault ]
}
ok "init rejects an invalid environment name and leaves no vault" t_init_bad_env_name

t_init_reuses_identity() {
  local pub
  pub=$("$ENVX" identity show) || return 1
  mkdir second && cd second && run init && expect_rc 0 && expect_out "$pub"
}
ok "a second init reuses the existing identity" t_init_reuses_identity

t_vault_found_in_parent() {
  mkdir -p deep/er && cd deep/er && run list staging && expect_rc 0
}
ok "commands find envx.vault in a parent directory" t_vault_found_in_parent

t_vault_env_var() {
  cd / && ENVX_VAULT="$TEST_DIR/work/envx.vault" "$ENVX" list staging >/dev/null
}
ok "ENVX_VAULT names the vault" t_vault_env_var

t_no_vault() {
  cd "$TEST_DIR" && fails 9 "no vault found" list staging
}
ok "no vault anywhere: exit 9 with a hint" t_no_vault

t_env_add_rm() {
  run env add qa && expect_rc 0 && run env list && expect_out qa &&
    fails 7 "already exists" env add qa &&
    run env rm qa && expect_rc 0 && run env list &&
    case "$OUT" in *qa*) return 1 ;; esac
}
ok "env add and env rm" t_env_add_rm

t_env_rm_needs_force() {
  printf 'v' | "$ENVX" set local A >/dev/null 2>&1 &&
    fails 2 "--force" env rm local &&
    run env rm local --force && expect_rc 0 &&
    fails 9 "no environment 'local'" env rm local
}
ok "env rm refuses a non-empty env without --force; missing env is exit 9" t_env_rm_needs_force

t_env_usage() {
  fails 2 "unknown subcommand" env frob && fails 2 "missing subcommand" env &&
    fails 7 "invalid environment name" env add "Bad Name"
}
ok "env usage errors" t_env_usage

t_init_json() {
  mkdir js && cd js && run --json init --env dev &&
    expect_rc 0 && python3 -c 'import json,sys; d=json.loads(sys.argv[1]); assert d["environments"] == ["dev"] and d["public_key"].startswith("envxpub2"), d' "$OUT" &&
    run --json identity new -o "$TEST_DIR/j.id" && expect_rc 0 &&
    python3 -c 'import json,sys; d=json.loads(sys.argv[1]); assert d["protected"] is False and d["path"].endswith("j.id"), d' "$OUT"
}
ok "init and identity new print JSON with --json" t_init_json

t_init_gitignore() {
  [ "$(cat .gitignore)" = '*.vault-journal' ] &&
    mkdir gi && cd gi && printf 'node_modules/\n.env' >.gitignore && chmod 640 .gitignore &&
    run init && expect_rc 0 && expect_out "added '*.vault-journal' to '.gitignore'" &&
    [ "$(cat .gitignore)" = "$(printf 'node_modules/\n.env\n*.vault-journal')" ] &&
    [ "$(stat -c %a .gitignore)" = 640 ] &&
    rm envx.vault && run init && expect_rc 0 &&
    [ "$(grep -c 'vault-journal' .gitignore)" = 1 ] &&
    case "$OUT" in *added*) return 1 ;; esac
}
ok "init adds *.vault-journal to .gitignore beside the vault: creates, appends once, keeps the mode" t_init_gitignore

t_init_gitignore_other_dir() {
  mkdir -p elsewhere && run --vault elsewhere/envx.vault init && expect_rc 0 &&
    grep -qx '\*.vault-journal' elsewhere/.gitignore
}
ok "init --vault DIR/envx.vault writes DIR/.gitignore" t_init_gitignore_other_dir

finish
