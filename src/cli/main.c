/*
 * envx's entry point: parses the global options, initializes libsodium,
 * hardens the process, dispatches to the command, and checks that standard
 * output was written without error.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "cli/cli.h"
#include "util/banned.h"

static const char *const global_usage =
        "usage: envx [--vault PATH] [--identity FILE] [--passphrase-file FILE]\n"
        "            [--json] [-q|--quiet] COMMAND [ARGS...]\n";

/* Global options may come before the command name (and, through
 * envx_getopt, among the command's own options): never after the command's
 * arguments start, so `envx exec ENV grep -q x` leaves -q to grep. Returns
 * the index of the command name, or -1 on a usage error (printed). */
static int
take_globals(int argc, char **argv, struct envx_ctx *ctx)
{
	int in = 1;
	int r;

	while (in < argc && argv[in][0] == '-' && strcmp(argv[in], "--") != 0 &&
	       strcmp(argv[in], "-h") != 0 && strcmp(argv[in], "--help") != 0 &&
	       strcmp(argv[in], "--version") != 0) {
		r = envx_global_opt(ctx, argc, argv, &in);
		if (r < 0) {
			return -1;
		}
		if (r == 0) {
			/* never past '=': that could be a value */
			envx_cli_warn("unknown option '%.*s'",
			              (int)strcspn(argv[in], "="), argv[in]);
			fputs(global_usage, stderr);
			return -1;
		}
	}
	return in;
}

static int
finish_stdout(int status)
{
	if (fflush(stdout) != 0 || ferror(stdout)) {
		if (errno == EPIPE) {
			return status;
		}
		envx_cli_warn("cannot write to standard output: %s",
		              strerror(errno));
		return status == 0 ? 6 : status;
	}
	return status;
}

int
main(int argc, char **argv)
{
	struct envx_ctx ctx;
	const struct envx_command *cmd;
	int first;
	int status;

	memset(&ctx, 0, sizeof(ctx));
	first = take_globals(argc, argv, &ctx);
	if (first < 0) {
		return 2;
	}
	/* the command name becomes argv[1] for the dispatch below */
	argv += first - 1;
	argc -= first - 1;
	if (argc < 2) {
		fputs(global_usage, stderr);
		fputs("run 'envx help' for the list of commands\n", stderr);
		return 2;
	}
	if (strcmp(argv[1], "--version") == 0) {
		argv[1] = (char *)"version";
	} else if (strcmp(argv[1], "-h") == 0 ||
	           strcmp(argv[1], "--help") == 0) {
		argv[1] = (char *)"help";
	}
	cmd = envx_command_find(argv[1]);
	if (cmd == NULL) {
		const char *names[64];
		const char *near;
		size_t n = 0;
		size_t i;

		for (i = 0; i < envx_ncommands && n < 64; i++) {
			if ((envx_commands[i].flags & ENVX_CMD_HIDDEN) == 0) {
				names[n++] = envx_commands[i].name;
			}
		}
		near = envx_cli_nearest(argv[1], names, n);
		if (near != NULL) {
			envx_cli_warn("unknown command '%.64s': did you mean "
			              "'%s'? (run 'envx help' for the list)",
			              argv[1], near);
		} else {
			envx_cli_warn("unknown command '%.64s' (run 'envx "
			              "help' for the list)",
			              argv[1]);
		}
		return 2;
	}
	if (sodium_init() < 0) {
		fputs("envx: cannot initialize libsodium\n", stderr);
		return 10;
	}
	if (cmd->flags & ENVX_CMD_DECRYPTS) {
		envx_harden_process();
	}
	ctx.cmd = cmd;
	status = cmd->fn(argc - 1, argv + 1, &ctx);
	envx_vault_close(ctx.vault);
	envx_identity_free(ctx.identity);
	envx_anchors_release(&ctx.env_anchors);
	envx_secbuf_release(&ctx.pass_identity);
	envx_secbuf_release(&ctx.pass_env);
	return finish_stdout(status);
}
