#!/usr/bin/env bash
# Crash consistency: every write command is killed with SIGKILL at random
# instants, hundreds of times. After each kill the vault opens and every
# environment verifies, a hot journal the kill left is rolled back by the
# next command and reported, a write acknowledged with exit 0 reads back
# exactly, and the killed write is either applied entirely or not at all,
# with nothing else in the vault changed.
#
# ENVX_CRASH_SEED=N replays the same operations and delays (the seed is
# printed); ENVX_CRASH_KILLS=N changes the number of kills (default 300).
# The OP_* tables are read through indirection (${!name}).
# shellcheck disable=SC2034
. "$ENVX_SOURCE_ROOT/tests/cli/test-lib.sh"
# these tests put older states of the vault back on purpose
no_rollback_memory
setup_vault

SEED=${ENVX_CRASH_SEED:-$RANDOM}
RANDOM=$SEED
KILLS=${ENVX_CRASH_KILLS:-300}
IMPORT_NAMES=200
echo "# seed: $SEED (ENVX_CRASH_SEED=$SEED replays it)"

LOG="$TEST_DIR/kills.log" # one line per kill: k op delay_us rc verdict journal
FAIL_LOG="$TEST_DIR/failures.log"
: >"$LOG"
: >"$FAIL_LOG"
VAL="$TEST_DIR/value"
OPERR="$TEST_DIR/op.err"

# A pause without a fork: read on a pipe nobody writes to times out.
exec {PAUSE_FD}<> <(:)
pause_us() {
  local s
  printf -v s '%d.%06d' $(($1 / 1000000)) $(($1 % 1000000))
  read -r -t "$s" -u "$PAUSE_FD" _ || true
}
now_us() {
  local t=${EPOCHREALTIME/./}
  echo $((10#$t))
}

# Failures found while the kills run; reported by the subtests below.
fail() {
  echo "kill $K ($OP): $*" >>"$FAIL_LOG"
}

# Number of versions NAME has in ENV (0 when absent), into NVERS.
versions() {
  local out
  out=$("$ENVX" --json history "$1" "$2" 2>/dev/null) || {
    NVERS=0
    return 0
  }
  local rest=${out//\"version\":/}
  NVERS=$(((${#out} - ${#rest}) / 10))
}

# ENV NAME into GOT (exit status in GOT_RC).
get_value() {
  GOT=$("$ENVX" get "$1" "$2" 2>"$TEST_DIR/get.err")
  GOT_RC=$?
}

# An acknowledged helper write (a prepare step): must succeed.
must() {
  "$@" >/dev/null 2>"$TEST_DIR/must.err" || {
    echo "Bail out! prepare step failed: $* ($(cat "$TEST_DIR/must.err"))"
    exit 1
  }
  PREP_WROTE=1
}
set_value() { # ENV NAME VALUE
  printf '%s' "$3" >"$TEST_DIR/prep.value"
  must "$ENVX" set "$1" "$2" <"$TEST_DIR/prep.value"
}

# ---------------------------------------------------------------------------
# The operations. Each OP has:
#   op_OP_prepare  bring the vault to a known state (acknowledged writes)
#                  and choose the new values;
#   op_OP_start    start the write command in the background (envx itself,
#                  so that $! is the process to kill);
#   op_OP_check    decide from the vault whether the command took effect:
#                  sets VERDICT to before, after or half (WHY says how) and
#                  updates the state it tracks to what it found.
# and OP_TARGET_NAMES_OP / OP_TARGET_ENVS_OP: the production names and the
# environments it may change (extended regexes; everything else must stay
# as it was), and OP_TWICE_OP=1 when the same command may run twice with
# no check in between. `rotate`, `rekey` and `access revoke` are each added later
# by writing these three functions and the two variables, and adding the
# name to OPS.
# ---------------------------------------------------------------------------
OPS=(set import rm rollback env_add env_rm)

# set: a new version of SETV (stdin value).
OP_TARGET_NAMES_set='SETV'
OP_TARGET_ENVS_set='production'
SET_N=0
SET_CUR=
op_set_prepare() {
  SET_NEW="set-$K-$RANDOM"
  printf '%s' "$SET_NEW" >"$VAL"
}
op_set_start() {
  "$ENVX" set production SETV <"$VAL" >/dev/null 2>"$OPERR" &
}
op_set_check() {
  versions production SETV
  get_value production SETV
  if [ "$NVERS" = "$SET_N" ] && [ "$GOT" = "$SET_CUR" ]; then
    VERDICT=before
  elif [ "$NVERS" = $((SET_N + 1)) ] && [ "$GOT" = "$SET_NEW" ]; then
    VERDICT=after
    SET_N=$NVERS
    SET_CUR=$SET_NEW
  else
    VERDICT=half
    WHY="SETV has $NVERS versions and value '$GOT': expected $SET_N and '$SET_CUR' or $((SET_N + 1)) and '$SET_NEW'"
  fi
}

# import: a dotenv file giving every one of IMPORT_NAMES names a new value.
OP_TARGET_NAMES_import='IMP_[0-9]+'
OP_TARGET_ENVS_import='production'
OP_TWICE_import=1 # unchanged values add no version: a rerun is harmless
IMP_TAG=
op_import_prepare() {
  local i
  IMP_NEW="i$K"
  for ((i = 1; i <= IMPORT_NAMES; i++)); do
    echo "IMP_$i=$IMP_NEW-$i"
  done >"$TEST_DIR/import.env"
}
op_import_start() {
  "$ENVX" import production "$TEST_DIR/import.env" >/dev/null 2>"$OPERR" &
}
op_import_check() {
  local counts
  counts=$(awk -F= -v o="$IMP_TAG" -v n="$IMP_NEW" '
    $1 ~ /^IMP_[0-9]+$/ {
      i = substr($1, 5)
      if ($2 == o "-" i) old++
      else if ($2 == n "-" i) new++
      else bad++
    }
    END { print old + 0, new + 0, bad + 0 }' "$TEST_DIR/after.prod")
  if [ "$counts" = "$IMPORT_NAMES 0 0" ]; then
    VERDICT=before
  elif [ "$counts" = "0 $IMPORT_NAMES 0" ]; then
    VERDICT=after
    IMP_TAG=$IMP_NEW
  else
    VERDICT=half
    WHY="import: old, new, other values: $counts (of $IMPORT_NAMES)"
  fi
  # and one name through get, as a user would read it
  if [ "$VERDICT" != half ]; then
    get_value production IMP_7
    [ "$GOT" = "$IMP_TAG-7" ] || {
      VERDICT=half
      WHY="import: get IMP_7 says '$GOT' ($GOT_RC), export says $IMP_TAG-7"
    }
  fi
}

# rm: a secret with three versions.
OP_TARGET_NAMES_rm='RM_[0-9]+'
OP_TARGET_ENVS_rm='production'
RM_NAME=
op_rm_prepare() {
  local v
  if [ -z "$RM_NAME" ]; then # the last one was removed: a new one
    RM_NAME="RM_$K"
    for v in 1 2 3; do
      set_value production "$RM_NAME" "rm-$K-$v"
    done
    RM_VAL="rm-$K-3"
  fi
}
op_rm_start() {
  "$ENVX" rm production "$RM_NAME" >/dev/null 2>"$OPERR" &
}
op_rm_check() {
  versions production "$RM_NAME"
  get_value production "$RM_NAME"
  if [ "$NVERS" = 3 ] && [ "$GOT_RC" = 0 ] && [ "$GOT" = "$RM_VAL" ]; then
    VERDICT=before
  elif [ "$NVERS" = 0 ] && [ "$GOT_RC" = 9 ] &&
    ! grep -q "^$RM_NAME=" "$TEST_DIR/after.prod"; then
    VERDICT=after
    RM_NAME=
  else
    VERDICT=half
    WHY="$RM_NAME has $NVERS versions, get exits $GOT_RC with '$GOT': expected 3 and '$RM_VAL', or gone"
  fi
}

# rollback: ROLL back to its previous version, as a new version.
OP_TARGET_NAMES_rollback='ROLL'
OP_TARGET_ENVS_rollback='production'
ROLL_VALS=() # ROLL_VALS[v - 1] is version v's value
op_rollback_prepare() { :; }
op_rollback_start() {
  "$ENVX" rollback production ROLL >/dev/null 2>"$OPERR" &
}
op_rollback_check() {
  local n=${#ROLL_VALS[@]}
  versions production ROLL
  get_value production ROLL
  if [ "$NVERS" = "$n" ] && [ "$GOT" = "${ROLL_VALS[n - 1]}" ]; then
    VERDICT=before
  elif [ "$NVERS" = $((n + 1)) ] && [ "$GOT" = "${ROLL_VALS[n - 2]}" ]; then
    VERDICT=after
    ROLL_VALS+=("$GOT")
  else
    VERDICT=half
    WHY="ROLL has $NVERS versions and value '$GOT': expected $n and '${ROLL_VALS[n - 1]}' or $((n + 1)) and '${ROLL_VALS[n - 2]}'"
  fi
}

# env info line of the last env list for ENV ("" when absent), into INFO.
env_info() {
  INFO=$(grep -o "{\"name\": \"$1\", [^}]*}" "$TEST_DIR/after.envs")
}

# env add: a new environment, which must come with its recipient (us).
OP_TARGET_NAMES_env_add=
OP_TARGET_ENVS_env_add='added'
ADDED=false
op_env_add_prepare() {
  if $ADDED; then
    must "$ENVX" env rm added --force
    ADDED=false
  fi
}
op_env_add_start() {
  "$ENVX" env add added >/dev/null 2>"$OPERR" &
}
op_env_add_check() {
  env_info added
  if [ -z "$INFO" ]; then
    run list added
    if [ "$RC" = 9 ]; then
      VERDICT=before
    else
      VERDICT=half
      WHY="'added' is not in env list but list exits $RC: $ERR"
    fi
  elif [ "$INFO" = '{"name": "added", "secrets": 0, "recipients": 1}' ] &&
    run list added && [ "$RC" = 0 ] && [[ $ERR != *unverified* ]] &&
    run get added NOPE && [ "$RC" = 9 ]; then
    VERDICT=after # present, and our identity unlocks it
    ADDED=true
  else
    VERDICT=half
    WHY="'added' is $INFO; list/get: exit $RC: $ERR"
  fi
}

# env rm --force: an environment holding a secret.
OP_TARGET_NAMES_env_rm=
OP_TARGET_ENVS_env_rm='doomed'
DOOMED=false
op_env_rm_prepare() {
  if ! $DOOMED; then
    must "$ENVX" env add doomed
    DOOMED_VAL="doomed-$K-$RANDOM"
    set_value doomed KEEP "$DOOMED_VAL"
    DOOMED=true
  fi
}
op_env_rm_start() {
  "$ENVX" env rm doomed --force >/dev/null 2>"$OPERR" &
}
op_env_rm_check() {
  env_info doomed
  if [ -z "$INFO" ]; then
    run get doomed KEEP
    if [ "$RC" = 9 ]; then
      VERDICT=after
      DOOMED=false
    else
      VERDICT=half
      WHY="'doomed' is not in env list but get exits $RC: $ERR"
    fi
  else
    get_value doomed KEEP
    if [ "$INFO" = '{"name": "doomed", "secrets": 1, "recipients": 1}' ] &&
      [ "$GOT_RC" = 0 ] && [ "$GOT" = "$DOOMED_VAL" ]; then
      VERDICT=before
    else
      VERDICT=half
      WHY="'doomed' is $INFO, get KEEP exits $GOT_RC with '$GOT'"
    fi
  fi
}

# ---------------------------------------------------------------------------
# The driver.
# ---------------------------------------------------------------------------

# Snapshots what the checks compare: the environments' list and
# production's values.
snapshot() { # before|after
  "$ENVX" --json env list 2>/dev/null | sed 's/}, {/}\n{/g; s/^\[//; s/\]$//' >"$TEST_DIR/$1.envs"
  "$ENVX" export production --format dotenv >"$TEST_DIR/$1.prod" 2>/dev/null ||
    fail "export production exits $? after the kill"
}

# The state every kill must leave: a vault that opens, every environment
# verifying, the kill's hot journal rolled back and reported.
check_vault() {
  local hot=false first env journal=none
  if [ -s envx.vault-journal ]; then
    journal=stale # a header still zeroed: SQLite never wrote the vault
    if [ "$(od -An -tx1 -N1 envx.vault-journal)" != " 00" ]; then
      journal=hot
      hot=true
    fi
  elif [ -e envx.vault-journal ]; then
    journal=empty
  fi
  JOURNAL=$journal
  # the first command after the kill: a read or a write, in turn
  if [ $((K % 2)) = 0 ]; then
    first="list production"
    run list production
  else
    first="set local PROBE"
    PROBE="probe-$K"
    printf '%s' "$PROBE" >"$TEST_DIR/probe.value"
    run_in "$TEST_DIR/probe.value" set local PROBE
    [ "$RC" = 0 ] && ACKED_PROBES=$((ACKED_PROBES + 1))
  fi
  if [ "$RC" != 0 ]; then
    fail "'$first' after the kill exits $RC: $ERR"
  fi
  if $hot; then
    HOT=$((HOT + 1))
    if [[ $ERR == *"rolled back"*envx.vault-journal* ]] && [ ! -s envx.vault-journal ]; then
      HOT_REPORTED=$((HOT_REPORTED + 1))
    else
      fail "hot journal not rolled back and reported by '$first': $ERR"
    fi
  elif [[ $ERR == *"rolled back"* ]]; then
    fail "'$first' reports a roll back with no hot journal: $ERR"
  fi
  snapshot after
  for env in $(sed -n 's/^{"name": "\([^"]*\)".*/\1/p' "$TEST_DIR/after.envs"); do
    run list "$env"
    if [ "$RC" != 0 ] || [[ $ERR == *unverified* ]]; then
      fail "list $env exits $RC: $ERR"
      BROKEN=$((BROKEN + 1))
    fi
  done
  [ -s "$TEST_DIR/after.envs" ] || {
    fail "env list fails after the kill"
    BROKEN=$((BROKEN + 1))
  }
  get_value local PROBE
  if [ "$GOT" != "$PROBE" ]; then
    fail "local PROBE reads '$GOT' ($GOT_RC), wrote '$PROBE'"
    LOST=$((LOST + 1))
  elif [ $((K % 2)) = 1 ]; then
    CHECKED=$((CHECKED + 1))
  fi
}

# FILE without the lines matching the extended regex PATTERN (all of FILE
# when PATTERN is empty).
without() {
  if [ -n "$1" ]; then
    grep -Ev "$1" "$2"
  else
    cat "$2"
  fi
}

# Nothing outside the operation's targets changed.
check_untouched() {
  local names=OP_TARGET_NAMES_$OP envs=OP_TARGET_ENVS_$OP re
  re=${!names:+^(${!names})=}
  if ! cmp -s <(without "$re" "$TEST_DIR/before.prod") \
    <(without "$re" "$TEST_DIR/after.prod"); then
    VERDICT=half
    WHY="production names outside the target changed: $(diff \
      <(without "$re" "$TEST_DIR/before.prod") \
      <(without "$re" "$TEST_DIR/after.prod") | head -3 | tr '\n' ' ')"
  fi
  re="\"name\": \"(${!envs})\""
  if ! cmp -s <(without "$re" "$TEST_DIR/before.envs") \
    <(without "$re" "$TEST_DIR/after.envs"); then
    VERDICT=half
    WHY="environments other than ${!envs} changed: $(tr '\n' ' ' <"$TEST_DIR/after.envs")"
  fi
}

KILLED=0
ACKED=0
ACKED_PROBES=0
CHECKED=0
LOST=0
HALF=0
BROKEN=0
HOT=0
HOT_REPORTED=0
ERRORS=0
PREP_WROTE=1
K=0
declare -A DUR_US KILLS_OF ACKED_OF APPLIED_OF LOST_OF HALF_OF

# One run of OP: prepare, start, kill after DELAY microseconds (none when
# DELAY is empty: the warm-up), then every check. With DELAY2 (for an
# operation whose command may run twice, OP_TWICE_OP=1), the same command
# starts again at once and is killed after DELAY2: that kill may land while
# it rolls back the first one's hot journal.
one() {
  OP=$1
  local delay=$2 delay2=${3:-} pid rc rc2='' t0 t
  K=$((K + 1))
  PREP_WROTE=0
  "op_${OP}_prepare"
  if [ "$PREP_WROTE" = 1 ]; then
    snapshot before
  else # the last kill's after is this one's before
    mv "$TEST_DIR/after.prod" "$TEST_DIR/before.prod"
    mv "$TEST_DIR/after.envs" "$TEST_DIR/before.envs"
  fi
  t0=${EPOCHREALTIME/./}
  "op_${OP}_start"
  pid=$!
  if [ -n "$delay" ]; then
    pause_us "$delay"
    kill -KILL "$pid" 2>/dev/null
  fi
  wait "$pid" 2>/dev/null
  rc=$?
  t=${EPOCHREALTIME/./}
  ELAPSED=$((t - t0))
  if [ -n "$delay2" ]; then
    "op_${OP}_start"
    pid=$!
    pause_us "$delay2"
    kill -KILL "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    rc2=$?
  fi
  for r in $rc $rc2; do
    [ -n "$delay" ] && KILLED=$((KILLED + 1)) &&
      KILLS_OF[$OP]=$((${KILLS_OF[$OP]:-0} + 1))
    case "$r" in
    0)
      if [ -n "$delay" ]; then
        ACKED=$((ACKED + 1))
        ACKED_OF[$OP]=$((${ACKED_OF[$OP]:-0} + 1))
      fi
      ;;
    137) ;;
    *)
      ERRORS=$((ERRORS + 1))
      fail "exit $r (neither 0 nor killed): $(cat "$OPERR")"
      ;;
    esac
  done
  check_vault
  WHY=
  "op_${OP}_check"
  check_untouched
  case "$VERDICT" in
  half)
    HALF=$((HALF + 1))
    HALF_OF[$OP]=$((${HALF_OF[$OP]:-0} + 1))
    fail "half-applied (exit $rc${rc2:+ then $rc2}, delay ${delay:-none}${delay2:+ then $delay2}us): $WHY"
    ;;
  after) APPLIED_OF[$OP]=$((${APPLIED_OF[$OP]:-0} + 1)) ;;
  esac
  for r in $rc $rc2; do
    [ "$r" = 0 ] && CHECKED=$((CHECKED + 1))
  done
  if [ "$rc" = 0 ] || [ "$rc2" = 0 ]; then
    if [ "$VERDICT" = before ]; then
      LOST=$((LOST + 1))
      LOST_OF[$OP]=$((${LOST_OF[$OP]:-0} + 1))
      fail "acknowledged with exit 0, but the vault is as before"
    fi
  fi
  echo "$K $OP ${delay:--}${delay2:+,$delay2} $rc${rc2:+,$rc2} $VERDICT $JOURNAL" >>"$LOG"
}

# The starting state: the targets of set and rollback exist, staging holds
# a value nothing touches.
set_value production SETV "set-initial"
SET_N=1
SET_CUR=set-initial
set_value production ROLL roll-a
set_value production ROLL roll-b
ROLL_VALS=(roll-a roll-b)
for ((i = 1; i <= IMPORT_NAMES; i++)); do
  echo "IMP_$i=i0-$i"
done >"$TEST_DIR/import.env"
must "$ENVX" import production "$TEST_DIR/import.env"
IMP_TAG=i0
set_value staging CANARY canary-value
set_value local PROBE probe-0
PROBE=probe-0
snapshot after

start=$(now_us)
# Warm-up: each operation three times to completion, which measures how
# long it takes (the kills land within 1.5 times that) and checks that an
# uninterrupted run applies fully.
for op in "${OPS[@]}"; do
  durs=()
  for _ in 1 2 3; do
    one "$op" ""
    durs+=("$ELAPSED")
  done
  mapfile -t durs < <(printf '%s\n' "${durs[@]}" | sort -n)
  DUR_US[$op]=${durs[1]}
done
WARMUP_HALF=$HALF
WARMUP_LOST=$LOST
WARMUP_ERRORS=$ERRORS
WARMUP_APPLIED=$(awk '$3 == "-" && $5 == "after"' "$LOG" | wc -l)

# The kills: rounds over the operations in a random order each round.
while [ "$KILLED" -lt "$KILLS" ]; do
  order=("${OPS[@]}")
  for ((i = ${#order[@]} - 1; i > 0; i--)); do
    j=$((RANDOM % (i + 1)))
    tmp=${order[i]}
    order[i]=${order[j]}
    order[j]=$tmp
  done
  for op in "${order[@]}"; do
    max=$((DUR_US[$op] * 3 / 2))
    twice=OP_TWICE_$op
    if [ "${!twice:-0}" = 1 ] && [ $((RANDOM % 2)) = 0 ]; then
      one "$op" $((((RANDOM << 15) | RANDOM) % (max + 1))) \
        $((((RANDOM << 15) | RANDOM) % (max + 1)))
    else
      one "$op" $((((RANDOM << 15) | RANDOM) % (max + 1)))
    fi
  done
done
elapsed_s=$((($(now_us) - start) / 1000000))

t_warmup() {
  [ "$WARMUP_APPLIED" = $((3 * ${#OPS[@]})) ] && [ "$WARMUP_HALF" = 0 ] &&
    [ "$WARMUP_LOST" = 0 ] && [ "$WARMUP_ERRORS" = 0 ] || {
    head -5 "$FAIL_LOG" >&2
    return 1
  }
}
ok "each operation run to completion applies fully (warm-up, 3 runs each)" t_warmup

# The kills must land inside the commands' work: each operation is killed
# sometimes before it commits, and sometimes completes.
t_per_op() {
  local op=$1
  [ "${KILLS_OF[$op]:-0}" -ge $((KILLS * 4 / (5 * ${#OPS[@]}))) ] && [ "${LOST_OF[$op]:-0}" = 0 ] &&
    [ "${HALF_OF[$op]:-0}" = 0 ] &&
    awk -v op="$op" '$2 == op && $3 != "-" && $4 == 137 && $5 == "before" { f = 1 }
      END { exit !f }' "$LOG" || {
    echo "$op: ${KILLS_OF[$op]:-0} kills, ${LOST_OF[$op]:-0} lost, ${HALF_OF[$op]:-0} half-applied, none killed before it applied?" >&2
    grep "($op)" "$FAIL_LOG" | head -5 >&2
    return 1
  }
}
for op in "${OPS[@]}"; do
  # shellcheck disable=SC2016
  ok "$op killed ${KILLS_OF[$op]:-0} times (delays 0-$((DUR_US[$op] * 3 / 2))us): ${ACKED_OF[$op]:-0} acknowledged, ${APPLIED_OF[$op]:-0} applied, never half-applied or lost" t_per_op "$op"
done

t_no_other_exit() {
  [ "$ERRORS" = 0 ] || {
    grep 'neither 0 nor killed' "$FAIL_LOG" | head -5 >&2
    return 1
  }
}
ok "a killed command either exited 0 before the kill or died of SIGKILL" t_no_other_exit

t_vault_opens() {
  [ "$BROKEN" = 0 ] && ! grep -Eq "after the kill|env list fails|list [a-z]+ exits" "$FAIL_LOG" || {
    grep -E "after the kill|env list fails|list [a-z]+ exits" "$FAIL_LOG" | head -5 >&2
    return 1
  }
}
ok "after every kill the vault opens and every environment verifies" t_vault_opens

t_hot_journals() {
  [ "$HOT" -gt 0 ] && [ "$HOT_REPORTED" = "$HOT" ] && ! grep -q "roll back" "$FAIL_LOG" || {
    echo "hot journals: $HOT, rolled back and reported: $HOT_REPORTED" >&2
    grep "roll" "$FAIL_LOG" | head -5 >&2
    return 1
  }
}
if [ "$HOT" -gt 0 ] || grep -q "roll back" "$FAIL_LOG"; then
  ok "a hot journal left by a kill is rolled back by the next read or write, which says so ($HOT_REPORTED of $HOT)" t_hot_journals
else
  # the kills are random: some runs leave no hot journal at all (every kill
  # landed before the journal or after the commit point); t0011-recovery
  # makes hot journals on purpose and checks their rollback every run
  _n=$((_n + 1))
  echo "ok $_n - a hot journal left by a kill is rolled back # SKIP no kill left a hot journal this run (t0011 checks recovery deterministically)"
fi

t_acked_read_back() {
  [ "$LOST" = 0 ] && [ "$CHECKED" -gt 0 ] || {
    grep -E "acknowledged|PROBE" "$FAIL_LOG" | head -5 >&2
    return 1
  }
}
ok "every acknowledged write reads back with its exact value" t_acked_read_back

t_final_state() {
  local env
  [ "$(sqlite3 -readonly envx.vault 'PRAGMA integrity_check')" = ok ] &&
    [ -z "$(sqlite3 -readonly envx.vault 'PRAGMA foreign_key_check')" ] &&
    [ "$(sqlite3 -readonly envx.vault 'SELECT count(*) FROM versions
      WHERE secret_id NOT IN (SELECT id FROM secrets)')" = 0 ] &&
    [ "$("$ENVX" get staging CANARY)" = canary-value ] &&
    printf 'last' | "$ENVX" set local PROBE 2>/dev/null &&
    [ ! -e envx.vault-journal ] || return 1
  for env in local staging production; do
    run export "$env" && expect_rc 0 || return 1
  done
}
ok "afterwards: SQLite integrity, no orphaned rows, an untouched value intact, no journal after a write" t_final_state

t_failures_logged() {
  [ ! -s "$FAIL_LOG" ] || {
    head -10 "$FAIL_LOG" >&2
    return 1
  }
}
ok "no other failure was recorded" t_failures_logged

late=$(awk '$3 != "-" && $4 ~ /137/ && $5 == "after"' "$LOG" | wc -l)
echo "# killed after the commit point (applied, unacknowledged): $late; journals left: hot $HOT (rolled back and reported: $HOT_REPORTED), stale with a zeroed header (ignored) $(awk '$6 == "stale"' "$LOG" | wc -l)"
echo "# seed $SEED, ${elapsed_s}s: kills: $KILLED, acknowledged writes (exit 0 before the kill): $ACKED, acknowledged writes checked: $CHECKED (those, $ACKED_PROBES probe writes after a kill, $((3 * ${#OPS[@]})) warm-up runs), lost: $LOST, half-applied: $HALF"
finish
