/*
 * `envx env list|add|rm`: manage environments. A new environment gets its
 * own random key, wrapped for the caller's identity.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cmd/cmd.h"
#include "util/banned.h"

static int
env_list(struct envx_ctx *ctx)
{
	struct envx_env_info *list = NULL;
	struct envx_error err;
	size_t n = 0;
	size_t i;
	int status;

	status = envx_cmd_vault(ctx);
	if (status != 0) {
		return status;
	}
	if (envx_vault_env_list(ctx->vault, &list, &n, &err) < 0) {
		return envx_cli_fail(&err);
	}
	if (ctx->json) {
		printf("[");
		for (i = 0; i < n; i++) {
			printf("%s{\"name\": ", i ? ", " : "");
			envx_json_print_string(stdout, list[i].name);
			printf(", \"secrets\": %zu, \"recipients\": %zu}",
			       list[i].nsecrets, list[i].nrecipients);
		}
		printf("]\n");
	} else {
		for (i = 0; i < n; i++) {
			printf("%-20s %5zu secret%s  %zu recipient%s\n",
			       list[i].name, list[i].nsecrets,
			       list[i].nsecrets == 1 ? " " : "s",
			       list[i].nrecipients,
			       list[i].nrecipients == 1 ? "" : "s");
		}
	}
	free(list);
	return 0;
}

static int
env_add(struct envx_ctx *ctx, const char *name)
{
	struct envx_identity *id = NULL;
	struct envx_error err;
	char actor[256];
	int status;

	if (!envx_env_name_valid(name)) {
		return envx_cli_error(7,
		                      "invalid environment name '%.64s': use "
		                      "lowercase letters, digits, '.', '_' "
		                      "and '-'",
		                      name);
	}
	status = envx_cmd_vault(ctx);
	if (status != 0) {
		return status;
	}
	if (envx_ctx_identity(ctx, &id, &err) < 0) {
		return envx_cli_fail(&err);
	}
	envx_ctx_actor(ctx, actor, sizeof(actor));
	if (envx_vault_begin(ctx->vault, &err) < 0 ||
	    envx_vault_env_add(ctx->vault, name, id->pk, actor, &err) < 0 ||
	    envx_vault_commit(ctx->vault, &err) < 0) {
		envx_vault_rollback(ctx->vault);
		return envx_cli_fail(&err);
	}
	envx_cli_note(ctx, "added environment '%s'", name);
	return 0;
}

static int
env_rm(struct envx_ctx *ctx, const char *name, bool force)
{
	struct envx_env_info *list = NULL;
	struct envx_error err;
	size_t n = 0;
	size_t i;
	int status;

	status = envx_cmd_vault(ctx);
	if (status != 0) {
		return status;
	}
	if (envx_vault_env_list(ctx->vault, &list, &n, &err) < 0) {
		return envx_cli_fail(&err);
	}
	for (i = 0; i < n && strcmp(list[i].name, name) != 0; i++) {
	}
	if (i == n) {
		free(list);
		return envx_cli_error(9, "no environment '%.64s' in vault '%s'",
		                      name, ctx->vault_path);
	}
	if (list[i].nsecrets > 0 && !force) {
		status = envx_cli_error(2,
		                        "environment '%s' has %zu secret%s: "
		                        "pass --force to delete them with it",
		                        name, list[i].nsecrets,
		                        list[i].nsecrets == 1 ? "" : "s");
		free(list);
		return status;
	}
	free(list);
	if (envx_vault_begin(ctx->vault, &err) < 0 ||
	    envx_vault_env_rm(ctx->vault, name, &err) < 0 ||
	    envx_vault_commit(ctx->vault, &err) < 0) {
		envx_vault_rollback(ctx->vault);
		return envx_cli_fail(&err);
	}
	envx_cli_note(ctx, "removed environment '%s'", name);
	return 0;
}

int
cmd_env(int argc, char **argv, struct envx_ctx *ctx)
{
	static const struct envx_opt opts[] = {{"--force", 0, 1}, {NULL, 0, 0}};
	struct envx_optstate st = {.argc = argc, .argv = argv};
	bool force = false;
	const char *sub;
	int status;
	int o;

	while ((o = envx_getopt(ctx, &st, opts)) > 0) {
		force = true;
	}
	if (o < 0) {
		free(st.positional);
		return o == -1 ? 0 : 2;
	}
	if (st.npositional < 1) {
		free(st.positional);
		return envx_cli_usage(ctx, "missing subcommand");
	}
	sub = st.positional[0];
	if (strcmp(sub, "list") == 0 && st.npositional == 1 && !force) {
		status = env_list(ctx);
	} else if (strcmp(sub, "add") == 0 && st.npositional == 2 && !force) {
		status = env_add(ctx, st.positional[1]);
	} else if (strcmp(sub, "rm") == 0 && st.npositional == 2) {
		status = env_rm(ctx, st.positional[1], force);
	} else if (strcmp(sub, "list") != 0 && strcmp(sub, "add") != 0 &&
	           strcmp(sub, "rm") != 0) {
		status = envx_cli_usage(ctx, "unknown subcommand '%s'", sub);
	} else {
		status = envx_cli_usage(ctx, "wrong arguments for 'env %s'",
		                        sub);
	}
	free(st.positional);
	return status;
}
