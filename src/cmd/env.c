/*
 * `envx env list|add|rm|allow`: manage environments. A new environment gets
 * its own random key, wrapped for the caller's identity; `allow` lets one
 * otherwise refused name (NODE_OPTIONS, say) into one environment.
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

/* Prints env's allowances, verified by unlocking it. */
static int
allow_list(struct envx_ctx *ctx, struct envx_env *e)
{
	const char *const *names;
	size_t n;
	size_t i;

	names = envx_env_allowed(e, &n);
	if (ctx->json) {
		printf("{\"env\": ");
		envx_json_print_string(stdout, envx_env_name(e));
		printf(", \"allowed\": [");
		for (i = 0; i < n; i++) {
			printf("%s", i ? ", " : "");
			envx_json_print_string(stdout, names[i]);
		}
		printf("]}\n");
	} else if (n == 0) {
		envx_cli_note(ctx, "environment '%s' allows no refused name",
		              envx_env_name(e));
	} else {
		for (i = 0; i < n; i++) {
			printf("%s\n", names[i]);
		}
	}
	return 0;
}

static int
env_allow(struct envx_ctx *ctx, const char *env, const char *name, bool remove)
{
	const struct envx_refused *why;
	struct envx_env *e = NULL;
	struct envx_error err;
	bool changed = false;
	int status;

	if (name != NULL && envx_name_check(name, &err) < 0) {
		return envx_cli_fail(&err);
	}
	status = envx_cmd_vault(ctx);
	if (status != 0) {
		return status;
	}
	if (envx_ctx_unlock(ctx, env, &e, &err) < 0) {
		status = envx_cli_fail(&err);
		goto done;
	}
	if (name == NULL) {
		status = allow_list(ctx, e);
		goto done;
	}
	why = envx_name_refused(name, strlen(name));
	if (envx_vault_begin(ctx->vault, &err) < 0 ||
	    envx_env_allow(e, name, !remove, &changed, &err) < 0 ||
	    (changed &&
	     envx_vault_audit(ctx->vault, remove ? "disallow" : "allow", env,
	                      name, why != NULL ? why->pattern : "",
	                      &err) < 0) ||
	    (changed && envx_vault_commit(ctx->vault, &err) < 0)) {
		envx_vault_rollback(ctx->vault);
		status = envx_cli_fail(&err);
		goto done;
	}
	if (!changed) {
		envx_vault_rollback(ctx->vault); /* nothing to write */
		envx_cli_note(ctx, "'%s' was already %s in %s", name,
		              remove ? "refused" : "allowed", env);
	} else if (remove) {
		envx_cli_note(ctx,
		              "'%s' is refused in %s again: exec and export "
		              "leave it out",
		              name, env);
	} else {
		envx_cli_note(ctx,
		              "allowed '%s' in %s: set, import, exec and "
		              "export now take it (%s can take code to run "
		              "from it)",
		              name, env, why->why);
	}
done:
	envx_env_free(e);
	return status;
}

int
cmd_env(int argc, char **argv, struct envx_ctx *ctx)
{
	static const struct envx_opt opts[] = {
	        {"--force", 0, 1}, {"--remove", 0, 2}, {NULL, 0, 0}};
	struct envx_optstate st = {.argc = argc, .argv = argv};
	bool force = false;
	bool remove = false;
	const char *sub;
	int status;
	int o;

	while ((o = envx_getopt(ctx, &st, opts)) > 0) {
		if (o == 1) {
			force = true;
		} else {
			remove = true;
		}
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
	if (remove && strcmp(sub, "allow") != 0) {
		status = envx_cli_usage(ctx, "--remove is for 'env allow'");
	} else if (strcmp(sub, "allow") == 0 && !force &&
	           (st.npositional == 3 || (st.npositional == 2 && !remove))) {
		status = env_allow(
		        ctx, st.positional[1],
		        st.npositional == 3 ? st.positional[2] : NULL, remove);
	} else if (strcmp(sub, "list") == 0 && st.npositional == 1 && !force) {
		status = env_list(ctx);
	} else if (strcmp(sub, "add") == 0 && st.npositional == 2 && !force) {
		status = env_add(ctx, st.positional[1]);
	} else if (strcmp(sub, "rm") == 0 && st.npositional == 2) {
		status = env_rm(ctx, st.positional[1], force);
	} else if (strcmp(sub, "list") != 0 && strcmp(sub, "add") != 0 &&
	           strcmp(sub, "rm") != 0 && strcmp(sub, "allow") != 0) {
		status = envx_cli_usage(ctx, "unknown subcommand '%s'", sub);
	} else {
		status = envx_cli_usage(ctx, "wrong arguments for 'env %s'",
		                        sub);
	}
	free(st.positional);
	return status;
}

/* `envx __refused`: the refused-name list as the binary has it, for the
 * test that holds envx(1) to it. */
int
cmd_refused(int argc, char **argv, struct envx_ctx *ctx)
{
	const struct envx_refused *list;
	size_t n;
	size_t i;

	(void)argv;
	if (argc != 1) {
		return envx_cli_usage(ctx, "takes no arguments");
	}
	list = envx_refused_list(&n);
	for (i = 0; i < n; i++) {
		printf("%s\t%s\n", list[i].pattern, list[i].why);
	}
	return 0;
}
