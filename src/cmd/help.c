/*
 * `envx help [COMMAND]` and the hidden `envx __complete`, both generated
 * from the command table so they cannot drift from it.
 */
#include <stdbool.h>
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
		       "environment, or your role does not allow the change";
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
	case 124:
		return "a hook stopped by --timeout";
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
		if (code == 0 && strcmp(c->name, "rotate") == 0) {
			m = "success; a failed --run hook's own status is "
			    "returned as it is (128+N when signal N killed "
			    "it), and nothing is recorded";
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

/* Whether opt takes a separate value for command c (or globally). */
static bool
takes_value(const struct envx_command *c, const char *opt)
{
	const struct envx_optdoc *d = c != NULL ? find_doc(c, opt) : NULL;

	if (envx_global_takes_value(opt)) {
		return true;
	}
	return d != NULL && d->arg != NULL && d->arg[0] != '[';
}

static void
offer(const char *cand, const char *cur)
{
	if (strncmp(cand, cur, strlen(cur)) == 0) {
		printf("%s\n", cand);
	}
}

/* With $ENVX_COMPLETE_DESCRIBE=1 (the zsh and fish scripts), a candidate
 * the table describes is printed as "CANDIDATE<TAB>DESCRIPTION". */
static bool describe;

static void
offer_desc(const char *cand, const char *desc, const char *cur)
{
	if (!describe || desc == NULL) {
		offer(cand, cur);
	} else if (strncmp(cand, cur, strlen(cur)) == 0) {
		printf("%s\t%s\n", cand, desc);
	}
}

/* c's options (or, c NULL, the global ones) with their help lines. */
static void
offer_options(const struct envx_command *c, const char *cur)
{
	static const struct envx_optdoc globals[] = {
	        {"--vault", "PATH", "use the vault at PATH"},
	        {"--identity", "FILE", "unlock with the identity in FILE"},
	        {"--passphrase-file", "FILE",
	         "read a passphrase from the first line of FILE"},
	        {"--json", NULL, "print JSON"},
	        {"--quiet", NULL, "no notices on standard error"},
	        {"--help", NULL, "usage, options, exit statuses, an example"},
	        {NULL, NULL, NULL}};
	const struct envx_optdoc *d;
	const char *const *p;

	if (c == NULL) {
		for (d = globals; d->name != NULL; d++) {
			offer_desc(d->name, d->help, cur);
		}
		return;
	}
	for (p = c->options; *p != NULL; p++) {
		const char *help = NULL;

		for (d = c->docs; d->name != NULL; d++) {
			if (strcmp(d->name, *p) == 0) {
				help = d->help;
			}
		}
		offer_desc(*p, help, cur);
	}
}

static void
offer_list(const char *const *p, const char *cur)
{
	for (; *p != NULL; p++) {
		offer(*p, cur);
	}
}

/* What offer_from_vault lists. */
enum vault_words {
	WORDS_ENVS,    /* environment names */
	WORDS_SECRETS, /* the names of env's secrets */
	WORDS_LABELS,  /* the labels of env's recipients (not revoked ones) */
};

/* The names of e's secrets, from metadata (no key). */
static void
offer_secrets(struct envx_env *e, const char *cur)
{
	struct envx_secret_info *list = NULL;
	struct envx_error err;
	size_t n = 0;
	size_t i;

	if (envx_env_secrets(e, &list, &n, &err) < 0) {
		return;
	}
	for (i = 0; i < n; i++) {
		offer(list[i].name, cur);
	}
	free(list);
}

/* The labels of e's recipients, from the access log replayed without a
 * key: for `access revoke ENV <TAB>`, where a wrong word costs a rekey. */
static void
offer_labels(struct envx_env *e, const char *cur)
{
	struct envx_access_info *list = NULL;
	struct envx_error err;
	size_t n = 0;
	size_t i;

	if (envx_env_access(e, &list, &n, &err) < 0) {
		return;
	}
	for (i = 0; i < n; i++) {
		if (list[i].role != ENVX_ROLE_NONE) {
			offer(list[i].label, cur);
		}
	}
	free(list);
}

/* Environment names, or the names of env's secrets or recipients:
 * metadata only, read without a key (never a value, never a prompt). Any
 * failure offers nothing. */
static void
offer_from_vault(const char *vault_opt, enum vault_words what, const char *env,
                 const char *cur)
{
	char path[4096];
	struct envx_vault *v = NULL;
	struct envx_env *e = NULL;
	struct envx_error err;
	size_t n = 0;
	size_t i;

	/* a completion must answer at once, not wait for a writer */
	setenv("ENVX_BUSY_TIMEOUT_MS", "50", 1);
	if (envx_vault_locate(vault_opt, path, sizeof(path), &err) < 0 ||
	    envx_vault_open(path, false, &v, &err) < 0) {
		return;
	}
	if (what == WORDS_ENVS) {
		struct envx_env_info *list = NULL;

		if (envx_vault_env_list(v, &list, &n, &err) == 0) {
			for (i = 0; i < n; i++) {
				offer(list[i].name, cur);
			}
			free(list);
		}
	} else if (envx_env_open(v, env, &e, &err) == 0) {
		if (what == WORDS_LABELS) {
			offer_labels(e, cur);
		} else {
			offer_secrets(e, cur);
		}
		envx_env_free(e);
	}
	envx_vault_close(v);
}

/* What the positional word at index pos (0 = the first after the command
 * name; words holds the earlier positionals) is: an environment, a secret
 * of words[0], or nothing envx knows. */
static void
offer_positional(const struct envx_command *c, char **words, size_t pos,
                 const char *vault_opt, const char *cur)
{
	static const char *const env_first[] = {
	        "audit",   "check",    "exec",     "export", "get",
	        "history", "import",   "incident", "list",   "rekey",
	        "rm",      "rollback", "set",      NULL};
	static const char *const secret_second[] = {
	        "get", "history", "rm", "rollback", "set", NULL};
	const char *const *p;

	if (c->subcommands[0] != NULL) {
		if (pos == 0) {
			offer_list(c->subcommands, cur);
		} else if (pos == 1 && ((strcmp(c->name, "env") == 0 &&
		                         (strcmp(words[0], "rm") == 0 ||
		                          strcmp(words[0], "allow") == 0)) ||
		                        (strcmp(c->name, "access") == 0 &&
		                         (strcmp(words[0], "list") == 0 ||
		                          strcmp(words[0], "grant") == 0 ||
		                          strcmp(words[0], "revoke") == 0)) ||
		                        strcmp(c->name, "trust") == 0)) {
			offer_from_vault(vault_opt, WORDS_ENVS, NULL, cur);
		} else if (pos == 2 && strcmp(c->name, "access") == 0 &&
		           strcmp(words[0], "revoke") == 0) {
			offer_from_vault(vault_opt, WORDS_LABELS, words[1],
			                 cur);
		}
		return;
	}
	for (p = env_first; *p != NULL; p++) {
		if (strcmp(*p, c->name) == 0 && pos == 0) {
			offer_from_vault(vault_opt, WORDS_ENVS, NULL, cur);
			return;
		}
	}
	for (p = secret_second; *p != NULL; p++) {
		if (strcmp(*p, c->name) == 0 && pos == 1) {
			offer_from_vault(vault_opt, WORDS_SECRETS, words[0],
			                 cur);
			return;
		}
	}
	if (strcmp(c->name, "help") == 0 && pos == 0) {
		size_t i;

		for (i = 0; i < envx_ncommands; i++) {
			if (!(envx_commands[i].flags & ENVX_CMD_HIDDEN)) {
				offer(envx_commands[i].name, cur);
			}
		}
	}
}

/*
 * `envx __complete WORD...`: the words typed so far after "envx"; prints
 * one candidate per line for the last word: commands, options (a command's
 * and the global ones), --format, --role and --charset values, subcommands,
 * environment names, secret names and recipient labels from the vault
 * (metadata only, no key).
 * Where a file or a value of the user's is expected it prints nothing, and the
 * shell completes file names.
 */
int
cmd_complete(int argc, char **argv, struct envx_ctx *ctx)
{
	static const char *const formats[] = {"dotenv", "json", "shell",
	                                      "github", NULL};
	static const char *const roles[] = {"read", "write", "admin", NULL};
	static const char *const charsets[] = {"alnum", "hex", "base64url",
	                                       "printable", NULL};
	const struct envx_command *c;
	const char *cur = argc > 1 ? argv[argc - 1] : "";
	const char *vault_opt = ctx->vault_opt;
	const char *want = getenv("ENVX_COMPLETE_DESCRIBE");
	char **words = NULL;
	size_t npos = 0;
	int i = 1;
	int k;

	describe = want != NULL && strcmp(want, "1") == 0;

	/* global options before the command */
	while (i < argc - 1 && argv[i][0] == '-') {
		if (takes_value(NULL, argv[i]) && i + 1 < argc - 1) {
			if (strcmp(argv[i], "--vault") == 0) {
				vault_opt = argv[i + 1];
			}
			i++;
		}
		i++;
	}
	if (i >= argc - 1) {
		if (i > 1 && takes_value(NULL, argv[i - 1]) &&
		    argv[i - 1][0] == '-') {
			return 0; /* a file name: the shell's */
		}
		if (cur[0] == '-') {
			offer_options(NULL, cur);
			return 0;
		}
		for (k = 0; (size_t)k < envx_ncommands; k++) {
			c = &envx_commands[k];
			if (!(c->flags & ENVX_CMD_HIDDEN)) {
				offer_desc(c->name, c->summary, cur);
			}
		}
		return 0;
	}
	c = envx_command_find(argv[i]);
	if (c == NULL || (c->flags & ENVX_CMD_HIDDEN)) {
		return 0;
	}
	if (argc - 2 > i && argv[argc - 2][0] == '-' &&
	    takes_value(c, argv[argc - 2])) {
		if (strcmp(argv[argc - 2], "--format") == 0) {
			offer_list(formats, cur);
		} else if (strcmp(argv[argc - 2], "--role") == 0) {
			offer_list(roles, cur);
		} else if (strcmp(argv[argc - 2], "--charset") == 0) {
			offer_list(charsets, cur);
		}
		return 0;
	}
	if (cur[0] == '-') {
		offer_options(c, cur);
		offer_options(NULL, cur);
		return 0;
	}
	words = calloc((size_t)argc, sizeof(*words));
	if (words == NULL) {
		return 0;
	}
	for (k = i + 1; k < argc - 1; k++) {
		if (strcmp(argv[k], "--") == 0) {
			free(words);
			return 0; /* the command to run: the shell's */
		}
		if (argv[k][0] == '-') {
			if (strcmp(argv[k], "--vault") == 0 &&
			    k + 1 < argc - 1) {
				vault_opt = argv[k + 1];
			}
			if (takes_value(c, argv[k])) {
				k++;
			}
			continue;
		}
		words[npos++] = argv[k];
	}
	offer_positional(c, words, npos, vault_opt, cur);
	free(words);
	return 0;
}
