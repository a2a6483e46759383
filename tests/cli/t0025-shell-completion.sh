#!/usr/bin/env bash
# The zsh and fish completion scripts, driven through the shells' own
# completion machinery: fish's `complete -C`, and an interactive zsh in a
# pseudo-terminal (zsh/zpty) that is sent TAB. Every command of the table
# must complete, with its description, so a command added without
# completion support fails here; environment names, secret names, option
# descriptions and recipient labels come from the vault. (bash is driven
# through its completion function in t0005.)
. "$ENVX_SOURCE_ROOT/tests/cli/test-lib.sh"
setup_vault
printf 'u' | "$ENVX" set staging DB_URL -q
printf 'v' | "$ENVX" set staging DB_USER -q
export PATH="$(dirname "$ENVX"):$PATH"
commands=$("$ENVX" __complete "")

fish_complete() {
  fish --no-config -c "source '$ENVX_SOURCE_ROOT/completions/fish/envx.fish'; complete -C '$1'"
}

# zsh_complete LINE: what an interactive zsh shows after LINE and TAB,
# escape sequences removed.
wait_s=1
[ -n "${ENVX_TEST_WRAP:-}" ] && wait_s=8
zsh_complete() {
  cat >"$TEST_DIR/zc.zsh" <<'EOF'
zmodload zsh/zpty
local out chunk
zpty z zsh -f -i
zpty -w z "stty rows 500 columns 200 2>/dev/null; PROMPT='> '; fpath=($1 \$fpath); autoload -Uz compinit; compinit -u -D; zstyle ':completion:*' list-prompt ''; LISTMAX=1000; LINES=500; COLUMNS=200"
zpty -w -n z "$2"$'\t'
sleep $3
zpty -w -n z $'\C-u\C-d'
while zpty -r -t z chunk 2>/dev/null; do out+=$chunk; done
print -r -- "$out"
zpty -d z 2>/dev/null
EOF
  timeout 60 zsh -f "$TEST_DIR/zc.zsh" "$ENVX_SOURCE_ROOT/completions/zsh" "$1" "$wait_s" |
    sed 's/\x1b\[[0-9;?]*[a-zA-Z]//g' | tr -d '\r'
}

if ! command -v fish >/dev/null || ! command -v zsh >/dev/null; then
  echo "Bail out! fish and zsh are needed (scripts/deps.sh installs them)"
  exit 1
fi

t_fish_commands() {
  local out c
  out=$(fish_complete 'envx ')
  for c in $commands; do
    printf '%s\n' "$out" | grep -q "^$c	[A-Z]" || { echo "fish lacks '$c' with a description" >&2; return 1; }
  done
}
ok "fish completes every command of the table, each with its description" t_fish_commands

t_fish_vault() {
  [ "$(fish_complete 'envx get st')" = staging ] &&
    [ "$(fish_complete 'envx get staging DB_' | tr '\n' ' ')" = "DB_URL DB_USER " ] &&
    fish_complete 'envx exec staging --re' | grep -q $'^--redact\tstay the parent' &&
    fish_complete 'envx export staging --format ' | grep -qx github &&
    [ -n "$(fish_complete 'envx access revoke staging ')" ]
}
ok "fish completes environments, secrets, option descriptions, --format values and labels" t_fish_vault

t_zsh_commands() {
  local out c
  out=$(zsh_complete 'envx ')
  for c in $commands; do
    printf '%s\n' "$out" | grep -Eq "(^| )$c +-- [A-Z]" || { echo "zsh lacks '$c -- ...': $out" >&2; return 1; }
  done
}
ok "zsh lists every command of the table with its description" t_zsh_commands

t_zsh_vault() {
  zsh_complete 'envx get st' | grep -q 'envx get staging' &&
    zsh_complete 'envx exec staging --refuse' | grep -q 'envx exec staging --refuse-compromised' &&
    zsh_complete 'envx get staging DB_' | grep -q 'envx get staging DB_U' &&
    zsh_complete 'envx exec staging --' | grep -q -- '--redact *-- stay the parent'
}
ok "zsh completes environments, secrets and options, with descriptions" t_zsh_vault

finish
