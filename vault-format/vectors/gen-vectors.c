/*
 * Generates the known-answer vectors of vault-format/SPEC.md: a format-4
 * vault, the identity and passphrase that open two of its environments, the
 * expected plaintexts, and format-3, format-2 and format-1 copies for the
 * migration tests; then, built against a format-5 library, the format-5
 * vector: the format-4 one upgraded by its owner (VF-4.5). Not part of the
 * meson build; see README.md beside this file for how to build and run it.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>
#include <sodium.h>
#include <sqlite3.h>

#include "envx/identity.h"
#include "envx/util.h"
#include "envx/vault.h"

#define PASSPHRASE "envx test vectors: correct horse battery staple"

struct item {
	const char *name;
	const char *value;
};

/* Current values, in the order they are written. */
static const struct item staging[] = {
        {"DATABASE_URL", "postgres://app:s3cr%40t@db.staging.internal:5432/app"
                         "?sslmode=require"},
        {"EMPTY", ""},
        {"MULTILINE",
         "-----BEGIN PRIVATE KEY-----\nMIIBVQIBADANBgkqhkiG9w0BAQEF"
         "\nAAOCAT8AMIIBOgIBAAJBAL\n-----END PRIVATE KEY-----\n"},
        {"UNICODE",
         "h\xc3\xa9llo w\xc3\xb6rld \xe2\x9c\x93 \xe6\x97\xa5\xe6\x9c"
         "\xac\xe8\xaa\x9e \xf0\x9f\x9a\x80"},
        {"QUOTES",
         "He said \"hi\" and 'bye' \\ $HOME `id` ${X} #not-a-comment"},
        {"WHITESPACE", "  leading and trailing\t \r\n"},
        {"EQUALS", "a=b=c; key==value"},
};

/* API_KEY in staging: three values, then a rollback to version 1. */
static const char *const api_key[] = {"ak-first-0001", "ak-second-0002",
                                      "ak-third-0003"};

/* Allowed in staging (VF-3.7) after the older-format copies are taken,
 * then set: a refused name that one environment lets in. */
#define ALLOWED_NAME  "NODE_OPTIONS"
#define ALLOWED_VALUE "--max-old-space-size=4096"

/* production's DATABASE_URL until the incident, after which it is written
 * with a new password (production[0]): a value held before an incident
 * would stay compromised (VF-3.10) */
#define PROD_DB_BEFORE "postgres://app:old-pw@db.prod.internal:5432/app"

static const struct item production[] = {
        {"DATABASE_URL", "postgres://app:prod-pw@db.prod.internal:5432/app"},
        {"STRIPE_SECRET_KEY", "sk_live_51Hxxxxxxxxxxxxxxxxxxxxxxxx"},
        {"EMPTY", ""},
        {"JSON_BLOB", "{\"a\": [1, 2, 3], \"b\": \"\\u00e9\"}"},
};

static void
die(const char *what, const struct envx_error *err)
{
	fprintf(stderr, "gen-vectors: %s: %s\n", what,
	        err != NULL ? err->msg : "failed");
	exit(1);
}

static void
write_file(const char *dir, const char *name, const void *data, size_t len)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "wb");
	if (f == NULL || fwrite(data, 1, len, f) != len || fclose(f) != 0) {
		fprintf(stderr, "gen-vectors: cannot write %s: %s\n", path,
		        strerror(errno));
		exit(1);
	}
}

static int
ask_vector_passphrase(void *ctx, const char *prompt, struct envx_secbuf *out,
                      struct envx_error *err)
{
	(void)ctx;
	(void)prompt;
	return envx_secbuf_append(out, PASSPHRASE, strlen(PASSPHRASE), err);
}

static void
set(struct envx_vault *v, struct envx_env *e, const char *name,
    const char *value, const struct envx_set_opts *opts)
{
	struct envx_error err;
	struct envx_set_opts def = {.kind = "set"};

	if (opts == NULL) {
		opts = &def;
	}
	if (envx_env_set(e, name, (const unsigned char *)value, strlen(value),
	                 opts, NULL, &err) < 0 ||
	    envx_vault_audit(v, "set", envx_env_name(e), name, opts->kind,
	                     &err) < 0) {
		die(name, &err);
	}
}

static struct envx_anchors vector_trust_lines;

static struct envx_env *
open_unlocked(struct envx_vault *v, const char *name,
              const struct envx_identity *id)
{
	struct envx_unlock how = {.identity = id};
	struct envx_env *e = NULL;
	struct envx_error err;

	if (envx_env_open(v, name, &e, &err) < 0 ||
	    envx_env_unlock(e, &how, &err) < 0) {
		die(name, &err);
	}
	return e;
}

/*
 * Copies dir/vector.vault to dir/name and runs stmts on the copy with plain
 * SQLite: how the older-format migration inputs are made (CHANGES.md).
 */
static void
make_older(const char *dir, const char *name, const char *stmts)
{
	char src[4096];
	char dst[4096];
	FILE *in;
	FILE *out;
	char buf[65536];
	size_t n;
	sqlite3 *db = NULL;

	snprintf(src, sizeof(src), "%s/vector.vault", dir);
	snprintf(dst, sizeof(dst), "%s/%s", dir, name);
	unlink(dst);
	in = fopen(src, "rb");
	out = fopen(dst, "wb");
	if (in == NULL || out == NULL) {
		die("cannot copy vector.vault", NULL);
	}
	while ((n = fread(buf, 1, sizeof(buf), in)) > 0) {
		if (fwrite(buf, 1, n, out) != n) {
			die(name, NULL);
		}
	}
	fclose(in);
	if (fclose(out) != 0) {
		die(name, NULL);
	}
	if (sqlite3_open_v2(dst, &db, SQLITE_OPEN_READWRITE, NULL) !=
	            SQLITE_OK ||
	    sqlite3_exec(db, stmts, NULL, NULL, NULL) != SQLITE_OK) {
		fprintf(stderr, "gen-vectors: %s: %s\n", name,
		        sqlite3_errmsg(db));
		exit(1);
	}
	sqlite3_close(db);
}

/* The passphrase of production's break-glass recipient, for rekeys. */
static int
vector_passphrase(void *ctx, const char *prompt, struct envx_secbuf *out,
                  struct envx_error *err)
{
	(void)ctx;
	(void)prompt;
	return envx_secbuf_append(out, PASSPHRASE, strlen(PASSPHRASE), err);
}

/* VF-3.9 and VF-3.10, after the older copies were made: staging rekeyed;
 * production granted to a key that is then revoked (with a rekey), then an
 * incident (every secret compromised, a rekey, one audit event), then its
 * first secret written again (the same value: a new version, no longer
 * compromised). */
static void
rekey_and_incident(const char *path, const struct envx_identity *owner)
{
	struct envx_identity *departed = NULL;
	struct envx_vault *v = NULL;
	struct envx_env *e = NULL;
	struct envx_rekey_stats stats;
	struct envx_error err;
	const char *revoke[1] = {"departed"};

	if (envx_identity_generate(&departed, &err) < 0 ||
	    envx_vault_open(path, true, &v, &err) < 0) {
		die("reopen", &err);
	}
	envx_vault_set_actor(v, "vectors");
	envx_vault_set_signer(v, owner);
	e = open_unlocked(v, "staging", owner);
	if (envx_vault_begin(v, &err) < 0 ||
	    envx_env_rekey(e, NULL, 0, NULL, NULL, &stats, &err) < 0 ||
	    envx_vault_audit(v, "rekey", "staging", "", "rekeyed", &err) < 0 ||
	    envx_vault_commit(v, &err) < 0) {
		die("rekey staging", &err);
	}
	envx_env_free(e);
	e = open_unlocked(v, "production", owner);
	if (envx_vault_begin(v, &err) < 0 ||
	    envx_env_grant_key(e, "departed", departed->pk, &err) < 0 ||
	    envx_vault_commit(v, &err) < 0 || envx_vault_begin(v, &err) < 0 ||
	    envx_env_rekey(e, revoke, 1, vector_passphrase, NULL, &stats,
	                   &err) < 0 ||
	    envx_vault_audit(v, "access-revoke", "production", "", "departed",
	                     &err) < 0 ||
	    envx_vault_audit(v, "rekey", "production", "", "rekeyed", &err) <
	            0 ||
	    envx_vault_commit(v, &err) < 0) {
		die("revoke production", &err);
	}
	if (envx_vault_begin(v, &err) < 0 ||
	    envx_env_mark_compromised(e, NULL, &err) < 0 ||
	    envx_env_rekey(e, NULL, 0, vector_passphrase, NULL, &stats, &err) <
	            0 ||
	    envx_vault_audit(v, "incident", "production", "",
	                     "vectors; 4 secrets compromised; rekeyed",
	                     &err) < 0 ||
	    envx_vault_commit(v, &err) < 0) {
		die("incident production", &err);
	}
	if (envx_vault_begin(v, &err) < 0) {
		die("begin", &err);
	}
	set(v, e, production[0].name, production[0].value, NULL);
	if (envx_vault_commit(v, &err) < 0) {
		die("commit production", &err);
	}
	envx_env_free(e);
	envx_vault_close(v);
	envx_identity_free(departed);
}

/*
 * The owner's identity, written to $ENVX_VECTORS_OWNER (a file outside the
 * repository, deleted by the second step) for the format-5 step to sign
 * the upgrade with; then it is thrown away.
 */
static void
keep_owner(const struct envx_identity *owner)
{
	const char *to = getenv("ENVX_VECTORS_OWNER");
	struct envx_secbuf text = {0};
	struct envx_error err;
	FILE *f;

	if (to == NULL) {
		return;
	}
	if (envx_identity_encode(owner, NULL, 0, &text, &err) < 0) {
		die("owner text", &err);
	}
	f = fopen(to, "w");
	if (f == NULL || fwrite(text.data, 1, text.len, f) != text.len ||
	    fclose(f) != 0) {
		die("owner file", NULL);
	}
	envx_secbuf_release(&text);
}

#if ENVX_VAULT_SCHEMA_VERSION >= 5
static unsigned char *
read_all(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	unsigned char *buf = malloc(65536);

	if (f == NULL || buf == NULL) {
		die(path, NULL);
	}
	*len = fread(buf, 1, 65535, f);
	fclose(f);
	buf[*len] = 0;
	return buf;
}

/*
 * Format 5: dir/vector.vault (format 4, from the first step) is kept as
 * dir/v4.vault, then upgraded by the owner (envx_vault_upgrade, VF-4.5:
 * buckets filled, every environment sealed with generation + 1 and signed),
 * and expected.json says format 5. The owner's file is deleted.
 */
int
main(int argc, char **argv)
{
	const char *dir = argc > 1 ? argv[1] : ".";
	const char *from = getenv("ENVX_VECTORS_OWNER");
	static struct envx_trust trust = {
	        .anchors = {&vector_trust_lines, NULL}};
	char path[4096];
	char v4[4096];
	char tpath[4096];
	struct envx_identity *owner = NULL;
	struct envx_vault *v = NULL;
	struct envx_env *e = NULL;
	struct envx_secbuf val = {0};
	struct envx_unlock how = {.ask = ask_vector_passphrase};
	struct envx_error err;
	unsigned char *text;
	size_t len = 0;
	json_t *root;
	json_error_t jerr;
	char *dump;

	if (sodium_init() < 0 || from == NULL) {
		fprintf(stderr, "gen-vectors: set ENVX_VECTORS_OWNER to the "
		                "owner file of the first step\n");
		return 1;
	}
	setenv("ENVX_NOW", "2025-01-15T09:30:00Z", 1);
	setenv("USER", "vectors", 1);
	setenv("ENVX_KDF", "2,19456,1", 1);
	if (envx_now() != 1736933400) {
		fprintf(stderr,
		        "gen-vectors: ENVX_NOW is ignored: link against "
		        "a library configured with -Dtest_clock=true\n");
		return 1;
	}
	text = read_all(from, &len);
	if (envx_identity_parse((const char *)text, len, "owner", NULL, NULL,
	                        &owner, &err) < 0) {
		die("owner", &err);
	}
	sodium_memzero(text, len);
	free(text);
	unlink(from);
	snprintf(tpath, sizeof(tpath), "%s/trust.txt", dir);
	text = read_all(tpath, &len);
	if (envx_anchors_parse((const char *)text, len, "vectors",
	                       &vector_trust_lines, &err) < 0) {
		die("trust.txt", &err);
	}
	free(text);
	snprintf(path, sizeof(path), "%s/vector.vault", dir);
	snprintf(v4, sizeof(v4), "%s/v4.vault", dir);
	make_older(dir, "v4.vault", "");
	if (envx_vault_open(path, true, &v, &err) < 0) {
		die("open", &err);
	}
	envx_vault_set_actor(v, "vectors");
	envx_vault_set_signer(v, owner);
	envx_vault_set_trust(v, &trust);
	if (envx_vault_upgrade(v, &err) < 0) {
		die("upgrade", &err);
	}
	envx_vault_close(v);
	/* VACUUM: the file holds no page freed by the upgrade */
	make_older(dir, "vector.vault.tmp", "VACUUM");
	snprintf(v4, sizeof(v4), "%s/vector.vault.tmp", dir);
	if (rename(v4, path) < 0) {
		die("rename", NULL);
	}
	snprintf(v4, sizeof(v4), "%s/expected.json", dir);
	root = json_load_file(v4, 0, &jerr);
	if (root == NULL) {
		die("expected.json", NULL);
	}
	json_object_set_new(root, "format", json_integer(5));
	dump = json_dumps(root, JSON_INDENT(2) | JSON_SORT_KEYS);
	if (dump == NULL) {
		die("json", NULL);
	}
	write_file(dir, "expected.json", dump, strlen(dump));
	free(dump);
	json_decref(root);

	/* self-check: production opens with the passphrase */
	if (envx_vault_open(path, false, &v, &err) < 0) {
		die("self-check", &err);
	}
	envx_vault_set_trust(v, &trust);
	if (envx_vault_schema_version(v) != 5 ||
	    envx_env_open(v, "production", &e, &err) < 0 ||
	    envx_env_unlock(e, &how, &err) < 0 ||
	    envx_env_get(e, "JSON_BLOB", &val, &err) < 0 ||
	    strcmp((const char *)val.data, production[3].value) != 0) {
		die("self-check", &err);
	}
	envx_secbuf_release(&val);
	envx_env_free(e);
	envx_vault_close(v);
	envx_identity_free(owner);
	envx_anchors_release(&vector_trust_lines);
	printf("format-5 vector written to %s\n", dir);
	return 0;
}
#else
int
main(int argc, char **argv)
{
	const char *dir = argc > 1 ? argv[1] : ".";
	char path[4096];
	struct envx_vault *v = NULL;
	struct envx_identity *owner = NULL;
	struct envx_identity *ci = NULL;
	struct envx_env *e = NULL;
	struct envx_secbuf text = {0};
	struct envx_error err;
	struct envx_set_opts rot = {.flags = ENVX_SET_DESCRIPTION |
	                                     ENVX_SET_ROTATE,
	                            .description = "primary database (rotate "
	                                           "every 90 days)",
	                            .rotate_every = 90 * 86400,
	                            .kind = "set"};
	json_t *root;
	json_t *envs;
	json_t *env;
	json_t *secrets;
	json_t *hist;
	char *dump;
	size_t i;

	if (sodium_init() < 0) {
		return 1;
	}
	/* Fixed clock and the KDF floor: reproducible timestamps, fast
	 * tests. Nonces, salts and keys are still random. */
	setenv("ENVX_NOW", "2025-01-15T09:30:00Z", 1);
	setenv("USER", "vectors", 1);
	setenv("ENVX_KDF", "2,19456,1", 1);
	/* Only a library configured with -Dtest_clock=true honours it. */
	if (envx_now() != 1736933400) {
		fprintf(stderr,
		        "gen-vectors: ENVX_NOW is ignored: link against "
		        "a library configured with -Dtest_clock=true\n");
		return 1;
	}
	snprintf(path, sizeof(path), "%s/vector.vault", dir);
	unlink(path);

	if (envx_identity_generate(&owner, &err) < 0 ||
	    envx_identity_generate(&ci, &err) < 0) {
		die("identity", &err);
	}
	if (envx_vault_create(path, &v, &err) < 0) {
		die("create", &err);
	}
	envx_vault_set_actor(v, "vectors");
	/* VF-3.8: the owner creates, and so administers, every
	 * environment, and signs every write below */
	envx_vault_set_signer(v, owner);

	/* Every environment starts with the owner, whose key is thrown
	 * away: only identity.txt (staging) and passphrase.txt
	 * (production) open anything in the committed vault. */
	if (envx_vault_begin(v, &err) < 0 ||
	    envx_vault_env_add(v, "local", owner->pk, "owner", &err) < 0 ||
	    envx_vault_env_add(v, "staging", owner->pk, "owner", &err) < 0 ||
	    envx_vault_env_add(v, "production", owner->pk, "owner", &err) < 0 ||
	    envx_vault_commit(v, &err) < 0) {
		die("environments", &err);
	}

	if (envx_vault_begin(v, &err) < 0) {
		die("begin", &err);
	}
	e = open_unlocked(v, "local", owner);
	set(v, e, "LOCAL_ONLY", "nobody holding the vectors can read this",
	    NULL);
	if (envx_vault_commit(v, &err) < 0) {
		die("commit local", &err);
	}
	envx_env_free(e);

	if (envx_vault_begin(v, &err) < 0) {
		die("begin", &err);
	}
	e = open_unlocked(v, "staging", owner);
	if (envx_env_grant_key(e, "ci-staging", ci->pk, &err) < 0) {
		die("grant staging", &err);
	}
	for (i = 0; i < sizeof(staging) / sizeof(staging[0]); i++) {
		set(v, e, staging[i].name, staging[i].value,
		    i == 0 ? &rot : NULL);
	}
	for (i = 0; i < 3; i++) {
		set(v, e, "API_KEY", api_key[i], NULL);
	}
	if (envx_env_rollback(e, "API_KEY", 1, NULL, &err) < 0 ||
	    envx_vault_audit(v, "rollback", "staging", "API_KEY", "1", &err) <
	            0) {
		die("rollback", &err);
	}
	if (envx_vault_commit(v, &err) < 0) {
		die("commit staging", &err);
	}
	envx_env_free(e);

	if (envx_vault_begin(v, &err) < 0) {
		die("begin", &err);
	}
	e = open_unlocked(v, "production", owner);
	if (envx_env_grant_passphrase(e, "break-glass",
	                              (const unsigned char *)PASSPHRASE,
	                              strlen(PASSPHRASE), &err) < 0) {
		die("grant production", &err);
	}
	for (i = 0; i < sizeof(production) / sizeof(production[0]); i++) {
		set(v, e, production[i].name,
		    i == 0 ? PROD_DB_BEFORE : production[i].value, NULL);
	}
	if (envx_vault_commit(v, &err) < 0) {
		die("commit production", &err);
	}
	envx_env_free(e);
	envx_vault_close(v);
	v = NULL;

	/* The migration inputs, from the vault as it is now, before staging
	 * allows anything: without an allowance every MAC is the same in
	 * formats 1, 2 and 3 (CHANGES.md), so dropping the tables that the
	 * older formats lack leaves every MAC valid. */
	make_older(dir, "v2.vault",
	           "DROP TABLE access_log; DROP TABLE seals; "
	           "DROP TABLE allowed_names; PRAGMA user_version = 2; VACUUM");
	make_older(dir, "v1.vault",
	           "DROP TABLE access_log; DROP TABLE seals; "
	           "DROP TABLE allowed_names; DROP TABLE audit; "
	           "PRAGMA user_version = 1; VACUUM");

	/* staging allows NODE_OPTIONS (VF-3.7), audited as the CLI does,
	 * then holds a value under it */
	if (envx_vault_open(path, true, &v, &err) < 0) {
		die("reopen", &err);
	}
	envx_vault_set_actor(v, "vectors");
	envx_vault_set_signer(v, owner);
	if (envx_vault_begin(v, &err) < 0) {
		die("begin", &err);
	}
	e = open_unlocked(v, "staging", owner);
	{
		bool changed = false;

		if (envx_env_allow(e, ALLOWED_NAME, true, &changed, &err) < 0 ||
		    !changed ||
		    envx_vault_audit(v, "allow", "staging", ALLOWED_NAME,
		                     ALLOWED_NAME, &err) < 0 ||
		    envx_vault_commit(v, &err) < 0) {
			die("allow " ALLOWED_NAME, &err);
		}
	}
	if (envx_vault_begin(v, &err) < 0) {
		die("begin", &err);
	}
	set(v, e, ALLOWED_NAME, ALLOWED_VALUE, NULL);
	if (envx_vault_commit(v, &err) < 0) {
		die("commit " ALLOWED_NAME, &err);
	}
	envx_env_free(e);
	envx_vault_close(v);
	v = NULL;
	/* the same final vault in format 3 (no signatures), for the
	 * migration test and the format-3 reader */
	make_older(dir, "v3.vault",
	           "DROP TABLE access_log; DROP TABLE seals; "
	           "PRAGMA user_version = 3; VACUUM");
	rekey_and_incident(path, owner);

	/* VF-2.6: the readers' trust lines, pinning the owner as the admin
	 * of staging (in identity.txt) and of both (trust.txt, for the
	 * passphrase reader of production, as $ENVX_TRUST) */
	if (envx_vault_open(path, false, &v, &err) < 0) {
		die("reopen", &err);
	}
	{
		const char *names[2] = {"staging", "production"};
		char line[256];
		char lines[600] = "";

		for (i = 0; i < 2; i++) {
			struct envx_anchor a;

			envx_vault_id_hex(v, line);
			snprintf(lines + strlen(lines),
			         sizeof(lines) - strlen(lines), "trust %s %s ",
			         line, names[i]);
			envx_signkey_format(owner->spk, line);
			snprintf(lines + strlen(lines),
			         sizeof(lines) - strlen(lines), "%s\n", line);
			if (i == 0) {
				const char *nl = strchr(lines, '\n');
				if (envx_anchor_parse(
				            lines, (size_t)(nl - lines),
				            "vectors", &a, &err) < 0 ||
				    envx_anchors_add(&ci->anchors, &a, &err) <
				            0) {
					die("trust line", &err);
				}
			}
		}
		write_file(dir, "trust.txt", lines, strlen(lines));
		if (envx_anchors_parse(lines, strlen(lines), "vectors",
		                       &vector_trust_lines, &err) < 0) {
			die("trust lines", &err);
		}
	}
	envx_vault_close(v);
	v = NULL;

	/* identity.txt, identity-encrypted.txt, passphrase.txt */
	if (envx_identity_encode(ci, NULL, 0, &text, &err) < 0) {
		die("identity text", &err);
	}
	write_file(dir, "identity.txt", text.data, text.len);
	envx_secbuf_release(&text);
	if (envx_identity_encode(ci, (const unsigned char *)PASSPHRASE,
	                         strlen(PASSPHRASE), &text, &err) < 0) {
		die("encrypted identity text", &err);
	}
	write_file(dir, "identity-encrypted.txt", text.data, text.len);
	envx_secbuf_release(&text);
	write_file(dir, "passphrase.txt", PASSPHRASE "\n",
	           strlen(PASSPHRASE) + 1);

	/* expected.json */
	root = json_object();
	envs = json_object();
	env = json_object();
	secrets = json_object();
	for (i = 0; i < sizeof(staging) / sizeof(staging[0]); i++) {
		json_object_set_new(secrets, staging[i].name,
		                    json_string(staging[i].value));
	}
	json_object_set_new(secrets, "API_KEY", json_string(api_key[0]));
	json_object_set_new(secrets, ALLOWED_NAME, json_string(ALLOWED_VALUE));
	hist = json_array();
	for (i = 0; i < 3; i++) {
		json_array_append_new(hist, json_string(api_key[i]));
	}
	json_array_append_new(hist, json_string(api_key[0]));
	json_object_set_new(env, "unlock", json_string("identity.txt"));
	json_object_set_new(env, "allowed", json_pack("[s]", ALLOWED_NAME));
	json_object_set_new(env, "secrets", secrets);
	json_object_set_new(env, "history",
	                    json_pack("{s:o}", "API_KEY", hist));
	json_object_set_new(envs, "staging", env);
	env = json_object();
	secrets = json_object();
	for (i = 0; i < sizeof(production) / sizeof(production[0]); i++) {
		json_object_set_new(secrets, production[i].name,
		                    json_string(production[i].value));
	}
	json_object_set_new(env, "unlock", json_string("passphrase.txt"));
	json_object_set_new(env, "allowed", json_array());
	{
		json_t *bad = json_array();

		for (i = 1; i < sizeof(production) / sizeof(production[0]);
		     i++) {
			json_array_append_new(bad,
			                      json_string(production[i].name));
		}
		json_object_set_new(env, "compromised", bad);
	}
	json_object_set_new(env, "secrets", secrets);
	json_object_set_new(envs, "production", env);
	env = json_object();
	json_object_set_new(env, "unlock", json_null());
	json_object_set_new(env, "allowed", json_array());
	json_object_set_new(env, "names", json_pack("[s]", "LOCAL_ONLY"));
	json_object_set_new(envs, "local", env);
	json_object_set_new(root, "format", json_integer(4));
	{
		char fp[24];
		char key[ENVX_PUBKEY_TEXT_BYTES];

		envx_fingerprint(owner->spk, fp);
		envx_signkey_format(owner->spk, key);
		json_object_set_new(root, "admin",
		                    json_pack("{s:s,s:s}", "sign_key", key,
		                              "fingerprint", fp));
	}
	json_object_set_new(root, "passphrase", json_string(PASSPHRASE));
	json_object_set_new(root, "environments", envs);
	dump = json_dumps(root, JSON_INDENT(2) | JSON_SORT_KEYS);
	if (dump == NULL) {
		die("json", NULL);
	}
	write_file(dir, "expected.json", dump, strlen(dump));
	free(dump);
	json_decref(root);

	/* Self-check: the passphrase opens production read-only, and the
	 * identity opens staging with its allowance and allowed value. */
	{
		struct envx_unlock how = {.ask = ask_vector_passphrase};
		struct envx_secbuf val = {0};

		static struct envx_trust trust = {
		        .anchors = {&vector_trust_lines, NULL}};

		if (envx_vault_open(path, false, &v, &err) < 0) {
			die("self-check", &err);
		}
		envx_vault_set_trust(v, &trust);
		if (envx_env_open(v, "production", &e, &err) < 0 ||
		    envx_env_unlock(e, &how, &err) < 0 ||
		    envx_env_get(e, "JSON_BLOB", &val, &err) < 0) {
			die("self-check", &err);
		}
		if (strcmp((const char *)val.data, production[3].value) != 0) {
			die("self-check: wrong value", NULL);
		}
		envx_secbuf_release(&val);
		envx_env_free(e);
		e = open_unlocked(v, "staging", ci);
		if (!envx_env_name_allowed(e, ALLOWED_NAME) ||
		    envx_env_get(e, ALLOWED_NAME, &val, &err) < 0) {
			die("self-check: staging", &err);
		}
		if (strcmp((const char *)val.data, ALLOWED_VALUE) != 0) {
			die("self-check: wrong " ALLOWED_NAME, NULL);
		}
		envx_secbuf_release(&val);
		envx_env_free(e);
		envx_vault_close(v);
	}
	keep_owner(owner);
	envx_identity_free(owner);
	envx_identity_free(ci);
	envx_anchors_release(&vector_trust_lines);
	printf("vectors written to %s\n", dir);
	return 0;
}
#endif
