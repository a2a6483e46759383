#!/usr/bin/env bash
# The man pages follow the binary, not a list kept by hand: every command
# `envx help` lists has docs/envx-CMD.1.scd, installed by docs/meson.build,
# with the usual sections; its OPTIONS name every option `envx CMD --help`
# prints, and its EXIT STATUS exactly the codes it prints. In every page each
# envx-X(N) reference is a page that exists and each `envx WORD` shown is a
# command of the binary. Only the .scd sources are read: scdoc is not needed.
# Every check also runs on a copy of docs/ with one defect planted and must
# fail there, so none of them can pass by checking nothing.
. "$ENVX_SOURCE_ROOT/tests/cli/test-lib.sh"
docs="$ENVX_SOURCE_ROOT/docs"

commands=$("$ENVX" __complete '')
ncommands=$(printf '%s\n' $commands | grep -c .)

# What the binary says of each command, asked once.
mkdir -p "$TEST_DIR/help"
for c in $commands; do
  "$ENVX" "$c" --help >"$TEST_DIR/help/$c" 2>&1
done

# help_options CMD: the options `envx CMD --help` lists, one a line.
help_options() {
  sed -n '/^options:$/,/^$/p' "$TEST_DIR/help/$1" |
    sed -n 's/^  \(-[^ []*\).*/\1/p'
}

# help_exits CMD: the exit codes `envx CMD --help` lists, one a line.
help_exits() {
  sed -n '/^exit status:$/,/^$/p' "$TEST_DIR/help/$1" |
    sed -n 's/^  \([0-9][0-9]*\) .*/\1/p'
}

# section FILE TITLE: the lines of the page's "# TITLE" section (a "# "
# line inside a ``` block is not a heading).
section() {
  awk -v s="# $2" '/^[ \t]*```/ { code = !code } !code && $0 == s { f = 1; next }
    !code && /^# / { f = 0 } f' "$1"
}

# page_exits FILE: the codes that are items of the page's EXIT STATUS.
page_exits() {
  section "$1" "EXIT STATUS" | sed -n 's/^\*\([0-9][0-9]*\)\*$/\1/p'
}

t_commands() {
  local listed
  listed=$("$ENVX" help | sed -n '/^commands:$/,/^$/s/^  \([^ ]*\) .*/\1/p')
  [ "$ncommands" -ge 10 ] || { echo "only $ncommands commands: '$commands'"; return 1; }
  [ "$(echo $listed)" = "$(echo $commands)" ] ||
    { echo "envx help lists '$(echo $listed)', __complete '$(echo $commands)'"; return 1; }
}
ok "envx help and __complete list the same commands, at least 10" t_commands

# check_pages DOCS: a page per command, with the sections a page has.
check_pages() {
  local d=$1 c p s bad=0 n=0
  for c in $commands; do
    p="$d/envx-$c.1.scd"
    [ -f "$p" ] || { echo "no page $p for command '$c'"; bad=1; continue; }
    n=$((n + 1))
    [ "$(head -1 "$p")" = "envx-$c(1)" ] || { echo "$p: first line is not envx-$c(1)"; bad=1; }
    section "$p" NAME | grep -q "^envx-$c - ." || { echo "$p: NAME is not 'envx-$c - ...'"; bad=1; }
    for s in NAME SYNOPSIS DESCRIPTION OPTIONS ENVIRONMENT "EXIT STATUS" EXAMPLES "SEE ALSO"; do
      grep -qx "# $s" "$p" || { echo "$p: no '# $s' section"; bad=1; }
    done
  done
  [ "$n" -eq "$ncommands" ] || bad=1
  return "$bad"
}

# check_installed DOCS: every page is in docs/meson.build's man_pages.
check_installed() {
  local d=$1 f base bad=0 n=0
  for f in "$d"/*.scd; do
    base=${f##*/}
    base=${base%.scd}
    n=$((n + 1))
    grep -qF "['${base%.*}', '${base##*.}']" "$d/meson.build" ||
      { echo "$base is not in docs/meson.build's man_pages"; bad=1; }
  done
  [ "$n" -ge "$ncommands" ] || { echo "only $n pages"; bad=1; }
  return "$bad"
}

# check_options DOCS: each option of `envx CMD --help` is an item of the
# page's OPTIONS (on an item's first line, as *--opt*).
check_options() {
  local d=$1 c o bad=0 n=0
  for c in $commands; do
    for o in $(help_options "$c"); do
      n=$((n + 1))
      section "$d/envx-$c.1.scd" OPTIONS | grep -v '^[[:space:]]' | grep -qF -- "*$o*" ||
        { echo "envx-$c(1): OPTIONS does not describe $o"; bad=1; }
    done
  done
  [ "$n" -ge 10 ] || { echo "only $n options found in envx CMD --help"; bad=1; }
  return "$bad"
}

# check_exits DOCS: the page's EXIT STATUS items are exactly the codes of
# `envx CMD --help`.
check_exits() {
  local d=$1 c want have code bad=0 n=0
  for c in $commands; do
    want=$(help_exits "$c" | sort -n | tr '\n' ' ')
    have=$(page_exits "$d/envx-$c.1.scd" 2>/dev/null | sort -n | tr '\n' ' ')
    [ -n "$want" ] || { echo "envx $c --help lists no exit status"; bad=1; }
    for code in $want; do
      n=$((n + 1))
      case " $have" in *" $code "*) ;; *)
        echo "envx-$c(1): EXIT STATUS lacks $code"
        bad=1
        ;;
      esac
    done
    for code in $have; do
      case " $want" in *" $code "*) ;; *)
        echo "envx-$c(1): EXIT STATUS has $code, which envx $c --help does not list"
        bad=1
        ;;
      esac
    done
  done
  [ "$n" -ge $((2 * ncommands)) ] || { echo "only $n exit codes found"; bad=1; }
  return "$bad"
}

# check_refs DOCS: each envx(N) or envx-X(N) a page cites exists.
check_refs() {
  local d=$1 f r name sec bad=0 n=0
  for f in "$d"/*.scd; do
    for r in $(grep -oE '(^|[^a-z0-9-])envx(-[a-z0-9]+)*\*?\([0-9]\)' "$f" |
      sed 's/^[^e]*//; s/\*//'); do
      n=$((n + 1))
      name=${r%(*}
      sec=${r#*(}
      sec=${sec%)}
      [ -f "$d/$name.$sec.scd" ] ||
        { echo "${f##*/} cites $name($sec), but there is no docs/$name.$sec.scd"; bad=1; }
    done
  done
  [ "$n" -ge "$ncommands" ] || { echo "only $n references found"; bad=1; }
  return "$bad"
}

# mentions FILE: what follows "envx " where a page shows a command: in a
# bold span that starts with it (*envx exec --redact*), in a quoted one
# ('envx identity show'), and on the lines of a ``` block. scdoc's
# backslash escapes (\_\_refused) are removed first.
mentions() {
  sed 's/\\//g' "$1" | awk '
    /^[ \t]*```/ { code = !code; next }
    code {
      out = ""
      for (i = 1; i <= NF; i++) {
        if (out != "" && ($i == "|" || $i == ";" || $i == "&&" || $i == "||" ||
            $i ~ /^[<>]/)) { print out; out = "" }
        else if (out != "") out = out " " $i
        else if ($i ~ /(^|[(`])envx$/) out = "envx"
      }
      if (out != "") print out
      next
    }
    { sub(/^[ \t]+/, ""); text = text " " $0 }
    END {
      t = text
      while (match(t, /\*envx [^*]*/)) { print substr(t, RSTART + 1, RLENGTH - 1); t = substr(t, RSTART + RLENGTH) }
      t = text
      while (match(t, /\047envx [^\047]*/)) { print substr(t, RSTART + 1, RLENGTH - 1); t = substr(t, RSTART + RLENGTH) }
    }'
}

# command_word MENTION: the command it names: the first word after "envx"
# and its global options (with the value of one that takes a value).
command_word() {
  local usage w skip=
  usage=$("$ENVX" help | grep '^usage: envx')
  set -f
  set -- $1
  shift
  for w; do
    if [ -n "$skip" ]; then skip=; continue; fi
    case $w in
    -*=*) continue ;;
    -*)
      case $usage in *"[$w "[A-Z]*) skip=1 ;; esac
      continue
      ;;
    esac
    w=${w%%[.,;:)]*}
    case $w in [a-z_]*) echo "$w" ;; esac # not a placeholder (_ENV_)
    return
  done
}

# is_command WORD: WORD is a command of the binary, visible or hidden.
is_command() {
  case " $(echo $commands) " in *" $1 "*) return 0 ;; esac
  "$ENVX" "$1" --help >/dev/null 2>"$TEST_DIR/probe.err"
  ! grep -q "unknown command '" "$TEST_DIR/probe.err"
}

# check_mentions DOCS: each `envx WORD` a page shows is a command.
check_mentions() {
  local d=$1 f m w bad=0 n=0
  for f in "$d"/*.scd; do
    while IFS= read -r m; do
      w=$(command_word "$m")
      [ -n "$w" ] || continue
      n=$((n + 1))
      is_command "$w" ||
        { echo "${f##*/} shows '$m', but '$w' is not an envx command"; bad=1; }
    done < <(mentions "$f")
  done
  [ "$n" -ge $((2 * ncommands)) ] || { echo "only $n mentions of commands found"; bad=1; }
  return "$bad"
}

ok "every command has a page, docs/envx-CMD.1.scd, with the usual sections" check_pages "$docs"
ok "every page is installed by docs/meson.build" check_installed "$docs"
ok "each page describes every option envx CMD --help lists" check_options "$docs"
ok "each page's EXIT STATUS is exactly what envx CMD --help lists" check_exits "$docs"
ok "every envx-X(N) a page cites exists" check_refs "$docs"
ok "every 'envx WORD' a page shows is a command of the binary" check_mentions "$docs"

# The same checks on copies of docs/ with one defect each: each passes on
# docs/ as it is and fails on the copy.
# plant NAME: a fresh copy in $TEST_DIR/NAME, printed.
plant() {
  rm -rf "${TEST_DIR:?}/$1"
  cp -R "$docs" "$TEST_DIR/$1"
  echo "$TEST_DIR/$1"
}

# The first command with an option, and the first with exit code 9.
with_option=
for c in $commands; do
  [ -n "$(help_options "$c")" ] && { with_option=$c; break; }
done
with_9=
for c in $commands; do
  help_exits "$c" | grep -qx 9 && { with_9=$c; break; }
done

t_fails_without_page() {
  local d
  d=$(plant no-page)
  rm "$d/envx-$with_9.1.scd"
  check_pages "$docs" >/dev/null && ! check_pages "$d" >/dev/null
}
ok "the page check fails when a command has no page" t_fails_without_page

t_fails_without_section() {
  local d
  d=$(plant no-section)
  sed -i '/^# ENVIRONMENT$/d' "$d/envx-$with_9.1.scd"
  check_pages "$docs" >/dev/null && ! check_pages "$d" >/dev/null
}
ok "the page check fails when a page lacks a section" t_fails_without_section

t_fails_uninstalled() {
  local d
  d=$(plant uninstalled)
  cp "$d/envx-$with_9.1.scd" "$d/envx-extra.1.scd"
  check_installed "$docs" >/dev/null && ! check_installed "$d" >/dev/null
}
ok "the install check fails for a page meson does not install" t_fails_uninstalled

t_fails_without_option() {
  local d o
  [ -n "$with_option" ] || return 1
  o=$(help_options "$with_option" | head -1)
  d=$(plant no-option)
  sed -i "/^\*$o\*/d" "$d/envx-$with_option.1.scd"
  check_options "$docs" >/dev/null && ! check_options "$d" >/dev/null
}
ok "the option check fails when a page lacks an option" t_fails_without_option

t_fails_without_exit() {
  local d
  [ -n "$with_9" ] || return 1
  d=$(plant no-exit)
  sed -i '/^\*9\*$/d' "$d/envx-$with_9.1.scd"
  check_exits "$docs" >/dev/null && ! check_exits "$d" >/dev/null
}
ok "the exit-status check fails when a page lacks a code" t_fails_without_exit

t_fails_extra_exit() {
  local d
  d=$(plant extra-exit)
  printf '\n# EXIT STATUS\n\n*5*\n\tremote failure\n' >>"$d/envx-$with_9.1.scd"
  check_exits "$docs" >/dev/null && ! check_exits "$d" >/dev/null
}
ok "the exit-status check fails when a page lists a code the command does not" t_fails_extra_exit

t_fails_dangling_ref() {
  local d
  d=$(plant dangling-ref)
  printf '\n*envx-teleport*(1)\n' >>"$d/envx.1.scd"
  check_refs "$docs" >/dev/null && ! check_refs "$d" >/dev/null
}
ok "the reference check fails on a page that does not exist" t_fails_dangling_ref

t_fails_unknown_command() {
  local d
  d=$(plant unknown-command)
  printf '\nRun *envx --vault x teleport* _ENV_ _NAME_ each quarter.\n' >>"$d/envx-$with_9.1.scd"
  check_mentions "$docs" >/dev/null && ! check_mentions "$d" >/dev/null || return 1
  d=$(plant unknown-command-code)
  printf '\n```\nprintf x | envx set a B && envx beam github a\n```\n' >>"$d/envx-$with_9.1.scd"
  ! check_mentions "$d" >/dev/null
}
ok "the command check fails on 'envx WORD' for a command the binary lacks" t_fails_unknown_command

finish
