#!/usr/bin/env bash
# Key files (identities and --passphrase-file) are checked on the file envx
# opened, not by path first: a symlink, a FIFO, a group-readable file, or a
# file swapped in between check and open is refused with exit 8, at once.
. "$ENVX_SOURCE_ROOT/tests/cli/test-lib.sh"
setup_vault
printf 'owner-only-value' | "$ENVX" set production DB_PASSWORD >/dev/null 2>&1
id="$HOME/.config/envx/identity"

# timeout: a FIFO that envx waited on would hang the test, not fail it
trun() {
  timeout 5 "$ENVX" "$@" </dev/null >"$TEST_DIR/run.out" 2>"$TEST_DIR/run.err"
  RC=$?
  OUT=$(cat "$TEST_DIR/run.out")
  ERR=$(cat "$TEST_DIR/run.err")
}

t_fifo_identity() {
  mkfifo -m 600 "$TEST_DIR/fifo.id" &&
    trun --identity "$TEST_DIR/fifo.id" get production DB_PASSWORD &&
    expect_rc 8 && expect_err "not a regular file" && expect_err "fifo.id"
}
ok "a FIFO as identity file: exit 8 at once, no hang" t_fifo_identity

t_fifo_passphrase_file() {
  mkfifo -m 600 "$TEST_DIR/fifo.pass" &&
    trun --passphrase-file "$TEST_DIR/fifo.pass" identity new --passphrase -o "$TEST_DIR/p.id" &&
    expect_rc 8 && expect_err "not a regular file" && [ ! -e "$TEST_DIR/p.id" ]
}
ok "a FIFO as passphrase file: exit 8 at once, no hang" t_fifo_passphrase_file

t_symlinks() {
  ln -s "$id" "$TEST_DIR/link.id" &&
    trun --identity "$TEST_DIR/link.id" get production DB_PASSWORD &&
    expect_rc 8 && expect_err "symbolic link" &&
    printf 'pw\n' >"$TEST_DIR/pass" && chmod 600 "$TEST_DIR/pass" &&
    ln -s "$TEST_DIR/pass" "$TEST_DIR/link.pass" &&
    trun --passphrase-file "$TEST_DIR/link.pass" identity new --passphrase -o "$TEST_DIR/p.id" &&
    expect_rc 8 && expect_err "symbolic link"
}
ok "a symlink as identity or passphrase file: exit 8" t_symlinks

t_group_readable() {
  cp "$id" "$TEST_DIR/loose.id" && chmod 640 "$TEST_DIR/loose.id" &&
    trun --identity "$TEST_DIR/loose.id" get production DB_PASSWORD &&
    expect_rc 8 && expect_err "too open" &&
    printf 'pw\n' >"$TEST_DIR/loose.pass" && chmod 640 "$TEST_DIR/loose.pass" &&
    trun --passphrase-file "$TEST_DIR/loose.pass" identity new --passphrase -o "$TEST_DIR/p.id" &&
    expect_rc 8 && expect_err "too open"
}
ok "a group-readable identity or passphrase file: exit 8" t_group_readable

t_other_owner() {
  # only root can give a file to someone else
  if [ "$(id -u)" != 0 ]; then
    return 0
  fi
  cp "$id" "$TEST_DIR/theirs.id" && chmod 600 "$TEST_DIR/theirs.id" &&
    chown 65534 "$TEST_DIR/theirs.id" &&
    trun --identity "$TEST_DIR/theirs.id" get production DB_PASSWORD &&
    expect_rc 8 && expect_err "owned by another user"
}
ok "an identity owned by another user: exit 8 (run as root only)" t_other_owner

# The race itself: a regular private file when looked at, a FIFO when
# opened. Checking by path and then opening by path waits on the FIFO
# forever; checking the opened file refuses it.
t_swapped_for_fifo() {
  cp "$id" "$TEST_DIR/race.id" && chmod 600 "$TEST_DIR/race.id" &&
    mkfifo -m 600 "$TEST_DIR/race.fifo" &&
    ENVX_SWAP_PATH="$TEST_DIR/race.id" ENVX_SWAP_WITH="$TEST_DIR/race.fifo" \
      LD_PRELOAD="$ENVX_SWAP_PRELOAD" \
      ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0" \
      trun --identity "$TEST_DIR/race.id" get production DB_PASSWORD &&
    expect_rc 8 && expect_err "not a regular file" &&
    [ -p "$TEST_DIR/race.id" ] # the swap did happen
}
ok "an identity swapped for a FIFO between check and open: exit 8, no hang" t_swapped_for_fifo

t_private_identity_still_works() {
  trun get production DB_PASSWORD && expect_rc 0 && [ "$OUT" = owner-only-value ]
}
ok "a private regular identity file still opens" t_private_identity_still_works

finish
