/*
 * `envx help [COMMAND]` and the hidden `envx __complete`, both generated
 * from the command table so they cannot drift from it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cmd/cmd.h"
#include "util/banned.h"

int
cmd_help(int argc, char **argv, struct envx_ctx *ctx)
{
	const struct envx_command *c;
	size_t i;

	struct envx_optstate st = {.argc = argc, .argv = argv};
	int o;

	o = envx_getopt(ctx, &st, NULL);
	if (o < 0) {
		free(st.positional);
		return o == -1 ? 0 : 2;
	}
	if (st.npositional > 1) {
		free(st.positional);
		return envx_cli_usage(ctx, "too many arguments");
	}
	if (st.npositional == 1) {
		const char *name = st.positional[0];

		free(st.positional);
		c = envx_command_find(name);
		if (c == NULL || (c->flags & ENVX_CMD_HIDDEN)) {
			return envx_cli_error(2, "help: unknown command '%s'",
			                      name);
		}
		printf("usage: envx %s\n\n%s\n", c->usage, c->summary);
		printf("\nSee envx(1) for the global options and exit status.\n");
		return 0;
	}
	free(st.positional);
	printf("envx - encrypted per-environment secrets\n\n"
	       "usage: envx [--vault PATH] [--identity FILE] "
	       "[--passphrase-file FILE] [--json] [-q] COMMAND [ARGS...]\n\n"
	       "commands:\n");
	for (i = 0; i < envx_ncommands; i++) {
		c = &envx_commands[i];
		if (c->flags & ENVX_CMD_HIDDEN) {
			continue;
		}
		printf("  %-10s %s\n", c->name, c->summary);
	}
	printf("\nRun 'envx help COMMAND' for a command's usage; see envx(1).\n");
	return 0;
}

/*
 * `envx __complete WORD...`: the words typed so far after "envx"; prints
 * one candidate per line for the last word. Global options are always
 * candidates for a word starting with "-".
 */
int
cmd_complete(int argc, char **argv, struct envx_ctx *ctx)
{
	static const char *const globals[] = {
	        "--vault", "--identity", "--passphrase-file",
	        "--json",  "--quiet",    "--help",
	        NULL};
	const struct envx_command *c;
	const char *cur = argc > 1 ? argv[argc - 1] : "";
	const char *const *p;
	size_t i;

	(void)ctx;
	if (argc <= 2) {
		for (i = 0; i < envx_ncommands; i++) {
			c = &envx_commands[i];
			if (!(c->flags & ENVX_CMD_HIDDEN) &&
			    strncmp(c->name, cur, strlen(cur)) == 0) {
				printf("%s\n", c->name);
			}
		}
		return 0;
	}
	c = envx_command_find(argv[1]);
	if (c == NULL) {
		return 0;
	}
	if (cur[0] == '-') {
		for (p = c->options; *p != NULL; p++) {
			if (strncmp(*p, cur, strlen(cur)) == 0) {
				printf("%s\n", *p);
			}
		}
		for (p = globals; *p != NULL; p++) {
			if (strncmp(*p, cur, strlen(cur)) == 0) {
				printf("%s\n", *p);
			}
		}
		return 0;
	}
	if (argc == 3 && c->subcommands[0] != NULL) {
		for (p = c->subcommands; *p != NULL; p++) {
			if (strncmp(*p, cur, strlen(cur)) == 0) {
				printf("%s\n", *p);
			}
		}
	}
	return 0;
}
