#define _GNU_SOURCE
/*
 * The floor for `envx exec`: the least a C program must do to run a command
 * with N secrets from an SQLite file - open it, read N ciphertexts, decrypt
 * each with XChaCha20-Poly1305, build an environment and exec. And the
 * floors for `envx get` (one indexed row, decrypted, printed) and `envx set`
 * (a value from stdin, encrypted, written in one transaction). bench/exec.sh
 * times envx against them. Usage: floor make FILE N | floor run FILE CMD...
 * | floor get FILE NAME | floor set FILE NAME
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>
#include <sqlite3.h>

static const unsigned char key[32] = {1, 2, 3};

static int
make(const char *path, int n)
{
	sqlite3 *db;
	sqlite3_stmt *st;
	unsigned char nonce[24];
	unsigned char ct[256];
	char name[32];
	char value[64];
	int i;

	unlink(path);
	if (sqlite3_open(path, &db) != SQLITE_OK) {
		return 1;
	}
	sqlite3_exec(db,
	             "CREATE TABLE s (name TEXT, nonce BLOB, ct BLOB); "
	             "CREATE UNIQUE INDEX s_name ON s (name); BEGIN",
	             NULL, NULL, NULL);
	sqlite3_prepare_v2(db, "INSERT INTO s VALUES (?, ?, ?)", -1, &st, NULL);
	for (i = 0; i < n; i++) {
		unsigned long long clen;
		snprintf(name, sizeof(name), "SECRET_%05d", i);
		snprintf(value, sizeof(value),
		         "value-%05d-0123456789abcdef0123456789", i);
		randombytes_buf(nonce, sizeof(nonce));
		crypto_aead_xchacha20poly1305_ietf_encrypt(
		        ct, &clen, (unsigned char *)value, strlen(value),
		        (unsigned char *)name, strlen(name), NULL, nonce, key);
		sqlite3_bind_text(st, 1, name, -1, SQLITE_TRANSIENT);
		sqlite3_bind_blob(st, 2, nonce, 24, SQLITE_TRANSIENT);
		sqlite3_bind_blob(st, 3, ct, (int)clen, SQLITE_TRANSIENT);
		sqlite3_step(st);
		sqlite3_reset(st);
	}
	sqlite3_finalize(st);
	sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
	sqlite3_close(db);
	return 0;
}

static int
run(const char *path, char **cmd)
{
	extern char **environ;
	sqlite3 *db;
	sqlite3_stmt *st;
	char **envp;
	size_t n = 0;
	size_t cap = 1024;
	size_t i;

	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) !=
	    SQLITE_OK) {
		return 1;
	}
	for (i = 0; environ[i] != NULL; i++) {
	}
	cap += i;
	envp = malloc(cap * sizeof(*envp));
	for (i = 0; environ[i] != NULL; i++) {
		envp[n++] = environ[i];
	}
	sqlite3_prepare_v2(db, "SELECT name, nonce, ct FROM s", -1, &st, NULL);
	while (sqlite3_step(st) == SQLITE_ROW) {
		const char *name = (const char *)sqlite3_column_text(st, 0);
		size_t nl = strlen(name);
		int clen = sqlite3_column_bytes(st, 2);
		char *kv = malloc(nl + 1 + (size_t)clen);

		memcpy(kv, name, nl);
		kv[nl] = '=';
		if (crypto_aead_xchacha20poly1305_ietf_decrypt(
		            (unsigned char *)kv + nl + 1, NULL, NULL,
		            sqlite3_column_blob(st, 2),
		            (unsigned long long)clen,
		            (const unsigned char *)name, nl,
		            sqlite3_column_blob(st, 1), key) != 0) {
			return 1;
		}
		kv[nl + 1 + (size_t)clen - 16] = '\0';
		if (n + 1 >= cap) {
			cap *= 2;
			envp = realloc(envp, cap * sizeof(*envp));
		}
		envp[n++] = kv;
	}
	envp[n] = NULL;
	sqlite3_finalize(st);
	sqlite3_close(db);
	execvpe(cmd[0], cmd, envp);
	return 127;
}

static int
get(const char *path, const char *name)
{
	sqlite3 *db;
	sqlite3_stmt *st;
	unsigned char pt[4096];
	unsigned long long plen;
	int r = 1;

	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) !=
	    SQLITE_OK) {
		return 1;
	}
	sqlite3_prepare_v2(db, "SELECT nonce, ct FROM s WHERE name = ?", -1,
	                   &st, NULL);
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_ROW &&
	    sqlite3_column_bytes(st, 1) <= (int)sizeof(pt) &&
	    crypto_aead_xchacha20poly1305_ietf_decrypt(
	            pt, &plen, NULL, sqlite3_column_blob(st, 1),
	            (unsigned long long)sqlite3_column_bytes(st, 1),
	            (const unsigned char *)name, strlen(name),
	            sqlite3_column_blob(st, 0), key) == 0) {
		fwrite(pt, 1, (size_t)plen, stdout);
		r = 0;
	}
	sqlite3_finalize(st);
	sqlite3_close(db);
	return r;
}

static int
set(const char *path, const char *name)
{
	sqlite3 *db;
	sqlite3_stmt *st;
	unsigned char value[4096];
	unsigned char ct[4096 + 16];
	unsigned char nonce[24];
	unsigned long long clen;
	size_t len = fread(value, 1, sizeof(value), stdin);
	int r;

	if (sqlite3_open(path, &db) != SQLITE_OK) {
		return 1;
	}
	randombytes_buf(nonce, sizeof(nonce));
	crypto_aead_xchacha20poly1305_ietf_encrypt(
	        ct, &clen, value, len, (const unsigned char *)name,
	        strlen(name), NULL, nonce, key);
	sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
	sqlite3_prepare_v2(db, "INSERT OR REPLACE INTO s VALUES (?, ?, ?)", -1,
	                   &st, NULL);
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	sqlite3_bind_blob(st, 2, nonce, 24, SQLITE_STATIC);
	sqlite3_bind_blob(st, 3, ct, (int)clen, SQLITE_STATIC);
	r = sqlite3_step(st) == SQLITE_DONE ? 0 : 1;
	sqlite3_finalize(st);
	if (sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
		r = 1;
	}
	sqlite3_close(db);
	return r;
}

int
main(int argc, char **argv)
{
	if (sodium_init() < 0 || argc < 4) {
		fprintf(stderr,
		        "usage: floor make FILE N | floor run FILE CMD | floor "
		        "get FILE NAME | floor set FILE NAME\n");
		return 2;
	}
	if (strcmp(argv[1], "make") == 0) {
		return make(argv[2], (int)strtol(argv[3], NULL, 10));
	}
	if (strcmp(argv[1], "get") == 0) {
		return get(argv[2], argv[3]);
	}
	if (strcmp(argv[1], "set") == 0) {
		return set(argv[2], argv[3]);
	}
	return run(argv[2], argv + 3);
}
