#!/usr/bin/env bash
# The zsh and fish completion scripts, driven through the shells' own
# completion machinery: fish's `complete -C`, and an interactive zsh in a
# pseudo-terminal (zsh/zpty) that is sent TAB. Every command of the table
# must complete, with its description, so a command added without
# completion support fails here; environment names, secret names, option
# descriptions and recipient labels come from the vault. bash is driven the
# same way: an interactive bash in a pseudo-terminal, with readline, sent TAB
# (and through its completion function in t0005).
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
wait_s=$WAIT_FACTOR
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

# bash_complete LINE: what an interactive bash (readline, bash-completion
# loaded when installed) shows after LINE and TAB, escapes removed.
bash_complete() {
  python3 - "$1" "$ENVX_SOURCE_ROOT/completions/bash/envx" "$wait_s" <<'PY' |
import fcntl, os, pty, select, struct, sys, termios, time
line, script, wait = sys.argv[1], sys.argv[2], float(sys.argv[3])
pid, fd = pty.fork()
if pid == 0:
    os.execvp("bash", ["bash", "--norc", "--noprofile", "-i"])
fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", 500, 200, 0, 0))
def drain(t, until=None, quiet=None):
    # reads for t seconds at most; stops early once `until` was seen, or
    # once output came and then nothing for `quiet` seconds
    out, end, last = b"", time.time() + t, None
    while time.time() < end:
        if until is not None and until in out:
            break
        if quiet is not None and last is not None and time.time() - last > quiet:
            break
        if select.select([fd], [], [], 0.05)[0]:
            try:
                d = os.read(fd, 65536)
            except OSError:
                break
            if not d:
                break
            out += d
            last = time.time()
    return out
os.write(fd, ("PS1='> '; bind 'set show-all-if-ambiguous on'; "
              "bind 'set completion-query-items 0'; "
              "bind 'set page-completions off'; "
              "[ -f /usr/share/bash-completion/bash_completion ] && "
              ". /usr/share/bash-completion/bash_completion; "
              f". '{script}'; echo RE''ADY\n").encode())
drain(10, until=b"READY\r\n")
os.write(fd, line.encode() + b"\t")
out = drain(4 * wait, quiet=0.5 * wait)
os.write(fd, b"\x15exit\n")
drain(0.3)
os.waitpid(pid, 0)
sys.stdout.buffer.write(out)
PY
    sed 's/\x1b\[[0-9;?]*[a-zA-Z]//g' | tr -d '\r'
}

t_bash_commands() {
  local out c
  out=$(bash_complete 'envx ')
  for c in $commands; do
    printf '%s\n' "$out" | tr ' ' '\n' | grep -qx "$c" || { echo "bash lacks '$c': $out" >&2; return 1; }
  done
}
ok "bash (readline, in a pseudo-terminal) lists every command of the table" t_bash_commands

t_bash_vault() {
  bash_complete 'envx get st' | grep -q 'envx get staging' &&
    bash_complete 'envx get staging DB_' | tr ' ' '\n' | grep -qx DB_USER &&
    bash_complete 'envx exec staging --refuse' | grep -q -- '--refuse-compromised' &&
    bash_complete 'envx export staging --format gi' | grep -q -- '--format github'
}
ok "bash completes environments, secrets, options and --format values" t_bash_vault

finish
