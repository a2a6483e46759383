/*
 * `envx git setup [--hooks]`: make the repository that holds the vault
 * merge it with `envx merge-driver` and show it with `envx diff`, and
 * optionally run `envx scan --staged` before each commit.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cmd/cmd.h"
#include "envx/git.h"
#include "util/banned.h"

struct changes {
	const struct envx_ctx *ctx;
	size_t changed;
	size_t kept;
};

static void
changed(void *p, bool did, const char *what)
{
	struct changes *c = p;
	char safe[8192];

	envx_safe_text(what, safe, sizeof(safe));
	if (did) {
		c->changed++;
		printf("set %s\n", safe);
	} else {
		c->kept++;
		if (!c->ctx->quiet) {
			printf("unchanged %s\n", safe);
		}
	}
}

enum { OPT_HOOKS = 1 };

int
cmd_git(int argc, char **argv, struct envx_ctx *ctx)
{
	static const struct envx_opt opts[] = {{"--hooks", 0, OPT_HOOKS},
	                                       {NULL, 0, 0}};
	struct envx_optstate st = {.argc = argc, .argv = argv};
	struct changes c = {.ctx = ctx};
	struct envx_error err;
	bool hooks = false;
	int status = 0;
	int o;

	while ((o = envx_getopt(ctx, &st, opts)) > 0) {
		if (o == OPT_HOOKS) {
			hooks = true;
		}
	}
	if (o < 0) {
		status = o == -1 ? 0 : 2;
		goto done;
	}
	if (st.npositional == 0) {
		status = envx_cli_usage(ctx, "missing subcommand (setup)");
		goto done;
	}
	if (strcmp(st.positional[0], "setup") != 0) {
		status = envx_cli_usage(ctx, "unknown subcommand '%s'",
		                        st.positional[0]);
		goto done;
	}
	if (st.npositional > 1) {
		status = envx_cli_usage(ctx, "too many arguments");
		goto done;
	}
	if (envx_vault_locate(ctx->vault_opt, ctx->vault_path,
	                      sizeof(ctx->vault_path), &err) < 0 ||
	    envx_git_setup(ctx->vault_path, hooks, changed, &c, &err) < 0) {
		status = envx_cli_fail(&err);
		goto done;
	}
	if (c.changed == 0) {
		printf("nothing changed: git already merges and diffs '%s' "
		       "with envx\n",
		       ctx->vault_path);
	}
done:
	free(st.positional);
	return status;
}
