#!/usr/bin/env bash
# The guides in docs/*.md run, so they cannot rot.
#
# Convention: a fenced block whose info string is `sh runnable`
#
#     ```sh runnable
#     envx init
#     ```
#
# (indented too, inside a list item) is run by this test; any other block (YAML, a block that needs dotenvx,
# GitHub or a second machine, a placeholder like envxpub2…) is not. The
# runnable blocks of one guide run in order, each with `bash -e` in its own
# process, in one throwaway directory per guide: a git repository with a
# bare remote as origin (so `git commit` and `git push` work), a fresh HOME,
# `envx` on PATH ($ENVX) and ENVX_KDF at the floor for speed. A guide that
# assumes a vault already exists gets it from setup_GUIDE below. A block that
# fails fails this test, named by its file and the line of its fence.
. "$(dirname "$0")/test-lib.sh"

DOCS="$ENVX_SOURCE_ROOT/docs"

# envx on PATH under that name: $ENVX is the binary, or with ENVX_TEST_WRAP
# a wrapper script, and either may be called something else.
mkdir -p "$TEST_DIR/path"
ln -s "$ENVX" "$TEST_DIR/path/envx"
GUIDE_PATH="$TEST_DIR/path:$PATH"

# blocks FILE: "LINE<TAB>BODY-FILE" for each runnable block of FILE, the
# bodies written under $TEST_DIR/blocks.
blocks() {
  local out="$TEST_DIR/blocks/${1##*/}"
  mkdir -p "$out"
  awk -v out="$out" '
    !inside && /^[ \t]*```sh runnable[ \t]*$/ {
      inside = 1; start = NR; body = out "/" NR ".sh"; printf "" >body; next
    }
    inside && /^[ \t]*```[ \t]*$/ { inside = 0; close(body); print start "\t" body; next }
    inside { print >body }
    END { if (inside) { print start "\tunterminated"; } }
  ' "$1"
}

# A git repository with a remote, as a team's checkout is.
new_checkout() {
  local dir=$1
  mkdir -p "$dir/home" "$dir/remote.git" "$dir/repo" &&
    git init -q --bare "$dir/remote.git" &&
    git -C "$dir/repo" init -q &&
    git -C "$dir/repo" config user.email tester@example.com &&
    git -C "$dir/repo" config user.name tester &&
    git -C "$dir/repo" remote add origin "$dir/remote.git"
}

# Runs in the checkout, as the guide's reader: envx on PATH, the guide's HOME.
in_checkout() {
  local dir=$1
  shift
  (cd "$dir/repo" && HOME="$dir/home" XDG_CONFIG_HOME="$dir/home/.config" \
    PATH="$GUIDE_PATH" "$@")
}

# docs/incident-response.md starts where an incident does: production holds
# secrets, alice-laptop holds a key to it, the vault is committed and pushed,
# and the rotation hook the guide names exists (here it changes nothing).
setup_incident_response() {
  in_checkout "$1" bash -e -c '
    envx init >/dev/null 2>&1
    envx set production JWT_SECRET --generate=64 -q
    printf "%s" "postgres://app:old@db:5432/app" | envx set production DATABASE_URL -q
    envx access grant production --new-key --label alice-laptop >/dev/null 2>&1
    mkdir scripts
    printf "#!/bin/sh\ntest -n \"\$ENVX_NEW_VALUE\"\n" >scripts/set-db-password.sh
    chmod +x scripts/set-db-password.sh
    git add envx.vault .gitignore scripts
    git commit -q -m "production secrets"
    git push -q -u origin HEAD 2>/dev/null
  '
}

# docs/migrating.md starts from the .env files a team has: not committed,
# not ignored either.
setup_migrating() {
  printf 'DATABASE_URL=postgres://app:app@localhost:5432/app\nJWT_SECRET=local-only\n' >"$1/repo/.env" &&
    printf 'DATABASE_URL="postgres://app:s3cret@staging-db:5432/app"\nJWT_SECRET=staging-jwt\n' >"$1/repo/.env.staging"
}

# run_block DIR FILE LINE BODY: one block, in the guide's checkout.
run_block() {
  local dir=$1 file=$2 line=$3 body=$4
  if [ "$body" = unterminated ]; then
    echo "$file:$line: the runnable block has no closing fence" >&2
    return 1
  fi
  in_checkout "$dir" bash -e "$body" || {
    echo "$file:$line: the runnable block failed (exit $?)" >&2
    return 1
  }
}

# run_guide FILE: every runnable block of FILE, one test each.
run_guide() {
  local file=$1 name dir setup line body
  name=$(basename "$file" .md)
  dir="$TEST_DIR/guides/$name"
  new_checkout "$dir" || return 1
  setup="setup_${name//-/_}"
  if declare -F "$setup" >/dev/null; then
    ok "docs/${file##*/}: setup" "$setup" "$dir"
  fi
  while IFS=$'\t' read -r line body; do
    ok "docs/${file##*/}:$line runs" run_block "$dir" "docs/${file##*/}" "$line" "$body"
  done < <(blocks "$file")
}

if ! command -v git >/dev/null; then
  skip "the guides run" "git is not installed"
  finish
  exit $?
fi

for f in "$DOCS"/*.md; do
  run_guide "$f"
done

# Every guide keeps runnable blocks: a marker lost in an edit would
# otherwise leave the guide untested, silently.
t_guides_marked() {
  local g
  for g in getting-started ci migrating incident-response; do
    grep -q '^```sh runnable$' "$DOCS/$g.md" || {
      echo "docs/$g.md has no runnable block" >&2
      return 1
    }
  done
}
ok "every guide has runnable blocks" t_guides_marked

# The runner itself: a failing block fails, named by file and line; a block
# that is not marked is not run.
t_runner_fails() {
  local doc="$TEST_DIR/selftest/bad.md"
  mkdir -p "$TEST_DIR/selftest" &&
    printf '# t\n\n```sh\nexit 3\n```\n\n```sh runnable\ntrue\nfalse\ntouch after\n```\n' >"$doc" &&
    new_checkout "$TEST_DIR/selftest/d" || return 1
  local line body
  IFS=$'\t' read -r line body < <(blocks "$doc")
  [ "$line" = 7 ] && [ "$(blocks "$doc" | wc -l)" = 1 ] || return 1
  ! run_block "$TEST_DIR/selftest/d" docs/bad.md "$line" "$body" 2>"$TEST_DIR/self.err" &&
    grep -q '^docs/bad.md:7: the runnable block failed' "$TEST_DIR/self.err" &&
    [ ! -e "$TEST_DIR/selftest/d/repo/after" ]
}
ok "a failing runnable block fails, named by file and line" t_runner_fails

finish
