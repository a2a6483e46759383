#!/usr/bin/env bash
# The command table is the single source of truth: every command it lists
# appears in `envx help`, in envx(1), and in the completions (which ask the
# binary); every exit code of DESIGN §4 is in envx(1).
. "$ENVX_SOURCE_ROOT/tests/cli/test-lib.sh"
man="$ENVX_SOURCE_ROOT/docs/envx.1.scd"
commands=$("$ENVX" __complete "")

t_commands_listed() { [ -n "$commands" ] && [ "$(echo "$commands" | wc -l)" -ge 8 ]; }
ok "__complete lists the commands" t_commands_listed

for c in $commands; do
  t_in_help() { "$ENVX" help | grep -q "^  $1 "; }
  ok "'$c' appears in envx help" t_in_help "$c"
  t_in_man() { grep -q "^\*$1\*" "$man" || grep -q "^\*$1 " "$man"; }
  ok "'$c' is documented in envx(1)" t_in_man "$c"
  t_help_cmd() { "$ENVX" help "$1" | grep -q "^usage: envx $1"; }
  ok "envx help $c shows its usage" t_help_cmd "$c"
done

t_exit_codes() {
  local code
  for code in 0 1 2 3 4 5 6 7 8 9 10; do
    grep -q "^|  $code\$" "$man" || { echo "exit $code missing" >&2; return 1; }
  done
}
ok "envx(1) documents every exit status" t_exit_codes

t_complete_options() {
  "$ENVX" __complete set staging X --rot | grep -qx -- --rotate-every &&
    "$ENVX" __complete env "" | grep -qx add &&
    "$ENVX" __complete --vault | grep -q . ; true
}
ok "completion offers a command's options and subcommands" t_complete_options

t_complete_from_vault() {
  setup_vault && printf 'v1' | "$ENVX" set staging DB_URL -q &&
    printf 'v2' | "$ENVX" set staging DB_USER -q || return 1
  [ "$("$ENVX" __complete get st)" = staging ] &&
    [ "$("$ENVX" __complete get staging DB_ </dev/null | tr '\n' ' ')" = "DB_URL DB_USER " ] &&
    [ "$("$ENVX" __complete export staging --format '' | tr '\n' ' ')" = "dotenv json shell github " ] &&
    [ "$("$ENVX" __complete env rm pro)" = production ] &&
    [ "$("$ENVX" __complete access '' | tr '\n' ' ')" = "list grant revoke accept " ] &&
    [ "$("$ENVX" __complete access revoke pro)" = production ] &&
    [ "$("$ENVX" __complete rekey sta)" = staging ] &&
    [ "$("$ENVX" __complete access grant staging --new | tr '\n' ' ')" = "--new-key " ] &&
    [ "$("$ENVX" __complete access grant pro)" = production ] &&
    [ "$("$ENVX" __complete access grant staging k --role '' | tr '\n' ' ')" = "read write admin " ] &&
    [ "$("$ENVX" __complete trust reset sta)" = staging ] &&
    [ "$("$ENVX" __complete exec staging -- '')" = "" ] &&
    [ "$("$ENVX" __complete import staging '')" = "" ] &&
    [ "$("$ENVX" __complete --vault envx.vault list lo)" = local ] &&
    # metadata only: no key needed, no prompt, never a value
    [ "$(ENVX_IDENTITY_FILE=/nonexistent "$ENVX" __complete get staging '' </dev/null | tr '\n' ' ')" = "DB_URL DB_USER " ] &&
    ! "$ENVX" __complete get staging '' | grep -q v1 &&
    [ "$(cd / && "$ENVX" __complete get '')" = "" ]
}
ok "completion offers environment names, secret names and --format values from the vault" t_complete_from_vault

t_complete_labels() {
  mkdir labels && cd labels && setup_vault &&
    "$ENVX" access grant staging --new-key --label ci-staging >/dev/null 2>&1 &&
    "$ENVX" access grant staging --new-key --label ci-old >/dev/null 2>&1 &&
    "$ENVX" access revoke staging ci-old >/dev/null 2>&1 || return 1
  [ "$("$ENVX" __complete access revoke staging ci)" = ci-staging ] &&
    [ "$("$ENVX" __complete access revoke staging '' | wc -l)" = 2 ] &&
    # metadata only: no key, no prompt; other environments' labels stay apart
    [ "$(ENVX_IDENTITY_FILE=/nonexistent "$ENVX" __complete access revoke staging ci </dev/null)" = ci-staging ] &&
    [ "$("$ENVX" __complete access revoke production ci)" = "" ] &&
    [ "$("$ENVX" __complete access revoke nosuch '')" = "" ] &&
    [ "$("$ENVX" __complete access list staging '')" = "" ]
}
ok "completion offers the recipient labels of an environment to access revoke" t_complete_labels

t_bash_completion_vault() {
  PATH="$(dirname "$ENVX"):$PATH" bash -c '
    . "$ENVX_SOURCE_ROOT/completions/bash/envx"
    COMP_WORDS=(envx get staging DB_U); COMP_CWORD=3; _envx
    [ "${COMPREPLY[*]}" = "DB_URL DB_USER" ]'
}
ok "the bash completion script completes secret names" t_bash_completion_vault

t_bash_completion() {
  PATH="$(dirname "$ENVX"):$PATH" bash -c '
    . "$ENVX_SOURCE_ROOT/completions/bash/envx"
    COMP_WORDS=(envx ide); COMP_CWORD=1; _envx
    [ "${COMPREPLY[*]}" = identity ]'
}
ok "the bash completion script completes from the binary" t_bash_completion

t_help_explains() {
  local c o globals=' --vault --identity --passphrase-file --json --quiet --help '
  for c in $commands; do
    run help "$c"
    expect_rc 0 && expect_out "usage: envx $c" && expect_out "exit status:" &&
      expect_out "example:" &&
      sed -n '/^example:/{n;p;}' "$TEST_DIR/run.out" | grep -q "envx $c" || return 1
    case "$OUT" in *"(undocumented)"*)
      echo "envx help $c: undocumented option or exit status" >&2
      return 1
      ;;
    esac
    for o in $("$ENVX" __complete "$c" --); do
      case "$globals" in *" $o "*) continue ;; esac
      grep -q -- "^  $o" "$TEST_DIR/run.out" || {
        echo "envx help $c does not describe $o" >&2
        return 1
      }
    done
    # CMD --help prints the same
    [ "$("$ENVX" "$c" --help)" = "$OUT" ] || {
      echo "envx $c --help differs from envx help $c" >&2
      return 1
    }
  done
}
ok "help COMMAND explains every option, the exit statuses and an example" t_help_explains

t_help_unknown() { fails 2 "unknown command" help frob; }
ok "help for an unknown command is exit 2" t_help_unknown

t_version() { run version && expect_rc 0 && expect_out "envx " && run --version && expect_rc 0; }
ok "version and --version" t_version

finish
