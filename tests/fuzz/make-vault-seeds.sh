#!/usr/bin/env bash
# Makes the seed corpus of tests/fuzz/fuzz-vault-open.c: small real vaults
# written by the built envx for the harness's identity, then hostile variants
# of them made with plain SQLite and byte edits. See corpus/vault-open/README.md.
#
# usage: tests/fuzz/make-vault-seeds.sh ENVX_BINARY OUTDIR
# (needs sqlite3 and python3; OUTDIR is created; existing seeds there are
# overwritten, others are left alone)
set -euo pipefail

[ $# -eq 2 ] || { echo "usage: $0 ENVX_BINARY OUTDIR" >&2; exit 2; }
envx=$(realpath "$1")
out=$(mkdir -p "$2" && realpath "$2")
here=$(dirname "$(realpath "$0")")

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export HOME="$tmp/home" XDG_CONFIG_HOME="$tmp/home/.config"
export ENVX_KDF=2,19456,1 ENVX_NOW=2025-01-15T09:30:00Z USER=fuzz
unset ENVX_VAULT ENVX_IDENTITY ENVX_IDENTITY_FILE ENVX_PASSPHRASE || true
mkdir -p "$HOME" "$tmp/w"
cd "$tmp/w"

# The harness's identity, from its source (one definition).
key=$(grep -o 'ENVX-SECRET-KEY-1-[A-Z2-7]*' "$here/fuzz-vault-open.c")
(umask 077 && printf '%s\n' "$key" >"$tmp/fuzz.id")
"$envx" identity new -o "$tmp/other.id" >/dev/null 2>&1

log="$tmp/log"
trap 'cat "$log" >&2' ERR
x() { "$envx" --identity "$tmp/fuzz.id" "$@" >>"$log" 2>&1; }
o() { "$envx" --identity "$tmp/other.id" "$@" >>"$log" 2>&1; }
set_() { printf '%s' "$3" | x set "$1" "$2" "${@:4}"; }

# --- the real vault: three environments, the first two for the harness
x init --env dev --env prod
o env add local
set_ dev DATABASE_URL 'postgres://app:s3cr%t@db.internal:5432/app' \
	--description 'primary database' --rotate-every 90d
set_ dev API_KEY 'sk_test_one'
set_ dev API_KEY 'sk_test_two'
x rollback dev API_KEY
printf -- '-----BEGIN KEY-----\nMIIB\n-----END KEY-----\n' |
	x set dev PEM --raw
set_ dev EMPTY '' --allow-empty
set_ dev QUOTES $'it\'s "quoted" \\ $HOME `x` ${Y} \xf0\x9f\x94\x91'
set_ prod SECRET_KEY 'prod-value'
o set local LOCAL_ONLY <<<'x'
cp envx.vault pre-allow.vault
x env allow dev NODE_OPTIONS
set_ dev NODE_OPTIONS '--max-old-space-size=4096'
cp envx.vault "$out/base-4k.vault"

small() { # small FILE: the same vault with 512-byte pages (a few KB)
	sqlite3 "$1" 'PRAGMA page_size = 512; VACUUM;'
}
cp envx.vault base.vault && small base.vault
cp base.vault "$out/base.vault"
# a check that the seed is what the harness opens
x --vault base.vault get dev NODE_OPTIONS

sql() { # sql NAME STATEMENTS: a variant of base.vault changed with SQLite
	cp base.vault "$out/$1"
	sqlite3 "$out/$1" "$2"
}
bytes() { # bytes NAME SRC PYTHON: a variant edited as bytes (b is the file)
	python3 - "$2" "$out/$1" "$3" <<'PY'
import sys
b = bytearray(open(sys.argv[1], "rb").read())
exec(sys.argv[3])
open(sys.argv[2], "wb").write(bytes(b))
PY
}

# --- older formats (VF-4.1, VF-4.5), from the vault before the allowance
cp pre-allow.vault "$out/format-2.vault"
sqlite3 "$out/format-2.vault" 'DROP TABLE allowed_names; PRAGMA user_version = 2; PRAGMA page_size = 512; VACUUM;'
cp pre-allow.vault "$out/format-1.vault"
sqlite3 "$out/format-1.vault" 'DROP TABLE allowed_names; DROP TABLE audit; PRAGMA user_version = 1; PRAGMA page_size = 512; VACUUM;'

# --- header (VF-4.1, VF-4.2)
sql wrong-application-id.vault 'PRAGMA application_id = 1701738105'
sql user-version-0.vault 'PRAGMA user_version = 0'
sql user-version-4.vault 'PRAGMA user_version = 4'
sql user-version-negative.vault 'PRAGMA user_version = -1'
bytes wal-header.vault base.vault 'b[18] = b[19] = 2'

# --- schema (VF-4.3)
sql extra-table.vault 'CREATE TABLE notes (x TEXT)'
sql extra-index.vault 'CREATE INDEX secrets_name ON secrets (name)'
sql extra-view.vault 'CREATE VIEW everything AS SELECT * FROM versions'
sql extra-trigger.vault "CREATE TRIGGER t AFTER INSERT ON secrets BEGIN DELETE FROM audit; END"
sql added-column.vault 'ALTER TABLE secrets ADD COLUMN note TEXT'
sql missing-table.vault 'DROP TABLE audit'
sql schema-text-altered.vault "PRAGMA writable_schema = ON; UPDATE sqlite_schema SET sql = replace(sql, 'created_at INTEGER NOT NULL)', 'created_at INTEGER NOT NULL )') WHERE name = 'vault'"
sql schema-swapped-types.vault "PRAGMA writable_schema = ON; UPDATE sqlite_schema SET sql = replace(sql, 'ciphertext BLOB', 'ciphertext TEXT') WHERE name = 'versions'"

# --- rows the MAC or the length checks must catch (VF-3, VF-4.6)
sql tampered-ciphertext.vault "UPDATE versions SET ciphertext = randomblob(length(ciphertext)) WHERE version = 1 AND secret_id = (SELECT min(id) FROM secrets)"
sql tampered-description.vault "UPDATE secrets SET description = 'changed' WHERE name = 'DATABASE_URL'"
sql deleted-version.vault "DELETE FROM versions WHERE version = 2"
sql orphan-version.vault "INSERT INTO versions SELECT secret_id + 1000, version, nonce, ciphertext, created_at, author, kind FROM versions"
sql moved-secret.vault "UPDATE secrets SET env_id = (SELECT id FROM envs WHERE name = 'prod') WHERE name = 'PEM'"
sql key-commit-short.vault "UPDATE envs SET key_commit = substr(key_commit, 1, 31) WHERE name = 'dev'"
sql mac-wrong.vault "UPDATE envs SET mac = zeroblob(32) WHERE name = 'dev'"
sql generation-text.vault "UPDATE envs SET generation = 'two' WHERE name = 'dev'"
sql version-as-blob.vault "UPDATE secrets SET version = x'01', state = 'x' WHERE name = 'API_KEY'"
sql nonce-short.vault "UPDATE versions SET nonce = substr(nonce, 1, 23)"
sql ciphertext-short.vault "UPDATE versions SET ciphertext = x'00'"
sql secret-name-invalid.vault "UPDATE secrets SET name = 'BAD-NAME' || char(27) WHERE name = 'PEM'"
sql secret-name-nul.vault "UPDATE secrets SET name = CAST(x'504500454d' AS TEXT) WHERE name = 'PEM'"
sql description-bad-utf8.vault "UPDATE secrets SET description = CAST(x'fffec328' AS TEXT) WHERE name = 'API_KEY'"
sql env-name-invalid.vault "UPDATE envs SET name = 'Dev Env' WHERE name = 'prod'"
sql allowed-name-invalid.vault "UPDATE allowed_names SET name = 'not a name'"
sql allowed-name-added.vault "INSERT INTO allowed_names SELECT id, 'LD_PRELOAD', 0, 'mallory' FROM envs WHERE name = 'prod'"
sql vault-row-missing.vault 'DELETE FROM vault'
sql vault-id-short.vault "PRAGMA ignore_check_constraints = ON; UPDATE vault SET vault_id = x'00'"
sql recipient-wrap-corrupt.vault "UPDATE recipients SET wrapped_key = randomblob(80) WHERE env_id = (SELECT id FROM envs WHERE name = 'dev')"
sql recipient-wrap-short.vault "UPDATE recipients SET wrapped_key = substr(wrapped_key, 1, 79) WHERE env_id = (SELECT id FROM envs WHERE name = 'prod')"
sql key-swapped.vault "UPDATE recipients SET wrapped_key = (SELECT wrapped_key FROM recipients WHERE env_id = (SELECT id FROM envs WHERE name = 'prod')) WHERE env_id = (SELECT id FROM envs WHERE name = 'dev')"

# --- passphrase recipients (VF-3.5, VF-2.3): local opens for no identity,
# so these are what the harness reaches there
floor="x'02000000004c000001000000' || randomblob(16)"
pass() { # pass LABEL KDF WRAPPED: one passphrase row for local
	printf "INSERT INTO recipients (env_id, label, kind, public_key, kdf, wrapped_key, created_at) SELECT id, '%s', 'passphrase', NULL, %s, %s, 0 FROM envs WHERE name = 'local';" "$@"
}
sql passphrase-floor.vault "$(for i in 1 2 3 4 5; do pass "p$i" "$floor" 'randomblob(72)'; done)"
sql passphrase-kdf-above-ceiling.vault "$(pass p "x'11000000004c000001000000' || randomblob(16)" 'randomblob(72)')"
sql passphrase-kdf-short.vault "$(pass p 'randomblob(27)' 'randomblob(72)')"
sql passphrase-wrap-short.vault "$(pass p "$floor" 'randomblob(71)')"

# --- damaged files (VF-4.7)
size=$(stat -c %s base.vault)
bytes truncated-half.vault base.vault "b = b[:$((size / 2))]"
bytes truncated-one-page.vault base.vault 'b = b[:512]'
bytes truncated-header.vault base.vault 'b = b[:100]'
bytes truncated-tail.vault base.vault 'b = b[:-7]'
bytes flipped-bytes.vault base.vault '
import random
r = random.Random(1)
for _ in range(8):
    i = r.randrange(100, len(b))
    b[i] ^= 1 << r.randrange(8)'
bytes flipped-page-size.vault base.vault 'b[16] ^= 0x01'
bytes flipped-schema-page.vault base.vault 'b[105] ^= 0xff'
bytes flipped-last-page.vault base.vault 'b[-300] ^= 0x40'

# --- not envx vaults at all
sqlite3 "$tmp/plain.db" 'CREATE TABLE t (x); INSERT INTO t VALUES (1);'
cp "$tmp/plain.db" "$out/plain-sqlite.db"
printf 'DATABASE_URL=postgres://localhost/app\nAPI_KEY="x"\n' >"$out/not-sqlite.env"
bytes random-bytes.bin base.vault '
import random
r = random.Random(2)
b = bytearray(b"SQLite format 3\0" + bytes(r.randrange(256) for _ in range(1008)))'
