#!/usr/bin/env bash
# envx rotation and envx rotate: the --check gate flips as --at crosses a
# deadline and on a compromised secret, --due-within, JSON output, envs the
# identity cannot unlock; rotate's --run hook (values in its environment,
# never on argv, its output redacted, nothing recorded unless it exits 0,
# its status returned, --timeout), a stale old value refused, the new
# version of kind rotate clearing compromised; exec's warning and
# --refuse-compromised; the error cases.
. "$ENVX_SOURCE_ROOT/tests/cli/test-lib.sh"
setup_vault
id_file="$XDG_CONFIG_HOME/envx/identity"
printf 'old-api-key-1234' | "$ENVX" set staging API_KEY --rotate-every 90d >/dev/null 2>&1
printf 'db-password-5678' | "$ENVX" set staging DB_PASSWORD --rotate-every 180d >/dev/null 2>&1
printf 'plain-value-0000' | "$ENVX" set staging PLAIN >/dev/null 2>&1

day() { date -u -d "+$1 days" +%F; }

# status_of ENV NAME [ARGS...]: the status `envx --json rotation ENV` gives
# NAME.
status_of() {
  local env=$1 name=$2
  shift 2
  "$ENVX" --json rotation "$env" "$@" 2>/dev/null | python3 -c '
import json, sys
d = json.load(sys.stdin)
print([s["status"] for e in d["environments"] for s in e["secrets"] if s["name"] == sys.argv[1]][0])' "$name"
}

t_check_flips_at_deadline() {
  run rotation --check && expect_rc 0 || return 1
  run rotation staging --check --at "$(day 70)" && expect_rc 0 || return 1
  run rotation staging --check --at "$(day 89)" && expect_rc 0 && expect_out due || return 1
  run rotation --check --at "$(day 91)" && expect_rc 1 && expect_err "1 secret is overdue" || return 1
  echo "$OUT" | grep -q '^staging  *API_KEY  *overdue  *90d' || return 1
  echo "$OUT" | grep -q '^staging  *DB_PASSWORD  *ok  *180d' || return 1
  echo "$OUT" | grep -q '^staging  *PLAIN  *unscheduled' || return 1
  run rotation --check --at "$(day 200)" && expect_rc 1 && expect_err "2 secrets are overdue"
}
ok "rotation --check exits 0, then 1 once --at crosses a deadline" t_check_flips_at_deadline

t_statuses() {
  [ "$(status_of staging API_KEY)" = ok ] &&
    [ "$(status_of staging API_KEY --at "$(day 70)")" = ok ] &&
    [ "$(status_of staging API_KEY --at "$(day 89)")" = due ] &&
    [ "$(status_of staging API_KEY --at "$(day 91)")" = overdue ] &&
    [ "$(status_of staging PLAIN --at "$(day 900)")" = unscheduled ]
}
ok "ok, due within 14 days, overdue, unscheduled" t_statuses

t_due_within() {
  [ "$(status_of staging API_KEY --at "$(day 60)")" = ok ] &&
    [ "$(status_of staging API_KEY --at "$(day 60)" --due-within 31d)" = due ] &&
    [ "$(status_of staging API_KEY --at "$(day 89)" --due-within 1h)" = ok ] &&
    { run rotation --check --at "$(day 60)" --due-within 5w; expect_rc 0; }
}
ok "--due-within widens or narrows the due window (due never fails the gate)" t_due_within

t_json() {
  "$ENVX" --json rotation --at "$(day 91)" >"$TEST_DIR/r.json" 2>/dev/null &&
    python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
assert d["verified"] is True and d["failing"] == 1, d
assert d["counts"] == {"ok": 1, "due": 0, "overdue": 1, "compromised": 0, "unscheduled": 1}, d["counts"]
envs = [e["env"] for e in d["environments"]]
assert envs == ["local", "production", "staging"], envs
s = {x["name"]: x for x in d["environments"][2]["secrets"]}
assert s["API_KEY"]["rotate_every_seconds"] == 90 * 86400
assert s["API_KEY"]["remaining_seconds"] < 0 and s["API_KEY"]["deadline"].endswith("Z")
assert s["PLAIN"]["deadline"] is None and s["PLAIN"]["remaining_seconds"] is None
assert d["at"] == sys.argv[2] + "T00:00:00Z", d["at"]
' "$TEST_DIR/r.json" "$(day 91)"
}
ok "--json output parses and carries status, deadline, age and counts" t_json

t_unverified() {
  "$ENVX" identity new -o "$TEST_DIR/stranger" >/dev/null 2>&1 || return 1
  run --identity "$TEST_DIR/stranger" rotation staging
  expect_rc 0 && expect_err "unverified" && expect_out unverified || return 1
  run --identity "$TEST_DIR/stranger" rotation --check
  expect_rc 3 && expect_err "cannot vouch" || return 1
  # what the metadata shows already fails: no key could make it pass
  run --identity "$TEST_DIR/stranger" rotation --check --at "$(day 91)"
  expect_rc 1 || return 1
  "$ENVX" --identity "$TEST_DIR/stranger" --json rotation staging 2>/dev/null |
    python3 -c 'import json, sys; d = json.load(sys.stdin); assert d["verified"] is False and d["environments"][0]["verified"] is False'
}
ok "envs the identity cannot unlock: reported unverified; --check exits 3 unless they already fail" t_unverified

t_compromised_gate() {
  "$ENVX_MARK_COMPROMISED" envx.vault staging "$id_file" DB_PASSWORD || return 1
  [ "$(status_of staging DB_PASSWORD)" = compromised ] || return 1
  run rotation --check && expect_rc 1 && expect_err "1 secret is overdue or compromised" &&
    echo "$OUT" | grep -q '^staging  *DB_PASSWORD  *compromised'
}
ok "a compromised secret fails rotation --check at once" t_compromised_gate

t_exec_warns() {
  run exec staging -- sh -c 'echo ran'
  expect_rc 0 && expect_out ran && expect_err "compromised" && expect_err "DB_PASSWORD" || return 1
  case "$ERR$OUT" in *db-password-5678* | *old-api-key*) return 1 ;; esac
  case "$ERR" in *API_KEY*) return 1 ;; esac
  # a command that does not get it is not warned about it
  run exec staging --only API_KEY -- true
  expect_rc 0 && [ -z "$ERR" ]
}
ok "exec warns on stderr naming compromised secrets, never their values" t_exec_warns

t_exec_refuses() {
  rm -f "$TEST_DIR/ran"
  run exec staging --refuse-compromised -- touch "$TEST_DIR/ran"
  expect_rc 1 && expect_err "was not run" && [ ! -e "$TEST_DIR/ran" ] || return 1
  run exec staging --refuse-compromised --redact -- touch "$TEST_DIR/ran"
  expect_rc 1 && [ ! -e "$TEST_DIR/ran" ] || return 1
  run exec staging --refuse-compromised --only API_KEY -- touch "$TEST_DIR/ran"
  expect_rc 0 && [ -e "$TEST_DIR/ran" ]
}
ok "exec --refuse-compromised exits 1 without running the command" t_exec_refuses

t_hook_fails() {
  cp envx.vault "$TEST_DIR/before.vault"
  printf 'new-api-key-9999' >"$TEST_DIR/new"
  run_in "$TEST_DIR/new" rotate staging API_KEY --run 'exit 3'
  expect_rc 3 && expect_err "exited with status 3" && expect_err "nothing was recorded" &&
    same_file envx.vault "$TEST_DIR/before.vault" || return 1
  run_in "$TEST_DIR/new" rotate staging API_KEY --run 'echo partial; exit 42'
  expect_rc 42 && expect_out partial && same_file envx.vault "$TEST_DIR/before.vault"
}
ok "a failing hook: its status, nothing recorded, vault byte-identical" t_hook_fails

t_hook_signal() {
  run rotate staging API_KEY --generate --run 'kill -USR1 $$'
  expect_rc 138 && expect_err "killed by signal 10" && same_file envx.vault "$TEST_DIR/before.vault" || return 1
  run rotate staging API_KEY --generate --run 'kill -KILL $$'
  expect_rc 137 && same_file envx.vault "$TEST_DIR/before.vault"
}
ok "a hook killed by signal N: 128+N, vault byte-identical" t_hook_signal

t_hook_timeout() {
  local start=$SECONDS
  # the grandchild (sleep) is in the hook's process group: killed too,
  # so nothing holds the output pipe open
  run rotate staging API_KEY --generate --timeout 1s --run 'sleep 60; echo late'
  expect_rc 124 && expect_err "did not finish within 1s" && [ $((SECONDS - start)) -lt 20 ] &&
    case "$OUT" in *late*) false ;; *) true ;; esac &&
    same_file envx.vault "$TEST_DIR/before.vault" || return 1
  # SIGTERM ignored: SIGKILL after the grace, still 124
  run rotate staging API_KEY --generate --timeout 1s --run 'trap "" TERM; while :; do sleep 1; done'
  expect_rc 124 && [ $((SECONDS - start)) -lt 40 ] && same_file envx.vault "$TEST_DIR/before.vault"
}
ok "--timeout stops the hook's process group: exit 124, vault byte-identical" t_hook_timeout

t_hook_env_not_argv() {
  local d=$TEST_DIR/hook f
  mkdir -p "$d"
  cat >"$TEST_DIR/hook.sh" <<EOF
printf %s "\$ENVX_OLD_VALUE" >"$d/old"
printf %s "\$ENVX_NEW_VALUE" >"$d/new"
printf '%s %s' "\$ENVX_ENV" "\$ENVX_NAME" >"$d/names"
cat /proc/\$\$/cmdline >"$d/argv-self"
cat /proc/\$PPID/cmdline >"$d/argv-parent"
cat /proc/[0-9]*/cmdline >"$d/argv-all" 2>/dev/null
exit 1
EOF
  run_in "$TEST_DIR/new" rotate staging API_KEY --run ". '$TEST_DIR/hook.sh'"
  expect_rc 1 || return 1
  [ "$(cat "$d/old")" = old-api-key-1234 ] && [ "$(cat "$d/new")" = new-api-key-9999 ] &&
    [ "$(cat "$d/names")" = "staging API_KEY" ] || return 1
  # the parent is envx itself, and the hook is /bin/sh -c
  tr '\0' ' ' <"$d/argv-parent" | grep -q 'rotate staging API_KEY' &&
    tr '\0' ' ' <"$d/argv-self" | grep -q '^/bin/sh -c' || return 1
  for f in argv-self argv-parent argv-all; do
    [ -s "$d/$f" ] || return 1
    grep -aqF new-api-key-9999 "$d/$f" && { echo "new value on argv ($f)"; return 1; }
    grep -aqF old-api-key-1234 "$d/$f" && { echo "old value on argv ($f)"; return 1; }
  done
  same_file envx.vault "$TEST_DIR/before.vault"
}
ok "the hook gets ENVX_OLD_VALUE, ENVX_NEW_VALUE, ENVX_ENV, ENVX_NAME in its environment, never on argv" t_hook_env_not_argv

t_hook_redacted() {
  run_in "$TEST_DIR/new" rotate staging API_KEY --run 'echo "new=$ENVX_NEW_VALUE old=$ENVX_OLD_VALUE"; echo "err $ENVX_NEW_VALUE" >&2; printf %s "$ENVX_NEW_VALUE" | base64; exit 5'
  expect_rc 5 && expect_out "new=[redacted:ENVX_NEW_VALUE] old=[redacted:ENVX_OLD_VALUE]" &&
    expect_err "err [redacted:ENVX_NEW_VALUE]" || return 1
  case "$OUT$ERR" in *new-api-key-9999* | *old-api-key-1234* | *"$(printf new-api-key-9999 | base64)"*) return 1 ;; esac
  same_file envx.vault "$TEST_DIR/before.vault"
}
ok "the hook's output is redacted (new and old values, their forms)" t_hook_redacted

t_stale_refused() {
  # the hook itself changes the secret: its old value is stale, so the
  # rotation is refused (and no write lock was held while it ran)
  printf 'new-db-password-1' >"$TEST_DIR/newdb"
  run_in "$TEST_DIR/newdb" rotate staging DB_PASSWORD --run "printf other-value-777 | '$ENVX' set staging DB_PASSWORD"
  expect_rc 6 && expect_err "changed meanwhile" && expect_err "not recorded" || return 1
  [ "$("$ENVX" get staging DB_PASSWORD)" = other-value-777 ]
}
ok "a secret changed while the hook ran: refused (exit 6), the other write kept" t_stale_refused

t_recreated_refused() {
  # removed and made again while the hook ran: the same version number,
  # another value; refused too
  printf 'seed-0000' | "$ENVX" set staging RECREATED -q &&
    printf 'new-recreated-1' >"$TEST_DIR/newrc" || return 1
  run_in "$TEST_DIR/newrc" rotate staging RECREATED --run "'$ENVX' -q rm staging RECREATED; printf planted-7777 | '$ENVX' -q set staging RECREATED"
  expect_rc 6 && expect_err "removed and set again" &&
    [ "$("$ENVX" get staging RECREATED)" = planted-7777 ]
}
ok "a secret removed and set again while the hook ran: refused (exit 6)" t_recreated_refused

t_rotate_succeeds() {
  "$ENVX_MARK_COMPROMISED" envx.vault staging "$id_file" DB_PASSWORD || return 1
  run_in "$TEST_DIR/newdb" rotate staging DB_PASSWORD --reason "laptop lost" --run 'test "$ENVX_NEW_VALUE" = new-db-password-1'
  expect_rc 0 && expect_err "rotated DB_PASSWORD in staging" || return 1
  [ "$("$ENVX" get staging DB_PASSWORD)" = new-db-password-1 ] || return 1
  "$ENVX" history staging DB_PASSWORD | tail -1 | grep -q ' rotate ' || return 1
  [ "$(status_of staging DB_PASSWORD)" = ok ] || return 1
  # the audit event says why, never the value
  [ "$(sqlite3 envx.vault "SELECT detail FROM audit ORDER BY seq DESC LIMIT 1")" = "rotate v3; hook; reason: laptop lost" ] || return 1
  ! sqlite3 envx.vault "SELECT * FROM audit" | grep -q new-db-password-1 || return 1
  run rotation --check
  expect_rc 0
}
ok "a successful rotate: new version of kind rotate, compromised cleared, reason audited" t_rotate_succeeds

t_rotate_generate() {
  run rotate staging API_KEY --generate=40 --charset hex
  expect_rc 0 && "$ENVX" get staging API_KEY | grep -qxE '[0-9a-f]{40}' || return 1
  run set staging GEN --generate=20 --charset base64url
  expect_rc 0 && "$ENVX" get staging GEN | grep -qxE '[A-Za-z0-9_-]{20}' || return 1
  "$ENVX" get staging API_KEY >"$TEST_DIR/same"
  run_in "$TEST_DIR/same" rotate staging API_KEY
  expect_rc 7 && expect_err "is the current one"
}
ok "rotate --generate --charset; set --charset; the same value again is refused" t_rotate_generate

t_errors() {
  cp envx.vault "$TEST_DIR/before.vault"
  fails 9 "no secret 'NOPE'" rotate staging NOPE --generate &&
    fails 9 "no environment 'nope'" rotate nope API_KEY --generate &&
    fails 9 "no environment 'nope'" rotation nope &&
    fails 2 "invalid date '2025-02-30'" rotation --at 2025-02-30 &&
    fails 2 "invalid date" rotation staging --at tomorrow &&
    fails 2 "invalid duration '3x'" rotation --due-within 3x &&
    fails 2 "invalid timeout '5x'" rotate staging API_KEY --generate --run true --timeout 5x &&
    fails 2 "--timeout needs --run" rotate staging API_KEY --generate --timeout 5s &&
    fails 2 "unknown charset 'ascii'" rotate staging API_KEY --generate --charset ascii &&
    fails 2 "--charset needs --generate" set staging API_KEY --charset hex &&
    fails 2 "missing ENV or NAME" rotate staging &&
    fails 2 "too many arguments" rotation staging production &&
    same_file envx.vault "$TEST_DIR/before.vault"
}
ok "errors: unknown secret or env (9), bad --at, DUR, timeout, charset (2)" t_errors

t_complete() {
  [ "$("$ENVX" __complete rotate staging API_KEY --charset b)" = base64url ] &&
    "$ENVX" __complete rot | grep -qx rotation &&
    "$ENVX" __complete rotate staging API_KEY --t | grep -qx -- --timeout &&
    "$ENVX" __complete exec staging --refuse | grep -qx -- --refuse-compromised
}
ok "completion offers the new commands, options and charsets" t_complete

t_rotate_short_notice() {
  printf 'abc' | "$ENVX" set staging SHORT_PIN -q 2>/dev/null
  printf 'xyz' >"$TEST_DIR/short.in"
  run_in "$TEST_DIR/short.in" rotate staging SHORT_PIN --run 'echo "applied $ENVX_NEW_VALUE"'
  expect_rc 0 &&
    expect_err "envx: rotate --run: not redacting 'ENVX_NEW_VALUE', 'ENVX_OLD_VALUE'" &&
    expect_err "'SHORT_PIN'" && expect_err "too short to redact safely" &&
    ! printf '%s' "$ERR" | grep -q xyz
}
ok "rotate --run names the values too short to redact (never shows them)" t_rotate_short_notice

finish
