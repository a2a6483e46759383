#!/usr/bin/env bash
# envx sync github / sync status against the GitHub mock (tests/mock), which
# listens on 127.0.0.1 only, decrypts what it receives with each
# environment's own key, and injects faults and out-of-band changes.
. "$(dirname "$0")/test-lib.sh"

TOKEN=ghs_envxTestToken_q8Zr2
MOCK_PY="$ENVX_SOURCE_ROOT/tests/mock/github_mock.py"
python3 "$MOCK_PY" --port-file "$TEST_DIR/port" --token "$TOKEN" \
  --log "$TEST_DIR/mock.log" >"$TEST_DIR/mock.out" 2>&1 &
mock_pid=$!
trap 'kill "$mock_pid" 2>/dev/null; wait "$mock_pid" 2>/dev/null; rm -rf "$TEST_DIR"' EXIT
for _ in $(seq 200); do [ -s "$TEST_DIR/port" ] && break; sleep 0.05; done
[ -s "$TEST_DIR/port" ] || {
  echo "Bail out! the GitHub mock did not start: $(cat "$TEST_DIR/mock.out")"
  exit 1
}
MOCK="http://127.0.0.1:$(cat "$TEST_DIR/port")"
export GITHUB_API_URL=$MOCK GH_TOKEN=$TOKEN ENVX_GITHUB_WRITE_INTERVAL_MS=0
unset GITHUB_TOKEN GITHUB_REPOSITORY ENVX_GITHUB_TIMEOUT_MS

# mockc METHOD PATH [JSON]: the mock's control API.
mockc() {
  curl -fsS -X "$1" "$MOCK$2" ${3:+-d "$3"}
}
# stat KEY: one number of /_mock/stats.
stat() {
  mockc GET /_mock/stats | python3 -c "import json,sys; print(json.load(sys.stdin)['$1'])"
}
# remote ENV NAME: the bytes the mock decrypted for NAME, into stdout.
remote() {
  mockc GET "/_mock/secrets?repo=acme/api&environment=$1" |
    python3 -c "import json,sys,base64; d=json.load(sys.stdin); sys.stdout.buffer.write(base64.b64decode(d['$2']['value_b64'])) if '$2' in d else sys.exit(3)"
}
remote_names() {
  mockc GET "/_mock/secrets?repo=acme/api&environment=$1" |
    python3 -c "import json,sys; print(' '.join(sorted(json.load(sys.stdin))))"
}
reset_stats() { mockc POST /_mock/reset-log '{}' >/dev/null; }
sync() { run sync github "$@" --repo acme/api; }

setup_vault
mockc POST /_mock/env '{"repo":"acme/api","environment":"staging"}' >/dev/null
mockc POST /_mock/env '{"repo":"acme/api","environment":"production"}' >/dev/null
mockc POST /_mock/env '{"repo":"acme/api","environment":"ci-prod"}' >/dev/null

# the values, byte for byte
printf '' >"$TEST_DIR/v.empty"
printf 'x' >"$TEST_DIR/v.one"
printf 'line one\nline two\n\ttabbed "quoted" $HOME `cmd`\n' >"$TEST_DIR/v.multi"
printf 'p\xc3\xa4ss \xe2\x82\xac \xf0\x9f\x94\x91 \xe6\x97\xa5\xe6\x9c\xac' >"$TEST_DIR/v.unicode"
python3 -c "import sys; sys.stdout.write(('0123456789abcdef' * 2560)[:40960])" >"$TEST_DIR/v.big"
"$ENVX" set staging EMPTY_V --allow-empty <"$TEST_DIR/v.empty" 2>/dev/null
"$ENVX" set staging ONE_BYTE --raw <"$TEST_DIR/v.one" 2>/dev/null
"$ENVX" set staging MULTI_LINE --raw <"$TEST_DIR/v.multi" 2>/dev/null
"$ENVX" set staging UNICODE_V <"$TEST_DIR/v.unicode" 2>/dev/null
"$ENVX" set staging BIG_V <"$TEST_DIR/v.big" 2>/dev/null
printf 'postgres://stage:s3cr3t-Stage-Pw@db/app' | "$ENVX" set staging DATABASE_URL 2>/dev/null
printf 'prod-only-Value-991' | "$ENVX" set production API_KEY 2>/dev/null

t_no_token() {
  reset_stats
  GH_TOKEN='' run sync github staging --repo acme/api
  expect_rc 2 && expect_err GH_TOKEN && [ "$(stat requests)" = 0 ] || return 1
  # GITHUB_TOKEN is the fallback
  (unset GH_TOKEN; GITHUB_TOKEN=$TOKEN "$ENVX" sync status staging --repo acme/api --json >/dev/null; [ $? -le 1 ])
}
ok "a missing token is exit 2 naming GH_TOKEN, before any request; GITHUB_TOKEN is the fallback" t_no_token

t_bad_token_text() {
  reset_stats
  GH_TOKEN=$'abc\r\nX-Evil: 1' run sync github staging --repo acme/api
  expect_rc 2 && expect_err "not usable" && [ "$(stat requests)" = 0 ]
}
ok "a token that could inject a header is refused before any request" t_bad_token_text

t_http_refused() {
  local u
  reset_stats
  for u in http://api.github.com http://127.0.0.1.evil.example:1 http://10.0.0.1 ftp://x; do
    GITHUB_API_URL=$u run sync github staging --repo acme/api
    expect_rc 2 || return 1
  done
  GITHUB_API_URL=http://api.github.com run sync status staging --repo acme/api
  expect_rc 2 && expect_err "not a loopback" && [ "$(stat requests)" = 0 ]
}
ok "plain http:// to a host that is not loopback is refused (exit 2), nothing sent" t_http_refused

t_repo_sources() {
  fails 2 "--repo" sync status staging &&
    fails 2 "OWNER/REPO" sync status staging --repo not-a-repo &&
    GITHUB_REPOSITORY=acme/api run sync status staging && [ "$RC" -le 1 ] &&
    GITHUB_REPOSITORY='x/../y' run sync status staging && expect_rc 2 || return 1
  git init -q . && git remote add origin git@github.com:acme/api.git &&
    run sync status staging --json && [ "$RC" -le 1 ] &&
    expect_out '"repo": "acme/api"' &&
    git remote set-url origin https://github.com/acme/api.git &&
    run sync status staging --json && expect_out '"repo": "acme/api"' &&
    git remote set-url origin /srv/git/local.git && run sync status staging &&
    expect_rc 2 && expect_err "pass --repo" && rm -rf .git
}
ok "the repository comes from --repo, else GITHUB_REPOSITORY, else git's origin (ssh and https); none is exit 2" t_repo_sources

t_push_exact() {
  local n
  reset_stats
  sync staging
  expect_rc 0 || return 1
  for n in empty one multi unicode big; do :; done
  remote staging EMPTY_V | cmp -s - "$TEST_DIR/v.empty" &&
    remote staging ONE_BYTE | cmp -s - "$TEST_DIR/v.one" &&
    remote staging MULTI_LINE | cmp -s - "$TEST_DIR/v.multi" &&
    remote staging UNICODE_V | cmp -s - "$TEST_DIR/v.unicode" &&
    remote staging BIG_V | cmp -s - "$TEST_DIR/v.big" &&
    [ "$(remote staging DATABASE_URL)" = 'postgres://stage:s3cr3t-Stage-Pw@db/app' ] &&
    [ "$(remote_names staging)" = "BIG_V DATABASE_URL EMPTY_V MULTI_LINE ONE_BYTE UNICODE_V" ] &&
    [ "$(remote_names production)" = "" ]
}
ok "sync github pushes byte-exact values (empty, one byte, multi-line, unicode, 40 KB) to that environment only" t_push_exact

t_serial_headers() {
  [ "$(stat max_in_flight)" = 1 ] && [ "$(stat connections)" = 1 ] &&
    [ "$(stat writes)" = 6 ] &&
    mockc GET /_mock/log | python3 -c '
import json, sys
log = json.load(sys.stdin)
assert log, "no requests"
for r in log:
    assert r["auth"] == "ok", r
    assert r["accept"] == "application/vnd.github+json", r
    assert r["api_version"] == "2022-11-28", r
    assert r["user_agent"].startswith("envx/"), r
keys = [r for r in log if r["path"].endswith("/public-key")]
assert len(keys) == 1 and "/environments/staging/" in keys[0]["path"], keys
'
}
ok "requests are serial on one connection, with the bearer token, API version, Accept and User-Agent" t_serial_headers

t_only_changes() {
  reset_stats
  sync staging
  expect_rc 0 && [ "$(stat writes)" = 0 ] && expect_out "6 unchanged" || return 1
  printf 'postgres://stage:N3w-Pw@db/app' | "$ENVX" set staging DATABASE_URL 2>/dev/null
  reset_stats
  sync staging
  expect_rc 0 && [ "$(stat writes)" = 1 ] &&
    [ "$(remote staging DATABASE_URL)" = 'postgres://stage:N3w-Pw@db/app' ] || return 1
  # the same value again is a new version but nothing to send
  printf 'postgres://stage:N3w-Pw@db/app' | "$ENVX" set staging DATABASE_URL 2>/dev/null
  reset_stats
  sync staging
  expect_rc 0 && [ "$(stat writes)" = 0 ]
}
ok "only changes are sent: a second sync writes nothing, one changed value is one write" t_only_changes

t_status_in_step() {
  run sync status staging --repo acme/api
  expect_rc 0 && expect_out "in step" || return 1
  run sync status staging --repo acme/api --json
  expect_rc 0 && printf '%s' "$OUT" | python3 -c '
import json, sys
d = json.load(sys.stdin)
assert d["in_step"] is True and d["drift"] == 0, d
assert {s["state"] for s in d["secrets"]} == {"in-step"}, d
'
}
ok "sync status is exit 0 when GitHub holds what envx pushed" t_status_in_step

t_drift() {
  printf 'local-change' | "$ENVX" set staging ONE_BYTE 2>/dev/null
  printf 'brand-new-value' | "$ENVX" set staging NEW_ONE 2>/dev/null
  mockc POST /_mock/set '{"repo":"acme/api","environment":"staging","name":"MULTI_LINE","value_b64":"b3V0LW9mLWJhbmQ="}' >/dev/null
  mockc POST /_mock/delete '{"repo":"acme/api","environment":"staging","name":"UNICODE_V"}' >/dev/null
  mockc POST /_mock/set '{"repo":"acme/api","environment":"staging","name":"MANUAL_TOKEN","value_b64":"bWFudWFs"}' >/dev/null
  "$ENVX" rm staging EMPTY_V 2>/dev/null
  run sync status staging --repo acme/api
  expect_rc 1 || return 1
  printf '%s\n' "$OUT" | grep -Eq '^changed-locally +ONE_BYTE ' &&
    printf '%s\n' "$OUT" | grep -Eq '^new-locally +NEW_ONE ' &&
    printf '%s\n' "$OUT" | grep -Eq '^changed-on-github +MULTI_LINE ' &&
    printf '%s\n' "$OUT" | grep -Eq '^missing-on-github +UNICODE_V ' &&
    printf '%s\n' "$OUT" | grep -Eq '^remote-only +MANUAL_TOKEN ' &&
    printf '%s\n' "$OUT" | grep -Eq '^deleted-locally +EMPTY_V ' &&
    printf '%s\n' "$OUT" | grep -Eq '^in-step +BIG_V ' &&
    expect_out "drift: 5 names"
}
ok "sync status names new, changed-locally, changed-on-GitHub, missing, deleted-locally and remote-only secrets, exit 1" t_drift

t_dry_run() {
  local before
  before=$(sum_of envx.vault)
  reset_stats
  sync staging --dry-run
  expect_rc 0 && [ "$(stat writes)" = 0 ] && [ "$(sum_of envx.vault)" = "$before" ] &&
    printf '%s\n' "$OUT" | grep -Eq '^  update +ONE_BYTE ' &&
    printf '%s\n' "$OUT" | grep -Eq '^  create +NEW_ONE ' &&
    printf '%s\n' "$OUT" | grep -Eq '^  update +MULTI_LINE .*changed on GitHub' &&
    printf '%s\n' "$OUT" | grep -Eq '^  create +UNICODE_V .*deleted on GitHub' &&
    printf '%s\n' "$OUT" | grep -Eq '^  keep +EMPTY_V .*--prune' &&
    printf '%s\n' "$OUT" | grep -Eq '^  remote-only +MANUAL_TOKEN ' &&
    expect_out "none sent" || return 1
  sync staging --dry-run --prune
  printf '%s\n' "$OUT" | grep -Eq '^  delete +EMPTY_V ' && [ "$(stat writes)" = 0 ]
}
ok "--dry-run prints the plan (create/update/delete/keep) and sends no write; the vault is unchanged" t_dry_run

t_sync_restores() {
  reset_stats
  sync staging
  expect_rc 0 && [ "$(stat writes)" = 4 ] &&
    [ "$(remote staging ONE_BYTE)" = local-change ] &&
    remote staging MULTI_LINE | cmp -s - "$TEST_DIR/v.multi" &&
    remote staging UNICODE_V | cmp -s - "$TEST_DIR/v.unicode" &&
    [ "$(remote staging NEW_ONE)" = brand-new-value ] &&
    [ "$(remote staging MANUAL_TOKEN)" = manual ] &&
    [ "$(remote staging EMPTY_V)" = "" ] &&
    remote_names staging | grep -qw EMPTY_V
}
ok "sync github sends the drift: local changes, GitHub's changes undone, deleted ones again; without --prune nothing is deleted" t_sync_restores

t_prune() {
  reset_stats
  sync staging --prune
  expect_rc 0 && [ "$(stat writes)" = 1 ] &&
    ! remote_names staging | grep -qw EMPTY_V &&
    [ "$(remote staging MANUAL_TOKEN)" = manual ] || return 1
  run sync status staging --repo acme/api
  expect_rc 0 && printf '%s\n' "$OUT" | grep -Eq '^remote-only +MANUAL_TOKEN '
}
ok "--prune deletes only what envx pushed; a secret envx never pushed stays (remote-only is not drift)" t_prune

t_forged_record() {
  local before key
  # someone who can write the file adds a record claiming envx pushed
  # MANUAL_TOKEN, so that --prune would delete it
  keep_pristine
  # the chain recomputed as SPEC VF-5.1 says: it verifies, it is only
  # not covered by any signed state
  key=$(sql "SELECT detail FROM audit WHERE action = 'sync-github' LIMIT 1" | tr ' ' '\n' | grep '^key=')
  forge_event sync-github staging "" \
    "repo=acme/api environment=staging $key put=MANUAL_TOKEN:1:00112233445566778899aabbccddeeff:2000-01-01T00:00:00Z"
  "$ENVX" audit --verify >/dev/null 2>&1 || { echo "the forged event does not verify" >&2; return 1; }
  reset_stats
  sync staging --prune
  [ "$RC" != 0 ] && [ "$(stat writes)" = 0 ] && [ "$(remote staging MANUAL_TOKEN)" = manual ] || return 1
  # and a writer's next ordinary write does not sign over it
  printf 'innocent' | "$ENVX" set staging SOMETHING_ELSE 2>"$TEST_DIR/f.err"
  [ $? = 4 ] && grep -q "added after its last signed state" "$TEST_DIR/f.err" || return 1
  sync staging --prune
  [ "$RC" != 0 ] && [ "$(stat writes)" = 0 ] && [ "$(remote staging MANUAL_TOKEN)" = manual ] || return 1
  fresh
}
ok "a sync record added in the file does not make --prune delete anything, before or after another write" t_forged_record

t_audit_event() {
  run audit staging
  expect_rc 0 && expect_out sync-github && expect_out "put=ONE_BYTE:" &&
    expect_out "delete=EMPTY_V" && expect_out "repo=acme/api" &&
    ! printf '%s' "$OUT" | grep -q local-change
}
ok "each sync is one audit event naming the repository, environment, names and versions, never values" t_audit_event

t_limits() {
  local before i
  before=$(sum_of envx.vault)
  "$ENVX" env add limits >/dev/null 2>&1
  mockc POST /_mock/env '{"repo":"acme/api","environment":"limits"}' >/dev/null
  printf v | "$ENVX" set limits GITHUB_SHA_X 2>/dev/null
  printf v | "$ENVX" set limits api_key 2>/dev/null
  printf v | "$ENVX" set limits API_KEY 2>/dev/null
  python3 -c "import sys; sys.stdout.write('a' * (48 * 1024 + 1))" | "$ENVX" set limits TOO_BIG 2>/dev/null
  printf v | "$ENVX" set limits FINE 2>/dev/null
  reset_stats
  sync limits
  expect_rc 7 && expect_err "GITHUB_SHA_X" && expect_err "same name as API_KEY" &&
    expect_err "TOO_BIG" && expect_err "nothing was sent" &&
    ! expect_err "FINE:" 2>/dev/null && [ "$(stat requests)" = 0 ] || return 1
  "$ENVX" env rm limits --force >/dev/null 2>&1
  "$ENVX" env add many >/dev/null 2>&1
  for i in $(seq 101); do echo "S_$i=v$i"; done >"$TEST_DIR/many.env"
  "$ENVX" import many "$TEST_DIR/many.env" >/dev/null 2>&1
  sync many
  expect_rc 7 && expect_err "at most 100" && [ "$(stat requests)" = 0 ]
}
ok "GitHub's name rules, case-insensitive duplicates, 48 KB and 100 secrets are checked first: every offender listed, exit 7, nothing sent" t_limits

t_total_limit() {
  local i
  "$ENVX" env rm many --force >/dev/null 2>&1
  "$ENVX" env add crowded >/dev/null 2>&1
  mockc POST /_mock/env '{"repo":"acme/api","environment":"crowded"}' >/dev/null
  for i in $(seq 98); do
    mockc POST /_mock/set "{\"repo\":\"acme/api\",\"environment\":\"crowded\",\"name\":\"M_$i\",\"value_b64\":\"eA==\"}" >/dev/null
  done
  printf 'a\nb\nc\n' | sed 's/.*/L_&=v/' >"$TEST_DIR/three.env"
  "$ENVX" import crowded "$TEST_DIR/three.env" >/dev/null 2>&1
  reset_stats
  sync crowded
  expect_rc 7 && expect_err "101 secrets" && [ "$(stat writes)" = 0 ]
}
ok "the environment's total with secrets envx does not own is checked before any write" t_total_limit

t_pagination() {
  mockc POST /_mock/config '{"per_page_max": 7}' >/dev/null
  reset_stats
  run sync status crowded --repo acme/api --json
  mockc POST /_mock/config '{"per_page_max": 100}' >/dev/null
  [ "$RC" = 1 ] && [ "$(printf '%s' "$OUT" | python3 -c '
import json, sys
d = json.load(sys.stdin)
print(sum(1 for s in d["secrets"] if s["state"] == "remote-only"))')" = 98 ] &&
    [ "$(stat requests)" = 14 ]
}
ok "GitHub's list is read across pages (Link rel=next)" t_pagination

t_partial_failure() {
  local i
  "$ENVX" env add part >/dev/null 2>&1
  mockc POST /_mock/env '{"repo":"acme/api","environment":"part"}' >/dev/null
  for i in 1 2 3 4 5; do echo "P_$i=part-value-$i"; done >"$TEST_DIR/part.env"
  "$ENVX" import part "$TEST_DIR/part.env" >/dev/null 2>&1
  mockc POST /_mock/inject '[{"method": "PUT", "after": 2, "count": 1, "status": 422, "body": {"message": "Validation Failed"}}]' >/dev/null
  reset_stats
  sync part
  expect_rc 5 && expect_err "P_3" && expect_err "Validation Failed" &&
    expect_err "not sent" && expect_err "P_4 (not-sent)" &&
    [ "$(remote_names part)" = "P_1 P_2" ] && [ "$(stat writes)" = 2 ] || return 1
  run sync status part --repo acme/api
  printf '%s\n' "$OUT" | grep -Eq '^in-step +P_1 ' &&
    printf '%s\n' "$OUT" | grep -Eq '^new-locally +P_3 ' || return 1
  mockc POST /_mock/inject '[]' >/dev/null
  reset_stats
  sync part
  expect_rc 0 && [ "$(stat writes)" = 3 ] &&
    [ "$(remote_names part)" = "P_1 P_2 P_3 P_4 P_5" ] &&
    [ "$(remote part P_5)" = part-value-5 ]
}
ok "a failure midway: per-name report, exit 5, what was pushed is recorded, a rerun sends only the rest" t_partial_failure

t_server_errors() {
  printf 'after-502' | "$ENVX" set part P_1 2>/dev/null
  mockc POST /_mock/inject '[{"method": "PUT", "count": 2, "status": 502}]' >/dev/null
  reset_stats
  sync part
  expect_rc 0 && [ "$(remote part P_1)" = after-502 ] && expect_err "server error" || return 1
  printf 'after-4x502' | "$ENVX" set part P_1 2>/dev/null
  mockc POST /_mock/inject '[{"method": "PUT", "count": 4, "status": 503}]' >/dev/null
  sync part
  expect_rc 5 && expect_err "503" || return 1
  mockc POST /_mock/inject '[{"method": "PUT", "count": 1, "close": true}]' >/dev/null
  sync part
  expect_rc 0 && [ "$(remote part P_1)" = after-4x502 ]
}
ok "5xx answers and dropped connections are retried a bounded number of times" t_server_errors

t_rate_limits() {
  local t0 t1
  printf 'rl-1' | "$ENVX" set part P_2 2>/dev/null
  mockc POST /_mock/inject '[{"method": "PUT", "preset": "too-many-requests", "retry_after": 1}]' >/dev/null
  t0=$(date +%s%N)
  sync part
  t1=$(date +%s%N)
  expect_rc 0 && [ "$(remote part P_2)" = rl-1 ] && [ $(((t1 - t0) / 1000000)) -ge 1000 ] &&
    expect_err "retry-after" || return 1
  printf 'rl-2' | "$ENVX" set part P_2 2>/dev/null
  mockc POST /_mock/inject '[{"method": "PUT", "preset": "rate-limit", "reset_in": 1}]' >/dev/null
  t0=$(date +%s%N)
  sync part
  t1=$(date +%s%N)
  expect_rc 0 && [ "$(remote part P_2)" = rl-2 ] && [ $(((t1 - t0) / 1000000)) -ge 1000 ] &&
    expect_err "x-ratelimit-reset" || return 1
  # a secondary limit asks for at least a minute: past --max-wait 30s
  # the sync stops at once instead of sleeping
  printf 'rl-3' | "$ENVX" set part P_2 2>/dev/null
  mockc POST /_mock/inject '[{"method": "PUT", "preset": "secondary-rate-limit"}]' >/dev/null
  t0=$(date +%s%N)
  sync part --max-wait 30s
  t1=$(date +%s%N)
  expect_rc 5 && expect_err "secondary rate limit" && expect_err "--max-wait" &&
    [ $(((t1 - t0) / 1000000)) -lt 10000 ] && expect_err "P_2 (failed)" || return 1
  # and a primary limit whose reset is too far off
  mockc POST /_mock/inject '[{"method": "PUT", "preset": "rate-limit", "reset_in": 3600}]' >/dev/null
  sync part
  expect_rc 5 && expect_err "x-ratelimit-reset" || return 1
  mockc POST /_mock/inject '[]' >/dev/null
  sync part
  expect_rc 0 && [ "$(remote part P_2)" = rl-3 ]
}
ok "rate limits: retry-after and x-ratelimit-reset are waited out; a wait past --max-wait stops with exit 5" t_rate_limits

t_retry_after_zero() {
  local t0 t1
  mockc POST /_mock/inject '[{"status": 429, "headers": {"retry-after": "0"}, "count": -1}]' >/dev/null
  reset_stats
  t0=$(date +%s%N)
  run sync github part --repo acme/api --max-wait 3s
  t1=$(date +%s%N)
  mockc POST /_mock/inject '[]' >/dev/null
  expect_rc 5 && expect_err "--max-wait" && [ "$(stat requests)" -le 5 ] &&
    [ $(((t1 - t0) / 1000000)) -lt 8000 ] || return 1
  run sync github part --repo acme/api --max-wait 0s
  expect_rc 0
}
ok "retry-after: 0 forever cannot make a request loop: each retry waits, --max-wait ends it (0s is valid)" t_retry_after_zero

t_dot_environments() {
  reset_stats
  fails 2 "--environment" sync status staging --repo acme/api --environment .. &&
    fails 2 "--environment" sync status staging --repo acme/api --environment . &&
    GITHUB_API_URL=http://127.0.0.1:99999 run sync status staging --repo acme/api &&
    expect_rc 2 && expect_err "port" && [ "$(stat requests)" = 0 ]
}
ok "--environment . and .. are refused (they would be URL path steps); a bad port is exit 2" t_dot_environments

t_not_retried() {
  printf 'nr-1' | "$ENVX" set part P_3 2>/dev/null
  reset_stats
  GH_TOKEN=ghs_wrongToken run sync github part --repo acme/api
  expect_rc 5 && expect_err "401" && expect_err "GH_TOKEN" && [ "$(stat requests)" = 1 ] || return 1
  mockc POST /_mock/inject '[{"method": "PUT", "count": 1, "status": 403, "body": {"message": "Resource not accessible by integration"}}]' >/dev/null
  reset_stats
  sync part
  expect_rc 5 && expect_err "not accessible" && [ "$(stat writes)" = 0 ] || return 1
  sync part --environment nowhere
  expect_rc 5 && expect_err "404" && expect_err "create the environment"
}
ok "other 4xx answers are not retried (401 bad token, 403 permission, 404 no environment)" t_not_retried

t_timeout() {
  local t0 t1
  # the server answers after 3 s (times WAIT_FACTOR: envx under valgrind
  # is slow itself); envx gives up well before
  mockc POST /_mock/inject "[{\"method\": \"GET\", \"delay_ms\": $((3000 * WAIT_FACTOR)), \"count\": -1}]" >/dev/null
  t0=$(date +%s%N)
  ENVX_GITHUB_TIMEOUT_MS=300 run sync github part --repo acme/api --max-wait 0
  t1=$(date +%s%N)
  mockc POST /_mock/inject '[]' >/dev/null
  expect_rc 5 && [ $(((t1 - t0) / 1000000)) -lt $((2500 * WAIT_FACTOR)) ] && expect_err "no answer from GitHub" || return 1
  ENVX_GITHUB_TIMEOUT_MS=0 run sync github part --repo acme/api
  expect_rc 2
}
ok "a request past ENVX_GITHUB_TIMEOUT_MS fails (exit 5), without waiting for a slow server" t_timeout

t_environment_option() {
  reset_stats
  run sync github production --repo acme/api --environment ci-prod
  expect_rc 0 && [ "$(remote ci-prod API_KEY)" = prod-only-Value-991 ] &&
    [ "$(remote_names production)" = "" ] || return 1
  run sync status production --repo acme/api --environment ci-prod
  expect_rc 0 || return 1
  # another environment's record says nothing about this one
  run sync status production --repo acme/api
  expect_rc 1 && printf '%s\n' "$OUT" | grep -Eq '^new-locally +API_KEY '
}
ok "--environment picks the GitHub environment; each keeps its own record" t_environment_option

t_reader_refused() {
  local key before
  key=$("$ENVX" access grant staging --new-key --label ci-reader 2>/dev/null)
  before=$(sum_of envx.vault)
  printf 'reader-change' | "$ENVX" set staging ONE_BYTE 2>/dev/null
  before=$(sum_of envx.vault)
  reset_stats
  ENVX_IDENTITY=$key run sync github staging --repo acme/api
  expect_rc 3 && expect_err "nothing was sent" && [ "$(stat requests)" = 0 ] &&
    [ "$(sum_of envx.vault)" = "$before" ] || return 1
  ENVX_IDENTITY=$key run sync status staging --repo acme/api
  expect_rc 1 && printf '%s\n' "$OUT" | grep -Eq '^changed-locally +ONE_BYTE '
}
ok "a read-only identity cannot sync (exit 3, nothing sent) but can see drift" t_reader_refused

t_usage() {
  fails 2 "github or status" sync gitlab staging &&
    fails 2 "missing ENV" sync github &&
    fails 2 "for 'sync github'" sync status staging --prune --repo acme/api &&
    fails 2 "--max-wait" sync github staging --repo acme/api --max-wait 5x &&
    fails 2 "--write-interval" sync github staging --repo acme/api --write-interval -1 &&
    ENVX_GITHUB_WRITE_INTERVAL_MS=soon run sync github staging --repo acme/api &&
    expect_rc 2 && fails 9 "nosuch" sync status nosuch --repo acme/api &&
    fails 2 "--environment" sync status staging --repo acme/api --environment a/b
}
ok "bad subcommands, flags and settings are usage errors (exit 2); an unknown environment is exit 9" t_usage

t_write_interval() {
  local t0 t1
  printf 'w1' | "$ENVX" set part P_1 2>/dev/null
  printf 'w2' | "$ENVX" set part P_2 2>/dev/null
  printf 'w3' | "$ENVX" set part P_3 2>/dev/null
  t0=$(date +%s%N)
  sync part --write-interval 400
  t1=$(date +%s%N)
  expect_rc 0 && [ $(((t1 - t0) / 1000000)) -ge 800 ]
}
ok "--write-interval paces the writes" t_write_interval

t_nothing_leaks() {
  local f
  # the token nowhere: outputs of every command above are in $TEST_DIR
  for f in "$TEST_DIR"/run.out "$TEST_DIR"/run.err "$TEST_DIR"/out "$TEST_DIR"/err \
    "$TEST_DIR"/mock.log envx.vault; do
    [ -f "$f" ] || continue
    if grep -aq "$TOKEN" "$f"; then echo "token in $f" >&2; return 1; fi
  done
  if grep -raq "$TOKEN" "$HOME"; then echo "token under HOME" >&2; return 1; fi
  run sync github staging --repo acme/api --json
  printf '%s%s' "$OUT" "$ERR" | grep -aq -e "$TOKEN" -e s3cr3t -e N3w-Pw -e reader-change && return 1
  run sync status staging --repo acme/api --json
  printf '%s%s' "$OUT" "$ERR" | grep -aq -e "$TOKEN" -e N3w-Pw -e reader-change && return 1
  ! grep -aq -e N3w-Pw -e reader-change -e prod-only-Value envx.vault &&
    ! grep -raq -e N3w-Pw -e reader-change "$HOME"
}
ok "neither the token nor any value appears in output, the vault or any file envx writes" t_nothing_leaks

t_no_curl_for_others() {
  # libcurl is loaded only by sync (src/sync/github.c)
  ! readelf -d "$ENVX_UNWRAPPED" 2>/dev/null | grep -q 'libcurl' &&
    readelf -d "$ENVX_UNWRAPPED" | grep -q NEEDED
}
ok "the envx binary does not link libcurl: only sync loads it" t_no_curl_for_others

finish
