#!/usr/bin/env bash
# Faults: a full disk, a read-only file system, an unreadable or replaced
# vault or identity. Each gives its documented exit status and a clear
# message, and leaves the vault byte-identical. Cases that need mount or
# setpriv are skipped when they cannot run (not root, no tmpfs).
. "$ENVX_SOURCE_ROOT/tests/cli/test-lib.sh"
MNT="$TEST_DIR/mnt"
mkdir -p "$MNT"
trap 'umount "$MNT" 2>/dev/null; rm -rf "$TEST_DIR"' EXIT

can_mount() { [ "$(id -u)" = 0 ] && mount -t tmpfs -o size=64k tmpfs "$MNT" 2>/dev/null && umount "$MNT"; }
MOUNT_OK=false
can_mount && MOUNT_OK=true

skip() {
  _n=$((_n + 1))
  echo "ok $_n # SKIP $1"
}

# A vault with a few values in dir $1 (already mounted).
make_vault() {
  (cd "$1" && "$ENVX" init -q && printf 'v1' | "$ENVX" set staging A -q &&
    printf 'v2' | "$ENVX" set staging B -q)
}

t_disk_full() {
  mount -t tmpfs -o size=160k tmpfs "$MNT" || return 1
  make_vault "$MNT" || return 1
  # fill what is left, then write a value bigger than the free space
  dd if=/dev/zero of="$MNT/fill" bs=4k 2>/dev/null
  local before
  before=$(sum_of "$MNT/envx.vault")
  head -c 60000 /dev/urandom | base64 -w0 >"$TEST_DIR/big"
  run_in "$TEST_DIR/big" --vault "$MNT/envx.vault" set staging BIG
  local ok=0
  expect_rc 6 && expect_err "disk full" && ! grep -qF "$(head -c 32 "$TEST_DIR/big")" "$TEST_DIR/run.err" || ok=1
  rm -f "$MNT/fill"
  [ "$ok" = 0 ] && [ ! -e "$MNT/envx.vault-journal" ] &&
    [ "$(sum_of "$MNT/envx.vault")" = "$before" ] &&
    [ "$("$ENVX" --vault "$MNT/envx.vault" get staging A)" = v1 ]
  ok=$?
  umount "$MNT"
  return $ok
}
if $MOUNT_OK; then ok "disk full: exit 6, the vault byte-identical, values intact" t_disk_full; else skip "disk full (needs root and tmpfs)"; fi

t_read_only_fs() {
  mount -t tmpfs -o size=512k tmpfs "$MNT" || return 1
  make_vault "$MNT" && mount -o remount,ro "$MNT" || { umount "$MNT"; return 1; }
  local before ok
  before=$(sum_of "$MNT/envx.vault")
  run_in /dev/null --vault "$MNT/envx.vault" set staging C --allow-empty
  expect_rc 6 && expect_err "read-only file system" &&
    [ "$("$ENVX" --vault "$MNT/envx.vault" get staging A)" = v1 ] &&
    "$ENVX" --vault "$MNT/envx.vault" list staging >/dev/null &&
    [ "$("$ENVX" --vault "$MNT/envx.vault" exec staging -- sh -c 'printf %s "$B"')" = v2 ] &&
    [ "$(sum_of "$MNT/envx.vault")" = "$before" ]
  ok=$?
  umount "$MNT"
  return $ok
}
if $MOUNT_OK; then ok "read-only file system: writes exit 6 naming it, reads work" t_read_only_fs; else skip "read-only file system (needs root and tmpfs)"; fi

setup_vault
printf 'v1' | "$ENVX" set staging A -q
cp envx.vault "$TEST_DIR/pristine"
ident="$HOME/.config/envx/identity"

t_unreadable_vault() {
  [ "$(id -u)" = 0 ] && command -v setpriv >/dev/null || return 77
  local d="$TEST_DIR/other" before
  chmod 711 "$TEST_DIR"
  mkdir -p "$d/home/.config/envx" && cp envx.vault "$d/" && cp "$ident" "$d/home/.config/envx/identity" &&
    chown -R nobody "$d" && chmod 000 "$d/envx.vault" || return 1
  before=$(sum_of "$d/envx.vault")
  (cd "$d" && HOME="$d/home" XDG_CONFIG_HOME="$d/home/.config" setpriv --reuid=nobody --regid=nogroup --clear-groups \
    "$ENVX_UNWRAPPED" get staging A >"$TEST_DIR/o" 2>"$TEST_DIR/e")
  local rc=$?
  [ $rc = 6 ] && grep -q "envx: " "$TEST_DIR/e" && grep -qi "permission denied\|cannot open" "$TEST_DIR/e" &&
    [ "$(sum_of "$d/envx.vault")" = "$before" ]
}
if [ "$(id -u)" = 0 ] && command -v setpriv >/dev/null; then
  ok "an unreadable vault: exit 6 with the reason, unchanged" t_unreadable_vault
else skip "unreadable vault (needs root to switch users)"; fi

t_replaced_vault() {
  # another envx vault (another vault id) where the old one was
  local before
  (mkdir -p "$TEST_DIR/v2" && cd "$TEST_DIR/v2" && HOME="$TEST_DIR/v2h" XDG_CONFIG_HOME="$TEST_DIR/v2h/.config" "$ENVX" init -q) || return 1
  cp "$TEST_DIR/v2/envx.vault" envx.vault
  before=$(sum_of envx.vault)
  fails 3 "cannot unlock environment 'staging'" get staging A &&
    [ "$(sum_of envx.vault)" = "$before" ] &&
    printf 'not a vault at all\n' >envx.vault && before=$(sum_of envx.vault) &&
    fails 4 "not an envx vault" get staging A &&
    run_in /dev/null set staging Z --allow-empty && expect_rc 4 &&
    [ "$(sum_of envx.vault)" = "$before" ]
  local ok=$?
  cp "$TEST_DIR/pristine" envx.vault
  return $ok
}
ok "a vault replaced by another vault (exit 3) or by another file (exit 4), unchanged" t_replaced_vault

t_identity_faults() {
  local before
  before=$(sum_of envx.vault)
  cp "$ident" "$TEST_DIR/id.bak"
  chmod 644 "$ident" && fails 8 "permissions 0644 are too open" get staging A &&
    chmod 600 "$ident" &&
    rm "$ident" && mkdir "$ident" && fails 8 "not a regular file" get staging A &&
    rmdir "$ident" && mkfifo "$ident" && { timeout 10 "$ENVX" get staging A 2>"$TEST_DIR/e"; [ $? = 8 ]; } &&
    rm "$ident" && printf 'garbage\n' >"$ident" && chmod 600 "$ident" && fails 7 "invalid identity" get staging A &&
    (cd "$TEST_DIR" && HOME="$TEST_DIR/h3" "$ENVX" identity new -o "$ident" --force -q >/dev/null 2>&1) &&
    fails 3 "not one of its recipients" get staging A &&
    [ "$(sum_of envx.vault)" = "$before" ]
  local ok=$?
  rm -rf "$ident" && cp "$TEST_DIR/id.bak" "$ident" && chmod 600 "$ident"
  return $ok
}
ok "identity unreadable, a directory, a FIFO (no hang), garbage, or another key: documented codes" t_identity_faults

finish
