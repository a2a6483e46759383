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

/* Global options may appear anywhere before "--"; they are removed from
 * argv so commands see only their own. Returns the new argc, or -1 on a
 * usage error (printed). */
static int
take_globals(int argc, char **argv, struct envx_ctx *ctx)
{
	int in = 1;
	int out = 1;

	while (in < argc) {
		char *a = argv[in];
		const char **slot = NULL;
		const char *name = NULL;

		if (strcmp(a, "--") == 0) {
			while (in < argc) {
				argv[out++] = argv[in++];
			}
			break;
		}
		if (strcmp(a, "--json") == 0) {
			ctx->json = true;
			in++;
			continue;
		}
		if (strcmp(a, "-q") == 0 || strcmp(a, "--quiet") == 0) {
			ctx->quiet = true;
			in++;
			continue;
		}
		if (strncmp(a, "--vault", 7) == 0 &&
		    (a[7] == '\0' || a[7] == '=')) {
			slot = &ctx->vault_opt;
			name = "--vault";
		} else if (strncmp(a, "--identity", 10) == 0 &&
		           (a[10] == '\0' || a[10] == '=')) {
			slot = &ctx->identity_opt;
			name = "--identity";
		} else if (strncmp(a, "--passphrase-file", 17) == 0 &&
		           (a[17] == '\0' || a[17] == '=')) {
			slot = &ctx->passphrase_file;
			name = "--passphrase-file";
		}
		if (slot != NULL) {
			const char *eq = strchr(a, '=');
			if (eq != NULL) {
				*slot = eq + 1;
				in++;
			} else if (in + 1 < argc) {
				*slot = argv[in + 1];
				in += 2;
			} else {
				fprintf(stderr,
				        "envx: option '%s' needs a value\n%s",
				        name, global_usage);
				return -1;
			}
			if (**slot == '\0') {
				fprintf(stderr,
				        "envx: option '%s' needs a value\n%s",
				        name, global_usage);
				return -1;
			}
			continue;
		}
		argv[out++] = argv[in++];
	}
	argv[out] = NULL;
	return out;
}

static int
finish_stdout(int status)
{
	if (fflush(stdout) != 0 || ferror(stdout)) {
		if (errno == EPIPE) {
			return status;
		}
		fprintf(stderr, "envx: cannot write to standard output: %s\n",
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
	int status;

	memset(&ctx, 0, sizeof(ctx));
	argc = take_globals(argc, argv, &ctx);
	if (argc < 0) {
		return 2;
	}
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
		fprintf(stderr,
		        "envx: unknown command '%s' (run 'envx help' for the "
		        "list)\n",
		        argv[1]);
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
	envx_secbuf_release(&ctx.passphrase);
	return finish_stdout(status);
}
