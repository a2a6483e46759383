/*
 * `envx identity new|show`: create an X25519 identity (optionally protected
 * by a passphrase) in a 0600 file, or print the current identity's public
 * key so others can grant it access.
 */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <stdlib.h>
#include <unistd.h>

#include <sodium.h>

#include "cli/cli.h"
#include "cmd/cmd.h"
#include "util/banned.h"

enum { OPT_PASS = 1, OPT_OUT, OPT_FORCE };

static int
identity_new(int argc, char **argv, struct envx_ctx *ctx)
{
	static const struct envx_opt opts[] = {{"--passphrase", 0, OPT_PASS},
	                                       {"--output", 1, OPT_OUT},
	                                       {"-o", 1, OPT_OUT},
	                                       {"--force", 0, OPT_FORCE},
	                                       {NULL, 0, 0}};
	struct envx_optstate st = {.argc = argc, .argv = argv};
	struct envx_identity *id = NULL;
	struct envx_secbuf text = {0};
	struct envx_secbuf pass = {0};
	struct envx_error err;
	char path[4096];
	char pub[ENVX_PUBKEY_TEXT_BYTES];
	const char *out = NULL;
	bool use_pass = false;
	bool force = false;
	int status = 0;
	int o;

	while ((o = envx_getopt(ctx, &st, opts)) > 0) {
		if (o == OPT_PASS) {
			use_pass = true;
		} else if (o == OPT_OUT) {
			out = st.arg;
		} else if (o == OPT_FORCE) {
			force = true;
		}
	}
	if (o < 0) {
		status = o == -1 ? 0 : 2;
		goto done;
	}
	if (st.npositional > 0) {
		status = envx_cli_usage(ctx, "unexpected argument '%s'",
		                        st.positional[0]);
		goto done;
	}
	if (out == NULL) {
		if (envx_identity_default_path(path, sizeof(path)) < 0) {
			status = envx_cli_error(2, "identity new: HOME is not "
			                           "set; pass -o FILE");
			goto done;
		}
		out = path;
	}
	if (use_pass && envx_cli_new_passphrase(ctx, "new identity passphrase",
	                                        &pass, &err) < 0) {
		status = envx_cli_fail(&err);
		goto done;
	}
	if (envx_identity_generate(&id, &err) < 0 ||
	    envx_identity_encode(id, use_pass ? pass.data : NULL, pass.len,
	                         &text, &err) < 0) {
		status = envx_cli_fail(&err);
		goto done;
	}
	if (strcmp(out, "-") == 0) {
		if (envx_out_secret(text.data, text.len) < 0) {
			status = envx_cli_error(6, "cannot write identity to "
			                           "standard output");
		}
	} else if (envx_identity_save(out, &text, force, &err) < 0) {
		status = envx_cli_fail(&err);
		goto done;
	} else {
		envx_cli_note(ctx, "created identity '%s'", out);
	}
	envx_identity_pubtext(id, pub);
	if (strcmp(out, "-") == 0) {
		fprintf(stderr, "public key: %s\n", pub);
	} else if (ctx->json) {
		printf("{\"public_key\": \"%s\", \"path\": ", pub);
		envx_json_print_string(stdout, out);
		printf(", \"protected\": %s}\n", use_pass ? "true" : "false");
	} else {
		printf("%s\n", pub);
	}
done:
	envx_secbuf_release(&pass);
	envx_secbuf_release(&text);
	envx_identity_free(id);
	free(st.positional);
	return status;
}

static int
identity_show(int argc, char **argv, struct envx_ctx *ctx)
{
	struct envx_identity *id = NULL;
	struct envx_error err;
	char pub[ENVX_PUBKEY_TEXT_BYTES];

	struct envx_optstate st = {.argc = argc, .argv = argv};
	int o;

	o = envx_getopt(ctx, &st, NULL);
	free(st.positional);
	if (o < 0) {
		return o == -1 ? 0 : 2;
	}
	if (st.npositional > 0) {
		return envx_cli_usage(ctx, "identity show takes no arguments");
	}
	if (envx_ctx_identity(ctx, &id, &err) < 0) {
		return envx_cli_fail(&err);
	}
	envx_identity_pubtext(id, pub);
	if (ctx->json) {
		printf("{\"public_key\": \"%s\", \"source\": ", pub);
		envx_json_print_string(stdout, ctx->identity_source);
		printf("}\n");
	} else {
		printf("%s\n", pub);
	}
	return 0;
}

int
cmd_identity(int argc, char **argv, struct envx_ctx *ctx)
{
	if (argc < 2) {
		return envx_cli_usage(ctx, "missing subcommand");
	}
	if (strcmp(argv[1], "new") == 0) {
		return identity_new(argc - 1, argv + 1, ctx);
	}
	if (strcmp(argv[1], "show") == 0) {
		return identity_show(argc - 1, argv + 1, ctx);
	}
	if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
		envx_cli_command_help(ctx->cmd);
		return 0;
	}
	return envx_cli_usage(ctx, "unknown subcommand '%s'", argv[1]);
}
