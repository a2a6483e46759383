#!/usr/bin/env bash
# envx check: every finding end to end (missing, empty, extra, type,
# rotation, leak, reuse), locked environments checked by name only, the
# --all matrix, JSON output, and malformed templates (exit 7).
. "$ENVX_SOURCE_ROOT/tests/cli/test-lib.sh"
setup_vault
put() { printf '%s' "$3" | "$ENVX" set "$1" "$2" "${@:4}" >/dev/null 2>&1; }

cat >.env.example <<'T'
# Postgres connection string for the app.
# @type url
# @rotate 180d
DATABASE_URL=postgres://user:pass@localhost:5432/app

# @optional
# @type enum(debug,info,warn,error)
LOG_LEVEL=info

# @type port
PORT=3000

SENTRY_DSN= # optional, only in production
# FEATURE_FLAGS=

# @shared
# @type hostname
SMTP_HOST=smtp.example.com

JWT_SECRET=
T

put staging DATABASE_URL 'postgres://app:s3cret@db.staging:5432/app' --rotate-every 180d
put staging PORT 8080
put staging SMTP_HOST smtp.example.com
put staging JWT_SECRET 'staging-jwt-0123456789'

t_clean() {
  run check staging && expect_rc 0 && expect_out "staging against .env.example: ok"
}
ok "a clean environment passes (exit 0), optional names may be absent" t_clean

t_missing() {
  run check local && expect_rc 1 && expect_out DATABASE_URL && expect_out missing &&
    expect_out JWT_SECRET && ! expect_out SENTRY_DSN 2>/dev/null && ! expect_out FEATURE_FLAGS 2>/dev/null
}
ok "missing required names are errors; inline-optional and commented-out names are not" t_missing

t_empty() {
  put local DATABASE_URL '   ' --rotate-every 180d && put local PORT 1 && put local SMTP_HOST h.example &&
    put local JWT_SECRET '' --allow-empty &&
    run check local && expect_rc 1 && expect_out empty && expect_out JWT_SECRET
}
ok "an empty or whitespace-only value is reported as empty" t_empty

t_extra() {
  put staging LEFTOVER_KEY value &&
    run check staging && expect_rc 0 && expect_out LEFTOVER_KEY && expect_out warning &&
    run check staging --strict && expect_rc 1 && expect_out LEFTOVER_KEY
}
ok "an extra name is a warning, an error with --strict" t_extra

t_type() {
  put staging PORT 'not-a-port-99999' && put staging LOG_LEVEL verbose &&
    run check staging && expect_rc 1 && expect_out "@type port" && expect_out "enum(" &&
    ! grep -q -e not-a-port -e verbose "$TEST_DIR/run.out" "$TEST_DIR/run.err"
}
ok "a type mismatch names the expected type, never the value" t_type

t_rotation() {
  put staging PORT 8080 && put staging LOG_LEVEL info &&
    put staging DATABASE_URL 'postgres://app:s3cret@db.staging:5432/app' --rotate-every 90d &&
    run check staging && expect_rc 1 && expect_out rotation && expect_out 180d &&
    put production DATABASE_URL 'postgres://app:prod@db.prod:5432/app' &&
    run check production && expect_out rotation
}
ok "a different or missing rotation schedule is reported" t_rotation

t_leak() {
  put staging DATABASE_URL 'postgres://user:pass@localhost:5432/app' --rotate-every 180d &&
    run check staging && expect_rc 1 && expect_out leak && expect_out DATABASE_URL &&
    ! grep -q 'user:pass' "$TEST_DIR/run.out"
}
ok "a template value equal to a real secret is a leak" t_leak

t_reuse() {
  put staging DATABASE_URL 'postgres://app:s3cret@db.staging:5432/app' --rotate-every 180d &&
    put production DATABASE_URL 'postgres://app:s3cret@db.staging:5432/app' --rotate-every 180d &&
    put production SMTP_HOST smtp.example.com &&
    run check --all && expect_rc 1 && expect_out reuse && expect_out "production and staging" &&
    ! grep -q 'reuse.*SMTP_HOST' "$TEST_DIR/run.out"
}
ok "--all: the same value in two environments is an error unless @shared" t_reuse

t_matrix() {
  run check --all && expect_out "NAME" && expect_out "local" && expect_out "production" && expect_out "staging" &&
    grep -q '^DATABASE_URL' "$TEST_DIR/run.out"
}
ok "--all prints a name x environment matrix" t_matrix

t_locked() {
  "$ENVX" identity new -o "$TEST_DIR/other.id" >/dev/null 2>&1 &&
    run --identity "$TEST_DIR/other.id" check staging && expect_rc 0 &&
    expect_out "skipped" && ! grep -q '^error' "$TEST_DIR/run.out" &&
    run --identity "$TEST_DIR/other.id" check production && expect_rc 1 &&
    expect_out "skipped" && expect_out JWT_SECRET && expect_out missing
}
ok "a locked environment is checked by name, value checks skipped" t_locked

t_json() {
  run --json check --all && expect_rc 1 &&
    python3 - "$TEST_DIR/run.out" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
assert d["template"] == ".env.example"
assert {"name": "staging", "unlocked": True} in d["environments"]
kinds = {f["kind"] for f in d["findings"]}
assert {"reuse", "missing"} <= kinds, kinds
for f in d["findings"]:
    assert set(f) >= {"severity", "kind", "env", "name", "line", "message"}
assert d["errors"] >= 1
PY
}
ok "--json gives the findings as data" t_json

t_no_colour() {
  run check staging && ! grep -q $'\033\[' "$TEST_DIR/run.out"
}
ok "no colour when output is not a terminal" t_no_colour

t_malformed() {
  printf '# @typo string\nA=1\n' >bad.example &&
    fails 7 "bad.example:1" check staging --template bad.example &&
    printf '# @type regex(\nA=1\n' >bad2.example &&
    fails 7 "bad2.example:1" check staging --template bad2.example &&
    printf '# @rotate soon\nA=1\n' >bad3.example &&
    fails 7 "bad3.example:1" check staging --template bad3.example
}
ok "an unknown or malformed annotation is exit 7 with file and line" t_malformed

t_template_missing() {
  fails 9 "nope.example" check staging --template nope.example &&
    fails 2 "missing ENV" check && fails 2 "--all takes no ENV" check --all staging &&
    fails 9 "no environment 'nope'" check nope
}
ok "check usage and not-found errors" t_template_missing

t_never_writes() {
  local before
  before=$(sum_of envx.vault)
  "$ENVX" check --all >/dev/null 2>&1
  [ "$(sum_of envx.vault)" = "$before" ]
}
ok "check never changes the vault" t_never_writes

finish
