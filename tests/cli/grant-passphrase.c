/*
 * A test helper for t0013-passphrases until `envx access grant --passphrase`
 * exists: adds a passphrase recipient to an environment through the library.
 * usage: grant-passphrase VAULT ENV LABEL IDENTITY_FILE, the passphrase in
 * $GRANT_PASSPHRASE; the identity (unprotected) must be a recipient of ENV.
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
	const char *pass = getenv("GRANT_PASSPHRASE");
	struct envx_identity *id = NULL;
	struct envx_vault *v = NULL;
	struct envx_env *e = NULL;
	struct envx_unlock how = {0};
	struct envx_error err = {0};
	int r = 1;

	if (argc != 5 || pass == NULL || sodium_init() < 0) {
		fputs("usage: GRANT_PASSPHRASE=P grant-passphrase VAULT ENV "
		      "LABEL IDENTITY_FILE\n",
		      stderr);
		return 2;
	}
	if (envx_identity_load(argv[4], NULL, NULL, &id, &err) < 0 ||
	    envx_vault_open(argv[1], true, &v, &err) < 0 ||
	    envx_env_open(v, argv[2], &e, &err) < 0) {
		goto out;
	}
	how.identity = id;
	if (envx_env_unlock(e, &how, &err) < 0 ||
	    envx_vault_begin(v, &err) < 0 ||
	    envx_env_grant_passphrase(e, argv[3], (const unsigned char *)pass,
	                              strlen(pass), &err) < 0 ||
	    envx_vault_commit(v, &err) < 0) {
		goto out;
	}
	r = 0;
out:
	if (r != 0) {
		fprintf(stderr, "grant-passphrase: %s\n", err.msg);
	}
	envx_env_free(e);
	envx_vault_close(v);
	envx_identity_free(id);
	return r;
}
