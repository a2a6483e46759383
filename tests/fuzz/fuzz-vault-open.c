/*
 * libFuzzer harness for opening an untrusted vault file: the bytes are
 * written to a temporary file, opened read-only, and every environment is
 * listed and (with a fixed identity that is nobody's recipient) unlocked.
 * Nothing may crash, leak or hang, whatever the schema or rows hold.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <sodium.h>

#include "envx/vault.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct envx_identity *id;
	char path[] = "/tmp/envx-fuzz-XXXXXX";
	struct envx_vault *v = NULL;
	struct envx_env_info *envs = NULL;
	size_t nenvs = 0;
	size_t i;
	int fd;

	if (id == NULL) {
		if (sodium_init() < 0 ||
		    envx_identity_generate(&id, NULL) < 0) {
			abort();
		}
	}
	fd = mkstemp(path);
	if (fd < 0 || write(fd, data, size) != (ssize_t)size) {
		abort();
	}
	close(fd);
	if (envx_vault_open(path, false, &v, NULL) == 0 &&
	    envx_vault_env_list(v, &envs, &nenvs, NULL) == 0) {
		for (i = 0; i < nenvs; i++) {
			struct envx_env *e = NULL;
			struct envx_secret_info *s = NULL;
			struct envx_unlock how = {.identity = id};
			size_t n = 0;

			if (envx_env_open(v, envs[i].name, &e, NULL) == 0) {
				(void)envx_env_secrets(e, &s, &n, NULL);
				(void)envx_env_unlock(e, &how, NULL);
			}
			free(s);
			envx_env_free(e);
		}
	}
	free(envs);
	envx_vault_close(v);
	unlink(path);
	return 0;
}
