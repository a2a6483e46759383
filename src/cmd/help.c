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

const char *
envx_exit_meaning(int status)
{
	switch (status) {
	case 0:
		return "success";
	case 1:
		return "a check answered no (or a name --only asked for is "
		       "missing)";
	case 2:
		return "usage error: unknown command or option, missing argument";
	case 3:
		return "cannot unlock: no identity or passphrase opens the "
		       "environment";
	case 4:
		return "integrity failure: tampered, corrupt, not an envx vault, "
		       "or a newer format";
	case 5:
		return "remote failure";
	case 6:
		return "local I/O failure: disk full, read-only file system, "
		       "vault busy past the timeout";
	case 7:
		return "invalid input: dotenv syntax, an invalid or refused "
		       "name, a NUL in a value, a size limit";
	case 8:
		return "unsafe file: a key file readable by others, a vault "
		       "writable by others, a symlink";
	case 9:
		return "not found: no such vault, environment, secret or file";
	case 10:
		return "internal error (a bug: please report it)";
	case 126:
		return "the command cannot be executed";
	case 127:
		return "the command was not found";
	default:
		return NULL;
	}
}

static const struct envx_optdoc *
find_doc(const struct envx_command *c, const char *opt)
{
	const struct envx_optdoc *d;

	for (d = c->docs; d->name != NULL; d++) {
		if (strcmp(d->name, opt) == 0) {
			return d;
		}
	}
	return NULL;
}

/* usage, summary, what each option does, the exit statuses, an example:
 * all from the command table. */
void
envx_cli_command_help(const struct envx_command *c)
{
	const char *const *p;
	const char *e;

	printf("usage: envx %s\n\n%s\n", c->usage, c->summary);
	if (c->options[0] != NULL) {
		printf("\noptions:\n");
	}
	for (p = c->options; *p != NULL; p++) {
		const struct envx_optdoc *d = find_doc(c, *p);
		const char *arg = d != NULL && d->arg != NULL ? d->arg : "";
		char left[64];

		snprintf(left, sizeof(left), "%s%s%s", *p,
		         arg[0] != '\0' && arg[0] != '[' ? " " : "", arg);
		printf("  %-28s %s\n", left,
		       d != NULL ? d->help : "(undocumented)");
	}
	printf("\nexit status:\n");
	for (e = c->exits; *e != '\0';) {
		char *end;
		long code = strtol(e, &end, 10);
		const char *m = envx_exit_meaning((int)code);

		if (end == e) {
			break;
		}
		if (code == 0 && strcmp(c->name, "exec") == 0) {
			m = "the command succeeded; a status not listed here "
			    "is the command's own (128+N when signal N "
			    "killed it)";
		}
		printf("  %-4ld %s\n", code, m != NULL ? m : "(undocumented)");
		e = end;
		while (*e == ' ') {
			e++;
		}
	}
	printf("\nexample:\n  %s\n", c->example);
	printf("\nGlobal options: envx help; everything else: envx(1).\n");
}

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
		envx_cli_command_help(c);
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
