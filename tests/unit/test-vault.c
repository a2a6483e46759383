/*
 * Unit tests for src/vault against vault-format/SPEC.md: identities, value
 * AEAD binding, the environment MAC, unlocking, KDF bounds, schema checks and
 * migrations, the audit chain, and the committed vectors, which are also
 * decoded here by an independent reader written from the spec alone.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <argon2.h>
#include <cmocka.h>
#include <jansson.h>
#include <sodium.h>
#include <sqlite3.h>

#include "crypto/crypto.h"
#include "envx/identity.h"
#include "envx/vault.h"
#include "vault/internal.h"

static char tmpdir[] = "/tmp/envx-test-vault-XXXXXX";
static unsigned counter;

/* ---- helpers ---- */

static void
tmp_path(char *out, size_t outsz, const char *stem)
{
	snprintf(out, outsz, "%s/%s-%u.vault", tmpdir, stem, ++counter);
}

static void
vectors_path(char *out, size_t outsz, const char *file)
{
	const char *root = getenv("ENVX_SOURCE_ROOT");

	snprintf(out, outsz, "%s/vault-format/vectors/%s",
	         root != NULL ? root : ".", file);
}

static unsigned char *
slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	unsigned char *data = NULL;
	long n;

	assert_non_null(f);
	if (f == NULL) {
		return NULL;
	}
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	n = ftell(f);
	assert_true(n >= 0);
	rewind(f);
	data = malloc((size_t)n + 1);
	assert_non_null(data);
	if (data == NULL) {
		fclose(f);
		return NULL;
	}
	assert_int_equal(fread(data, 1, (size_t)n, f), (size_t)n);
	data[n] = '\0';
	fclose(f);
	*len = (size_t)n;
	return data;
}

static void
spit(const char *path, const void *data, size_t len)
{
	FILE *f = fopen(path, "wb");

	assert_non_null(f);
	if (f == NULL) {
		return;
	}
	assert_int_equal(fwrite(data, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
}

static void
copy_file(const char *from, const char *to)
{
	size_t len = 0;
	unsigned char *data = slurp(from, &len);

	spit(to, data, len);
	free(data);
}

static bool
same_bytes(const char *a, const char *b)
{
	size_t la = 0;
	size_t lb = 0;
	unsigned char *da = slurp(a, &la);
	unsigned char *db = slurp(b, &lb);
	bool same =
	        da != NULL && db != NULL && la == lb && memcmp(da, db, la) == 0;

	free(da);
	free(db);
	return same;
}

/* Runs SQL on the vault file through a plain connection: the attacker's
 * view, without envx's defensive settings. */
static void
sql(const char *path, const char *stmt)
{
	sqlite3 *db = NULL;
	char *msg = NULL;
	int rc;

	assert_int_equal(
	        sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL),
	        SQLITE_OK);
	rc = sqlite3_exec(db, stmt, NULL, NULL, &msg);
	if (rc != SQLITE_OK) {
		print_error("sql failed: %s: %s\n", stmt,
		            msg != NULL ? msg : "?");
	}
	sqlite3_free(msg);
	sqlite3_close(db);
	assert_int_equal(rc, SQLITE_OK);
}

static int64_t
sql_int(const char *path, const char *query)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	int64_t v = -1;

	assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL),
	                 SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, query, -1, &st, NULL),
	                 SQLITE_OK);
	if (sqlite3_step(st) == SQLITE_ROW) {
		v = sqlite3_column_int64(st, 0);
	}
	sqlite3_finalize(st);
	sqlite3_close(db);
	return v;
}

struct asker {
	const char *pass;
	int calls;
};

static int
ask(void *ctx, const char *prompt, struct envx_secbuf *out,
    struct envx_error *err)
{
	struct asker *a = ctx;

	(void)prompt;
	a->calls++;
	if (a->pass == NULL) {
		return envx_error_set(err, ENVX_E_LOCKED, "no passphrase");
	}
	return envx_secbuf_append(out, a->pass, strlen(a->pass), err);
}

/* VF-3.8: the admin every vault the tests make trusts (make_vault's
 * owner), as a trust line would pin it for readers without their own
 * signature in the log, such as passphrase recipients. */
static unsigned char g_admin[ENVX_SIGN_PUBLIC_BYTES];
static bool g_have_admin;
static struct envx_anchors g_anchors;
/* the migration tests read older, unsigned formats on purpose */
static struct envx_trust g_trust = {.anchors = {&g_anchors, NULL},
                                    .accept_unsigned = true};

static void
trust_admin(struct envx_vault *v, const char *env)
{
	struct envx_anchor a;
	struct envx_error err;
	char hex[ENVX_VAULT_ID_TEXT_BYTES];
	char key[ENVX_PUBKEY_TEXT_BYTES];
	char line[256];

	envx_vault_set_trust(v, &g_trust);
	if (!g_have_admin || envx_vault_schema_version(v) < 4) {
		return;
	}
	envx_vault_id_hex(v, hex);
	envx_signkey_format(g_admin, key);
	snprintf(line, sizeof(line), "trust %s %s %s", hex, env, key);
	assert_int_equal(
	        envx_anchor_parse(line, strlen(line), "test", &a, &err), 0);
	assert_int_equal(envx_anchors_add(&g_anchors, &a, &err), 0);
	envx_vault_set_trust(v, &g_trust);
}

/* Whether open_env verifies only the MAC root (VF-3.4, format 5: get and
 * set), each name's bucket then being verified when it is used. */
static bool g_lazy;

/* Opens path (read-only unless writable), opens and unlocks env, and
 * returns the unlock result; *vp and *ep stay open on success. */
static int
open_env(const char *path, bool writable, const char *env,
         const struct envx_identity *id, struct asker *a,
         struct envx_vault **vp, struct envx_env **ep, struct envx_error *err)
{
	struct envx_unlock how = {.identity = id,
	                          .ask = a != NULL ? ask : NULL,
	                          .ask_ctx = a,
	                          .lazy = g_lazy};
	struct envx_vault *v = NULL;
	struct envx_env *e = NULL;
	int r;

	r = envx_vault_open(path, writable, &v, err);
	if (r == 0) {
		trust_admin(v, env);
		r = envx_env_open(v, env, &e, err);
	}
	if (r == 0) {
		r = envx_env_unlock(e, &how, err);
	}
	if (r == 0 && vp != NULL && ep != NULL) {
		*vp = v;
		*ep = e;
		return 0;
	}
	envx_env_free(e);
	envx_vault_close(v);
	return r;
}

/* Unlock result of env, opening read-only and closing again. */
static int
try_unlock(const char *path, const char *env, const struct envx_identity *id,
           struct asker *a)
{
	struct envx_error err;

	return open_env(path, false, env, id, a, NULL, NULL, &err);
}

static void
set_value(struct envx_vault *v, struct envx_env *e, const char *name,
          const char *value)
{
	struct envx_error err;
	struct envx_set_opts opts = {.kind = "set"};

	assert_int_equal(envx_vault_begin(v, &err), 0);
	assert_int_equal(envx_env_set(e, name, (const unsigned char *)value,
	                              strlen(value), &opts, NULL, &err),
	                 0);
	assert_int_equal(
	        envx_vault_audit(v, "set", envx_env_name(e), name, "set", &err),
	        0);
	assert_int_equal(envx_vault_commit(v, &err), 0);
}

/* A vault with envs staging and production for owner; staging has A (two
 * versions) and B, production has A. */
static void
make_vault(const char *path, struct envx_identity **owner)
{
	struct envx_vault *v = NULL;
	struct envx_env *e = NULL;
	struct envx_error err;

	assert_int_equal(envx_identity_generate(owner, &err), 0);
	memcpy(g_admin, (*owner)->spk, sizeof(g_admin));
	g_have_admin = true;
	envx_anchors_release(&g_anchors);
	assert_int_equal(envx_vault_create(path, &v, &err), 0);
	envx_vault_set_actor(v, "tester");
	envx_vault_set_signer(v, *owner);
	assert_int_equal(envx_vault_begin(v, &err), 0);
	assert_int_equal(
	        envx_vault_env_add(v, "staging", (*owner)->pk, "owner", &err),
	        0);
	assert_int_equal(envx_vault_env_add(v, "production", (*owner)->pk,
	                                    "owner", &err),
	                 0);
	assert_int_equal(envx_vault_commit(v, &err), 0);
	envx_vault_close(v);

	assert_int_equal(
	        open_env(path, true, "staging", *owner, NULL, &v, &e, &err), 0);
	set_value(v, e, "A", "a-one");
	set_value(v, e, "A", "a-two");
	set_value(v, e, "B", "b-one");
	envx_env_free(e);
	envx_vault_close(v);
	assert_int_equal(
	        open_env(path, true, "production", *owner, NULL, &v, &e, &err),
	        0);
	set_value(v, e, "A", "prod-a");
	envx_env_free(e);
	envx_vault_close(v);
}

static void
assert_get(struct envx_env *e, const char *name, const char *expected)
{
	struct envx_secbuf out = {0};
	struct envx_error err;

	assert_int_equal(envx_env_get(e, name, &out, &err), 0);
	assert_int_equal(out.len, strlen(expected));
	assert_memory_equal(out.data, expected, out.len);
	envx_secbuf_release(&out);
}

/* Identity text is a secure buffer with a length, not a C string. */
static const char *
text_z(const struct envx_secbuf *text, char *out, size_t outsz)
{
	assert_true(text->len < outsz);
	memcpy(out, text->data, text->len);
	out[text->len] = '\0';
	return out;
}

/* ---- identities (VF-2) ---- */

static void
test_vault_identity_text_round_trip(void **state)
{
	char z[1024];
	const char *tz = z;
	struct envx_identity *id = NULL;
	struct envx_identity *back = NULL;
	struct envx_secbuf text = {0};
	struct envx_error err;
	char pub[ENVX_PUBKEY_TEXT_BYTES];
	unsigned char pk[ENVX_PUBLIC_KEY_BYTES];
	char messy[1024];
	const char *line;
	size_t i;

	(void)state;
	assert_int_equal(envx_identity_generate(&id, &err), 0);
	envx_pubkey_format(id->pk, pub);
	assert_int_equal(strlen(pub), 66);
	assert_int_equal(strncmp(pub, "envxpub1", 8), 0);
	{
		/* VF-2.5: the text identity show prints carries the signing
		 * key too */
		char pub2[ENVX_PUBKEY_TEXT_BYTES];
		unsigned char spk[ENVX_SIGN_PUBLIC_BYTES];
		bool has = false;

		envx_identity_pubtext(id, pub2);
		assert_int_equal(strlen(pub2), 117);
		assert_int_equal(envx_pubkey_parse2(pub2, pk, spk, &has, &err),
		                 0);
		assert_true(has);
		assert_memory_equal(pk, id->pk, sizeof(pk));
		assert_memory_equal(spk, id->spk, sizeof(spk));
		assert_int_equal(envx_pubkey_parse2(pub, pk, spk, &has, &err),
		                 0);
		assert_false(has);
	}
	for (i = 8; i < strlen(pub); i++) {
		assert_non_null(
		        strchr("abcdefghijklmnopqrstuvwxyz234567", pub[i]));
	}
	assert_int_equal(envx_pubkey_parse(pub, pk, &err), 0);
	assert_memory_equal(pk, id->pk, sizeof(pk));

	assert_int_equal(envx_identity_encode(id, NULL, 0, &text, &err), 0);
	tz = text_z(&text, z, sizeof(z));
	assert_non_null(strstr(tz, "# public key: envxpub2"));
	line = strstr(tz, "ENVX-SECRET-KEY-1-");
	assert_non_null(line);
	if (line == NULL) {
		return;
	}
	assert_int_equal(strlen(line), 76 + 1); /* key + newline */
	assert_int_equal(envx_identity_parse((const char *)text.data, text.len,
	                                     "test", NULL, NULL, &back, &err),
	                 0);
	assert_memory_equal(back->pk, id->pk, ENVX_PUBLIC_KEY_BYTES);
	assert_memory_equal(back->sk, id->sk, ENVX_KEY_BYTES);
	assert_false(back->protected_);
	envx_identity_free(back);
	back = NULL;

	/* CRLF, blank lines, indented comments, surrounding blanks, a
	 * lower-case payload, trailing junk lines after the key */
	snprintf(messy, sizeof(messy), "\r\n  # comment\r\n\t\r\n  %.18s",
	         line);
	for (i = 18; i < 76; i++) {
		char c = line[i];
		size_t n = strlen(messy);

		messy[n] = (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
		messy[n + 1] = '\0';
	}
	strncat(messy, " \t\r\n# a comment\n\n",
	        sizeof(messy) - strlen(messy) - 1);
	assert_int_equal(envx_identity_parse(messy, strlen(messy), "test", NULL,
	                                     NULL, &back, &err),
	                 0);
	assert_int_equal(back->anchors.n, 0);
	{
		/* VF-2.6: a later line must be a trust line */
		char junk[1200];

		snprintf(junk, sizeof(junk), "%snot a key\n", messy);
		struct envx_identity *no = NULL;
		assert_int_equal(envx_identity_parse(junk, strlen(junk), "test",
		                                     NULL, NULL, &no, &err),
		                 ENVX_E_INPUT);
		assert_non_null(strstr(err.msg, "trust line"));
		assert_null(no);
	}
	assert_memory_equal(back->pk, id->pk, ENVX_PUBLIC_KEY_BYTES);
	envx_identity_free(back);
	back = NULL;

	/* nothing but comments */
	assert_int_equal(envx_identity_parse("# a\n\n#b\n", 8, "test", NULL,
	                                     NULL, &back, &err),
	                 ENVX_E_INPUT);
	/* the prefix is case-sensitive */
	assert_int_equal(envx_identity_parse("envx-secret-key-1-AAAA", 22,
	                                     "test", NULL, NULL, &back, &err),
	                 ENVX_E_INPUT);
	envx_secbuf_release(&text);
	envx_identity_free(id);
}

static void
test_vault_identity_checksum_typo_detected(void **state)
{
	char z[1024];
	const char *tz = z;
	struct envx_identity *id = NULL;
	struct envx_identity *back = NULL;
	struct envx_secbuf text = {0};
	struct envx_error err;
	char pub[ENVX_PUBKEY_TEXT_BYTES];
	unsigned char pk[ENVX_PUBLIC_KEY_BYTES];
	char key[128];
	const char *line;
	size_t i;
	size_t rejected = 0;

	(void)state;
	assert_int_equal(envx_identity_generate(&id, &err), 0);
	assert_int_equal(envx_identity_encode(id, NULL, 0, &text, &err), 0);
	tz = text_z(&text, z, sizeof(z));
	line = strstr(tz, "ENVX-SECRET-KEY-1-");
	assert_non_null(line);
	if (line == NULL) {
		return;
	}
	snprintf(key, sizeof(key), "%.76s", line);
	/* one substituted character anywhere in the payload */
	for (i = 18; i < 76; i++) {
		char orig = key[i];

		key[i] = orig == 'A' ? 'B' : 'A';
		if (envx_identity_parse(key, 76, "test", NULL, NULL, &back,
		                        &err) == ENVX_E_INPUT) {
			rejected++;
		}
		envx_identity_free(back);
		back = NULL;
		key[i] = orig;
	}
	assert_int_equal(rejected, 76 - 18);
	/* truncated, and one character too many */
	assert_int_equal(
	        envx_identity_parse(key, 75, "test", NULL, NULL, &back, &err),
	        ENVX_E_INPUT);
	assert_non_null(strstr(err.msg, "checksum"));
	key[76] = 'A';
	key[77] = '\0';
	assert_int_equal(
	        envx_identity_parse(key, 77, "test", NULL, NULL, &back, &err),
	        ENVX_E_INPUT);

	envx_pubkey_format(id->pk, pub);
	rejected = 0;
	for (i = 8; i < 66; i++) {
		char orig = pub[i];

		pub[i] = orig == 'a' ? 'b' : 'a';
		if (envx_pubkey_parse(pub, pk, &err) == ENVX_E_INPUT) {
			rejected++;
		}
		pub[i] = orig;
	}
	assert_int_equal(rejected, 66 - 8);
	pub[65] = '\0';
	assert_int_equal(envx_pubkey_parse(pub, pk, &err), ENVX_E_INPUT);
	assert_int_equal(envx_pubkey_parse("ENVXPUB1aaaa", pk, &err),
	                 ENVX_E_INPUT);
	envx_secbuf_release(&text);
	envx_identity_free(id);
}

/* Re-encodes an ENVX-ENCRYPTED-KEY-1- line with different KDF params and a
 * valid checksum. */
static void
recraft_encrypted(char *line, uint32_t t, uint32_t m, uint32_t p)
{
	unsigned char payload[104];
	struct envx_kdf_params kp;
	size_t plen = strlen(ENVX_ENCKEY_PREFIX);

	assert_int_equal(envx_base32_decode(line + plen, strlen(line + plen),
	                                    payload, sizeof(payload)),
	                 104);
	envx_kdf_decode(payload, &kp);
	kp.t = t;
	kp.m_kib = m;
	kp.p = p;
	envx_kdf_encode(&kp, payload);
	envx_key_checksum(ENVX_ENCKEY_PREFIX, payload, 100, payload + 100);
	envx_base32_encode(payload, 104, true, line + plen);
}

static void
test_vault_identity_encrypted_wrong_passphrase(void **state)
{
	char z[1024];
	const char *tz = z;
	struct envx_identity *id = NULL;
	struct envx_identity *back = NULL;
	struct envx_secbuf text = {0};
	struct envx_error err;
	struct asker right = {.pass = "open sesame"};
	struct asker wrong = {.pass = "open sesame!"};
	struct asker none = {0};
	char line[256];
	const char *p;
	struct timespec t0;
	struct timespec t1;

	(void)state;
	assert_int_equal(envx_identity_generate(&id, &err), 0);
	assert_int_equal(envx_identity_encode(id,
	                                      (const unsigned char *)"open "
	                                                             "sesame",
	                                      11, &text, &err),
	                 0);
	tz = text_z(&text, z, sizeof(z));
	assert_non_null(strstr(tz, "# envx identity (passphrase-protected)\n"));
	p = strstr(tz, ENVX_ENCKEY_PREFIX);
	assert_non_null(p);
	if (p == NULL) {
		return;
	}
	assert_int_equal(strlen(p), 21 + 167 + 1);

	assert_int_equal(envx_identity_parse((const char *)text.data, text.len,
	                                     "test", ask, &right, &back, &err),
	                 0);
	assert_memory_equal(back->sk, id->sk, ENVX_KEY_BYTES);
	assert_memory_equal(back->pk, id->pk, ENVX_PUBLIC_KEY_BYTES);
	assert_true(back->protected_);
	envx_identity_free(back);
	back = NULL;

	assert_int_equal(envx_identity_parse((const char *)text.data, text.len,
	                                     "test", ask, &wrong, &back, &err),
	                 ENVX_E_LOCKED);
	assert_non_null(strstr(err.msg, "wrong passphrase"));
	assert_int_equal(envx_identity_parse((const char *)text.data, text.len,
	                                     "test", NULL, NULL, &back, &err),
	                 ENVX_E_LOCKED);
	assert_int_equal(envx_identity_parse((const char *)text.data, text.len,
	                                     "test", ask, &none, &back, &err),
	                 ENVX_E_LOCKED);

	/* crafted parameters are refused before the passphrase is asked
	 * for or anything is derived */
	snprintf(line, sizeof(line), "%.188s", p);
	recraft_encrypted(line, 1, 19456, 1);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(envx_identity_parse(line, strlen(line), "test", ask,
	                                     &none, &back, &err),
	                 ENVX_E_INTEGRITY);
	recraft_encrypted(line, 3, (1u << 30) + 1024, 4);
	assert_int_equal(envx_identity_parse(line, strlen(line), "test", ask,
	                                     &none, &back, &err),
	                 ENVX_E_INTEGRITY);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	assert_int_equal(none.calls, 1); /* only the earlier no-pass call */
	assert_true((t1.tv_sec - t0.tv_sec) * 1000 +
	                    (t1.tv_nsec - t0.tv_nsec) / 1000000 <
	            500);
	/* in-bounds but different parameters: the AD no longer matches */
	recraft_encrypted(line, 3, 19456, 1);
	assert_int_equal(envx_identity_parse(line, strlen(line), "test", ask,
	                                     &right, &back, &err),
	                 ENVX_E_LOCKED);
	envx_secbuf_release(&text);
	envx_identity_free(id);
}

/* ---- values and the environment MAC (VF-3.3, VF-3.4) ---- */

static void
test_vault_values_round_trip(void **state)
{
	static const char *const values[] = {
	        "",
	        "x",
	        "line1\nline2\n",
	        "tab\there\r\n",
	        "\"quoted\" 'single' \\back $HOME",
	        "h\xc3\xa9llo \xe2\x9c\x93 \xf0\x9f\x9a\x80"};
	struct envx_identity *owner = NULL;
	struct envx_vault *v = NULL;
	struct envx_env *e = NULL;
	struct envx_kvset all;
	struct envx_error err;
	char path[512];
	char name[16];
	size_t len;
	size_t i;

	(void)state;
	tmp_path(path, sizeof(path), "values");
	make_vault(path, &owner);
	assert_int_equal(
	        open_env(path, true, "staging", owner, NULL, &v, &e, &err), 0);
	for (i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
		snprintf(name, sizeof(name), "V%zu", i);
		set_value(v, e, name, values[i]);
	}
	envx_env_free(e);
	envx_vault_close(v);

	assert_int_equal(
	        open_env(path, false, "staging", owner, NULL, &v, &e, &err), 0);
	for (i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
		snprintf(name, sizeof(name), "V%zu", i);
		assert_get(e, name, values[i]);
	}
	assert_get(e, "A", "a-two");
	envx_kvset_init(&all);
	assert_int_equal(envx_env_get_all(e, &all, &err), 0);
	assert_int_equal(all.count, 2 + sizeof(values) / sizeof(values[0]));
	assert_string_equal(envx_kvset_name(&all, 0), "A");
	assert_string_equal((const char *)envx_kvset_value(&all, 0, &len),
	                    "a-two");
	envx_kvset_release(&all);
	envx_env_free(e);
	envx_vault_close(v);
	envx_identity_free(owner);
}

static void
test_vault_value_limits(void **state)
{
	struct envx_identity *owner = NULL;
	struct envx_vault *v = NULL;
	struct envx_env *e = NULL;
	struct envx_error err;
	struct envx_set_opts opts = {.kind = "set"};
	unsigned char *big;
	char path[512];
	char longname[300];

	(void)state;
	tmp_path(path, sizeof(path), "limits");
	make_vault(path, &owner);
	big = malloc(ENVX_VALUE_MAX_BYTES + 1);
	assert_non_null(big);
	if (big == NULL) {
		return;
	}
	memset(big, 'v', ENVX_VALUE_MAX_BYTES + 1);
	memset(longname, 'N', sizeof(longname));
	longname[sizeof(longname) - 1] = '\0';
	assert_int_equal(
	        open_env(path, true, "staging", owner, NULL, &v, &e, &err), 0);
	assert_int_equal(envx_vault_begin(v, &err), 0);
	assert_int_equal(envx_env_set(e, "BIG", big, ENVX_VALUE_MAX_BYTES,
	                              &opts, NULL, &err),
	                 0);
	assert_int_equal(envx_env_set(e, "BIGGER", big,
	                              ENVX_VALUE_MAX_BYTES + 1, &opts, NULL,
	                              &err),
	                 ENVX_E_INPUT);
	assert_int_equal(envx_env_set(e, "NUL", (const unsigned char *)"a\0b",
	                              3, &opts, NULL, &err),
	                 ENVX_E_INPUT);
	assert_int_equal(envx_env_set(e, "1BAD", (const unsigned char *)"x", 1,
	                              &opts, NULL, &err),
	                 ENVX_E_INPUT);
	assert_int_equal(envx_env_set(e, "LD_PRELOAD",
	                              (const unsigned char *)"x", 1, &opts,
	                              NULL, &err),
	                 ENVX_E_INPUT);
	assert_int_equal(envx_env_set(e, longname, (const unsigned char *)"x",
	                              1, &opts, NULL, &err),
	                 ENVX_E_INPUT);
	assert_int_equal(envx_env_grant_key(e, "", owner->pk, &err),
	                 ENVX_E_INPUT);
	assert_int_equal(envx_env_grant_key(e, "has space", owner->pk, &err),
	                 ENVX_E_INPUT);
	assert_int_equal(envx_vault_env_add(v, "Bad", owner->pk, "x", &err),
	                 ENVX_E_INPUT);
	assert_int_equal(envx_vault_commit(v, &err), 0);
	envx_env_free(e);
	envx_vault_close(v);
	assert_int_equal(
	        open_env(path, false, "staging", owner, NULL, &v, &e, &err), 0);
	{
		struct envx_secbuf out = {0};

		assert_int_equal(envx_env_get(e, "BIG", &out, &err), 0);
		assert_int_equal(out.len, ENVX_VALUE_MAX_BYTES);
		envx_secbuf_release(&out);
	}
	envx_env_free(e);
	envx_vault_close(v);
	free(big);
	envx_identity_free(owner);
}

/* Unlocks path's env writable, applies tamper SQL through another
 * connection, and returns envx_env_get(name): the AEAD alone, since the
 * MAC was checked before the tampering. */
static int
get_after_tamper(const char *path, const char *env, const char *name,
                 const struct envx_identity *owner, const char *tamper)
{
	struct envx_vault *v = NULL;
	struct envx_env *e = NULL;
	struct envx_secbuf out = {0};
	struct envx_error err;
	int r;

	/* a writable open holds no read snapshot between statements (a
	 * read-only one does, and would block the tampering: see
	 * test_vault_reader_snapshot_blocks_writers), so this reaches the
	 * value AEAD alone */
	assert_int_equal(open_env(path, true, env, owner, NULL, &v, &e, &err),
	                 0);
	sql(path, tamper);
	r = envx_env_get(e, name, &out, &err);
	if (r == ENVX_E_INTEGRITY) {
		assert_non_null(strstr(err.msg, "does not decrypt"));
	}
	envx_secbuf_release(&out);
	envx_env_free(e);
	envx_vault_close(v);
	return r;
}

static void
test_vault_ciphertext_moved_fails(void **state)
{
	struct envx_identity *owner = NULL;
	char pristine[512];
	char path[512];

	(void)state;
	tmp_path(pristine, sizeof(pristine), "moved");
	make_vault(pristine, &owner);

#define STAGING_ID "(SELECT id FROM envs WHERE name = 'staging')"
#define PROD_ID    "(SELECT id FROM envs WHERE name = 'production')"
#define SECRET(env, n)                                                         \
	"(SELECT id FROM secrets WHERE env_id = " env " AND name = '" n "')"
	/* to another name: B's current row gets A's current ciphertext */
	static const char move_name[] =
	        "UPDATE versions SET (nonce, ciphertext) = (SELECT nonce, "
	        "ciphertext FROM versions WHERE secret_id = " SECRET(
	                STAGING_ID,
	                "A") " AND version = 2) WHERE secret_id = " SECRET(STAGING_ID,
	                                                                   "B") " AND version = 1";
	/* to another version of the same name */
	static const char move_version[] =
	        "UPDATE versions SET (nonce, ciphertext) = (SELECT nonce, "
	        "ciphertext FROM versions WHERE secret_id = " SECRET(
	                STAGING_ID,
	                "A") " AND version = 1) WHERE secret_id = " SECRET(STAGING_ID,
	                                                                   "A") " AND version = 2";
	/* to another environment (same name, other key) */
	static const char move_env[] =
	        "UPDATE versions SET (nonce, ciphertext) = (SELECT nonce, "
	        "ciphertext FROM versions WHERE secret_id = " SECRET(
	                STAGING_ID,
	                "A") " AND version = 2) WHERE secret_id = " SECRET(PROD_ID,
	                                                                   "A") " AND version = 1";
	static const struct {
		const char *sql;
		const char *env;
		const char *name;
	} cases[] = {
	        {move_name, "staging", "B"},
	        {move_version, "staging", "A"},
	        {move_env, "production", "A"},
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		/* the value AEAD alone refuses it */
		tmp_path(path, sizeof(path), "moved");
		copy_file(pristine, path);
		assert_int_equal(get_after_tamper(path, cases[i].env,
		                                  cases[i].name, owner,
		                                  cases[i].sql),
		                 ENVX_E_INTEGRITY);
		/* and the environment MAC refuses to unlock */
		assert_int_equal(try_unlock(path, cases[i].env, owner, NULL),
		                 ENVX_E_INTEGRITY);
	}
	/* the pristine copy still opens */
	assert_int_equal(try_unlock(pristine, "staging", owner, NULL), 0);
	assert_int_equal(try_unlock(pristine, "production", owner, NULL), 0);

	/* a ciphertext from another vault: a vault id change alone breaks
	 * every MAC */
	tmp_path(path, sizeof(path), "moved");
	copy_file(pristine, path);
	sql(path, "UPDATE vault SET vault_id = randomblob(16)");
	assert_int_equal(try_unlock(path, "staging", owner, NULL),
	                 ENVX_E_INTEGRITY);
	envx_identity_free(owner);
}

static void
test_vault_env_mac_detects_row_changes(void **state)
{
	static const struct {
		const char *what;
		const char *sql;
	} cases[] = {
	        {"deleted old version",
	         "DELETE FROM versions WHERE version = 1 AND secret_id = "
	         "(SELECT id FROM secrets WHERE name = 'A' AND env_id = "
	         "1)"},
	        {"deleted current version",
	         "DELETE FROM versions WHERE secret_id = (SELECT id FROM "
	         "secrets WHERE name = 'B' AND env_id = 1)"},
	        {"duplicated version",
	         "INSERT INTO versions SELECT secret_id, 3, nonce, "
	         "ciphertext, created_at, author, kind FROM versions WHERE "
	         "version = 2 AND secret_id = (SELECT id FROM secrets WHERE "
	         "name = 'A' AND env_id = 1)"},
	        {"duplicated and made current",
	         "INSERT INTO versions SELECT secret_id, 3, nonce, "
	         "ciphertext, created_at, author, kind FROM versions WHERE "
	         "version = 2 AND secret_id = (SELECT id FROM secrets WHERE "
	         "name = 'A' AND env_id = 1); UPDATE secrets SET version = 3 "
	         "WHERE name = 'A' AND env_id = 1"},
	        {"rolled back current version",
	         "UPDATE secrets SET version = 1 WHERE name = 'A' AND "
	         "env_id = 1"},
	        {"rolled back to the older row state",
	         "UPDATE secrets SET version = 1 WHERE name = 'A' AND "
	         "env_id = 1; DELETE FROM versions WHERE version = 2 AND "
	         "secret_id = (SELECT id FROM secrets WHERE name = 'A' AND "
	         "env_id = 1)"},
	        {"deleted secret",
	         "PRAGMA foreign_keys = ON; DELETE FROM secrets WHERE name = "
	         "'B' AND env_id = 1"},
	        {"swapped names",
	         "UPDATE secrets SET name = 'T' WHERE name = 'A' AND env_id = 1; "
	         "UPDATE secrets SET name = 'A' WHERE name = 'B' AND env_id = 1; "
	         "UPDATE secrets SET name = 'B' WHERE name = 'T' AND env_id = 1"},
	        {"rotation interval", "UPDATE secrets SET rotate_every = 86400 "
	                              "WHERE name = 'A'"},
	        {"state", "UPDATE secrets SET state = 1 WHERE name = 'B'"},
	        {"description",
	         "UPDATE secrets SET description = 'x' WHERE name = 'B'"},
	        {"rotated_at",
	         "UPDATE secrets SET rotated_at = rotated_at - 1 WHERE name "
	         "= 'B'"},
	        {"version author", "UPDATE versions SET author = 'mallory'"},
	        {"version kind", "UPDATE versions SET kind = 'rollback'"},
	        {"version time",
	         "UPDATE versions SET created_at = created_at + 1"},
	        {"generation",
	         "UPDATE envs SET generation = generation + 1 WHERE id = 1"},
	        {"mac", "UPDATE envs SET mac = randomblob(32) WHERE id = 1"},
	        {"swapped env names",
	         "UPDATE envs SET name = 'tmp' WHERE id = 1; UPDATE envs SET "
	         "name = 'staging' WHERE id = 2; UPDATE envs SET name = "
	         "'production' WHERE id = 1"},
	        {"secret moved to another env",
	         "UPDATE secrets SET env_id = 1, name = 'C' WHERE env_id = 2"},
	        {"added secret",
	         "INSERT INTO secrets (env_id, name, version, description, "
	         "rotate_every, rotated_at, state) VALUES (1, 'C', 1, '', 0, "
	         "0, 0)"},
	        /* storage classes (VF-4.6): each of these reads back as the
	         * same integer or bytes, so the MAC alone would not change */
	        {"rotation interval as REAL",
	         "UPDATE secrets SET rotate_every = rotate_every + 0.5 WHERE "
	         "name = 'A'"},
	        {"state as REAL",
	         "UPDATE secrets SET state = state + 0.25 WHERE name = 'B'"},
	        {"version time as REAL",
	         "UPDATE versions SET created_at = created_at + 0.5"},
	        {"ciphertext as TEXT",
	         "UPDATE versions SET ciphertext = CAST(ciphertext AS TEXT)"},
	        {"nonce as TEXT",
	         "UPDATE versions SET nonce = CAST(nonce AS TEXT)"},
	        {"author as BLOB",
	         "UPDATE versions SET author = CAST(author AS BLOB)"},
	        {"description as BLOB",
	         "UPDATE secrets SET description = CAST(description AS BLOB)"},
	};
	struct envx_identity *owner = NULL;
	char pristine[512];
	char path[512];
	size_t i;

	(void)state;
	tmp_path(pristine, sizeof(pristine), "mac");
	make_vault(pristine, &owner);
	assert_int_equal(sql_int(pristine, "SELECT id FROM envs WHERE name = "
	                                   "'staging'"),
	                 1);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct envx_error err;
		int r;

		tmp_path(path, sizeof(path), "mac");
		copy_file(pristine, path);
		sql(path, cases[i].sql);
		r = open_env(path, false, "staging", owner, NULL, NULL, NULL,
		             &err);
		if (r != ENVX_E_INTEGRITY) {
			print_error("case '%s': got %d\n", cases[i].what, r);
		}
		assert_int_equal(r, ENVX_E_INTEGRITY);
		assert_null(strstr(err.msg, "a-two"));
	}
	envx_identity_free(owner);
}

/* The result of get NAME in env of path, opened as get opens it (only the
 * MAC root verified at unlock, VF-3.4 format 5); 0 with want checked. */
static int
lazy_get(const char *path, const struct envx_identity *id, const char *name,
         const char *want)
{
	struct envx_vault *v = NULL;
	struct envx_env *e = NULL;
	struct envx_secbuf out = {0};
	struct envx_error err;
	int r;

	g_lazy = true;
	r = open_env(path, false, "staging", id, NULL, &v, &e, &err);
	g_lazy = false;
	if (r == 0) {
		r = envx_env_get(e, name, &out, &err);
	}
	if (r == 0) {
		assert_string_equal((const char *)out.data, want);
	}
	if (r < 0) {
		assert_null(strstr(err.msg, "a-two"));
	}
	envx_secbuf_release(&out);
	envx_env_free(e);
	envx_vault_close(v);
	return r;
}

/*
 * VF-3.4, format 5: the bucketed MAC. A is in bucket 761, B in 253 (in
 * staging, of which make_vault makes A = a-one, a-two and B = b-one).
 * Edits of A's bucket, of its bucket row or of the root are caught by get
 * A and by a full read; an edit of B's rows is caught by get B and by a
 * full read (exec, list), and is not noticed by get A, which still returns
 * A's sealed value. A write of A then seals A's bucket only: B's stays
 * stale, and the next full read still refuses it.
 */
static void
test_vault_bucket_mac(void **state)
{
	static const struct {
		const char *what;
		const char *sql;
		bool get_a_fails; /* else only get B and full reads */
	} cases[] = {
	        {"row moved to another bucket",
	         "UPDATE secrets SET bucket = 762 WHERE name = 'A'", true},
	        {"row in no bucket",
	         "UPDATE secrets SET bucket = -1 WHERE name = 'A'", true},
	        {"bucket column as REAL",
	         "UPDATE secrets SET bucket = 761.5 WHERE name = 'A'", true},
	        {"bucket row edited",
	         "UPDATE mac_buckets SET digest = randomblob(32) WHERE bucket = "
	         "761",
	         true},
	        {"bucket row counts edited",
	         "UPDATE mac_buckets SET nversions = nversions - 1 WHERE "
	         "bucket = 761",
	         true},
	        {"bucket row deleted",
	         "DELETE FROM mac_buckets WHERE bucket = 761", true},
	        {"bucket row of B deleted (the root covers every row)",
	         "DELETE FROM mac_buckets WHERE bucket = 253", true},
	        {"bucket row added",
	         "INSERT INTO mac_buckets SELECT env_id, 5, digest, nsecrets, "
	         "nversions FROM mac_buckets WHERE bucket = 761",
	         true},
	        {"A's old version deleted",
	         "DELETE FROM versions WHERE version = 1 AND secret_id = "
	         "(SELECT id FROM secrets WHERE name = 'A' AND env_id = 1)",
	         true},
	        {"B edited",
	         "UPDATE secrets SET description = 'x' WHERE name "
	         "= 'B' AND env_id = 1",
	         false},
	        {"B deleted",
	         "PRAGMA foreign_keys = ON; DELETE FROM secrets WHERE name = "
	         "'B' AND env_id = 1",
	         false},
	        {"B moved to A's bucket",
	         "UPDATE secrets SET bucket = 761 WHERE name = 'B' AND env_id = 1",
	         true},
	        {"a secret added in another bucket",
	         "INSERT INTO secrets (env_id, name, version, description, "
	         "rotate_every, rotated_at, state, bucket) VALUES (1, 'C', 1, "
	         "'', 0, 0, 0, 5)",
	         false},
	};
	struct envx_identity *owner = NULL;
	struct envx_secret_info *list = NULL;
	struct envx_vault *v = NULL;
	struct envx_env *e = NULL;
	struct envx_error err;
	char pristine[512];
	char path[512];
	size_t n = 0;
	size_t i;

	(void)state;
	tmp_path(pristine, sizeof(pristine), "bucket");
	make_vault(pristine, &owner);
	assert_int_equal(sql_int(pristine, "SELECT bucket FROM secrets WHERE "
	                                   "name = 'A' AND env_id = 1"),
	                 761);
	assert_int_equal(sql_int(pristine, "SELECT bucket FROM secrets WHERE "
	                                   "name = 'B' AND env_id = 1"),
	                 253);
	assert_int_equal(sql_int(pristine, "SELECT count(*) FROM mac_buckets "
	                                   "WHERE env_id = 1"),
	                 2);
	assert_int_equal(lazy_get(pristine, owner, "A", "a-two"), 0);
	assert_int_equal(lazy_get(pristine, owner, "B", "b-one"), 0);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int got;

		tmp_path(path, sizeof(path), "bucket");
		copy_file(pristine, path);
		sql(path, cases[i].sql);
		got = lazy_get(path, owner, "A", "a-two");
		if (got != (cases[i].get_a_fails ? ENVX_E_INTEGRITY : 0)) {
			print_error("case '%s': get A gave %d\n", cases[i].what,
			            got);
		}
		assert_int_equal(got,
		                 cases[i].get_a_fails ? ENVX_E_INTEGRITY : 0);
		if (!cases[i].get_a_fails &&
		    strstr(cases[i].what, "added") == NULL) {
			assert_int_equal(lazy_get(path, owner, "B", "b-one"),
			                 ENVX_E_INTEGRITY);
		}
		/* a full read (exec, export) */
		assert_int_equal(try_unlock(path, "staging", owner, NULL),
		                 ENVX_E_INTEGRITY);
		/* list, after an unlock that verified only the root */
		if (!cases[i].get_a_fails) {
			g_lazy = true;
			assert_int_equal(open_env(path, false, "staging", owner,
			                          NULL, &v, &e, &err),
			                 0);
			g_lazy = false;
			assert_int_equal(envx_env_secrets(e, &list, &n, &err),
			                 ENVX_E_INTEGRITY);
			envx_env_free(e);
			envx_vault_close(v);
		}
	}
	/* a write of A after B was edited: A's bucket is verified and sealed
	 * again, B's keeps its old digest, and stays refused */
	tmp_path(path, sizeof(path), "bucket");
	copy_file(pristine, path);
	sql(path, "UPDATE secrets SET description = 'x' WHERE name = 'B' AND "
	          "env_id = 1");
	g_lazy = true;
	assert_int_equal(
	        open_env(path, true, "staging", owner, NULL, &v, &e, &err), 0);
	g_lazy = false;
	set_value(v, e, "A", "a-three");
	envx_env_free(e);
	envx_vault_close(v);
	assert_int_equal(lazy_get(path, owner, "A", "a-three"), 0);
	assert_int_equal(lazy_get(path, owner, "B", "b-one"), ENVX_E_INTEGRITY);
	assert_int_equal(try_unlock(path, "staging", owner, NULL),
	                 ENVX_E_INTEGRITY);
	/* and a write of B itself is refused, the file unchanged */
	g_lazy = true;
	assert_int_equal(
	        open_env(path, true, "staging", owner, NULL, &v, &e, &err), 0);
	g_lazy = false;
	assert_int_equal(envx_vault_begin(v, &err), 0);
	assert_int_equal(envx_env_set(e, "B", (const unsigned char *)"b", 1,
	                              NULL, NULL, &err),
	                 ENVX_E_INTEGRITY);
	envx_vault_rollback(v);
	envx_env_free(e);
	envx_vault_close(v);
	/* the untouched vault: writes of A and B keep every bucket valid
	 * (a full read after them verifies) */
	tmp_path(path, sizeof(path), "bucket");
	copy_file(pristine, path);
	g_lazy = true;
	assert_int_equal(
	        open_env(path, true, "staging", owner, NULL, &v, &e, &err), 0);
	g_lazy = false;
	set_value(v, e, "A", "a-three");
	set_value(v, e, "C", "c-one");
	assert_int_equal(envx_vault_begin(v, &err), 0);
	assert_int_equal(envx_env_rm(e, "B", &err), 0);
	assert_int_equal(envx_vault_commit(v, &err), 0);
	envx_env_free(e);
	envx_vault_close(v);
	assert_int_equal(try_unlock(path, "staging", owner, NULL), 0);
	assert_int_equal(sql_int(path, "SELECT count(*) FROM mac_buckets WHERE "
	                               "env_id = 1 AND bucket = 253"),
	                 0);
	envx_identity_free(owner);
}

/* The state of name in env of path, as the library reads it. */
static int
state_of(const char *path, const char *env, const struct envx_identity *id,
         const char *name)
{
	struct envx_secret_info *list = NULL;
	struct envx_vault *v = NULL;
	struct envx_env *e = NULL;
	struct envx_error err;
	size_t n = 0;
	size_t i;
	int found = -1;

	assert_int_equal(open_env(path, false, env, id, NULL, &v, &e, &err), 0);
	assert_int_equal(envx_env_secrets(e, &list, &n, &err), 0);
	for (i = 0; i < n; i++) {
		if (strcmp(list[i].name, name) == 0) {
			found = list[i].state;
		}
	}
	free(list);
	envx_env_free(e);
	envx_vault_close(v);
	return found;
}

static void
test_vault_mark_compromised(void **state)
{
	struct envx_identity *owner = NULL;
	struct envx_vault *v = NULL;
	struct envx_env *e = NULL;
	struct envx_error err;
	char path[512];
	char copy[512];

	(void)state;
	tmp_path(path, sizeof(path), "compromised");
	tmp_path(copy, sizeof(copy), "compromised-copy");
	make_vault(path, &owner);
	assert_int_equal(
	        open_env(path, true, "staging", owner, NULL, &v, &e, &err), 0);
	/* outside a transaction: refused */
	assert_int_equal(envx_env_mark_compromised(e, "B", &err),
	                 ENVX_E_INTERNAL);
	/* an unknown name: not found, and the rolled-back write changed
	 * nothing */
	copy_file(path, copy);
	assert_int_equal(envx_vault_begin(v, &err), 0);
	assert_int_equal(envx_env_mark_compromised(e, "NOPE", &err),
	                 ENVX_E_NOTFOUND);
	assert_non_null(strstr(err.msg, "NOPE"));
	envx_vault_rollback(v);
	assert_true(same_bytes(path, copy));
	assert_int_equal(envx_vault_begin(v, &err), 0);
	assert_int_equal(envx_env_mark_compromised(e, "B=x", &err),
	                 ENVX_E_INPUT);
	envx_vault_rollback(v);
	/* one name */
	assert_int_equal(envx_vault_begin(v, &err), 0);
	assert_int_equal(envx_env_mark_compromised(e, "B", &err), 0);
	assert_int_equal(envx_vault_commit(v, &err), 0);
	envx_env_free(e);
	envx_vault_close(v);
	/* sealed: the MAC over the new state verifies */
	assert_int_equal(state_of(path, "staging", owner, "B"),
	                 ENVX_STATE_COMPROMISED);
	assert_int_equal(state_of(path, "staging", owner, "A"), ENVX_STATE_OK);
	assert_int_equal(state_of(path, "production", owner, "A"),
	                 ENVX_STATE_OK);
	/* and covers it: clearing it behind envx's back is tampering */
	copy_file(path, copy);
	sql(copy, "UPDATE secrets SET state = 0 WHERE name = 'B'");
	assert_int_equal(try_unlock(copy, "staging", owner, NULL),
	                 ENVX_E_INTEGRITY);
	/* NULL: every secret of the environment, no other */
	assert_int_equal(
	        open_env(path, true, "staging", owner, NULL, &v, &e, &err), 0);
	assert_int_equal(envx_vault_begin(v, &err), 0);
	assert_int_equal(envx_env_mark_compromised(e, NULL, &err), 0);
	assert_int_equal(envx_vault_commit(v, &err), 0);
	/* a new value clears it */
	set_value(v, e, "B", "b-two");
	envx_env_free(e);
	envx_vault_close(v);
	assert_int_equal(state_of(path, "staging", owner, "A"),
	                 ENVX_STATE_COMPROMISED);
	assert_int_equal(state_of(path, "staging", owner, "B"), ENVX_STATE_OK);
	assert_int_equal(state_of(path, "production", owner, "A"),
	                 ENVX_STATE_OK);
	/* a locked environment cannot be marked */
	assert_int_equal(envx_vault_open(path, true, &v, &err), 0);
	assert_int_equal(envx_env_open(v, "staging", &e, &err), 0);
	assert_int_equal(envx_vault_begin(v, &err), 0);
	assert_int_equal(envx_env_mark_compromised(e, "A", &err),
	                 ENVX_E_LOCKED);
	envx_vault_rollback(v);
	envx_env_free(e);
	envx_vault_close(v);
	envx_identity_free(owner);
}

static void
test_vault_set_expect_version(void **state)
{
	struct envx_identity *owner = NULL;
	struct envx_vault *v = NULL;
	struct envx_env *e = NULL;
	struct envx_error err;
	struct envx_set_opts opts = {.kind = "rotate", .expect_version = 1};
	uint64_t ver = 0;
	char path[512];
	char copy[512];

	(void)state;
	tmp_path(path, sizeof(path), "expect");
	tmp_path(copy, sizeof(copy), "expect-copy");
	make_vault(path, &owner);
	copy_file(path, copy);
	assert_int_equal(
	        open_env(path, true, "staging", owner, NULL, &v, &e, &err), 0);
	/* A is at version 2: a write based on version 1 is refused */
	assert_int_equal(envx_vault_begin(v, &err), 0);
	assert_int_equal(envx_env_set(e, "A", (const unsigned char *)"x", 1,
	                              &opts, &ver, &err),
	                 ENVX_E_IO);
	assert_non_null(strstr(err.msg, "changed meanwhile"));
	envx_vault_rollback(v);
	/* a secret that no longer exists too */
	assert_int_equal(envx_vault_begin(v, &err), 0);
	assert_int_equal(envx_env_set(e, "GONE", (const unsigned char *)"x", 1,
	                              &opts, &ver, &err),
	                 ENVX_E_IO);
	envx_vault_rollback(v);
	envx_env_free(e);
	envx_vault_close(v);
	assert_true(same_bytes(path, copy));
	/* the version it is at: written */
	opts.expect_version = 2;
	assert_int_equal(
	        open_env(path, true, "staging", owner, NULL, &v, &e, &err), 0);
	assert_int_equal(envx_vault_begin(v, &err), 0);
	assert_int_equal(envx_env_set(e, "A", (const unsigned char *)"a-three",
	                              7, &opts, &ver, &err),
	                 0);
	assert_int_equal(envx_vault_commit(v, &err), 0);
	assert_int_equal(ver, 3);
	assert_get(e, "A", "a-three");
	envx_env_free(e);
	envx_vault_close(v);
	envx_identity_free(owner);
}

static void
test_vault_whole_file_rollback_not_detected(void **state)
{
	struct envx_identity *owner = NULL;
	struct envx_vault *v = NULL;
	struct envx_env *e = NULL;
	struct envx_error err;
	char path[512];
	char old[512];

	(void)state;
	/* VF-6.2: an older copy of the whole file is a valid vault; only
	 * external state (a recorded generation) could tell */
	tmp_path(path, sizeof(path), "rollback");
	tmp_path(old, sizeof(old), "rollback-old");
	make_vault(path, &owner);
	copy_file(path, old);
	assert_int_equal(
	        open_env(path, true, "staging", owner, NULL, &v, &e, &err), 0);
	set_value(v, e, "A", "a-three");
	envx_env_free(e);
	envx_vault_close(v);
	copy_file(old, path);
	assert_int_equal(
	        open_env(path, false, "staging", owner, NULL, &v, &e, &err), 0);
	assert_get(e, "A", "a-two");
	envx_env_free(e);
	envx_vault_close(v);
	envx_identity_free(owner);
}

static void
test_vault_generation_increments(void **state)
{
	struct envx_identity *owner = NULL;
	struct envx_vault *v = NULL;
	struct envx_env *e = NULL;
	struct envx_error err;
	char path[512];
	int64_t gen;

	(void)state;
	tmp_path(path, sizeof(path), "gen");
	make_vault(path, &owner);
	/* 1 at creation, one per committed write: A, A, B */
	gen = sql_int(path, "SELECT generation FROM envs WHERE name = "
	                    "'staging'");
	assert_int_equal(gen, 4);
	assert_int_equal(
	        open_env(path, true, "staging", owner, NULL, &v, &e, &err), 0);
	set_value(v, e, "B", "b-two");
	envx_env_free(e);
	envx_vault_close(v);
	assert_int_equal(sql_int(path, "SELECT generation FROM envs WHERE "
	                               "name = 'staging'"),
	                 gen + 1);
	envx_identity_free(owner);
}

/* ---- unlocking (VF-3.2, VF-3.5) ---- */

static void
test_vault_wrong_identity_locked(void **state)
{
	struct envx_identity *owner = NULL;
	struct envx_identity *other = NULL;
	struct envx_error err;
	struct asker a = {.pass = "irrelevant"};
	char path[512];

	(void)state;
	tmp_path(path, sizeof(path), "wrongid");
	make_vault(path, &owner);
	assert_int_equal(envx_identity_generate(&other, &err), 0);
	assert_int_equal(
	        open_env(path, false, "staging", other, NULL, NULL, NULL, &err),
	        ENVX_E_LOCKED);
	assert_non_null(strstr(err.msg, "staging"));
	assert_non_null(strstr(err.msg, "not one of its recipients"));
	assert_int_equal(try_unlock(path, "staging", NULL, NULL),
	                 ENVX_E_LOCKED);
	/* no passphrase recipient: the passphrase is never asked for */
	assert_int_equal(try_unlock(path, "staging", other, &a), ENVX_E_LOCKED);
	assert_int_equal(a.calls, 0);
	assert_int_equal(try_unlock(path, "staging", owner, NULL), 0);
	envx_identity_free(other);
	envx_identity_free(owner);
}

static void
grant_passphrase(const char *path, const char *env,
                 const struct envx_identity *owner, const char *pass)
{
	struct envx_vault *v = NULL;
	struct envx_env *e = NULL;
	struct envx_error err;

	assert_int_equal(open_env(path, true, env, owner, NULL, &v, &e, &err),
	                 0);
	assert_int_equal(envx_vault_begin(v, &err), 0);
	assert_int_equal(envx_env_grant_passphrase(e, "pass",
	                                           (const unsigned char *)pass,
	                                           strlen(pass), &err),
	                 0);
	assert_int_equal(envx_vault_commit(v, &err), 0);
	envx_env_free(e);
	envx_vault_close(v);
}

/* ---- rekey, revoke, incidents (VF-3.9, VF-3.10) ---- */

/* Opens env for writing, rekeys (revoking revoke when not NULL) and
 * commits, or rolls back and returns the failure. */
static int
rekey_env(const char *path, const char *env, const struct envx_identity *owner,
          const char *revoke, struct asker *a, struct envx_rekey_stats *stats)
{
	struct envx_vault *v = NULL;
	struct envx_env *e = NULL;
	struct envx_error err;
	const char *labels[1] = {revoke};
	int r;

	assert_int_equal(open_env(path, true, env, owner, NULL, &v, &e, &err),
	                 0);
	assert_int_equal(envx_vault_begin(v, &err), 0);
	r = envx_env_rekey(e, labels, revoke != NULL ? 1 : 0,
	                   a != NULL ? ask : NULL, a, stats, &err);
	if (r == 0) {
		r = envx_vault_commit(v, &err);
	} else {
		envx_vault_rollback(v);
	}
	envx_env_free(e);
	envx_vault_close(v);
	return r;
}

static void
assert_version(const char *path, const char *env,
               const struct envx_identity *id, const char *name,
               uint64_t version, const char *expected)
{
	struct envx_vault *v = NULL;
	struct envx_env *e = NULL;
	struct envx_secbuf out = {0};
	struct envx_error err;

	assert_int_equal(open_env(path, false, env, id, NULL, &v, &e, &err), 0);
	assert_int_equal(envx_env_get_version(e, name, version, &out, &err), 0);
	assert_int_equal(out.len, strlen(expected));
	assert_memory_equal(out.data, expected, out.len);
	envx_secbuf_release(&out);
	envx_env_free(e);
	envx_vault_close(v);
}

static void
grant_reader(const char *path, const char *env,
             const struct envx_identity *owner,
             const struct envx_identity *reader, const char *label)
{
	struct envx_vault *v = NULL;
	struct envx_env *e = NULL;
	struct envx_error err;

	assert_int_equal(open_env(path, true, env, owner, NULL, &v, &e, &err),
	                 0);
	assert_int_equal(envx_vault_begin(v, &err), 0);
	assert_int_equal(envx_env_grant_key(e, label, reader->pk, &err), 0);
	assert_int_equal(envx_vault_commit(v, &err), 0);
	envx_env_free(e);
	envx_vault_close(v);
}

/* make_vault, with staging granted to a second key labelled reader. */
static void
make_shared(char path[512], char before[512], struct envx_identity **owner,
            struct envx_identity **reader)
{
	struct envx_error err;

	tmp_path(path, 512, "shared");
	tmp_path(before, 512, "shared-before");
	make_vault(path, owner);
	assert_int_equal(envx_identity_generate(reader, &err), 0);
	grant_reader(path, "staging", *owner, *reader, "reader");
}

static void
test_vault_rekey_keeps_values(void **state)
{
	struct envx_identity *owner = NULL;
	struct envx_identity *reader = NULL;
	struct envx_rekey_stats stats = {0};
	char path[512];
	char before[512];

	(void)state;
	make_shared(path, before, &owner, &reader);
	copy_file(path, before);
	assert_int_equal(rekey_env(path, "staging", owner, NULL, NULL, &stats),
	                 0);
	assert_int_equal(stats.versions, 3);
	assert_int_equal(stats.recipients, 2);
	/* every value and version survives; both recipients still open it */
	assert_version(path, "staging", owner, "A", 1, "a-one");
	assert_version(path, "staging", reader, "A", 2, "a-two");
	assert_version(path, "staging", reader, "B", 0, "b-one");
	assert_version(path, "production", owner, "A", 0, "prod-a");
	/* the commitment changed: the old wrapped key put back is refused */
	assert_false(same_bytes(path, before));
	envx_identity_free(reader);
	envx_identity_free(owner);
}

static void
test_vault_revoke(void **state)
{
	struct envx_identity *owner = NULL;
	struct envx_identity *reader = NULL;
	struct envx_rekey_stats stats = {0};
	char path[512];
	char before[512];

	(void)state;
	make_shared(path, before, &owner, &reader);
	assert_int_equal(try_unlock(path, "staging", reader, NULL), 0);
	/* refusals change nothing */
	copy_file(path, before);
	assert_int_equal(
	        rekey_env(path, "staging", owner, "nobody", NULL, &stats),
	        ENVX_E_NOTFOUND);
	assert_int_equal(
	        rekey_env(path, "staging", owner, "owner", NULL, &stats),
	        ENVX_E_INPUT);
	assert_int_equal(
	        rekey_env(path, "production", owner, "owner", NULL, &stats),
	        ENVX_E_INPUT);
	assert_true(same_bytes(path, before));
	/* a reader cannot rekey */
	assert_int_equal(
	        rekey_env(path, "staging", reader, "owner", NULL, &stats),
	        ENVX_E_LOCKED);
	assert_true(same_bytes(path, before));

	assert_int_equal(
	        rekey_env(path, "staging", owner, "reader", NULL, &stats), 0);
	assert_int_equal(stats.recipients, 1);
	assert_int_equal(try_unlock(path, "staging", reader, NULL),
	                 ENVX_E_LOCKED);
	assert_version(path, "staging", owner, "A", 1, "a-one");
	assert_int_equal(sql_int(path,
	                         "SELECT count(*) FROM access_log WHERE action "
	                         "= 'revoke' AND label = 'reader' AND role = "
	                         "'none'"),
	                 1);
	/* the revoked wrap put back: the commitment refuses the old key */
	sql(path, "INSERT INTO recipients (env_id, label, kind, public_key, "
	          "wrapped_key, created_at) SELECT env_id, 'back', kind, "
	          "public_key, wrapped_key, created_at FROM recipients WHERE "
	          "label = 'owner' AND env_id = 1");
	assert_int_equal(try_unlock(path, "staging", owner, NULL),
	                 ENVX_E_INTEGRITY);
	envx_identity_free(reader);
	envx_identity_free(owner);
}

static void
test_vault_rekey_passphrase_recipient(void **state)
{
	struct envx_identity *owner = NULL;
	struct envx_rekey_stats stats = {0};
	struct asker good = {.pass = "correct horse"};
	struct asker bad = {.pass = "wrong horse"};
	char path[512];
	char before[512];

	(void)state;
	tmp_path(path, sizeof(path), "rekey-pass");
	tmp_path(before, sizeof(before), "rekey-pass-before");
	make_vault(path, &owner);
	grant_passphrase(path, "staging", owner, "correct horse");
	copy_file(path, before);
	/* without the passphrase, or with a wrong one: nothing changes */
	assert_int_equal(rekey_env(path, "staging", owner, NULL, NULL, &stats),
	                 ENVX_E_LOCKED);
	assert_int_equal(rekey_env(path, "staging", owner, NULL, &bad, &stats),
	                 ENVX_E_LOCKED);
	assert_true(same_bytes(path, before));
	assert_int_equal(rekey_env(path, "staging", owner, NULL, &good, &stats),
	                 0);
	assert_int_equal(good.calls, 1);
	good.calls = 0;
	assert_int_equal(try_unlock(path, "staging", NULL, &good), 0);
	/* revoking the passphrase needs no passphrase */
	assert_int_equal(
	        rekey_env(path, "staging", owner, "pass", NULL, &stats), 0);
	assert_int_equal(try_unlock(path, "staging", NULL, &good),
	                 ENVX_E_LOCKED);
	envx_identity_free(owner);
}

/* A writer that unlocked before another one rekeyed: its key opens nothing
 * any more, and that is a race (ENVX_E_IO), not tampering. */
static void
test_vault_write_after_concurrent_rekey(void **state)
{
	struct envx_identity *owner = NULL;
	struct envx_vault *v = NULL;
	struct envx_env *e = NULL;
	struct envx_rekey_stats stats;
	struct envx_set_opts opts = {.kind = "set"};
	struct envx_error err;
	char path[512];
	char before[512];

	(void)state;
	tmp_path(path, sizeof(path), "race");
	tmp_path(before, sizeof(before), "race-before");
	make_vault(path, &owner);
	assert_int_equal(
	        open_env(path, true, "staging", owner, NULL, &v, &e, &err), 0);
	assert_int_equal(rekey_env(path, "staging", owner, NULL, NULL, &stats),
	                 0);
	copy_file(path, before);
	assert_int_equal(envx_vault_begin(v, &err), 0);
	assert_int_equal(envx_env_set(e, "A", (const unsigned char *)"x", 1,
	                              &opts, NULL, &err),
	                 ENVX_E_IO);
	assert_non_null(strstr(err.msg, "rekeyed by another writer"));
	envx_vault_rollback(v);
	envx_env_free(e);
	envx_vault_close(v);
	assert_true(same_bytes(path, before));
	envx_identity_free(owner);
}

static void
test_vault_compromise_all(void **state)
{
	struct envx_rekey_stats stats;
	struct envx_identity *owner = NULL;
	struct envx_vault *v = NULL;
	struct envx_env *e = NULL;
	struct envx_error err;
	char path[512];

	(void)state;
	tmp_path(path, sizeof(path), "compromise");
	make_vault(path, &owner);
	assert_int_equal(
	        open_env(path, true, "staging", owner, NULL, &v, &e, &err), 0);
	assert_int_equal(envx_vault_begin(v, &err), 0);
	assert_int_equal(envx_env_mark_compromised(e, NULL, &err), 0);
	/* VF-3.10: an incident rekeys (an admin's signed entry) */
	assert_int_equal(envx_env_rekey(e, NULL, 0, NULL, NULL, &stats, &err),
	                 0);
	assert_int_equal(
	        envx_vault_audit(v, "incident", "staging", "", "test", &err),
	        0);
	assert_int_equal(envx_vault_commit(v, &err), 0);
	envx_env_free(e);
	envx_vault_close(v);
	assert_int_equal(
	        sql_int(path, "SELECT count(*) FROM secrets WHERE state = 1"),
	        2);
	/* the state is covered by the MAC: clearing it by hand is caught */
	sql(path, "UPDATE secrets SET state = 0 WHERE name = 'B'");
	assert_int_equal(try_unlock(path, "staging", owner, NULL),
	                 ENVX_E_INTEGRITY);
	sql(path, "UPDATE secrets SET state = 1 WHERE name = 'B'");
	/* a new value clears it; a rollback to a value from before the
	 * incident brings it back */
	assert_int_equal(
	        open_env(path, true, "staging", owner, NULL, &v, &e, &err), 0);
	set_value(v, e, "B", "b-two");
	assert_int_equal(
	        sql_int(path, "SELECT state FROM secrets WHERE name = 'B'"), 0);
	assert_int_equal(envx_vault_begin(v, &err), 0);
	assert_int_equal(envx_env_rollback(e, "B", 1, NULL, &err), 0);
	assert_int_equal(envx_vault_commit(v, &err), 0);
	assert_int_equal(
	        sql_int(path, "SELECT state FROM secrets WHERE name = 'B'"), 1);
	envx_env_free(e);
	envx_vault_close(v);
	envx_identity_free(owner);
}

static void
test_vault_wrong_passphrase_locked(void **state)
{
	struct envx_identity *owner = NULL;
	struct envx_identity *other = NULL;
	struct envx_vault *v = NULL;
	struct envx_env *e = NULL;
	struct envx_error err;
	struct asker wrong = {.pass = "hunter3"};
	struct asker right = {.pass = "hunter2"};
	struct asker none = {0};
	char path[512];

	(void)state;
	tmp_path(path, sizeof(path), "pass");
	make_vault(path, &owner);
	grant_passphrase(path, "staging", owner, "hunter2");
	assert_int_equal(sql_int(path, "SELECT length(kdf) FROM recipients "
	                               "WHERE kind = 'passphrase'"),
	                 28);
	assert_int_equal(sql_int(path, "SELECT length(wrapped_key) FROM "
	                               "recipients WHERE kind = 'passphrase'"),
	                 72);
	assert_int_equal(sql_int(path, "SELECT public_key IS NULL FROM "
	                               "recipients WHERE kind = 'passphrase'"),
	                 1);
	assert_int_equal(open_env(path, false, "staging", NULL, &wrong, NULL,
	                          NULL, &err),
	                 ENVX_E_LOCKED);
	assert_int_equal(wrong.calls, 1);
	assert_non_null(strstr(err.msg, "cannot unlock environment 'staging'"));
	assert_int_equal(try_unlock(path, "staging", NULL, &none),
	                 ENVX_E_LOCKED);
	/* an identity that is not a recipient falls back to the
	 * passphrase */
	assert_int_equal(envx_identity_generate(&other, &err), 0);
	assert_int_equal(try_unlock(path, "staging", other, &wrong),
	                 ENVX_E_LOCKED);
	assert_int_equal(
	        open_env(path, false, "staging", other, &right, &v, &e, &err),
	        0);
	assert_get(e, "A", "a-two");
	envx_env_free(e);
	envx_vault_close(v);
	/* a matching identity never asks */
	right.calls = 0;
	assert_int_equal(try_unlock(path, "staging", owner, &right), 0);
	assert_int_equal(right.calls, 0);
	/* production has no passphrase recipient */
	assert_int_equal(try_unlock(path, "production", NULL, &right),
	                 ENVX_E_LOCKED);
	envx_identity_free(other);
	envx_identity_free(owner);
}

static void
test_vault_kdf_out_of_bounds_refused_before_deriving(void **state)
{
	static const char *const blobs[] = {
	        /* t=1 (below the floor) */
	        "X'01000000004C000001000000",
	        /* m=19455 KiB */
	        "X'02000000FF4B000001000000",
	        /* p=0 */
	        "X'02000000004C000000000000",
	        /* m=2^30+1024 KiB (above the 1 GiB ceiling) */
	        "X'030000000004004004000000",
	        /* t=17 */
	        "X'11000000004C000001000000",
	        /* p=17 */
	        "X'02000000004C000011000000",
	        /* t=m=p=2^32-1 */
	        "X'FFFFFFFFFFFFFFFFFFFFFFFF",
	};
	struct envx_identity *owner = NULL;
	struct envx_error err;
	struct asker right = {.pass = "hunter2"};
	char pristine[512];
	char path[512];
	char stmt[256];
	struct timespec t0;
	struct timespec t1;
	size_t i;

	(void)state;
	tmp_path(pristine, sizeof(pristine), "kdf");
	make_vault(pristine, &owner);
	grant_passphrase(pristine, "staging", owner, "hunter2");
	assert_int_equal(try_unlock(pristine, "staging", NULL, &right), 0);
	for (i = 0; i < sizeof(blobs) / sizeof(blobs[0]); i++) {
		tmp_path(path, sizeof(path), "kdf");
		copy_file(pristine, path);
		snprintf(stmt, sizeof(stmt),
		         /* params || a 16-byte zero salt */
		         "UPDATE recipients SET kdf = "
		         "%s00000000000000000000000000000000' WHERE kind = "
		         "'passphrase'",
		         blobs[i]);
		sql(path, stmt);
		assert_int_equal(sql_int(path, "SELECT length(kdf) FROM "
		                               "recipients WHERE kind = "
		                               "'passphrase'"),
		                 28);
		right.calls = 0;
		clock_gettime(CLOCK_MONOTONIC, &t0);
		assert_int_equal(open_env(path, false, "staging", NULL, &right,
		                          NULL, NULL, &err),
		                 ENVX_E_INTEGRITY);
		clock_gettime(CLOCK_MONOTONIC, &t1);
		assert_non_null(strstr(err.msg, "key-derivation parameters"));
		assert_int_equal(right.calls, 0);
		assert_true((t1.tv_sec - t0.tv_sec) * 1000 +
		                    (t1.tv_nsec - t0.tv_nsec) / 1000000 <
		            500);
	}
	/* a params blob of the wrong size */
	tmp_path(path, sizeof(path), "kdf");
	copy_file(pristine, path);
	sql(path, "UPDATE recipients SET kdf = zeroblob(27) WHERE kind = "
	          "'passphrase'");
	assert_int_equal(try_unlock(path, "staging", NULL, &right),
	                 ENVX_E_INTEGRITY);
	/* in-bounds parameters that differ from the ones used: the AD
	 * binds them, so the passphrase no longer opens it */
	tmp_path(path, sizeof(path), "kdf");
	copy_file(pristine, path);
	sql(path, "UPDATE recipients SET kdf = CAST(X'03' || substr(kdf, 2) AS "
	          "BLOB) WHERE "
	          "kind = 'passphrase'");
	assert_int_equal(try_unlock(path, "staging", NULL, &right),
	                 ENVX_E_LOCKED);
	envx_identity_free(owner);
}

static void
test_vault_key_commitment_mismatch_is_integrity(void **state)
{
	struct envx_identity *owner = NULL;
	unsigned char other_key[ENVX_KEY_BYTES];
	unsigned char wrapped[ENVX_SEAL_BYTES];
	char pristine[512];
	char path[512];
	char stmt[512];
	char hex[2 * ENVX_SEAL_BYTES + 1];
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;

	(void)state;
	tmp_path(pristine, sizeof(pristine), "commit");
	make_vault(pristine, &owner);

	/* the identity's recipient row wraps a different (valid) key: the
	 * commitment says so, instead of decrypting garbage */
	tmp_path(path, sizeof(path), "commit");
	copy_file(pristine, path);
	randombytes_buf(other_key, sizeof(other_key));
	crypto_box_seal(wrapped, other_key, sizeof(other_key), owner->pk);
	sodium_bin2hex(hex, sizeof(hex), wrapped, sizeof(wrapped));
	snprintf(stmt, sizeof(stmt),
	         "UPDATE recipients SET wrapped_key = X'%s' WHERE env_id = 1",
	         hex);
	sql(path, stmt);
	{
		struct envx_error err;

		assert_int_equal(open_env(path, false, "staging", owner, NULL,
		                          NULL, NULL, &err),
		                 ENVX_E_INTEGRITY);
		assert_non_null(strstr(err.msg, "commitment"));
	}

	/* a changed commitment */
	tmp_path(path, sizeof(path), "commit");
	copy_file(pristine, path);
	sql(path, "UPDATE envs SET key_commit = randomblob(32) WHERE id = 1");
	assert_int_equal(try_unlock(path, "staging", owner, NULL),
	                 ENVX_E_INTEGRITY);
	/* a malformed commitment */
	tmp_path(path, sizeof(path), "commit");
	copy_file(pristine, path);
	sql(path, "UPDATE envs SET key_commit = randomblob(31) WHERE id = 1");
	assert_int_equal(try_unlock(path, "staging", owner, NULL),
	                 ENVX_E_INTEGRITY);
	/* a corrupt sealed box for this identity */
	tmp_path(path, sizeof(path), "commit");
	copy_file(pristine, path);
	sql(path, "UPDATE recipients SET wrapped_key = randomblob(80) WHERE "
	          "env_id = 1");
	assert_int_equal(try_unlock(path, "staging", owner, NULL),
	                 ENVX_E_INTEGRITY);

	/* the stored commitment is what VF-3.2 says */
	assert_int_equal(
	        sqlite3_open_v2(pristine, &db, SQLITE_OPEN_READONLY, NULL),
	        SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db,
	                                    "SELECT length(key_commit), "
	                                    "length(mac) FROM envs",
	                                    -1, &st, NULL),
	                 SQLITE_OK);
	while (sqlite3_step(st) == SQLITE_ROW) {
		assert_int_equal(sqlite3_column_int(st, 0), 32);
		assert_int_equal(sqlite3_column_int(st, 1), 32);
	}
	sqlite3_finalize(st);
	sqlite3_close(db);
	envx_identity_free(owner);
}

/* ---- schema (VF-4) ---- */

static json_t *load_expected(void);
static int verify_audit(const char *path);

/*
 * VF-4.5: a writable open of an older vault changes nothing; the first
 * write transaction upgrades it, and is refused (file unchanged) while the
 * signer cannot open every environment. With the environments id cannot
 * open removed, the upgrade goes through and id is the first admin.
 */
static void
upgrade_refused_then_done(const char *path, const char *copy,
                          const struct envx_identity *id, int from)
{
	struct envx_vault *v = NULL;
	struct envx_error err;

	copy_file(path, copy);
	assert_int_equal(envx_vault_open(path, true, &v, &err), 0);
	assert_int_equal(envx_vault_schema_version(v), from);
	assert_true(envx_vault_needs_upgrade(v));
	envx_vault_set_signer(v, id);
	envx_vault_set_trust(v, &g_trust);
	/* a write never upgrades silently: only envx_vault_upgrade signs */
	assert_int_equal(envx_vault_begin(v, &err), ENVX_E_INTEGRITY);
	assert_non_null(strstr(err.msg, "envx upgrade"));
	assert_int_equal(envx_vault_upgrade(v, &err), ENVX_E_LOCKED);
	assert_non_null(strstr(err.msg, "'local'"));
	assert_int_equal(envx_vault_schema_version(v), from);
	envx_vault_close(v);
	assert_true(same_bytes(path, copy));
	sql(path, "PRAGMA foreign_keys = ON; "
	          "DELETE FROM envs WHERE name != 'staging'");
	assert_int_equal(envx_vault_open(path, true, &v, &err), 0);
	envx_vault_set_signer(v, id);
	envx_vault_set_trust(v, &g_trust);
	assert_int_equal(envx_vault_upgrade(v, &err), 0);
	assert_int_equal(envx_vault_schema_version(v),
	                 ENVX_VAULT_SCHEMA_VERSION);
	envx_vault_close(v);
	assert_int_equal(sql_int(path, "PRAGMA user_version"),
	                 ENVX_VAULT_SCHEMA_VERSION);
	assert_int_equal(sql_int(path, "SELECT count(*) FROM access_log WHERE "
	                               "action = 'create' AND role = 'admin' "
	                               "AND label = 'ci-staging'"),
	                 1);
	assert_int_equal(sql_int(path, "SELECT count(*) FROM seals"), 1);
}

/*
 * VF-3.8: identity.txt pins the admin of the format-4 vector, so it
 * refuses the older copies of that vault (same vault id) as possible
 * downgrade forgeries; a reader without the trust line, as it was before
 * the upgrade, reads them. The anchors are dropped from id.
 */
static void
refused_as_downgrade(const char *path, struct envx_identity *id)
{
	struct envx_error err;

	assert_true(id->anchors.n > 0);
	/* no admin pinned by earlier tests */
	g_have_admin = false;
	envx_anchors_release(&g_anchors);
	assert_int_equal(try_unlock(path, "staging", id, NULL),
	                 ENVX_E_INTEGRITY);
	envx_anchors_release(&id->anchors);
	(void)err;
}

static void
test_vault_migrates_format_1(void **state)
{
	struct envx_identity *id = NULL;
	struct envx_vault *v = NULL;
	struct envx_env *e = NULL;
	struct envx_error err;
	char src[512];
	char path[512];
	char copy[512];
	char journal[600];
	char idpath[512];
	unsigned char *text;
	size_t len = 0;

	(void)state;
	vectors_path(src, sizeof(src), "v1.vault");
	vectors_path(idpath, sizeof(idpath), "identity.txt");
	text = slurp(idpath, &len);
	assert_int_equal(envx_identity_parse((const char *)text, len, "vector",
	                                     NULL, NULL, &id, &err),
	                 0);
	free(text);
	tmp_path(path, sizeof(path), "v1");
	tmp_path(copy, sizeof(copy), "v1-copy");
	copy_file(src, path);
	copy_file(src, copy);
	chmod(path, 0644);
	assert_int_equal(sql_int(path, "PRAGMA user_version"), 1);
	refused_as_downgrade(path, id);

	/* read-only: format 1 is read as is, and the file is untouched */
	assert_int_equal(envx_vault_open(path, false, &v, &err), 0);
	assert_int_equal(envx_vault_schema_version(v), 1);
	envx_vault_close(v);
	assert_int_equal(
	        open_env(path, false, "staging", id, NULL, &v, &e, &err), 0);
	assert_get(e, "API_KEY", "ak-first-0001");
	envx_env_free(e);
	envx_vault_close(v);
	assert_true(same_bytes(path, copy));
	snprintf(journal, sizeof(journal), "%s-journal", path);
	assert_int_equal(access(journal, F_OK), -1);

	/* writable: the first write upgrades to the current format and
	 * signs every environment, so it needs a signer that opens them
	 * all: identity.txt cannot open 'local', and nothing changes */
	upgrade_refused_then_done(path, copy, id, 1);
	assert_int_equal(sql_int(path, "SELECT count(*) FROM allowed_names"),
	                 0);
	assert_int_equal(sql_int(path, "PRAGMA application_id"), 0x656e7678);
	/* the upgrade event of the one environment left */
	assert_int_equal(sql_int(path, "SELECT count(*) FROM audit"), 1);
	assert_int_equal(access(journal, F_OK), -1);
	/* old secrets still decrypt (the MAC does not cover the audit
	 * table, and an empty allowed_names table adds nothing to it), and
	 * writes work, audit included */
	assert_int_equal(
	        open_env(path, true, "staging", id, NULL, &v, &e, &err), 0);
	assert_get(e, "UNICODE",
	           "h\xc3\xa9llo w\xc3\xb6rld \xe2\x9c\x93 \xe6\x97\xa5\xe6\x9c"
	           "\xac\xe8\xaa\x9e \xf0\x9f\x9a\x80");
	set_value(v, e, "NEW", "after migration");
	envx_env_free(e);
	envx_vault_close(v);
	assert_int_equal(sql_int(path, "SELECT count(*) FROM audit"), 2);
	assert_int_equal(try_unlock(path, "staging", id, NULL), 0);

	/* a second writable open migrates nothing and writes nothing */
	copy_file(path, copy);
	assert_int_equal(envx_vault_open(path, true, &v, &err), 0);
	envx_vault_close(v);
	assert_true(same_bytes(path, copy));
	envx_identity_free(id);
}

static void
test_vault_migrates_format_2(void **state)
{
	json_t *root = load_expected();
	json_t *staging = json_object_get(
	        json_object_get(json_object_get(root, "environments"),
	                        "staging"),
	        "secrets");
	struct envx_identity *id = NULL;
	struct envx_vault *v = NULL;
	struct envx_env *e = NULL;
	struct envx_error err;
	const char *name;
	json_t *val;
	char src[512];
	char path[512];
	char copy[512];
	char journal[600];
	char idpath[512];
	unsigned char *text;
	size_t len = 0;
	size_t n = 0;
	bool changed = false;

	(void)state;
	vectors_path(src, sizeof(src), "v2.vault");
	vectors_path(idpath, sizeof(idpath), "identity.txt");
	text = slurp(idpath, &len);
	assert_int_equal(envx_identity_parse((const char *)text, len, "vector",
	                                     NULL, NULL, &id, &err),
	                 0);
	free(text);
	tmp_path(path, sizeof(path), "v2");
	tmp_path(copy, sizeof(copy), "v2-copy");
	copy_file(src, path);
	copy_file(src, copy);
	chmod(path, 0644);
	refused_as_downgrade(path, id);
	assert_int_equal(sql_int(path, "PRAGMA user_version"), 2);
	assert_int_equal(sql_int(path, "SELECT count(*) FROM sqlite_schema "
	                               "WHERE name = 'allowed_names'"),
	                 0);

	/* read-only: format 2 is read as is, with no allowances, and the
	 * file is untouched */
	assert_int_equal(
	        open_env(path, false, "staging", id, NULL, &v, &e, &err), 0);
	assert_int_equal(envx_vault_schema_version(v), 2);
	envx_env_allowed(e, &n);
	assert_int_equal(n, 0);
	assert_false(envx_env_name_allowed(e, "NODE_OPTIONS"));
	json_object_foreach(staging, name, val)
	{
		if (strcmp(name, "NODE_OPTIONS") != 0) {
			assert_get(e, name, json_string_value(val));
		}
	}
	{
		struct envx_secbuf out = {0};

		assert_int_equal(envx_env_get(e, "NODE_OPTIONS", &out, &err),
		                 ENVX_E_NOTFOUND);
		envx_secbuf_release(&out);
	}
	envx_env_free(e);
	envx_vault_close(v);
	assert_true(same_bytes(path, copy));
	snprintf(journal, sizeof(journal), "%s-journal", path);
	assert_int_equal(access(journal, F_OK), -1);

	/* writable: upgraded in one transaction, with an empty
	 * allowed_names table; the audit log is kept */
	upgrade_refused_then_done(path, copy, id, 2);
	assert_int_equal(sql_int(path, "SELECT count(*) FROM allowed_names"),
	                 0);
	assert_int_equal(sql_int(path, "SELECT count(*) FROM audit"), 23);
	assert_int_equal(verify_audit(path), 23);
	assert_int_equal(access(journal, F_OK), -1);

	/* every MAC still verifies: no allowance, nothing added */
	assert_int_equal(
	        open_env(path, true, "staging", id, NULL, &v, &e, &err), 0);
	assert_get(e, "API_KEY", "ak-first-0001");
	envx_env_allowed(e, &n);
	assert_int_equal(n, 0);
	/* and the migrated vault takes an allowance */
	assert_int_equal(envx_vault_begin(v, &err), 0);
	assert_int_equal(
	        envx_env_allow(e, "NODE_OPTIONS", true, &changed, &err), 0);
	assert_true(changed);
	assert_int_equal(envx_vault_audit(v, "allow", "staging", "NODE_OPTIONS",
	                                  "NODE_OPTIONS", &err),
	                 0);
	assert_int_equal(envx_vault_commit(v, &err), 0);
	set_value(v, e, "NODE_OPTIONS", "--max-old-space-size=4096");
	envx_env_free(e);
	envx_vault_close(v);
	assert_int_equal(verify_audit(path), 25);
	assert_int_equal(
	        open_env(path, false, "staging", id, NULL, &v, &e, &err), 0);
	assert_true(envx_env_name_allowed(e, "NODE_OPTIONS"));
	assert_get(e, "NODE_OPTIONS", "--max-old-space-size=4096");
	envx_env_free(e);
	envx_vault_close(v);
	envx_identity_free(id);
	json_decref(root);
}

/* VF-3.7: allowances are MAC-covered. A file writer without the key cannot
 * let LD_PRELOAD in, nor take an allowance away unnoticed. */
static void
test_vault_allowed_names_forge_detected(void **state)
{
	static const struct {
		const char *what;
		const char *sql;
	} cases[] = {
	        {"forged allowance",
	         "INSERT INTO allowed_names (env_id, name, created_at, author) "
	         "VALUES (1, 'LD_PRELOAD', 0, 'mallory')"},
	        {"deleted allowance",
	         "DELETE FROM allowed_names WHERE env_id = 1 AND name = "
	         "'NODE_OPTIONS'"},
	        {"renamed allowance",
	         "UPDATE allowed_names SET name = 'LD_PRELOAD' WHERE env_id = "
	         "1"},
	        {"allowance time",
	         "UPDATE allowed_names SET created_at = created_at + 1"},
	        {"allowance author", "UPDATE allowed_names SET author = 'x'"},
	        {"malformed name",
	         "INSERT INTO allowed_names (env_id, name, created_at, author) "
	         "VALUES (1, 'LD PRELOAD', 0, 'mallory')"},
	};
	struct envx_identity *owner = NULL;
	struct envx_vault *v = NULL;
	struct envx_env *e = NULL;
	struct envx_error err;
	char pristine[512];
	char path[512];
	bool changed = false;
	size_t i;
	int r;

	(void)state;
	tmp_path(pristine, sizeof(pristine), "allow");
	make_vault(pristine, &owner);
	assert_int_equal(sql_int(pristine, "SELECT id FROM envs WHERE name = "
	                                   "'staging'"),
	                 1);

	/* the attack on a vault with no allowance: a plain SQLite insert */
	tmp_path(path, sizeof(path), "allow-forged");
	copy_file(pristine, path);
	sql(path, cases[0].sql);
	r = open_env(path, false, "staging", owner, NULL, NULL, NULL, &err);
	assert_int_equal(r, ENVX_E_INTEGRITY);
	assert_int_equal(
	        open_env(path, true, "staging", owner, NULL, NULL, NULL, &err),
	        ENVX_E_INTEGRITY);
	/* production, which the row does not name, still opens */
	assert_int_equal(try_unlock(path, "production", owner, NULL), 0);

	/* with a real allowance in staging */
	assert_int_equal(
	        open_env(pristine, true, "staging", owner, NULL, &v, &e, &err),
	        0);
	assert_int_equal(envx_vault_begin(v, &err), 0);
	assert_int_equal(
	        envx_env_allow(e, "NODE_OPTIONS", true, &changed, &err), 0);
	assert_true(changed);
	assert_int_equal(envx_vault_audit(v, "allow", "staging", "NODE_OPTIONS",
	                                  "NODE_OPTIONS", &err),
	                 0);
	assert_int_equal(envx_vault_commit(v, &err), 0);
	envx_env_free(e);
	envx_vault_close(v);
	assert_int_equal(try_unlock(pristine, "staging", owner, NULL), 0);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		tmp_path(path, sizeof(path), "allow");
		copy_file(pristine, path);
		sql(path, cases[i].sql);
		r = open_env(path, false, "staging", owner, NULL, NULL, NULL,
		             &err);
		if (r != ENVX_E_INTEGRITY) {
			print_error("case '%s': got %d\n", cases[i].what, r);
		}
		assert_int_equal(r, ENVX_E_INTEGRITY);
	}
	/* an allowance moved to another environment fails there */
	tmp_path(path, sizeof(path), "allow-moved");
	copy_file(pristine, path);
	sql(path, "UPDATE allowed_names SET env_id = 2");
	assert_int_equal(try_unlock(path, "production", owner, NULL),
	                 ENVX_E_INTEGRITY);
	assert_int_equal(try_unlock(path, "staging", owner, NULL),
	                 ENVX_E_INTEGRITY);
	envx_identity_free(owner);
}

static void
test_vault_open_without_writes_leaves_file_identical(void **state)
{
	struct envx_identity *owner = NULL;
	struct envx_vault *v = NULL;
	struct envx_env *e = NULL;
	struct envx_kvset all;
	struct envx_secret_info *list = NULL;
	size_t n = 0;
	struct envx_error err;
	char path[512];
	char copy[512];

	(void)state;
	tmp_path(path, sizeof(path), "ro");
	tmp_path(copy, sizeof(copy), "ro-copy");
	make_vault(path, &owner);
	copy_file(path, copy);
	assert_int_equal(
	        open_env(path, false, "staging", owner, NULL, &v, &e, &err), 0);
	envx_kvset_init(&all);
	assert_int_equal(envx_env_get_all(e, &all, &err), 0);
	envx_kvset_release(&all);
	assert_int_equal(envx_env_secrets(e, &list, &n, &err), 0);
	assert_int_equal(n, 2);
	free(list);
	/* a write is refused on a read-only open */
	assert_int_equal(envx_vault_begin(v, &err), ENVX_E_INTERNAL);
	envx_env_free(e);
	envx_vault_close(v);
	assert_true(same_bytes(path, copy));
	/* a writable open that writes nothing changes nothing either */
	assert_int_equal(
	        open_env(path, true, "staging", owner, NULL, &v, &e, &err), 0);
	assert_get(e, "B", "b-one");
	envx_env_free(e);
	envx_vault_close(v);
	assert_true(same_bytes(path, copy));
	envx_identity_free(owner);
}

static void
test_vault_newer_format_refused(void **state)
{
	struct envx_identity *owner = NULL;
	struct envx_vault *v = NULL;
	struct envx_error err;
	char path[512];

	(void)state;
	tmp_path(path, sizeof(path), "newer");
	make_vault(path, &owner);
	sql(path, "PRAGMA user_version = 6");
	assert_int_equal(envx_vault_open(path, false, &v, &err),
	                 ENVX_E_INTEGRITY);
	assert_non_null(strstr(err.msg, "newer"));
	assert_int_equal(envx_vault_open(path, true, &v, &err),
	                 ENVX_E_INTEGRITY);
	assert_int_equal(sql_int(path, "PRAGMA user_version"), 6);
	sql(path, "PRAGMA user_version = 0");
	assert_int_equal(envx_vault_open(path, true, &v, &err),
	                 ENVX_E_INTEGRITY);
	envx_identity_free(owner);
}

static void
test_vault_foreign_files_refused(void **state)
{
	struct envx_vault *v = NULL;
	struct envx_error err;
	unsigned char junk[4096];
	char path[512];
	char link[600];

	(void)state;
	/* random bytes */
	tmp_path(path, sizeof(path), "junk");
	randombytes_buf(junk, sizeof(junk));
	spit(path, junk, sizeof(junk));
	assert_int_equal(envx_vault_open(path, false, &v, &err),
	                 ENVX_E_INTEGRITY);
	assert_non_null(strstr(err.msg, "not an envx vault"));
	assert_int_equal(envx_vault_open(path, true, &v, &err),
	                 ENVX_E_INTEGRITY);
	/* text */
	tmp_path(path, sizeof(path), "text");
	spit(path, "DATABASE_URL=postgres://x\n", 26);
	assert_int_equal(envx_vault_open(path, false, &v, &err),
	                 ENVX_E_INTEGRITY);
	/* an empty file (an empty SQLite database) */
	tmp_path(path, sizeof(path), "empty");
	spit(path, "", 0);
	assert_int_equal(envx_vault_open(path, false, &v, &err),
	                 ENVX_E_INTEGRITY);
	/* an SQLite database of another application */
	tmp_path(path, sizeof(path), "other");
	spit(path, "", 0);
	sql(path, "CREATE TABLE t (x); INSERT INTO t VALUES (1)");
	assert_int_equal(envx_vault_open(path, false, &v, &err),
	                 ENVX_E_INTEGRITY);
	assert_int_equal(envx_vault_open(path, true, &v, &err),
	                 ENVX_E_INTEGRITY);
	/* the right application id with another application's tables */
	sql(path, "PRAGMA application_id = 1701738104; PRAGMA user_version = "
	          "2");
	assert_int_equal(envx_vault_open(path, false, &v, &err),
	                 ENVX_E_INTEGRITY);
	assert_int_equal(envx_vault_open(path, true, &v, &err),
	                 ENVX_E_INTEGRITY);
	/* unsafe files */
	snprintf(link, sizeof(link), "%s.link", path);
	assert_int_equal(symlink(path, link), 0);
	assert_int_equal(envx_vault_open(link, false, &v, &err), ENVX_E_UNSAFE);
	assert_int_equal(chmod(path, 0666), 0);
	assert_int_equal(envx_vault_open(path, false, &v, &err), ENVX_E_UNSAFE);
	tmp_path(path, sizeof(path), "absent");
	assert_int_equal(envx_vault_open(path, false, &v, &err),
	                 ENVX_E_NOTFOUND);
}

/* Files whose schema SQLite cannot even load, found by fuzz-vault-open: an
 * integrity failure (VF-6.3), not an internal error. */
static void
test_vault_unloadable_schema_is_integrity(void **state)
{
	struct envx_identity *owner = NULL;
	struct envx_vault *v = NULL;
	struct envx_error err;
	unsigned char *data;
	size_t len = 0;
	char path[512];
	char seed[1024];
	const char *root = getenv("ENVX_SOURCE_ROOT");

	(void)state;
	/* a schema format number (header bytes 44-47) above SQLite's 4 */
	tmp_path(path, sizeof(path), "schema-format");
	make_vault(path, &owner);
	data = slurp(path, &len);
	assert_true(len > 100);
	data[44] = data[45] = data[46] = 0;
	data[47] = 5;
	spit(path, data, len);
	free(data);
	assert_int_equal(envx_vault_open(path, false, &v, &err),
	                 ENVX_E_INTEGRITY);
	assert_non_null(strstr(err.msg, "unsupported file format"));
	assert_int_equal(envx_vault_open(path, true, &v, &err),
	                 ENVX_E_INTEGRITY);
	/* crafted pages that make SQLite refuse an allocation */
	snprintf(seed, sizeof(seed),
	         "%s/tests/fuzz/corpus/vault-open/found-sqlite-nomem.vault",
	         root != NULL ? root : ".");
	tmp_path(path, sizeof(path), "nomem");
	copy_file(seed, path);
	assert_int_equal(envx_vault_open(path, false, &v, &err),
	                 ENVX_E_INTEGRITY);
	assert_non_null(strstr(err.msg, "not an envx vault"));
	envx_identity_free(owner);
}

static void
test_vault_unexpected_schema_refused(void **state)
{
	static const char *const cases[] = {
	        "CREATE TABLE extra (x)",
	        "CREATE TRIGGER t AFTER INSERT ON versions BEGIN DELETE FROM "
	        "audit; END",
	        "CREATE INDEX i ON secrets (name)",
	        "CREATE VIEW w AS SELECT * FROM secrets",
	        "ALTER TABLE secrets ADD COLUMN x TEXT",
	        "DROP TABLE audit",
	        "DROP TABLE versions",
	        "CREATE TABLE \"vault \" (id INTEGER PRIMARY KEY)",
	};
	struct envx_identity *owner = NULL;
	struct envx_vault *v = NULL;
	struct envx_error err;
	char pristine[512];
	char path[512];
	char copy[512];
	size_t i;

	(void)state;
	tmp_path(pristine, sizeof(pristine), "schema");
	make_vault(pristine, &owner);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		tmp_path(path, sizeof(path), "schema");
		tmp_path(copy, sizeof(copy), "schema-copy");
		copy_file(pristine, path);
		sql(path, cases[i]);
		copy_file(path, copy);
		assert_int_equal(envx_vault_open(path, false, &v, &err),
		                 ENVX_E_INTEGRITY);
		assert_int_equal(envx_vault_open(path, true, &v, &err),
		                 ENVX_E_INTEGRITY);
		assert_true(same_bytes(path, copy));
	}
	/* an extra object in a format-1 vault is refused before migrating,
	 * and the file stays as it was */
	tmp_path(path, sizeof(path), "schema");
	copy_file(pristine, path);
	sql(path, "DROP TABLE audit; PRAGMA user_version = 1; CREATE TABLE "
	          "audit (x)");
	copy_file(path, copy);
	assert_int_equal(envx_vault_open(path, true, &v, &err),
	                 ENVX_E_INTEGRITY);
	assert_true(same_bytes(path, copy));
	assert_int_equal(sql_int(path, "PRAGMA user_version"), 1);
	envx_identity_free(owner);
}

/* ---- audit (VF-5.1) ---- */

static void
lp(crypto_generichash_state *st, const void *p, size_t n)
{
	unsigned char len[8];
	size_t i;

	for (i = 0; i < 8; i++) {
		len[i] = (unsigned char)((uint64_t)n >> (8 * i));
	}
	crypto_generichash_update(st, len, 8);
	crypto_generichash_update(st, p, n);
}

static void
lp_u64(crypto_generichash_state *st, uint64_t v)
{
	unsigned char b[8];
	size_t i;

	for (i = 0; i < 8; i++) {
		b[i] = (unsigned char)(v >> (8 * i));
	}
	lp(st, b, 8);
}

static void
lp_text(crypto_generichash_state *st, sqlite3_stmt *q, int col)
{
	const unsigned char *t = sqlite3_column_text(q, col);

	lp(st, t, (size_t)sqlite3_column_bytes(q, col));
}

/* Checks the audit chain of path per VF-5.1; returns the number of rows,
 * or -1 at the first row that does not verify. */
static int
verify_audit(const char *path)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *q = NULL;
	unsigned char vid[16];
	unsigned char prev[32] = {0};
	unsigned char h[32];
	crypto_generichash_state st;
	int64_t expect = 1;
	int n = 0;

	assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL),
	                 SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, "SELECT vault_id FROM vault",
	                                    -1, &q, NULL),
	                 SQLITE_OK);
	assert_int_equal(sqlite3_step(q), SQLITE_ROW);
	assert_int_equal(sqlite3_column_bytes(q, 0), 16);
	memcpy(vid, sqlite3_column_blob(q, 0), 16);
	sqlite3_finalize(q);
	assert_int_equal(sqlite3_prepare_v2(db,
	                                    "SELECT seq, at, actor, action, "
	                                    "env, name, detail, prev, hash "
	                                    "FROM audit ORDER BY seq",
	                                    -1, &q, NULL),
	                 SQLITE_OK);
	while (sqlite3_step(q) == SQLITE_ROW) {
		if (sqlite3_column_int64(q, 0) != expect ||
		    sqlite3_column_bytes(q, 7) != 32 ||
		    memcmp(sqlite3_column_blob(q, 7), prev, 32) != 0) {
			n = -1;
			break;
		}
		crypto_generichash_init(&st, NULL, 0, 32);
		lp(&st, "envx-audit-v1", 13);
		lp(&st, vid, 16);
		lp(&st, prev, 32);
		lp_u64(&st, (uint64_t)sqlite3_column_int64(q, 0));
		lp_u64(&st, (uint64_t)sqlite3_column_int64(q, 1));
		lp_text(&st, q, 2);
		lp_text(&st, q, 3);
		lp_text(&st, q, 4);
		lp_text(&st, q, 5);
		lp_text(&st, q, 6);
		crypto_generichash_final(&st, h, 32);
		if (sqlite3_column_bytes(q, 8) != 32 ||
		    memcmp(sqlite3_column_blob(q, 8), h, 32) != 0) {
			n = -1;
			break;
		}
		memcpy(prev, h, 32);
		expect++;
		n++;
	}
	sqlite3_finalize(q);
	sqlite3_close(db);
	return n;
}

static void
test_vault_audit_chain_links(void **state)
{
	struct envx_identity *owner = NULL;
	char path[512];
	char bad[512];

	(void)state;
	tmp_path(path, sizeof(path), "audit");
	make_vault(path, &owner);
	/* init, env-add x2, set x4 */
	assert_int_equal(sql_int(path, "SELECT count(*) FROM audit"), 7);
	assert_int_equal(sql_int(path, "SELECT count(*) FROM audit a JOIN "
	                               "audit b ON b.seq = a.seq + 1 WHERE "
	                               "b.prev = a.hash"),
	                 6);
	assert_int_equal(sql_int(path, "SELECT prev = zeroblob(32) FROM audit "
	                               "WHERE seq = 1"),
	                 1);
	assert_int_equal(verify_audit(path), 7);
	assert_int_equal(sql_int(path,
	                         "SELECT count(*) FROM audit WHERE "
	                         "action = 'set' AND actor LIKE 'owner %' "
	                         "AND env = 'staging'"),
	                 3);
	/* what a verifier detects: an edited, deleted or reordered event */
	tmp_path(bad, sizeof(bad), "audit");
	copy_file(path, bad);
	sql(bad, "UPDATE audit SET actor = 'mallory' WHERE seq = 3");
	assert_int_equal(verify_audit(bad), -1);
	tmp_path(bad, sizeof(bad), "audit");
	copy_file(path, bad);
	sql(bad, "DELETE FROM audit WHERE seq = 4");
	assert_int_equal(verify_audit(bad), -1);
	/* and truncation at the end is not (VF-5.2) */
	tmp_path(bad, sizeof(bad), "audit");
	copy_file(path, bad);
	sql(bad, "DELETE FROM audit WHERE seq = 7");
	assert_int_equal(verify_audit(bad), 6);
	envx_identity_free(owner);
}

/* envx_vault_audit_verify on a read-only open of path. */
static int
audit_verify(const char *path, struct envx_audit_chain *chain,
             struct envx_error *err)
{
	struct envx_vault *v = NULL;
	int r;

	assert_int_equal(envx_vault_open(path, false, &v, err), 0);
	memset(chain, 0xff, sizeof(*chain));
	r = envx_vault_audit_verify(v, chain, err);
	envx_vault_close(v);
	return r;
}

/* The number of events of path that match filter, read-only. */
static size_t
audit_count(const char *path, const struct envx_audit_filter *filter)
{
	struct envx_audit_event *ev = NULL;
	struct envx_vault *v = NULL;
	struct envx_error err;
	size_t n = 0;

	assert_int_equal(envx_vault_open(path, false, &v, &err), 0);
	assert_int_equal(envx_vault_audit_events(v, filter, &ev, &n, &err), 0);
	envx_audit_events_free(ev, n);
	envx_vault_close(v);
	return n;
}

static void
test_vault_audit_verify_intact(void **state)
{
	struct envx_identity *owner = NULL;
	struct envx_audit_chain chain;
	struct envx_audit_event *ev = NULL;
	struct envx_audit_filter f = {.env = "staging"};
	struct envx_vault *v = NULL;
	struct envx_error err;
	unsigned char last[32];
	char path[512];
	size_t n = 0;

	(void)state;
	tmp_path(path, sizeof(path), "audit-verify");
	make_vault(path, &owner);
	assert_int_equal(audit_verify(path, &chain, &err), 0);
	assert_int_equal(chain.count, 7);
	assert_int_equal(chain.intact, 7);
	/* last_hash is the stored hash of the last event */
	assert_int_equal(sql_int(path, "SELECT count(*) FROM audit WHERE seq "
	                               "= 7 AND length(hash) = 32"),
	                 1);
	assert_int_equal(envx_vault_open(path, false, &v, &err), 0);
	assert_int_equal(envx_vault_audit_events(v, NULL, &ev, &n, &err), 0);
	assert_int_equal(n, 7);
	assert_int_equal(ev[0].seq, 1);
	assert_string_equal(ev[0].action, "init");
	assert_string_equal(ev[0].env, "");
	assert_string_equal(ev[6].action, "set");
	assert_string_equal(ev[6].env, "production");
	assert_string_equal(ev[6].name, "A");
	memcpy(last, ev[6].hash, sizeof(last));
	assert_memory_equal(chain.last_hash, last, sizeof(last));
	envx_audit_events_free(ev, n);
	ev = NULL;
	/* no key needed, and nothing written */
	assert_int_equal(envx_vault_audit_events(v, &f, &ev, &n, &err), 0);
	assert_int_equal(n, 4); /* env-add staging, set x3 */
	assert_string_equal(ev[0].action, "env-add");
	assert_string_equal(ev[3].name, "B");
	envx_audit_events_free(ev, n);
	envx_vault_close(v);
	f.name = "A";
	assert_int_equal(audit_count(path, &f), 2);
	f.env = "production";
	assert_int_equal(audit_count(path, &f), 1);
	f.name = "B";
	assert_int_equal(audit_count(path, &f), 0);
	f.env = "gone"; /* a removed or unknown environment: no events */
	f.name = NULL;
	assert_int_equal(audit_count(path, &f), 0);
	f = (struct envx_audit_filter){.has_since = true, .since = INT64_MAX};
	assert_int_equal(audit_count(path, &f), 0);
	f.since = 0;
	assert_int_equal(audit_count(path, &f), 7);
	envx_audit_events_free(NULL, 0);
	envx_identity_free(owner);
}

/* Tampers with a copy of path with stmt and expects verify to name event
 * bad with text in its message, and count events in all. */
static void
audit_tampered(const char *path, const char *stmt, int64_t count, int64_t bad,
               const char *text)
{
	struct envx_audit_chain chain;
	struct envx_error err;
	char copy[512];
	char want[64];

	tmp_path(copy, sizeof(copy), "audit-tampered");
	copy_file(path, copy);
	sql(copy, stmt);
	assert_int_equal(audit_verify(copy, &chain, &err), ENVX_E_INTEGRITY);
	snprintf(want, sizeof(want), "audit event %lld ", (long long)bad);
	if (strstr(err.msg, want) == NULL || strstr(err.msg, text) == NULL) {
		print_error("%s: %s\n", stmt, err.msg);
	}
	assert_non_null(strstr(err.msg, want));
	assert_non_null(strstr(err.msg, text));
	assert_non_null(strstr(err.msg, "the audit log was edited"));
	assert_int_equal(chain.count, count);
	assert_int_equal(chain.intact, bad - 1);
	/* the listing still shows every event */
	assert_int_equal(audit_count(copy, NULL), (size_t)count);
}

static void
test_vault_audit_verify_tampered(void **state)
{
	struct envx_identity *owner = NULL;
	char path[512];

	(void)state;
	tmp_path(path, sizeof(path), "audit-verify");
	make_vault(path, &owner);
	audit_tampered(path, "UPDATE audit SET detail = 'x' WHERE seq = 3", 7,
	               3, "its hash does not match");
	audit_tampered(path, "UPDATE audit SET at = at + 1 WHERE seq = 7", 7, 7,
	               "its hash does not match");
	audit_tampered(path, "DELETE FROM audit WHERE seq = 4", 6, 4,
	               "is missing (the log goes from 3 to 5)");
	audit_tampered(path, "DELETE FROM audit WHERE seq = 1", 6, 1,
	               "is missing (the log starts at 2)");
	/* swapped: each row keeps its seq, the events trade places */
	audit_tampered(path,
	               "UPDATE audit SET seq = -seq WHERE seq IN (3, 4); "
	               "UPDATE audit SET seq = 4 WHERE seq = -3; "
	               "UPDATE audit SET seq = 3 WHERE seq = -4",
	               7, 3, "does not follow event 2");
	/* inserted: a copy of event 3 becomes event 4, the rest move up */
	audit_tampered(path,
	               "UPDATE audit SET seq = seq + 1000 WHERE seq >= 4; "
	               "UPDATE audit SET seq = seq - 999 WHERE seq >= 1000; "
	               "INSERT INTO audit SELECT 4, at, actor, action, env, "
	               "name, detail, prev, hash FROM audit WHERE seq = 3",
	               8, 4, "does not follow event 3");
	/* appended after the end with a made-up hash */
	audit_tampered(path,
	               "INSERT INTO audit SELECT 8, at, actor, action, env, "
	               "name, detail, hash, zeroblob(32) FROM audit WHERE "
	               "seq = 7",
	               8, 8, "its hash does not match");
	audit_tampered(path,
	               "UPDATE audit SET prev = zeroblob(32) WHERE seq = 2", 7,
	               2, "does not follow event 1");
	audit_tampered(path,
	               "UPDATE audit SET prev = randomblob(32) WHERE seq = 1",
	               7, 1, "does not start the chain");
	/* storage classes: checked before anything is converted */
	audit_tampered(path,
	               "UPDATE audit SET actor = CAST(actor AS BLOB) WHERE "
	               "seq = 2",
	               7, 2, "malformed (its actor is not text)");
	audit_tampered(path, "UPDATE audit SET at = 'x' || at WHERE seq = 5", 7,
	               5, "malformed (its at is not an integer)");
	audit_tampered(path, "UPDATE audit SET at = 1.5 WHERE seq = 5", 7, 5,
	               "malformed (its at is not an integer)");
	audit_tampered(path,
	               "UPDATE audit SET prev = CAST(prev AS TEXT) WHERE seq "
	               "= 6",
	               7, 6, "malformed (its prev is not a 32-byte blob)");
	audit_tampered(path,
	               "UPDATE audit SET hash = substr(hash, 1, 31) WHERE seq "
	               "= 3",
	               7, 3, "malformed (its hash is not a 32-byte blob)");
	envx_identity_free(owner);
}

/* ---- the committed vectors ---- */

static json_t *
load_expected(void)
{
	char path[512];
	json_error_t jerr;
	json_t *root;

	vectors_path(path, sizeof(path), "expected.json");
	root = json_load_file(path, 0, &jerr);
	if (root == NULL) {
		print_error("%s: %s\n", path, jerr.text);
	}
	assert_non_null(root);
	return root;
}

static char *
vector_passphrase(void)
{
	char path[512];
	size_t len = 0;
	char *pass;

	vectors_path(path, sizeof(path), "passphrase.txt");
	pass = (char *)slurp(path, &len);
	if (pass != NULL && len > 0 && pass[len - 1] == '\n') {
		pass[len - 1] = '\0';
	}
	return pass;
}

static void
check_env_against(struct envx_env *e, json_t *secrets)
{
	struct envx_kvset all;
	struct envx_error err;
	const char *name;
	json_t *val;
	size_t len;
	size_t i;

	envx_kvset_init(&all);
	assert_int_equal(envx_env_get_all(e, &all, &err), 0);
	assert_int_equal(all.count, json_object_size(secrets));
	for (i = 0; i < all.count; i++) {
		const unsigned char *got = envx_kvset_value(&all, i, &len);

		val = json_object_get(secrets, envx_kvset_name(&all, i));
		assert_non_null(val);
		assert_int_equal(len, json_string_length(val));
		assert_memory_equal(got, json_string_value(val), len);
	}
	json_object_foreach(secrets, name, val)
	{
		assert_get(e, name, json_string_value(val));
	}
	envx_kvset_release(&all);
}

/* e's allowed names (VF-3.7) are exactly want, a JSON array in order. */
static void
check_allowed_against(const struct envx_env *e, json_t *want)
{
	const char *const *names;
	size_t n = 0;
	size_t i;

	assert_non_null(want);
	names = envx_env_allowed(e, &n);
	assert_int_equal(n, json_array_size(want));
	for (i = 0; i < n; i++) {
		assert_string_equal(names[i],
		                    json_string_value(json_array_get(want, i)));
		assert_true(envx_env_name_allowed(e, names[i]));
	}
}

static void
test_vault_vectors_decrypt(void **state)
{
	json_t *root = load_expected();
	json_t *envs = json_object_get(root, "environments");
	json_t *hist;
	struct envx_identity *id = NULL;
	struct envx_identity *eid = NULL;
	struct envx_vault *v = NULL;
	struct envx_env *e = NULL;
	struct envx_error err;
	struct envx_version_info *versions = NULL;
	struct envx_secbuf out = {0};
	struct asker a = {0};
	char *pass = vector_passphrase();
	char src[512];
	char path[512];
	char copy[512];
	unsigned char *text;
	size_t len = 0;
	size_t n = 0;
	size_t i;

	(void)state;
	assert_non_null(pass);
	a.pass = pass;
	assert_string_equal(
	        pass, json_string_value(json_object_get(root, "passphrase")));
	assert_int_equal(json_integer_value(json_object_get(root, "format")),
	                 ENVX_VAULT_SCHEMA_VERSION);
	vectors_path(src, sizeof(src), "vector.vault");
	tmp_path(path, sizeof(path), "vector");
	tmp_path(copy, sizeof(copy), "vector-copy");
	copy_file(src, path);
	copy_file(src, copy);
	chmod(path, 0644);

	vectors_path(src, sizeof(src), "identity.txt");
	text = slurp(src, &len);
	assert_int_equal(envx_identity_parse((const char *)text, len, "vector",
	                                     NULL, NULL, &id, &err),
	                 0);
	free(text);
	vectors_path(src, sizeof(src), "identity-encrypted.txt");
	text = slurp(src, &len);
	assert_int_equal(envx_identity_parse((const char *)text, len, "vector",
	                                     ask, &a, &eid, &err),
	                 0);
	free(text);
	assert_memory_equal(id->pk, eid->pk, ENVX_PUBLIC_KEY_BYTES);

	/* staging with the identity */
	assert_int_equal(
	        open_env(path, false, "staging", id, NULL, &v, &e, &err), 0);
	assert_int_equal(envx_vault_schema_version(v),
	                 ENVX_VAULT_SCHEMA_VERSION);
	check_env_against(e, json_object_get(json_object_get(envs, "staging"),
	                                     "secrets"));
	check_allowed_against(
	        e,
	        json_object_get(json_object_get(envs, "staging"), "allowed"));
	assert_true(envx_env_name_allowed(e, "NODE_OPTIONS"));
	assert_int_equal(envx_env_name_permitted(e, "NODE_OPTIONS", &err), 0);
	assert_int_equal(envx_env_name_permitted(e, "LD_PRELOAD", &err),
	                 ENVX_E_INPUT);
	hist = json_object_get(
	        json_object_get(json_object_get(envs, "staging"), "history"),
	        "API_KEY");
	assert_int_equal(envx_env_history(e, "API_KEY", &versions, &n, &err),
	                 0);
	assert_int_equal(n, json_array_size(hist));
	for (i = 0; i < n; i++) {
		assert_int_equal(versions[i].version, i + 1);
		assert_string_equal(versions[i].kind,
		                    i == 3 ? "rollback" : "set");
		assert_int_equal(
		        envx_env_get_version(e, "API_KEY", i + 1, &out, &err),
		        0);
		assert_string_equal((const char *)out.data,
		                    json_string_value(json_array_get(hist, i)));
		envx_secbuf_release(&out);
	}
	free(versions);
	envx_env_free(e);
	envx_vault_close(v);

	/* production with the passphrase, and not with the identity; the
	 * passphrase reader trusts the admin through trust.txt (VF-2.6) */
	g_have_admin = false;
	vectors_path(src, sizeof(src), "trust.txt");
	text = slurp(src, &len);
	assert_int_equal(envx_anchors_parse((const char *)text, len,
	                                    "trust.txt", &g_anchors, &err),
	                 0);
	free(text);
	assert_int_equal(
	        open_env(path, false, "production", NULL, &a, &v, &e, &err), 0);
	check_env_against(e,
	                  json_object_get(json_object_get(envs, "production"),
	                                  "secrets"));
	check_allowed_against(
	        e, json_object_get(json_object_get(envs, "production"),
	                           "allowed"));
	assert_int_equal(envx_env_name_permitted(e, "NODE_OPTIONS", &err),
	                 ENVX_E_INPUT);
	/* VF-3.10: the secrets the incident left compromised */
	{
		const json_t *bad = json_object_get(
		        json_object_get(envs, "production"), "compromised");
		struct envx_secret_info *list = NULL;
		size_t nsec = 0;
		size_t j;
		size_t k;

		assert_int_equal(envx_env_secrets(e, &list, &nsec, &err), 0);
		for (j = 0; j < nsec; j++) {
			bool want = false;

			for (k = 0; k < json_array_size(bad); k++) {
				want = want ||
				       strcmp(list[j].name,
				              json_string_value(json_array_get(
				                      bad, k))) == 0;
			}
			assert_int_equal(list[j].state,
			                 want ? ENVX_STATE_COMPROMISED
			                      : ENVX_STATE_OK);
		}
		assert_int_equal(json_array_size(bad), nsec - 1);
		free(list);
	}
	envx_env_free(e);
	envx_vault_close(v);
	assert_int_equal(try_unlock(path, "production", id, NULL),
	                 ENVX_E_LOCKED);
	assert_int_equal(try_unlock(path, "staging", NULL, &a), ENVX_E_LOCKED);

	/* local opens for nobody here, but its names are listed */
	assert_int_equal(try_unlock(path, "local", id, &a), ENVX_E_LOCKED);
	{
		struct envx_secret_info *list = NULL;

		assert_int_equal(envx_vault_open(path, false, &v, &err), 0);
		assert_int_equal(envx_env_open(v, "local", &e, &err), 0);
		assert_int_equal(envx_env_secrets(e, &list, &n, &err), 0);
		assert_int_equal(n, 1);
		assert_string_equal(
		        list[0].name,
		        json_string_value(json_array_get(
		                json_object_get(json_object_get(envs, "local"),
		                                "names"),
		                0)));
		free(list);
		envx_env_free(e);
		envx_vault_close(v);
	}
	assert_true(same_bytes(path, copy));
	/* 30 events in format 4, then one upgrade event per environment */
	assert_int_equal(verify_audit(path), 33);
	/* without the trust line, production is refused: no admin the
	 * reader trusts signed it (VF-3.8) */
	envx_anchors_release(&g_anchors);
	assert_int_equal(try_unlock(path, "production", NULL, &a),
	                 ENVX_E_INTEGRITY);
	envx_identity_free(id);
	envx_identity_free(eid);
	json_decref(root);
	free(pass);
}

/* ---- an independent reader, from SPEC.md alone ---- */

static int
b32val(char c)
{
	if (c >= 'A' && c <= 'Z') {
		return c - 'A';
	}
	if (c >= 'a' && c <= 'z') {
		return c - 'a';
	}
	if (c >= '2' && c <= '7') {
		return c - '2' + 26;
	}
	return -1;
}

/* RFC 4648 base32, no padding; returns bytes or -1. */
static long
b32dec(const char *s, size_t n, unsigned char *out, size_t outsz)
{
	unsigned long acc = 0;
	int bits = 0;
	size_t o = 0;
	size_t i;

	for (i = 0; i < n; i++) {
		int v = b32val(s[i]);

		if (v < 0) {
			return -1;
		}
		acc = (acc << 5) | (unsigned long)v;
		bits += 5;
		if (bits >= 8) {
			if (o == outsz) {
				return -1;
			}
			out[o++] = (unsigned char)(acc >> (bits - 8));
			bits -= 8;
		}
	}
	return (long)o;
}

static void
spec_subkey(const unsigned char key[32], unsigned id, unsigned char out[32])
{
	unsigned char salt[16] = {0};
	unsigned char personal[16] = {0};

	salt[0] = (unsigned char)id;
	memcpy(personal, "envx-env", 8);
	assert_int_equal(crypto_generichash_blake2b_salt_personal(
	                         out, 32, NULL, 0, key, 32, salt, personal),
	                 0);
}

/* VF-3.4 (format 5): b(name), the first 2 bytes of BLAKE2b-128(name) as a
 * little-endian u16, mod 1024 */
static uint64_t
spec_bucket(const char *name)
{
	unsigned char h[16];

	crypto_generichash(h, 16, (const unsigned char *)name, strlen(name),
	                   NULL, 0);
	return ((uint64_t)h[0] | (uint64_t)h[1] << 8) % 1024;
}

static void spec_allow_loop(sqlite3 *db, int64_t env_id,
                            crypto_generichash_state *st);

/*
 * VF-3.4 for format 5, from the spec's description, and not the way the
 * library does it: the rows in name order, each secret's bucket computed
 * from its name (and checked against its bucket column), one hash state per
 * bucket fed as the rows come; then each non-empty bucket's digest compared
 * with its mac_buckets row, and the root over them.
 */
static void
spec_mac_v5(sqlite3 *db, const unsigned char vid[16], int64_t env_id,
            const char *env, int64_t generation, const unsigned char mackey[32],
            unsigned char out[32])
{
	crypto_generichash_state *bs = calloc(1024, sizeof(*bs));
	uint64_t *bns = calloc(1024, sizeof(*bns));
	uint64_t *bnv = calloc(1024, sizeof(*bnv));
	crypto_generichash_state st;
	crypto_generichash_state ch;
	sqlite3_stmt *q = NULL;
	unsigned char cth[32];
	unsigned char d[32];
	char last[300] = "";
	bool any = false;
	uint64_t cur = 0;
	uint64_t ns = 0;
	uint64_t nv = 0;
	uint64_t b;

	assert_non_null(bs);
	assert_non_null(bns);
	assert_non_null(bnv);
	assert_int_equal(
	        sqlite3_prepare_v2(
	                db,
	                "SELECT s.name, s.version, s.description, "
	                "s.rotate_every, s.rotated_at, s.state, ver.version, "
	                "ver.created_at, ver.author, ver.kind, ver.nonce, "
	                "ver.ciphertext, s.bucket FROM secrets s LEFT JOIN "
	                "versions ver ON ver.secret_id = s.id WHERE "
	                "s.env_id = ? ORDER BY s.name, ver.version",
	                -1, &q, NULL),
	        SQLITE_OK);
	sqlite3_bind_int64(q, 1, env_id);
	while (sqlite3_step(q) == SQLITE_ROW) {
		const char *name = (const char *)sqlite3_column_text(q, 0);

		if (!any || strcmp(last, name) != 0) {
			cur = spec_bucket(name);
			assert_int_equal(sqlite3_column_int64(q, 12), cur);
			if (bns[cur] == 0) {
				crypto_generichash_init(&bs[cur], mackey, 32,
				                        32);
				lp(&bs[cur], "envx-bucket-v1", 14);
				lp(&bs[cur], vid, 16);
				lp(&bs[cur], env, strlen(env));
				lp_u64(&bs[cur], cur);
			}
			lp(&bs[cur], "secret", 6);
			lp_text(&bs[cur], q, 0);
			lp_u64(&bs[cur], (uint64_t)sqlite3_column_int64(q, 1));
			lp_text(&bs[cur], q, 2);
			lp_u64(&bs[cur], (uint64_t)sqlite3_column_int64(q, 3));
			lp_u64(&bs[cur], (uint64_t)sqlite3_column_int64(q, 4));
			lp_u64(&bs[cur], (uint64_t)sqlite3_column_int64(q, 5));
			snprintf(last, sizeof(last), "%s", name);
			any = true;
			bns[cur]++;
		}
		if (sqlite3_column_type(q, 6) == SQLITE_NULL) {
			continue;
		}
		crypto_generichash_init(&ch, NULL, 0, 32);
		lp(&ch, sqlite3_column_blob(q, 10),
		   (size_t)sqlite3_column_bytes(q, 10));
		lp(&ch, sqlite3_column_blob(q, 11),
		   (size_t)sqlite3_column_bytes(q, 11));
		crypto_generichash_final(&ch, cth, 32);
		lp(&bs[cur], "version", 7);
		lp_u64(&bs[cur], (uint64_t)sqlite3_column_int64(q, 6));
		lp_u64(&bs[cur], (uint64_t)sqlite3_column_int64(q, 7));
		lp_text(&bs[cur], q, 8);
		lp_text(&bs[cur], q, 9);
		lp(&bs[cur], cth, 32);
		bnv[cur]++;
	}
	sqlite3_finalize(q);
	assert_int_equal(sqlite3_prepare_v2(db,
	                                    "SELECT bucket, digest, nsecrets, "
	                                    "nversions FROM mac_buckets WHERE "
	                                    "env_id = ? ORDER BY bucket",
	                                    -1, &q, NULL),
	                 SQLITE_OK);
	sqlite3_bind_int64(q, 1, env_id);
	crypto_generichash_init(&st, mackey, 32, 32);
	lp(&st, "envx-env-mac-v2", 15);
	lp(&st, vid, 16);
	lp(&st, env, strlen(env));
	lp_u64(&st, (uint64_t)generation);
	for (b = 0; b < 1024; b++) {
		if (bns[b] == 0) {
			continue;
		}
		lp(&bs[b], "end", 3);
		lp_u64(&bs[b], bns[b]);
		lp_u64(&bs[b], bnv[b]);
		crypto_generichash_final(&bs[b], d, 32);
		/* the stored bucket row, one per non-empty bucket */
		assert_int_equal(sqlite3_step(q), SQLITE_ROW);
		assert_int_equal(sqlite3_column_int64(q, 0), b);
		assert_int_equal(sqlite3_column_bytes(q, 1), 32);
		assert_memory_equal(sqlite3_column_blob(q, 1), d, 32);
		assert_int_equal(sqlite3_column_int64(q, 2), bns[b]);
		assert_int_equal(sqlite3_column_int64(q, 3), bnv[b]);
		lp_u64(&st, b);
		lp(&st, d, 32);
		lp_u64(&st, bns[b]);
		lp_u64(&st, bnv[b]);
		ns += bns[b];
		nv += bnv[b];
	}
	assert_int_equal(sqlite3_step(q), SQLITE_DONE); /* no other row */
	sqlite3_finalize(q);
	spec_allow_loop(db, env_id, &st);
	lp(&st, "end", 3);
	lp_u64(&st, ns);
	lp_u64(&st, nv);
	crypto_generichash_final(&st, out, 32);
	free(bs);
	free(bns);
	free(bnv);
}

/* VF-3.4, from the spec's description */
static void
spec_mac(sqlite3 *db, int format, const unsigned char vid[16], int64_t env_id,
         const char *env, int64_t generation, const unsigned char mackey[32],
         unsigned char out[32])
{
	crypto_generichash_state st;
	crypto_generichash_state ch;
	sqlite3_stmt *q = NULL;
	unsigned char cth[32];
	char last[300] = "";
	uint64_t ns = 0;
	uint64_t nv = 0;

	if (format >= 5) {
		spec_mac_v5(db, vid, env_id, env, generation, mackey, out);
		return;
	}
	assert_int_equal(
	        sqlite3_prepare_v2(
	                db,
	                "SELECT s.name, s.version, s.description, "
	                "s.rotate_every, s.rotated_at, s.state, ver.version, "
	                "ver.created_at, ver.author, ver.kind, ver.nonce, "
	                "ver.ciphertext FROM secrets s LEFT JOIN versions ver "
	                "ON ver.secret_id = s.id WHERE s.env_id = ? ORDER BY "
	                "s.name, ver.version",
	                -1, &q, NULL),
	        SQLITE_OK);
	sqlite3_bind_int64(q, 1, env_id);
	crypto_generichash_init(&st, mackey, 32, 32);
	lp(&st, "envx-env-mac-v1", 15);
	lp(&st, vid, 16);
	lp(&st, env, strlen(env));
	lp_u64(&st, (uint64_t)generation);
	while (sqlite3_step(q) == SQLITE_ROW) {
		const char *name = (const char *)sqlite3_column_text(q, 0);

		if (ns == 0 || strcmp(last, name) != 0) {
			lp(&st, "secret", 6);
			lp_text(&st, q, 0);
			lp_u64(&st, (uint64_t)sqlite3_column_int64(q, 1));
			lp_text(&st, q, 2);
			lp_u64(&st, (uint64_t)sqlite3_column_int64(q, 3));
			lp_u64(&st, (uint64_t)sqlite3_column_int64(q, 4));
			lp_u64(&st, (uint64_t)sqlite3_column_int64(q, 5));
			snprintf(last, sizeof(last), "%s", name);
			ns++;
		}
		if (sqlite3_column_type(q, 6) == SQLITE_NULL) {
			continue;
		}
		crypto_generichash_init(&ch, NULL, 0, 32);
		lp(&ch, sqlite3_column_blob(q, 10),
		   (size_t)sqlite3_column_bytes(q, 10));
		lp(&ch, sqlite3_column_blob(q, 11),
		   (size_t)sqlite3_column_bytes(q, 11));
		crypto_generichash_final(&ch, cth, 32);
		lp(&st, "version", 7);
		lp_u64(&st, (uint64_t)sqlite3_column_int64(q, 6));
		lp_u64(&st, (uint64_t)sqlite3_column_int64(q, 7));
		lp_text(&st, q, 8);
		lp_text(&st, q, 9);
		lp(&st, cth, 32);
		nv++;
	}
	sqlite3_finalize(q);
	/* VF-3.7: format 3 adds the allowances, before "end"; a format-2
	 * vault has no allowed_names table and adds nothing */
	if (format >= 3) {
		spec_allow_loop(db, env_id, &st);
	}
	lp(&st, "end", 3);
	lp_u64(&st, ns);
	lp_u64(&st, nv);
	crypto_generichash_final(&st, out, 32);
}

/* VF-3.7: the allowed-name rows in name order, into a MAC input */
static void
spec_allow_loop(sqlite3 *db, int64_t env_id, crypto_generichash_state *st)
{
	sqlite3_stmt *q = NULL;

	assert_int_equal(sqlite3_prepare_v2(db,
	                                    "SELECT name, created_at, "
	                                    "author FROM allowed_names "
	                                    "WHERE env_id = ? ORDER BY "
	                                    "name",
	                                    -1, &q, NULL),
	                 SQLITE_OK);
	sqlite3_bind_int64(q, 1, env_id);
	while (sqlite3_step(q) == SQLITE_ROW) {
		lp(st, "allow", 5);
		lp_text(st, q, 0);
		lp_u64(st, (uint64_t)sqlite3_column_int64(q, 1));
		lp_text(st, q, 2);
	}
	sqlite3_finalize(q);
}

/* Appends one length-prefixed field (VF-1.2) to an AD buffer. */
static void
ad_put(unsigned char *ad, size_t *n, const void *p, size_t len)
{
	size_t k;

	for (k = 0; k < 8; k++) {
		ad[(*n)++] = (unsigned char)((uint64_t)len >> (8 * k));
	}
	memcpy(ad + *n, p, len);
	*n += len;
}

static void
ad_put_u64(unsigned char *ad, size_t *n, uint64_t v)
{
	unsigned char b[8];
	size_t k;

	for (k = 0; k < 8; k++) {
		b[k] = (unsigned char)(v >> (8 * k));
	}
	ad_put(ad, n, b, 8);
}

/* The environment's allowed names in name order, against want (a JSON
 * array, the same order): read from the rows the MAC just covered. */
static void
spec_check_allowed(sqlite3 *db, int64_t env_id, json_t *want)
{
	sqlite3_stmt *q = NULL;
	size_t n = 0;

	assert_int_equal(sqlite3_prepare_v2(db,
	                                    "SELECT name FROM allowed_names "
	                                    "WHERE env_id = ? ORDER BY name",
	                                    -1, &q, NULL),
	                 SQLITE_OK);
	sqlite3_bind_int64(q, 1, env_id);
	while (sqlite3_step(q) == SQLITE_ROW) {
		assert_true(n < json_array_size(want));
		assert_string_equal((const char *)sqlite3_column_text(q, 0),
		                    json_string_value(json_array_get(want, n)));
		n++;
	}
	sqlite3_finalize(q);
	assert_int_equal(n, json_array_size(want));
}

static void
spec_open_env(sqlite3 *db, int format, const unsigned char vid[16],
              const char *env, const unsigned char key[32], json_t *secrets,
              json_t *allowed)
{
	sqlite3_stmt *q = NULL;
	unsigned char sub[3][32];
	unsigned char commit[32];
	unsigned char mac[32];
	unsigned char ad[1024];
	unsigned char pt[4096];
	int64_t env_id;
	int64_t gen;
	size_t checked = 0;
	unsigned i;

	for (i = 0; i < 3; i++) {
		spec_subkey(key, i + 1, sub[i]);
	}
	crypto_generichash(commit, 32,
	                   (const unsigned char *)"envx-key-commitment-v1", 22,
	                   sub[2], 32);
	assert_int_equal(sqlite3_prepare_v2(db,
	                                    "SELECT id, key_commit, "
	                                    "generation, mac FROM envs WHERE "
	                                    "name = ?",
	                                    -1, &q, NULL),
	                 SQLITE_OK);
	sqlite3_bind_text(q, 1, env, -1, SQLITE_STATIC);
	assert_int_equal(sqlite3_step(q), SQLITE_ROW);
	env_id = sqlite3_column_int64(q, 0);
	gen = sqlite3_column_int64(q, 2);
	assert_memory_equal(sqlite3_column_blob(q, 1), commit, 32);
	spec_mac(db, format, vid, env_id, env, gen, sub[1], mac);
	assert_memory_equal(sqlite3_column_blob(q, 3), mac, 32);
	sqlite3_finalize(q);
	if (format >= 3) {
		spec_check_allowed(db, env_id, allowed);
	}

	assert_int_equal(sqlite3_prepare_v2(
	                         db,
	                         "SELECT s.name, s.version, ver.nonce, "
	                         "ver.ciphertext FROM secrets s JOIN versions "
	                         "ver ON ver.secret_id = s.id AND ver.version "
	                         "= s.version WHERE s.env_id = ?",
	                         -1, &q, NULL),
	                 SQLITE_OK);
	sqlite3_bind_int64(q, 1, env_id);
	while (sqlite3_step(q) == SQLITE_ROW) {
		const char *name = (const char *)sqlite3_column_text(q, 0);
		uint64_t ver = (uint64_t)sqlite3_column_int64(q, 1);
		size_t ctlen = (size_t)sqlite3_column_bytes(q, 3);
		size_t adlen = 0;
		json_t *want = json_object_get(secrets, name);

		ad_put(ad, &adlen, "envx-value-v1", 13);
		ad_put(ad, &adlen, vid, 16);
		ad_put(ad, &adlen, env, strlen(env));
		ad_put(ad, &adlen, name, strlen(name));
		ad_put_u64(ad, &adlen, ver);
		assert_int_equal(sqlite3_column_bytes(q, 2), 24);
		assert_true(ctlen >= 16 && ctlen - 16 < sizeof(pt));
		assert_int_equal(crypto_aead_xchacha20poly1305_ietf_decrypt(
		                         pt, NULL, NULL,
		                         sqlite3_column_blob(q, 3), ctlen, ad,
		                         adlen, sqlite3_column_blob(q, 2),
		                         sub[0]),
		                 0);
		assert_non_null(want);
		assert_int_equal(ctlen - 16, json_string_length(want));
		assert_memory_equal(pt, json_string_value(want), ctlen - 16);
		checked++;
	}
	sqlite3_finalize(q);
	assert_int_equal(checked, json_object_size(secrets));
}

/*
 * VF-3.8, from the spec's description: replays env's access log (each
 * entry signed by an admin of the state before it, the first a creation
 * signed by its creator), requires an entry signed by admin (the trust
 * line), then checks the recipients digest and the writer's signature
 * over the state. Returns the number of entries.
 */
static int
spec_signed(sqlite3 *db, const unsigned char vid[16], const char *env,
            const unsigned char admin[32])
{
	sqlite3_stmt *q = NULL;
	crypto_generichash_state st;
	unsigned char head[32] = {0};
	unsigned char d[32];
	unsigned char rd[32] = {0};
	unsigned char admins[8][32];
	unsigned char writers[8][32];
	size_t nadmins = 0;
	size_t nwriters = 0;
	bool anchored = false;
	int64_t seq = 0;
	int64_t env_id;
	size_t i;

	assert_int_equal(
	        sqlite3_prepare_v2(db, "SELECT id FROM envs WHERE name = ?", -1,
	                           &q, NULL),
	        SQLITE_OK);
	sqlite3_bind_text(q, 1, env, -1, SQLITE_STATIC);
	assert_int_equal(sqlite3_step(q), SQLITE_ROW);
	env_id = sqlite3_column_int64(q, 0);
	sqlite3_finalize(q);
	assert_int_equal(
	        sqlite3_prepare_v2(
	                db,
	                "SELECT seq, at, action, label, role, subject, "
	                "recipients, signer, prev, sig FROM access_log "
	                "WHERE env_id = ? ORDER BY seq",
	                -1, &q, NULL),
	        SQLITE_OK);
	sqlite3_bind_int64(q, 1, env_id);
	while (sqlite3_step(q) == SQLITE_ROW) {
		const unsigned char *signer = sqlite3_column_blob(q, 7);
		const char *role = (const char *)sqlite3_column_text(q, 4);
		bool by_admin = false;

		assert_int_equal(sqlite3_column_int64(q, 0), seq + 1);
		seq++;
		crypto_generichash_init(&st, NULL, 0, 32);
		lp(&st, "envx-access-v1", 14);
		lp(&st, vid, 16);
		lp(&st, env, strlen(env));
		lp_u64(&st, (uint64_t)seq);
		lp(&st, sqlite3_column_blob(q, 8), 32);
		if (seq > 1) {
			assert_memory_equal(sqlite3_column_blob(q, 8), head,
			                    32);
		}
		lp_u64(&st, (uint64_t)sqlite3_column_int64(q, 1));
		for (i = 2; i <= 4; i++) {
			lp_text(&st, q, (int)i);
		}
		lp(&st, sqlite3_column_blob(q, 5),
		   (size_t)sqlite3_column_bytes(q, 5));
		lp(&st, sqlite3_column_blob(q, 6), 32);
		lp(&st, signer, 32);
		crypto_generichash_final(&st, d, 32);
		assert_int_equal(sqlite3_column_bytes(q, 9), 64);
		assert_int_equal(
		        crypto_sign_verify_detached(sqlite3_column_blob(q, 9),
		                                    d, 32, signer),
		        0);
		for (i = 0; i < nadmins; i++) {
			by_admin =
			        by_admin || memcmp(admins[i], signer, 32) == 0;
		}
		if (seq == 1) {
			assert_string_equal(sqlite3_column_text(q, 2),
			                    "create");
			assert_memory_equal(sqlite3_column_blob(q, 5), signer,
			                    32);
		} else {
			assert_true(by_admin);
		}
		/* VF-3.9: a revoke takes every role; a rekey names its
		 * signer and changes nothing */
		if (strcmp((const char *)sqlite3_column_text(q, 2), "revoke") ==
		    0) {
			assert_string_equal(role, "none");
		}
		if (strcmp((const char *)sqlite3_column_text(q, 2), "rekey") ==
		    0) {
			assert_int_equal(sqlite3_column_bytes(q, 5), 32);
			assert_memory_equal(sqlite3_column_blob(q, 5), signer,
			                    32);
		}
		if (sqlite3_column_bytes(q, 5) == 32 && nadmins < 8 &&
		    nwriters < 8) {
			if (strcmp(role, "admin") == 0) {
				memcpy(admins[nadmins++],
				       sqlite3_column_blob(q, 5), 32);
			}
			if (strcmp(role, "admin") == 0 ||
			    strcmp(role, "write") == 0) {
				memcpy(writers[nwriters++],
				       sqlite3_column_blob(q, 5), 32);
			}
		}
		anchored = anchored || memcmp(signer, admin, 32) == 0;
		crypto_generichash_init(&st, NULL, 0, 32);
		lp(&st, "envx-access-head-v1", 19);
		lp(&st, d, 32);
		lp(&st, sqlite3_column_blob(q, 9), 64);
		crypto_generichash_final(&st, head, 32);
		memcpy(rd, sqlite3_column_blob(q, 6), 32);
	}
	sqlite3_finalize(q);
	assert_true(anchored);
	/* the recipients digest of the rows as they are */
	crypto_generichash_init(&st, NULL, 0, 32);
	lp(&st, "envx-recipients-v1", 18);
	assert_int_equal(sqlite3_prepare_v2(db,
	                                    "SELECT label, kind, public_key, "
	                                    "kdf, wrapped_key FROM recipients "
	                                    "WHERE env_id = ? ORDER BY id",
	                                    -1, &q, NULL),
	                 SQLITE_OK);
	sqlite3_bind_int64(q, 1, env_id);
	while (sqlite3_step(q) == SQLITE_ROW) {
		lp(&st, "recipient", 9);
		for (i = 0; i < 5; i++) {
			bool null =
			        sqlite3_column_type(q, (int)i) == SQLITE_NULL;
			lp_u64(&st, null ? 0 : 1);
			lp(&st, sqlite3_column_blob(q, (int)i),
			   (size_t)sqlite3_column_bytes(q, (int)i));
		}
	}
	sqlite3_finalize(q);
	crypto_generichash_final(&st, d, 32);
	assert_memory_equal(d, rd, 32);
	/* the writer's signature over the state */
	assert_int_equal(
	        sqlite3_prepare_v2(
	                db,
	                "SELECT e.generation, e.key_commit, e.mac, "
	                "s.access_seq, s.audit_seq, s.signer, s.sig, a.hash "
	                "FROM envs e JOIN seals s ON s.env_id = e.id "
	                "JOIN audit a ON a.seq = s.audit_seq WHERE e.id = ?",
	                -1, &q, NULL),
	        SQLITE_OK);
	sqlite3_bind_int64(q, 1, env_id);
	assert_int_equal(sqlite3_step(q), SQLITE_ROW);
	assert_int_equal(sqlite3_column_int64(q, 3), seq);
	crypto_generichash_init(&st, NULL, 0, 32);
	lp(&st, "envx-state-v1", 13);
	lp(&st, vid, 16);
	lp(&st, env, strlen(env));
	lp_u64(&st, (uint64_t)sqlite3_column_int64(q, 0));
	lp(&st, sqlite3_column_blob(q, 1), 32);
	lp(&st, sqlite3_column_blob(q, 2), 32);
	lp_u64(&st, (uint64_t)seq);
	lp(&st, head, 32);
	lp_u64(&st, (uint64_t)sqlite3_column_int64(q, 4));
	lp(&st, sqlite3_column_blob(q, 7), 32);
	lp(&st, sqlite3_column_blob(q, 5), 32);
	crypto_generichash_final(&st, d, 32);
	{
		bool writer = false;
		for (i = 0; i < nwriters; i++) {
			writer = writer ||
			         memcmp(writers[i], sqlite3_column_blob(q, 5),
			                32) == 0;
		}
		assert_true(writer);
	}
	assert_int_equal(crypto_sign_verify_detached(sqlite3_column_blob(q, 6),
	                                             d, 32,
	                                             sqlite3_column_blob(q, 5)),
	                 0);
	sqlite3_finalize(q);
	return (int)seq;
}

/* VF-3.5 step 2: env's key from the x25519 row addressed to pk. */
static bool
spec_unwrap(sqlite3 *db, const char *env, const unsigned char pk[32],
            const unsigned char sk[32], unsigned char key[32])
{
	sqlite3_stmt *q = NULL;
	bool opened = false;

	assert_int_equal(sqlite3_prepare_v2(db,
	                                    "SELECT r.public_key, "
	                                    "r.wrapped_key FROM recipients r "
	                                    "JOIN envs e ON e.id = r.env_id "
	                                    "WHERE e.name = ? AND r.kind = "
	                                    "'x25519' ORDER BY r.id",
	                                    -1, &q, NULL),
	                 SQLITE_OK);
	sqlite3_bind_text(q, 1, env, -1, SQLITE_STATIC);
	while (!opened && sqlite3_step(q) == SQLITE_ROW) {
		if (sqlite3_column_bytes(q, 0) == 32 &&
		    memcmp(sqlite3_column_blob(q, 0), pk, 32) == 0) {
			assert_int_equal(sqlite3_column_bytes(q, 1), 80);
			assert_int_equal(crypto_box_seal_open(
			                         key, sqlite3_column_blob(q, 1),
			                         80, pk, sk),
			                 0);
			opened = true;
		}
	}
	sqlite3_finalize(q);
	return opened;
}

static void
test_vault_vectors_independent_reader(void **state)
{
	json_t *root = load_expected();
	json_t *envs = json_object_get(root, "environments");
	char *pass = vector_passphrase();
	char path[512];
	unsigned char *text;
	const char *line;
	size_t len = 0;
	unsigned char buf[128];
	unsigned char h[32];
	unsigned char sk[32];
	unsigned char pk[32];
	unsigned char key[32];
	unsigned char staging_key[32];
	unsigned char vid[16];
	unsigned char ad[256];
	size_t adlen;
	sqlite3 *db = NULL;
	sqlite3_stmt *q = NULL;
	crypto_generichash_state st;

	(void)state;
	assert_non_null(pass);
	if (pass == NULL) {
		return;
	}
	/* VF-2.1: the secret key line */
	vectors_path(path, sizeof(path), "identity.txt");
	text = slurp(path, &len);
	assert_non_null(text);
	if (text == NULL) {
		return;
	}
	line = strstr((const char *)text, "\nENVX-SECRET-KEY-1-");
	assert_non_null(line);
	if (line == NULL) {
		return;
	}
	assert_int_equal(b32dec(line + 19, 58, buf, sizeof(buf)), 36);
	crypto_generichash_init(&st, NULL, 0, 32);
	crypto_generichash_update(
	        &st, (const unsigned char *)"ENVX-SECRET-KEY-1-", 18);
	crypto_generichash_update(&st, buf, 32);
	crypto_generichash_final(&st, h, 32);
	assert_memory_equal(h, buf + 32, 4);
	memcpy(sk, buf, 32);
	crypto_scalarmult_base(pk, sk);
	free(text);

	/* VF-4: header */
	vectors_path(path, sizeof(path), "vector.vault");
	assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL),
	                 SQLITE_OK);
	{
		size_t hlen = 0;
		unsigned char *raw = slurp(path, &hlen);

		assert_non_null(raw);
		if (raw == NULL) {
			return;
		}
		assert_memory_equal(raw, "SQLite format 3\0", 16);
		assert_memory_equal(raw + 60, "\x00\x00\x00\x05", 4);
		assert_memory_equal(raw + 68, "envx", 4);
		assert_int_equal(raw[18], 1); /* rollback journal */
		assert_int_equal(raw[19], 1);
		free(raw);
	}
	assert_int_equal(sqlite3_prepare_v2(db,
	                                    "SELECT vault_id FROM vault "
	                                    "WHERE id = 1",
	                                    -1, &q, NULL),
	                 SQLITE_OK);
	assert_int_equal(sqlite3_step(q), SQLITE_ROW);
	assert_int_equal(sqlite3_column_bytes(q, 0), 16);
	memcpy(vid, sqlite3_column_blob(q, 0), 16);
	sqlite3_finalize(q);

	/* VF-3.5: staging via the X25519 recipient */
	assert_true(spec_unwrap(db, "staging", pk, sk, key));
	/* the staging MAC covers an allowance (NODE_OPTIONS): the vector
	 * for VF-3.7 */
	assert_int_equal(json_array_size(json_object_get(
	                         json_object_get(envs, "staging"), "allowed")),
	                 1);
	{
		/* VF-2.6, VF-3.8: the trust line in identity.txt pins the
		 * admin; the log and the state must be signed from it */
		unsigned char admin[32];
		const char *t;

		vectors_path(path, sizeof(path), "identity.txt");
		text = slurp(path, &len);
		assert_non_null(text);
		t = text != NULL ? strstr((const char *)text, " envxsig1")
		                 : NULL;
		assert_non_null(t);
		if (t == NULL) {
			return;
		}
		assert_int_equal(b32dec(t + 9, 58, buf, sizeof(buf)), 36);
		memcpy(admin, buf, 32);
		free(text);
		/* one creation, one grant (ci-staging, read), one rekey */
		assert_int_equal(spec_signed(db, vid, "staging", admin), 3);
		/* creation, break-glass, departed, its revoke, the
		 * incident's rekey */
		assert_int_equal(spec_signed(db, vid, "production", admin), 5);
	}
	spec_open_env(
	        db, 5, vid, "staging", key,
	        json_object_get(json_object_get(envs, "staging"), "secrets"),
	        json_object_get(json_object_get(envs, "staging"), "allowed"));
	memcpy(staging_key, key, 32);

	/* VF-3.5: production via the passphrase recipient */
	assert_int_equal(sqlite3_prepare_v2(db,
	                                    "SELECT r.kdf, r.wrapped_key FROM "
	                                    "recipients r JOIN envs e ON e.id "
	                                    "= r.env_id WHERE e.name = "
	                                    "'production' AND r.kind = "
	                                    "'passphrase'",
	                                    -1, &q, NULL),
	                 SQLITE_OK);
	assert_int_equal(sqlite3_step(q), SQLITE_ROW);
	{
		const unsigned char *kdf = sqlite3_column_blob(q, 0);
		const unsigned char *w = sqlite3_column_blob(q, 1);
		uint32_t t, m, p;
		unsigned char kek[32];

		assert_int_equal(sqlite3_column_bytes(q, 0), 28);
		assert_int_equal(sqlite3_column_bytes(q, 1), 72);
		t = (uint32_t)kdf[0] | (uint32_t)kdf[1] << 8 |
		    (uint32_t)kdf[2] << 16 | (uint32_t)kdf[3] << 24;
		m = (uint32_t)kdf[4] | (uint32_t)kdf[5] << 8 |
		    (uint32_t)kdf[6] << 16 | (uint32_t)kdf[7] << 24;
		p = (uint32_t)kdf[8] | (uint32_t)kdf[9] << 8 |
		    (uint32_t)kdf[10] << 16 | (uint32_t)kdf[11] << 24;
		assert_true(t >= 2 && t <= 16 && m >= 19456 && m <= 1048576 &&
		            p >= 1 && p <= 16);
		assert_int_equal(argon2id_hash_raw(t, m, p, pass, strlen(pass),
		                                   kdf + 12, 16, kek, 32),
		                 ARGON2_OK);
		adlen = 0;
		ad_put(ad, &adlen, "envx-env-passphrase-v1", 22);
		ad_put(ad, &adlen, vid, 16);
		ad_put(ad, &adlen, "production", 10);
		ad_put(ad, &adlen, kdf, 28);
		assert_int_equal(
		        crypto_aead_xchacha20poly1305_ietf_decrypt(
		                key, NULL, NULL, w + 24, 48, ad, adlen, w, kek),
		        0);
	}
	sqlite3_finalize(q);
	spec_open_env(
	        db, 5, vid, "production", key,
	        json_object_get(json_object_get(envs, "production"), "secrets"),
	        json_object_get(json_object_get(envs, "production"),
	                        "allowed"));
	sqlite3_close(db);

	/* v4.vault (format 4): the same values under the MAC rule of formats
	 * 1 to 4 (one hash over every row), before the upgrade */
	vectors_path(path, sizeof(path), "v4.vault");
	assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL),
	                 SQLITE_OK);
	assert_int_equal(
	        sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &q, NULL),
	        SQLITE_OK);
	assert_int_equal(sqlite3_step(q), SQLITE_ROW);
	assert_int_equal(sqlite3_column_int(q, 0), 4);
	sqlite3_finalize(q);
	spec_open_env(
	        db, 4, vid, "staging", staging_key,
	        json_object_get(json_object_get(envs, "staging"), "secrets"),
	        json_object_get(json_object_get(envs, "staging"), "allowed"));
	sqlite3_close(db);

	/* v2.vault (format 2): the MAC rule without the allow loop; it was
	 * copied before NODE_OPTIONS was allowed */
	vectors_path(path, sizeof(path), "v2.vault");
	assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL),
	                 SQLITE_OK);
	{
		json_t *older = json_deep_copy(json_object_get(
		        json_object_get(envs, "staging"), "secrets"));

		assert_int_equal(json_object_del(older, "NODE_OPTIONS"), 0);
		assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA user_version",
		                                    -1, &q, NULL),
		                 SQLITE_OK);
		assert_int_equal(sqlite3_step(q), SQLITE_ROW);
		assert_int_equal(sqlite3_column_int(q, 0), 2);
		sqlite3_finalize(q);
		/* its own key: vector.vault's staging was rekeyed since */
		assert_true(spec_unwrap(db, "staging", pk, sk, staging_key));
		spec_open_env(db, 2, vid, "staging", staging_key, older, NULL);
		json_decref(older);
	}
	sqlite3_close(db);
	json_decref(root);
	free(pass);
}

/* ---- setup ---- */

static int
setup(void **state)
{
	(void)state;
	if (mkdtemp(tmpdir) == NULL) {
		return -1;
	}
	setenv("ENVX_KDF", "2,19456,1", 1);
	setenv("USER", "tester", 1);
	return 0;
}

static int
teardown(void **state)
{
	DIR *d = opendir(tmpdir);
	struct dirent *de;
	char path[1024];

	(void)state;
	if (d == NULL) {
		return 0;
	}
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0) {
			continue;
		}
		snprintf(path, sizeof(path), "%s/%s", tmpdir, de->d_name);
		unlink(path);
	}
	closedir(d);
	rmdir(tmpdir);
	return 0;
}

/* A read-only open holds one snapshot: a writer cannot change rows between
 * the MAC check at unlock and the reads after it (VF-4.6). */
static void
test_vault_reader_snapshot_blocks_writers(void **state)
{
	struct envx_identity *owner = NULL;
	struct envx_vault *v = NULL;
	struct envx_env *e = NULL;
	struct envx_secbuf out = {0};
	struct envx_error err;
	sqlite3 *db = NULL;
	char path[512];

	(void)state;
	tmp_path(path, sizeof(path), "snapshot");
	make_vault(path, &owner);
	assert_int_equal(
	        open_env(path, false, "staging", owner, NULL, &v, &e, &err), 0);
	assert_int_equal(
	        sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL),
	        SQLITE_OK);
	assert_int_equal(sqlite3_exec(db,
	                              "UPDATE secrets SET version = 1 WHERE "
	                              "name = 'A'",
	                              NULL, NULL, NULL),
	                 SQLITE_BUSY);
	sqlite3_close(db);
	assert_int_equal(envx_env_get(e, "A", &out, &err), 0);
	envx_secbuf_release(&out);
	envx_env_free(e);
	envx_vault_close(v);
	envx_identity_free(owner);
}

/* Rows changed between unlock and a write are refused, never resealed as
 * valid by the write's new MAC (VF-3.6). */
static void
test_vault_write_after_tamper_refused(void **state)
{
	struct envx_identity *owner = NULL;
	struct envx_vault *v = NULL;
	struct envx_env *e = NULL;
	struct envx_error err;
	char path[512];

	(void)state;
	tmp_path(path, sizeof(path), "reseal");
	make_vault(path, &owner);
	assert_int_equal(
	        open_env(path, true, "staging", owner, NULL, &v, &e, &err), 0);
	/* roll A back to version 1 behind envx's back, after unlock */
	sql(path, "UPDATE secrets SET version = 1 WHERE name = 'A' AND "
	          "env_id = (SELECT id FROM envs WHERE name = 'staging')");
	assert_int_equal(envx_vault_begin(v, &err), 0);
	assert_int_equal(envx_env_set(e, "A", (const unsigned char *)"x", 1,
	                              NULL, NULL, &err),
	                 ENVX_E_INTEGRITY);
	assert_non_null(strstr(err.msg, "integrity check"));
	envx_vault_rollback(v);
	/* VF-3.4, format 5: a write verifies and rehashes only the buckets
	 * it touches (B is in bucket 253, A in 761): it goes through, and
	 * A's bucket keeps its old digest */
	assert_int_equal(envx_vault_begin(v, &err), 0);
	assert_int_equal(envx_env_set(e, "B", (const unsigned char *)"x", 1,
	                              NULL, NULL, &err),
	                 0);
	assert_int_equal(envx_vault_commit(v, &err), 0);
	envx_env_free(e);
	envx_vault_close(v);
	/* the tampering stays detectable: nothing resealed it */
	assert_int_equal(try_unlock(path, "staging", owner, NULL),
	                 ENVX_E_INTEGRITY);
	envx_identity_free(owner);
}

/* Unlocking with a values set decrypts every current value once the MAC
 * has verified, split across two threads past a few hundred values: all
 * must arrive intact, in name order, with old versions left out. */
static void
test_vault_unlock_values_many(void **state)
{
	struct envx_identity *owner = NULL;
	struct envx_vault *v = NULL;
	struct envx_env *e = NULL;
	struct envx_error err;
	struct envx_kvset values;
	struct envx_unlock how = {0};
	char path[512];
	char name[32];
	char value[64];
	size_t i;
	size_t len;

	(void)state;
	tmp_path(path, sizeof(path), "many");
	make_vault(path, &owner);
	assert_int_equal(
	        open_env(path, true, "staging", owner, NULL, &v, &e, &err), 0);
	assert_int_equal(envx_vault_begin(v, &err), 0);
	for (i = 0; i < 1500; i++) {
		snprintf(name, sizeof(name), "MANY_%04zu", i);
		snprintf(value, sizeof(value), "value-%zu-%s", i,
		         i % 7 == 0 ? "x" : "a longer value for variety");
		assert_int_equal(envx_env_set(e, name,
		                              (const unsigned char *)value,
		                              strlen(value), NULL, NULL, &err),
		                 0);
	}
	assert_int_equal(envx_vault_commit(v, &err), 0);
	envx_env_free(e);
	envx_vault_close(v);

	envx_kvset_init(&values);
	how.identity = owner;
	how.values = &values;
	assert_int_equal(envx_vault_open(path, false, &v, &err), 0);
	assert_int_equal(envx_env_open(v, "staging", &e, &err), 0);
	assert_int_equal(envx_env_unlock(e, &how, &err), 0);
	/* A and B from make_vault, then MANY_0000.. */
	assert_int_equal(values.count, 1502);
	assert_string_equal(envx_kvset_name(&values, 0), "A");
	assert_memory_equal(envx_kvset_value(&values, 0, &len), "a-two", 5);
	for (i = 0; i < 1500; i++) {
		const unsigned char *got =
		        envx_kvset_value(&values, i + 2, &len);

		snprintf(name, sizeof(name), "MANY_%04zu", i);
		snprintf(value, sizeof(value), "value-%zu-%s", i,
		         i % 7 == 0 ? "x" : "a longer value for variety");
		assert_string_equal(envx_kvset_name(&values, i + 2), name);
		assert_int_equal(len, strlen(value));
		assert_memory_equal(got, value, len);
	}
	envx_kvset_release(&values);
	envx_env_free(e);
	envx_vault_close(v);
	envx_identity_free(owner);
}

/* A writer that commits between another writer's envx_env_open and its
 * unlock is seen whole: the second one unlocks (no false tampering alarm)
 * and its own write lands on top (VF-3.6, VF-4.4). */
static void
test_vault_unlock_after_concurrent_commit(void **state)
{
	struct envx_identity *owner = NULL;
	struct envx_vault *v = NULL;
	struct envx_vault *v2 = NULL;
	struct envx_env *e = NULL;
	struct envx_env *e2 = NULL;
	struct envx_unlock how = {0};
	struct envx_error err;
	char path[512];

	(void)state;
	tmp_path(path, sizeof(path), "race");
	make_vault(path, &owner);
	how.identity = owner;
	assert_int_equal(envx_vault_open(path, true, &v, &err), 0);
	assert_int_equal(envx_env_open(v, "staging", &e, &err), 0);
	/* another process writes after this one read the header */
	assert_int_equal(
	        open_env(path, true, "staging", owner, NULL, &v2, &e2, &err),
	        0);
	set_value(v2, e2, "C", "c-one");
	envx_env_free(e2);
	envx_vault_close(v2);
	assert_int_equal(envx_env_unlock(e, &how, &err), 0);
	assert_get(e, "C", "c-one");
	set_value(v, e, "D", "d-one");
	envx_env_free(e);
	envx_vault_close(v);
	/* created at 1, A A B C D: five sealed writes since */
	assert_int_equal(sql_int(path, "SELECT generation FROM envs WHERE "
	                               "name = 'staging'"),
	                 6);
	assert_int_equal(try_unlock(path, "staging", owner, NULL), 0);
	envx_identity_free(owner);
}

static long
elapsed_ms(const struct timespec *since)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (long)(now.tv_sec - since->tv_sec) * 1000L +
	       (now.tv_nsec - since->tv_nsec) / 1000000L;
}

/* A lock held past the busy timeout is "vault busy" (ENVX_E_IO, exit 6)
 * for writers and readers alike, after waiting ENVX_BUSY_TIMEOUT_MS; an
 * invalid timeout is a usage error (VF-4.4). */
static void
test_vault_busy_past_timeout(void **state)
{
	struct envx_identity *owner = NULL;
	struct envx_vault *v = NULL;
	struct envx_vault *r = NULL;
	struct envx_error err;
	struct timespec t0;
	sqlite3 *db = NULL;
	char path[512];
	long ms;

	(void)state;
	tmp_path(path, sizeof(path), "busy");
	make_vault(path, &owner);
	setenv("ENVX_BUSY_TIMEOUT_MS", "300", 1);
	assert_int_equal(envx_vault_open(path, true, &v, &err), 0);
	assert_int_equal(
	        sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL),
	        SQLITE_OK);
	assert_int_equal(sqlite3_exec(db,
	                              "BEGIN EXCLUSIVE; UPDATE vault SET "
	                              "created_at = created_at",
	                              NULL, NULL, NULL),
	                 SQLITE_OK);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(envx_vault_begin(v, &err), ENVX_E_IO);
	ms = elapsed_ms(&t0);
	assert_non_null(strstr(err.msg, "vault busy"));
	assert_true(ms >= 250);
	assert_true(ms < 5000);
	assert_int_equal(envx_vault_open(path, false, &r, &err), ENVX_E_IO);
	assert_non_null(strstr(err.msg, "vault busy"));
	assert_int_equal(sqlite3_exec(db, "COMMIT", NULL, NULL, NULL),
	                 SQLITE_OK);
	sqlite3_close(db);
	assert_int_equal(envx_vault_begin(v, &err), 0);
	envx_vault_rollback(v);
	envx_vault_close(v);
	setenv("ENVX_BUSY_TIMEOUT_MS", "ten", 1);
	assert_int_equal(envx_vault_open(path, false, &r, &err), ENVX_E_USAGE);
	assert_non_null(strstr(err.msg, "ENVX_BUSY_TIMEOUT_MS"));
	unsetenv("ENVX_BUSY_TIMEOUT_MS");
	envx_identity_free(owner);
}

/* Overwrites the first bytes of table's root page with 0xff. */
static void
damage_table(const char *path, const char *table)
{
	char q[128];
	int64_t page;
	int64_t size;
	unsigned char junk[64];
	FILE *f;

	snprintf(q, sizeof(q),
	         "SELECT rootpage FROM sqlite_schema WHERE name = '%s'", table);
	page = sql_int(path, q);
	size = sql_int(path, "PRAGMA page_size");
	assert_true(page > 1 && size >= 512);
	memset(junk, 0xff, sizeof(junk));
	f = fopen(path, "r+b");
	assert_non_null(f);
	assert_int_equal(fseek(f, (long)((page - 1) * size), SEEK_SET), 0);
	assert_int_equal(fwrite(junk, 1, sizeof(junk), f), sizeof(junk));
	fclose(f);
}

/* A damaged recipients page is corruption (ENVX_E_INTEGRITY), never "your
 * identity is not one of its recipients" (ENVX_E_LOCKED). */
static void
test_vault_corrupt_recipients_not_blamed_on_key(void **state)
{
	struct envx_identity *owner = NULL;
	struct envx_error err;
	char path[512];

	(void)state;
	tmp_path(path, sizeof(path), "corrupt");
	make_vault(path, &owner);
	damage_table(path, "recipients");
	assert_int_equal(
	        open_env(path, false, "staging", owner, NULL, NULL, NULL, &err),
	        ENVX_E_INTEGRITY);
	assert_non_null(strstr(err.msg, "corrupt"));
	assert_int_equal(
	        open_env(path, true, "staging", owner, NULL, NULL, NULL, &err),
	        ENVX_E_INTEGRITY);
	assert_non_null(strstr(err.msg, "corrupt"));
	envx_identity_free(owner);
}

/* Leaves a hot journal: a child changes rows in a transaction, spilling
 * pages into the file, and dies before COMMIT. */
static void
leave_hot_journal(const char *path)
{
	pid_t pid = fork();
	int status = 0;

	assert_true(pid >= 0);
	if (pid == 0) {
		sqlite3 *db = NULL;

		if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL) !=
		            SQLITE_OK ||
		    sqlite3_exec(
		            db,
		            "PRAGMA cache_size = 1; BEGIN IMMEDIATE; "
		            "UPDATE envs SET generation = generation + 7; "
		            "UPDATE versions SET ciphertext = "
		            "zeroblob(length(ciphertext)); "
		            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL "
		            "SELECT i + 1 FROM n WHERE i < 64) "
		            "INSERT INTO audit SELECT 1000 + i, 0, '', '', "
		            "'', '', zeroblob(4000), x'', x'' FROM n",
		            NULL, NULL, NULL) != SQLITE_OK) {
			_exit(1);
		}
		_exit(0); /* killed mid-transaction: no COMMIT, no ROLLBACK */
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

/* VF-4.7: a read-only open of a writable vault rolls a hot journal back
 * (restoring the last committed state) instead of failing with "attempt
 * to write a readonly database". */
static void
test_vault_hot_journal_rolled_back_on_read(void **state)
{
	struct envx_identity *owner = NULL;
	struct envx_vault *v = NULL;
	struct envx_env *e = NULL;
	struct envx_error err;
	char path[512];
	char journal[600];

	(void)state;
	tmp_path(path, sizeof(path), "hot");
	make_vault(path, &owner);
	leave_hot_journal(path);
	snprintf(journal, sizeof(journal), "%s-journal", path);
	assert_int_equal(access(journal, F_OK), 0);
	assert_int_equal(
	        open_env(path, false, "staging", owner, NULL, &v, &e, &err), 0);
	assert_true(envx_vault_recovered(v));
	assert_get(e, "A", "a-two");
	envx_env_free(e);
	envx_vault_close(v);
	assert_int_equal(access(journal, F_OK), -1);
	/* the next open has nothing to recover */
	assert_int_equal(
	        open_env(path, false, "staging", owner, NULL, &v, &e, &err), 0);
	assert_false(envx_vault_recovered(v));
	envx_env_free(e);
	envx_vault_close(v);
	/* a writer recovers the same way */
	leave_hot_journal(path);
	assert_int_equal(
	        open_env(path, true, "production", owner, NULL, &v, &e, &err),
	        0);
	assert_true(envx_vault_recovered(v));
	assert_get(e, "A", "prod-a");
	envx_env_free(e);
	envx_vault_close(v);
	envx_identity_free(owner);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_vault_identity_text_round_trip),
	        cmocka_unit_test(test_vault_identity_checksum_typo_detected),
	        cmocka_unit_test(
	                test_vault_identity_encrypted_wrong_passphrase),
	        cmocka_unit_test(test_vault_values_round_trip),
	        cmocka_unit_test(test_vault_value_limits),
	        cmocka_unit_test(test_vault_ciphertext_moved_fails),
	        cmocka_unit_test(test_vault_reader_snapshot_blocks_writers),
	        cmocka_unit_test(test_vault_write_after_tamper_refused),
	        cmocka_unit_test(test_vault_unlock_values_many),
	        cmocka_unit_test(test_vault_unlock_after_concurrent_commit),
	        cmocka_unit_test(test_vault_busy_past_timeout),
	        cmocka_unit_test(
	                test_vault_corrupt_recipients_not_blamed_on_key),
	        cmocka_unit_test(test_vault_hot_journal_rolled_back_on_read),
	        cmocka_unit_test(test_vault_env_mac_detects_row_changes),
	        cmocka_unit_test(test_vault_bucket_mac),
	        cmocka_unit_test(test_vault_mark_compromised),
	        cmocka_unit_test(test_vault_set_expect_version),
	        cmocka_unit_test(test_vault_whole_file_rollback_not_detected),
	        cmocka_unit_test(test_vault_generation_increments),
	        cmocka_unit_test(test_vault_wrong_identity_locked),
	        cmocka_unit_test(test_vault_rekey_keeps_values),
	        cmocka_unit_test(test_vault_revoke),
	        cmocka_unit_test(test_vault_rekey_passphrase_recipient),
	        cmocka_unit_test(test_vault_write_after_concurrent_rekey),
	        cmocka_unit_test(test_vault_compromise_all),
	        cmocka_unit_test(test_vault_wrong_passphrase_locked),
	        cmocka_unit_test(
	                test_vault_kdf_out_of_bounds_refused_before_deriving),
	        cmocka_unit_test(
	                test_vault_key_commitment_mismatch_is_integrity),
	        cmocka_unit_test(test_vault_migrates_format_1),
	        cmocka_unit_test(test_vault_migrates_format_2),
	        cmocka_unit_test(test_vault_allowed_names_forge_detected),
	        cmocka_unit_test(
	                test_vault_open_without_writes_leaves_file_identical),
	        cmocka_unit_test(test_vault_newer_format_refused),
	        cmocka_unit_test(test_vault_foreign_files_refused),
	        cmocka_unit_test(test_vault_unloadable_schema_is_integrity),
	        cmocka_unit_test(test_vault_unexpected_schema_refused),
	        cmocka_unit_test(test_vault_audit_chain_links),
	        cmocka_unit_test(test_vault_audit_verify_intact),
	        cmocka_unit_test(test_vault_audit_verify_tampered),
	        cmocka_unit_test(test_vault_vectors_decrypt),
	        cmocka_unit_test(test_vault_vectors_independent_reader),
	};

	if (sodium_init() < 0) {
		return 1;
	}
	return cmocka_run_group_tests(tests, setup, teardown);
}
