#!/usr/bin/env bash
# envx scan: the vault's current and past values, and their base64, URL and
# JSON forms, found in the working tree (respecting .gitignore unless
# --all), in the index (--staged) and in every blob of the history
# (--git-history); reported by file, line, column, environment, name,
# version and encoding, never by value. Exit 1 on a hit, 0 when clean.
. "$ENVX_SOURCE_ROOT/tests/cli/test-lib.sh"
setup_vault
export GIT_AUTHOR_NAME=t GIT_AUTHOR_EMAIL=t@example.com \
  GIT_COMMITTER_NAME=t GIT_COMMITTER_EMAIL=t@example.com GIT_CONFIG_NOSYSTEM=1
git init -q . && git config commit.gpgsign false || {
  echo "Bail out! git init failed"
  exit 1
}
OLD='old-token-Alpha-0001'
CUR='cur+tok/en"Beta?>?>0002'
printf '%s' "$OLD" | "$ENVX" set staging TOKEN >/dev/null 2>&1
printf '%s' "$CUR" | "$ENVX" set staging TOKEN >/dev/null 2>&1
printf '%s' 'prod-db-password-77' | "$ENVX" set production DB_PASSWORD >/dev/null 2>&1
printf '%s' 'short7x' | "$ENVX" set production PIN >/dev/null 2>&1
printf 'ignored.txt\n' >.gitignore
printf 'README\n' >README
git add .gitignore README && git commit -qm init

clean() { git rm -rq --cached . >/dev/null 2>&1; git clean -fdxq -e envx.vault; git reset -q --hard; }
no_values() {
  ! grep -aFq -e "$OLD" -e "$CUR" -e 'prod-db-password-77' -e 'short7x' \
    -e 'old-token' -e 'prod-db' "$TEST_DIR/run.out" "$TEST_DIR/run.err"
}

t_clean() {
  clean
  run scan && expect_rc 0 && [ -z "$OUT" ] &&
    expect_err "0 findings in 2 files" && expect_err "3 values of 3 environments" &&
    expect_err "1 value under 8 bytes skipped"
}
ok "a clean tree exits 0; the vault itself is never a finding" t_clean

t_tracked() {
  clean
  printf 'a\nurl: postgres://u:prod-db-password-77@db/app\n' >config.yml
  git add config.yml
  run scan && expect_rc 1 &&
    [ "$OUT" = "config.yml:2:19: production DB_PASSWORD v1 (current) raw" ] &&
    expect_err "1 finding in 3 files" && no_values
}
ok "a value in a tracked file: file, line, column, env, name, version" t_tracked

t_ignored() {
  clean
  printf 'x=prod-db-password-77\n' >ignored.txt
  run scan && expect_rc 0 && [ -z "$OUT" ] &&
    run scan --all && expect_rc 1 &&
    [ "$OUT" = "ignored.txt:1:3: production DB_PASSWORD v1 (current) raw" ] &&
    # named explicitly, an ignored file is scanned
    run scan ignored.txt && expect_rc 1 && no_values
}
ok "an ignored file is found only with --all (or when named)" t_ignored

t_past() {
  clean
  printf 'TOKEN=%s\n' "$OLD" >.env.backup
  run scan && expect_rc 1 &&
    [ "$OUT" = ".env.backup:1:7: staging TOKEN v1 (past) raw" ] && no_values
}
ok "a past version only is found and named as past" t_past

t_encodings() {
  clean
  python3 - "$CUR" <<'PY'
import base64, json, re, sys, urllib.parse
v = sys.argv[1].encode()
open("b64.txt", "w").write("k: " + base64.b64encode(v).decode() + "\n")
open("b64url.txt", "w").write(base64.urlsafe_b64encode(v).decode().rstrip("=") + "\n")
# inside a longer stream, at offset 1 (mod 3)
open("blob.txt", "w").write(base64.b64encode(b"x" + v + b"tail").decode() + "\n")
open("url.txt", "w").write("?t=" + urllib.parse.quote(v, safe="-_.!~*'()") + "&\n")
open("urllow.txt", "w").write(re.sub("%[0-9A-F]{2}", lambda m: m.group(0).lower(),
                                     urllib.parse.quote(v, safe="-_.!~*'()")) + "\n")
open("j.json", "w").write(json.dumps({"t": sys.argv[1]}, ensure_ascii=False) + "\n")
PY
  printf 'bin\0\1\2%s\0\377' "$CUR" >bin.dat
  run scan --all && expect_rc 1 &&
    printf '%s\n' "$OUT" | grep -qx 'b64.txt:1:4: staging TOKEN v2 (current) base64' &&
    printf '%s\n' "$OUT" | grep -qx 'b64url.txt:1:1: staging TOKEN v2 (current) base64url' &&
    printf '%s\n' "$OUT" | grep -qx 'blob.txt:1:3: staging TOKEN v2 (current) base64' &&
    printf '%s\n' "$OUT" | grep -qx 'url.txt:1:4: staging TOKEN v2 (current) url' &&
    printf '%s\n' "$OUT" | grep -qx 'urllow.txt:1:1: staging TOKEN v2 (current) url-lower' &&
    printf '%s\n' "$OUT" | grep -qx 'j.json:1:8: staging TOKEN v2 (current) json' &&
    printf '%s\n' "$OUT" | grep -qx 'bin.dat:1:7: staging TOKEN v2 (current) raw' &&
    [ "$(printf '%s\n' "$OUT" | wc -l)" = 7 ] && no_values
}
ok "base64, base64url, base64 inside a stream, URL, JSON and binary forms" t_encodings

t_short() {
  clean
  printf 'pin=short7x\n' >pin.txt
  run scan && expect_rc 0 && expect_err "1 value under 8 bytes skipped" &&
    run --json scan && expect_rc 0 &&
    printf '%s' "$OUT" | python3 -c '
import json, sys
d = json.load(sys.stdin)
assert d["findings"] == [] and d["count"] == 0, d
assert d["skipped_short"] == 1 and d["min_bytes"] == 8 and d["values"] == 3, d
assert d["environments"] == ["local", "production", "staging"], d
'
}
ok "values under 8 bytes are skipped, and --json says how many" t_short

t_json() {
  clean
  printf '%s\n' "$OLD" >a.txt
  printf 'x %s\n' 'prod-db-password-77' >b.txt
  run --json scan && expect_rc 1 && no_values &&
    printf '%s' "$OUT" | python3 -c '
import json, sys
d = json.load(sys.stdin)
f = d["findings"]
assert d["count"] == 2 and len(f) == 2, d
assert f[0] == {"source": "file", "path": "a.txt", "commit": None, "line": 1,
                "column": 1, "offset": 0, "env": "staging", "name": "TOKEN",
                "version": 1, "current": False, "encoding": "raw"}, f[0]
assert f[1]["path"] == "b.txt" and f[1]["column"] == 3 and f[1]["current"], f[1]
'
}
ok "--json: one document, every field, no value" t_json

t_history() {
  clean
  printf 'TOKEN=%s\n' "$CUR" >leak.env
  git add leak.env && git commit -qm leak
  first=$(git rev-parse HEAD)
  git mv leak.env moved.env && git commit -qm move
  git rm -q moved.env && git commit -qm remove
  run scan && expect_rc 0 &&
    run scan --git-history && expect_rc 1 && echo B "$OUT" &&
    [ "$OUT" = "$first:leak.env:1:7: staging TOKEN v2 (current) raw" ] &&
    expect_err "1 finding in" && expect_err "of the history" && no_values &&
    run --json scan --git-history && expect_rc 1 &&
    printf '%s' "$OUT" | python3 -c '
import json, sys
f = json.load(sys.stdin)["findings"]
assert len(f) == 1 and f[0]["commit"] == sys.argv[1] and f[0]["source"] == "history", f
' "$first" && no_values
}
ok "--git-history finds a value deleted long ago, once, naming the commit" t_history

t_staged() {
  clean
  printf 'x=%s\n' 'prod-db-password-77' >staged.txt
  git add staged.txt
  printf 'clean now\n' >staged.txt
  printf 'y=%s\n' "$OLD" >README # changed, not staged
  run scan --staged && expect_rc 1 && echo A &&
    [ "$OUT" = "staged.txt:1:3: production DB_PASSWORD v1 (current) raw" ] &&
    expect_err "of the index" && no_values &&
    git reset -q staged.txt && rm staged.txt &&
    run scan --staged && expect_rc 0 && [ -z "$OUT" ]
}
ok "--staged reads the index: a staged value, not an unstaged one" t_staged

t_vault_named_file() {
  local head
  clean
  head=$(git rev-parse HEAD)
  cp envx.vault "$TEST_DIR/vault.keep" || return 1
  mkdir -p sub lookalike copy
  # plain text under the vault's name, and a file that starts like an
  # SQLite database but is not envx's (no application id): both scanned
  printf 'x=%s\n' 'prod-db-password-77' >sub/envx.vault
  python3 - <<'PY'
import struct
h = bytearray(b"SQLite format 3\0" + struct.pack(">H", 512) + bytes(82))
h.extend(b"\nx=prod-db-password-77\n")
h.extend(bytes(512 - len(h)))
open("lookalike/envx.vault", "wb").write(h)
PY
  # a real vault, under any name, is only ciphertext: skipped
  cp envx.vault copy/other.vault
  git add -f envx.vault sub/envx.vault lookalike/envx.vault copy/other.vault
  local sub="production DB_PASSWORD v1 (current) raw"
  run scan --staged && expect_rc 1 &&
    [ "$OUT" = "lookalike/envx.vault:2:3: $sub
sub/envx.vault:1:3: $sub" ] && expect_err "2 findings in 2 blobs" &&
    git commit -qm vaults && commit=$(git rev-parse HEAD) &&
    run scan --git-history && expect_rc 1 &&
    expect_out "$commit:lookalike/envx.vault:2:3: $sub
$commit:sub/envx.vault:1:3: $sub" &&
    [ "$(printf '%s\n' "$OUT" | grep -c "^$commit:")" = 2 ] &&
    run scan && expect_rc 1 &&
    [ "$OUT" = "lookalike/envx.vault:2:3: $sub
sub/envx.vault:1:3: $sub" ] && no_values
  local rc=$?
  # committed, the vault goes with the reset: put it back
  git reset -q --hard "$head" && rm -rf sub lookalike copy &&
    cp "$TEST_DIR/vault.keep" envx.vault || return 1
  return $rc
}
ok "a file named envx.vault that is not an envx vault is scanned (--staged, --git-history, the tree)" t_vault_named_file

t_envs_and_paths() {
  clean
  mkdir -p sub
  printf '%s\n' "$OLD" >sub/a.txt
  printf '%s\n' 'prod-db-password-77' >b.txt
  run scan production && expect_rc 1 && [ "$OUT" = "b.txt:1:1: production DB_PASSWORD v1 (current) raw" ] &&
    run scan staging sub && expect_rc 1 && [ "$OUT" = "sub/a.txt:1:1: staging TOKEN v1 (past) raw" ] &&
    run scan production sub && expect_rc 0 &&
    run scan --env staging -- b.txt && expect_rc 0 &&
    # after --, a name is a path
    mkdir staging && printf '%s\n' "$OLD" >staging/x &&
    run scan production -- staging && expect_rc 0 &&
    run scan -- staging && expect_rc 1 && [ "$OUT" = "staging/x:1:1: staging TOKEN v1 (past) raw" ]
}
ok "arguments naming an environment choose it, the rest are paths; -- separates" t_envs_and_paths

t_errors() {
  clean
  fails 2 "unknown option '--bogus'" scan --bogus &&
    fails 2 "exclude each other" scan --git-history --staged &&
    fails 2 "--all applies to the working tree" scan --all --staged &&
    fails 9 "no environment 'nosuch'" scan --env nosuch &&
    fails 9 "'stagin': no such environment, file or directory" scan stagin &&
    "$ENVX" identity new -o "$TEST_DIR/other" >/dev/null 2>&1 &&
    ENVX_IDENTITY_FILE=$TEST_DIR/other fails 3 "cannot unlock any environment" scan &&
    expect_err "skipping environment 'production': this identity cannot unlock it" &&
    ENVX_IDENTITY_FILE=$TEST_DIR/other fails 3 "cannot unlock environment 'staging'" scan staging &&
    (cd "$TEST_DIR" && mkdir -p norepo && cd norepo &&
      ENVX_VAULT="$TEST_DIR/work/envx.vault" fails 2 "--staged needs a git repository" scan --staged)
}
ok "exit codes: 2 usage, 9 unknown environment or path, 3 no key" t_errors

t_hook_blocks_commit() {
  local bin="$TEST_DIR/hookbin"
  clean
  mkdir -p "$bin" && ln -sf "$ENVX" "$bin/envx"
  run git setup --hooks && expect_rc 0 || return 1
  printf 'ok\n' >notes.txt && git add notes.txt &&
    PATH="$bin:$PATH" git commit -qm clean >/dev/null 2>"$TEST_DIR/hook.err" || return 1
  printf 'db=%s\n' 'prod-db-password-77' >leak.txt && git add leak.txt
  if PATH="$bin:$PATH" git commit -qm leak >/dev/null 2>"$TEST_DIR/hook.err"; then
    echo "the commit with a value went through" >&2
    return 1
  fi
  grep -q 'leak.txt:1:4: production DB_PASSWORD v1' "$TEST_DIR/hook.err" &&
    ! grep -q 'prod-db-password' "$TEST_DIR/hook.err" &&
    [ "$(git log -1 --format=%s)" = clean ] && git rm -q --cached leak.txt && rm -f leak.txt
}
ok "envx git setup --hooks: the pre-commit hook refuses a commit holding a value, names it, never prints it" t_hook_blocks_commit

t_unreadable() {
  clean
  printf 'x\n' >locked.txt && chmod 000 locked.txt
  fails 6 "1 file could not be read" scan --all &&
    expect_err "cannot read 'locked.txt'"
  rc=$?
  chmod 600 locked.txt
  return $rc
}
if [ "$(id -u)" = 0 ]; then
  skip "a file that cannot be read makes the scan incomplete: exit 6" "root reads every file"
else
  ok "a file that cannot be read makes the scan incomplete: exit 6" t_unreadable
fi

finish
