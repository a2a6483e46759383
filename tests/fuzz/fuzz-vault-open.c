/*
 * libFuzzer harness for opening an untrusted vault file (VF-4, VF-3): the
 * bytes are written to a file in a private temporary directory and opened
 * read-only as every reading command does; every environment is listed and
 * opened, its secrets and histories are read without a key, and it is
 * unlocked with a fixed identity, which the environments of the seed vaults
 * in corpus/vault-open are made for, so the key commitment, the MAC over
 * every row, the allowances and the decryption of every value all see
 * hostile rows. Nothing may crash, leak or hang, whatever the file holds.
 *
 * Each run leaves nothing behind for the next: the file (and any -journal,
 * -wal or -shm SQLite made beside it) is removed after every input, and the
 * directory ($TMPDIR or /tmp) at exit. Passphrase recipients are checked
 * (VF-3.5: parameters and lengths) but the passphrase is never given, so no
 * input can make a run spend up to a second and a gigabyte in Argon2id.
 *
 * Build: CC=clang meson setup build-fuzz -Dfuzz=true && ninja -C build-fuzz;
 * run: build-fuzz/tests/fuzz-vault-open tests/fuzz/corpus/vault-open.
 */
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "envx/vault.h"

/*
 * A throwaway test identity, recipient of the environments the seed vaults
 * were made for (tests/fuzz/make-vault-seeds.sh reads it from this line) and
 * of nothing else.
 */
#define FUZZ_IDENTITY                                                          \
	"ENVX-SECRET-KEY-1-5BAGUIHBHB4KUY4JINGFBUEBYJ3NC4TEJJ72XQ2XQEVQMDQFKOVUK2L6QA"

static struct envx_identity *identity;
static char dir[PATH_MAX];
static char path[PATH_MAX];

/* The files SQLite may make beside the vault (a header saying WAL makes
 * even a read-only connection create -wal and -shm). */
static const char *const side_files[] = {"", "-journal", "-wal", "-shm"};

static void
remove_files(void)
{
	char p[PATH_MAX + 16];
	size_t i;

	for (i = 0; i < sizeof(side_files) / sizeof(side_files[0]); i++) {
		snprintf(p, sizeof(p), "%s%s", path, side_files[i]);
		(void)unlink(p);
	}
}

static void
cleanup(void)
{
	remove_files();
	(void)rmdir(dir);
	envx_identity_free(identity);
	identity = NULL;
}

static int
no_passphrase(void *ctx, const char *prompt, struct envx_secbuf *out,
              struct envx_error *err)
{
	(void)ctx;
	(void)prompt;
	(void)out;
	return envx_error_set(err, ENVX_E_LOCKED, "no passphrase (fuzzing)");
}

/*
 * VF-6.3: whatever the file holds, reading it fails only as the classes a
 * damaged or crafted vault belongs to: integrity, cannot unlock, not found,
 * or invalid input (a refused name). Anything else (an internal error, a
 * local I/O error) is a misclassification, and a finding.
 */
static int
expect(int r, const struct envx_error *err)
{
	if (r != 0 && r != ENVX_E_INTEGRITY && r != ENVX_E_LOCKED &&
	    r != ENVX_E_NOTFOUND && r != ENVX_E_INPUT) {
		fprintf(stderr, "unexpected error %d: %s\n", r, err->msg);
		abort();
	}
	return r;
}

int LLVMFuzzerInitialize(int *argc, char ***argv);

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *tmp = getenv("TMPDIR");

	(void)argc;
	(void)argv;
	if (tmp == NULL || *tmp == '\0') {
		tmp = "/tmp";
	}
	if (sodium_init() < 0 ||
	    envx_identity_parse(FUZZ_IDENTITY, strlen(FUZZ_IDENTITY), "fuzz",
	                        NULL, NULL, &identity, NULL) < 0 ||
	    (size_t)snprintf(dir, sizeof(dir), "%s/envx-fuzz-XXXXXX", tmp) >=
	            sizeof(dir) ||
	    mkdtemp(dir) == NULL ||
	    (size_t)snprintf(path, sizeof(path), "%s/envx.vault", dir) >=
	            sizeof(path)) {
		abort();
	}
	atexit(cleanup);
	return 0;
}

/* What `envx history` and `envx get` do with one secret: its versions are
 * listed without a key; once unlocked, each of them is decrypted. */
static void
read_secret(struct envx_env *e, const char *name)
{
	struct envx_version_info *hist = NULL;
	struct envx_secbuf buf;
	struct envx_error err;
	size_t n = 0;
	size_t i;

	if (expect(envx_env_history(e, name, &hist, &n, &err), &err) < 0 ||
	    !envx_env_is_unlocked(e)) {
		goto out;
	}
	(void)expect(envx_env_name_permitted(e, name, &err), &err);
	if (expect(envx_env_get(e, name, &buf, &err), &err) == 0) {
		envx_secbuf_release(&buf);
	}
	for (i = 0; i < n; i++) {
		if (expect(envx_env_get_version(e, name, hist[i].version, &buf,
		                                &err),
		           &err) == 0) {
			envx_secbuf_release(&buf);
		}
	}
out:
	free(hist);
}

/* What `envx list`, `envx exec` and `envx export` do with one
 * environment. */
static void
read_env(struct envx_vault *v, const char *name)
{
	struct envx_env *e = NULL;
	struct envx_secret_info *s = NULL;
	struct envx_kvset values;
	struct envx_error err;
	struct envx_unlock how = {
	        .identity = identity,
	        .ask = no_passphrase,
	        .values = &values,
	};
	size_t n = 0;
	size_t i;

	envx_kvset_init(&values);
	if (expect(envx_env_open(v, name, &e, &err), &err) < 0) {
		goto out;
	}
	(void)expect(envx_env_secrets(e, &s, &n, &err), &err);
	if (expect(envx_env_unlock(e, &how, &err), &err) == 0) {
		(void)envx_env_allowed(e, &i);
		envx_kvset_release(&values);
		envx_kvset_init(&values);
		(void)expect(envx_env_get_all(e, &values, &err), &err);
	}
	for (i = 0; i < n; i++) {
		read_secret(e, s[i].name);
	}
out:
	envx_kvset_release(&values);
	free(s);
	envx_env_free(e);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct envx_vault *v = NULL;
	struct envx_env_info *envs = NULL;
	struct envx_error err;
	size_t nenvs = 0;
	size_t i;
	int fd;

	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
	          0600);
	if (fd < 0 || write(fd, data, size) != (ssize_t)size || close(fd) < 0) {
		abort();
	}
	if (expect(envx_vault_open(path, false, &v, &err), &err) == 0 &&
	    expect(envx_vault_env_list(v, &envs, &nenvs, &err), &err) == 0) {
		for (i = 0; i < nenvs; i++) {
			read_env(v, envs[i].name);
		}
	}
	free(envs);
	envx_vault_close(v);
	remove_files();
	return 0;
}
