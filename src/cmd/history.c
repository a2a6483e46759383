/*
 * `envx history`, `envx rollback` and `envx rm`: a secret's versions (never
 * values), restoring an old value as a new version, and deleting a secret.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cmd/cmd.h"
#include "util/banned.h"

int
cmd_history(int argc, char **argv, struct envx_ctx *ctx)
{
	struct envx_optstate st = {0};
	struct envx_version_info *list = NULL;
	struct envx_env *e = NULL;
	struct envx_error err;
	char when[32];
	char kind[4 * sizeof(list->kind) + 1];
	char author[4 * sizeof(list->author) + 1];
	size_t n = 0;
	size_t i;
	bool verified;
	int status;

	status = envx_cmd_args(ctx, argc, argv, &st, 2, 2,
	                       "missing ENV or NAME");
	if (status != 0) {
		status = status < 0 ? 0 : status;
		goto done;
	}
	if (envx_ctx_open_verified(ctx, st.positional[0], &e, &verified, &err) <
	            0 ||
	    envx_env_history(e, st.positional[1], &list, &n, &err) < 0) {
		status = envx_cli_fail(&err);
		goto done;
	}
	if (ctx->json) {
		printf("{\"env\": ");
		envx_json_print_string(stdout, st.positional[0]);
		printf(", \"name\": ");
		envx_json_print_string(stdout, st.positional[1]);
		printf(", \"verified\": %s, \"versions\": [",
		       verified ? "true" : "false");
		for (i = 0; i < n; i++) {
			envx_time_format(list[i].created_at, when,
			                 sizeof(when));
			printf("%s{\"version\": %llu, \"created_at\": \"%s\", "
			       "\"kind\": ",
			       i ? ", " : "",
			       (unsigned long long)list[i].version, when);
			envx_json_print_string(stdout, list[i].kind);
			printf(", \"author\": ");
			envx_json_print_string(stdout, list[i].author);
			printf("}");
		}
		printf("]}\n");
	} else {
		printf("%7s  %-20s  %-9s  %s\n", "VERSION", "CREATED", "KIND",
		       "AUTHOR");
		for (i = 0; i < n; i++) {
			envx_time_format(list[i].created_at, when,
			                 sizeof(when));
			printf("%7llu  %-20s  %-9s  %s\n",
			       (unsigned long long)list[i].version, when,
			       envx_safe_text(list[i].kind, kind, sizeof(kind)),
			       envx_safe_text(list[i].author, author,
			                      sizeof(author)));
		}
	}
done:
	free(list);
	envx_env_free(e);
	free(st.positional);
	return status;
}

int
cmd_rollback(int argc, char **argv, struct envx_ctx *ctx)
{
	struct envx_optstate st = {0};
	struct envx_version_info *list = NULL;
	struct envx_env *e = NULL;
	struct envx_error err;
	unsigned long long target = 0;
	uint64_t newv = 0;
	char detail[64];
	size_t n = 0;
	int status;

	status = envx_cmd_args(ctx, argc, argv, &st, 2, 3,
	                       "missing ENV or NAME");
	if (status != 0) {
		status = status < 0 ? 0 : status;
		goto done;
	}
	if (st.npositional == 3) {
		char *end;
		target = strtoull(st.positional[2], &end, 10);
		if (*st.positional[2] == '\0' || *end != '\0' || target == 0) {
			status = envx_cli_usage(ctx,
			                        "VERSION must be a positive "
			                        "number, not '%.32s'",
			                        st.positional[2]);
			goto done;
		}
	}
	ctx->lazy_unlock = true;
	if (envx_ctx_unlock(ctx, st.positional[0], &e, &err) < 0 ||
	    envx_env_history(e, st.positional[1], &list, &n, &err) < 0) {
		status = envx_cli_fail(&err);
		goto done;
	}
	if (target == 0) {
		/* without VERSION: the one before the current one */
		if (n < 2) {
			status = envx_cli_error(9,
			                        "secret '%s' in '%s' has no "
			                        "earlier version to roll back "
			                        "to",
			                        st.positional[1],
			                        st.positional[0]);
			goto done;
		}
		target = list[n - 2].version;
	}
	snprintf(detail, sizeof(detail), "to version %llu", target);
	if (envx_vault_begin(ctx->vault, &err) < 0 ||
	    envx_env_rollback(e, st.positional[1], target, &newv, &err) < 0 ||
	    envx_vault_audit(ctx->vault, "rollback", st.positional[0],
	                     st.positional[1], detail, &err) < 0 ||
	    envx_vault_commit(ctx->vault, &err) < 0) {
		envx_vault_rollback(ctx->vault);
		status = envx_cli_fail(&err);
		goto done;
	}
	envx_cli_note(ctx,
	              "rolled %s in %s back to version %llu (as version %llu)",
	              st.positional[1], st.positional[0], target,
	              (unsigned long long)newv);
done:
	free(list);
	envx_env_free(e);
	free(st.positional);
	return status;
}

int
cmd_rm(int argc, char **argv, struct envx_ctx *ctx)
{
	struct envx_optstate st = {0};
	struct envx_env *e = NULL;
	struct envx_error err;
	int status;

	status = envx_cmd_args(ctx, argc, argv, &st, 2, 2,
	                       "missing ENV or NAME");
	if (status != 0) {
		status = status < 0 ? 0 : status;
		goto done;
	}
	ctx->lazy_unlock = true;
	if (envx_ctx_unlock(ctx, st.positional[0], &e, &err) < 0) {
		status = envx_cli_fail(&err);
		goto done;
	}
	if (envx_vault_begin(ctx->vault, &err) < 0 ||
	    envx_env_rm(e, st.positional[1], &err) < 0 ||
	    envx_vault_audit(ctx->vault, "rm", st.positional[0],
	                     st.positional[1], "", &err) < 0 ||
	    envx_vault_commit(ctx->vault, &err) < 0) {
		envx_vault_rollback(ctx->vault);
		status = envx_cli_fail(&err);
		goto done;
	}
	envx_cli_note(ctx, "removed %s from %s (all versions)",
	              st.positional[1], st.positional[0]);
done:
	envx_env_free(e);
	free(st.positional);
	return status;
}
