/*
 * `envx version`: the program version, the vault format it writes, and the
 * versions of the libraries it runs with.
 */
#include <stdio.h>
#include <stdlib.h>

#include <sodium.h>
#include <sqlite3.h>

#include "cli/cli.h"
#include "cmd/cmd.h"
#include "envx/vault.h"
#include "util/banned.h"

#ifndef ENVX_VERSION
#define ENVX_VERSION "unknown"
#endif

int
cmd_version(int argc, char **argv, struct envx_ctx *ctx)
{
	struct envx_optstate st = {.argc = argc, .argv = argv};
	int o;

	o = envx_getopt(ctx, &st, NULL);
	free(st.positional);
	if (o < 0) {
		return o == -1 ? 0 : 2;
	}
	if (st.npositional > 0) {
		return envx_cli_usage(ctx, "takes no arguments");
	}
	if (ctx->json) {
		printf("{\"version\": \"%s\", \"vault_format\": %d, "
		       "\"libsodium\": \"%s\", \"sqlite\": \"%s\"}\n",
		       ENVX_VERSION, ENVX_VAULT_SCHEMA_VERSION,
		       sodium_version_string(), sqlite3_libversion());
		return 0;
	}
	printf("envx %s (vault format %d; libsodium %s, sqlite %s)\n",
	       ENVX_VERSION, ENVX_VAULT_SCHEMA_VERSION, sodium_version_string(),
	       sqlite3_libversion());
	return 0;
}
