/*
 * A test helper for t0020-rotation: marks one secret (or, without NAME,
 * every secret) of an environment compromised, which no command does for
 * one secret alone (`envx incident` marks all), through the library, as a
 * signed write of the identity.
 * usage: mark-compromised VAULT ENV IDENTITY_FILE [NAME]; the identity
 * (unprotected) must be a writer of ENV.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "envx/identity.h"
#include "envx/vault.h"

int
main(int argc, char **argv)
{
	struct envx_identity *id = NULL;
	struct envx_vault *v = NULL;
	struct envx_env *e = NULL;
	struct envx_unlock how = {0};
	struct envx_error err = {0};
	const char *name = argc == 5 ? argv[4] : NULL;
	int r = 1;

	if (argc < 4 || argc > 5 || sodium_init() < 0) {
		fputs("usage: mark-compromised VAULT ENV IDENTITY_FILE "
		      "[NAME]\n",
		      stderr);
		return 2;
	}
	if (envx_identity_load(argv[3], NULL, NULL, &id, &err) < 0 ||
	    envx_vault_open(argv[1], true, &v, &err) < 0) {
		goto out;
	}
	envx_vault_set_signer(v, id);
	if (envx_env_open(v, argv[2], &e, &err) < 0) {
		goto out;
	}
	how.identity = id;
	if (envx_env_unlock(e, &how, &err) < 0 ||
	    envx_vault_begin(v, &err) < 0 ||
	    envx_env_mark_compromised(e, name, &err) < 0 ||
	    envx_vault_audit(v, "incident", argv[2], name != NULL ? name : "",
	                     "compromised (test fixture)", &err) < 0 ||
	    envx_vault_commit(v, &err) < 0) {
		goto out;
	}
	r = 0;
out:
	if (r != 0) {
		fprintf(stderr, "mark-compromised: %s\n", err.msg);
	}
	envx_env_free(e);
	envx_vault_close(v);
	envx_identity_free(id);
	return r;
}
