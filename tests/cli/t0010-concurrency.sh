#!/usr/bin/env bash
# Concurrency: four writers at once, each writing names of its own and one
# shared name, with readers (get, list, exec) running alongside. Every write
# that exited 0 must be in the vault afterwards, no command may ever exit 4
# (a false tampering alarm), readers never fail, and the vault verifies. A
# lock held past the busy timeout is exit 6 "vault busy".
. "$ENVX_SOURCE_ROOT/tests/cli/test-lib.sh"
setup_vault
printf 'seed-value' | "$ENVX" set production SEED >/dev/null 2>&1

WRITERS=4
WRITES=25 # per writer, per kind: distinct names and the shared name
LOGS="$TEST_DIR/logs"
mkdir -p "$LOGS"

# writer W: WRITES rounds of one write to W_<W>_<i> and one to SHARED;
# logs "kind name value status" per write.
writer() {
  local w=$1 i rc
  for i in $(seq 1 "$WRITES"); do
    printf 'w%s-%s' "$w" "$i" | "$ENVX" set production "W_${w}_$i" \
      >/dev/null 2>>"$LOGS/writer-$w.err"
    rc=$?
    echo "distinct W_${w}_$i w$w-$i $rc" >>"$LOGS/writer-$w.log"
    printf 'shared-w%s-%s' "$w" "$i" | "$ENVX" set production SHARED \
      >/dev/null 2>>"$LOGS/writer-$w.err"
    rc=$?
    echo "shared SHARED shared-w$w-$i $rc" >>"$LOGS/writer-$w.log"
  done
}

# reader R: get, list and exec in turn until the writers are done; logs
# "command status" per read.
reader() {
  local r=$1 rc
  while [ ! -e "$LOGS/done" ]; do
    out=$("$ENVX" get production SEED 2>>"$LOGS/reader-$r.err")
    rc=$?
    [ "$rc" = 0 ] && [ "$out" != seed-value ] && rc=wrong-value
    echo "get $rc" >>"$LOGS/reader-$r.log"
    "$ENVX" list production >/dev/null 2>>"$LOGS/reader-$r.err"
    echo "list $?" >>"$LOGS/reader-$r.log"
    "$ENVX" exec production -- sh -c 'test "$SEED" = seed-value' \
      2>>"$LOGS/reader-$r.err"
    echo "exec $?" >>"$LOGS/reader-$r.log"
  done
}

start=$(date +%s)
readers=()
for r in 1 2; do
  reader "$r" &
  readers+=($!)
done
writers=()
for w in $(seq 1 "$WRITERS"); do
  writer "$w" &
  writers+=($!)
done
wait "${writers[@]}"
touch "$LOGS/done"
wait "${readers[@]}"
elapsed=$(($(date +%s) - start))

cat "$LOGS"/writer-*.log >"$TEST_DIR/writes"
cat "$LOGS"/reader-*.log >"$TEST_DIR/reads"
attempted=$(wc -l <"$TEST_DIR/writes")
acked=$(awk '$4 == 0' "$TEST_DIR/writes" | wc -l)
reads=$(wc -l <"$TEST_DIR/reads")
failed_reads=$(awk '$2 != 0' "$TEST_DIR/reads" | wc -l)

t_no_integrity_alarm() {
  if awk '$4 == 4 { f = 1 } END { exit !f }' "$TEST_DIR/writes" ||
    awk '$2 == 4 { f = 1 } END { exit !f }' "$TEST_DIR/reads"; then
    echo "a command exited 4 (false integrity alarm):" >&2
    sort "$LOGS"/*.err | grep -v "^envx: set " | uniq -c | head -5 >&2
    return 1
  fi
  ! grep -q "integrity" "$LOGS"/*.err
}
ok "no writer or reader ever exits 4 under concurrency" t_no_integrity_alarm

t_every_write_acknowledged() {
  [ "$acked" = "$attempted" ] || {
    awk '$4 != 0' "$TEST_DIR/writes" | head -5 >&2
    sort "$LOGS"/writer-*.err | grep -v '^envx: set ' | uniq -c | head -5 >&2
    return 1
  }
}
ok "every write waited for the lock and exited 0 ($attempted writes)" t_every_write_acknowledged

t_readers_never_fail() {
  [ "$reads" -gt 0 ] && [ "$failed_reads" = 0 ] || {
    awk '$2 != 0' "$TEST_DIR/reads" | sort | uniq -c >&2
    sort "$LOGS"/reader-*.err | uniq -c | head -5 >&2
    return 1
  }
}
ok "readers (get, list, exec) alongside the writers never fail ($reads reads)" t_readers_never_fail

# What the vault holds now, once, for the checks below.
"$ENVX" export production --format json >"$TEST_DIR/final.json" 2>"$TEST_DIR/final.err"
export_rc=$?
checked=0
lost_distinct=0
while read -r kind name value rc; do
  [ "$kind" = distinct ] && [ "$rc" = 0 ] || continue
  checked=$((checked + 1))
  grep -q "\"$name\": \"$value\"" "$TEST_DIR/final.json" || {
    lost_distinct=$((lost_distinct + 1))
    echo "# lost: $name=$value"
  }
done <"$TEST_DIR/writes"
shared_acked=$(awk '$1 == "shared" && $4 == 0' "$TEST_DIR/writes" | wc -l)
shared_versions=$("$ENVX" --json history production SHARED | grep -o "\"version\":" | wc -l)
checked=$((checked + shared_acked))
lost=$lost_distinct
if [ "$shared_versions" -lt "$shared_acked" ]; then
  lost=$((lost + shared_acked - shared_versions))
fi

t_distinct_writes_present() {
  [ "$export_rc" = 0 ] && [ "$lost_distinct" = 0 ] && [ "$checked" -gt 0 ]
}
ok "every acknowledged write to a name of its own is in the vault with its value" t_distinct_writes_present

t_shared_versions() {
  [ "$shared_versions" = "$shared_acked" ] || {
    echo "SHARED has $shared_versions versions for $shared_acked acknowledged writes" >&2
    return 1
  }
}
ok "the shared name has one version per acknowledged write" t_shared_versions

t_shared_value_is_a_written_one() {
  local v
  v=$("$ENVX" get production SHARED) &&
    awk -v v="$v" '$1 == "shared" && $3 == v { f = 1 } END { exit !f }' "$TEST_DIR/writes"
}
ok "the shared name's value is one of the values written" t_shared_value_is_a_written_one

t_vault_verifies() {
  [ "$(sqlite3 envx.vault 'PRAGMA integrity_check')" = ok ] &&
    run list production && expect_rc 0 && ! expect_err unverified 2>/dev/null &&
    run get production SEED && expect_rc 0 && [ "$OUT" = seed-value ] &&
    [ ! -e envx.vault-journal ]
}
ok "the vault verifies afterwards (SQLite integrity, environment MAC)" t_vault_verifies

echo "# writers: $WRITERS x $((2 * WRITES)) writes, readers: 2, ${elapsed}s"
echo "# writes attempted: $attempted, acknowledged: $acked, checked: $checked, lost: $lost"
echo "# reads: $reads, failed: $failed_reads"

# Holds an exclusive lock on envx.vault for $1 seconds (in the background),
# returning once it is held.
hold_lock() {
  rm -f "$TEST_DIR/locked"
  python3 - "$1" "$TEST_DIR/locked" <<'EOF' &
import sqlite3, sys, time
db = sqlite3.connect("envx.vault", isolation_level=None)
db.execute("BEGIN EXCLUSIVE")
open(sys.argv[2], "w").close()
time.sleep(float(sys.argv[1]))
db.execute("ROLLBACK")
EOF
  HOLDER=$!
  local i
  for i in $(seq 1 100); do
    [ -e "$TEST_DIR/locked" ] && return 0
    sleep 0.05
  done
  return 1
}

t_busy_past_timeout() {
  local before t0 t1
  before=$(sum_of envx.vault)
  hold_lock 3 || return 1
  t0=$(date +%s%N)
  printf 'late' | ENVX_BUSY_TIMEOUT_MS=300 "$ENVX" set production LATE \
    >"$TEST_DIR/run.out" 2>"$TEST_DIR/run.err"
  RC=$?
  ERR=$(cat "$TEST_DIR/run.err")
  t1=$(date +%s%N)
  expect_rc 6 && expect_err "vault busy" && expect_err "envx: " &&
    [ $(((t1 - t0) / 1000000)) -ge 250 ] &&
    ENVX_BUSY_TIMEOUT_MS=300 run get production SEED && expect_rc 6 &&
    expect_err "vault busy" && wait "$HOLDER" &&
    [ "$(sum_of envx.vault)" = "$before" ] &&
    fails 9 "no secret 'LATE'" get production LATE
}
ok "a lock held past ENVX_BUSY_TIMEOUT_MS is exit 6 'vault busy', vault unchanged" t_busy_past_timeout

t_busy_within_timeout() {
  hold_lock 1 || return 1
  printf 'patient' | ENVX_BUSY_TIMEOUT_MS=8000 "$ENVX" set production PATIENT \
    >/dev/null 2>&1 && wait "$HOLDER" &&
    [ "$("$ENVX" get production PATIENT)" = patient ]
}
ok "a write waits for a lock released within the timeout, then succeeds" t_busy_within_timeout

t_bad_timeout() {
  ENVX_BUSY_TIMEOUT_MS=soon run get production SEED
  expect_rc 2 && expect_err "ENVX_BUSY_TIMEOUT_MS"
}
ok "an invalid ENVX_BUSY_TIMEOUT_MS is a usage error" t_bad_timeout

finish
