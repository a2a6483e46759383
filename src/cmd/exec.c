/*
 * `envx exec ENV [options] -- CMD [ARG...]`: run CMD with the environment's
 * secrets added to its environment. Without --redact envx execs CMD in
 * place; with it envx stays the parent and filters CMD's output.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cmd/cmd.h"
#include "envx/exec.h"
#include "envx/redact.h"
#include "envx/template.h"
#include "util/banned.h"

extern char **environ;

enum { OPT_TEMPLATE = 1, OPT_ONLY, OPT_KEEP, OPT_REDACT, OPT_REFUSE };

static const struct envx_opt opts[] = {
        {"--template", 1, OPT_TEMPLATE},         {"--only", 1, OPT_ONLY},
        {"--keep-existing", 0, OPT_KEEP},        {"--redact", 0, OPT_REDACT},
        {"--refuse-compromised", 0, OPT_REFUSE}, {NULL, 0, 0}};

/*
 * Where the command starts: after "--", or else at the second word that is
 * not an option or an option's value (the first is ENV), so that
 * `envx exec local ls -la` works and -la stays ls's.
 */
static int
command_start(int argc, char **argv, bool *dashdash)
{
	int i;
	int words = 0;

	*dashdash = false;
	for (i = 1; i < argc; i++) {
		const struct envx_opt *o;

		if (strcmp(argv[i], "--") == 0) {
			*dashdash = true;
			return i;
		}
		if (argv[i][0] == '-' && argv[i][1] != '\0') {
			bool valued = envx_global_takes_value(argv[i]);

			for (o = opts; o->name != NULL && !valued; o++) {
				valued = strcmp(argv[i], o->name) == 0 &&
				         o->has_arg == 1;
			}
			/* skip the option's value, never a "--" */
			if (valued && i + 1 < argc &&
			    strcmp(argv[i + 1], "--") != 0) {
				i++;
			}
			continue;
		}
		if (++words == 2) {
			return i;
		}
	}
	return argc;
}

/* Keeps in out only the pairs of all named in names[0..n); missing ones are
 * reported and make the result 1. */
static int
select_names(const struct envx_kvset *all, char **names, size_t n,
             const char *env, struct envx_kvset *out)
{
	struct envx_error err;
	size_t i;
	size_t missing = 0;

	for (i = 0; i < n; i++) {
		ssize_t j = envx_kvset_bsearch(all, names[i]);
		size_t len;
		const unsigned char *v;

		if (j < 0) {
			envx_cli_warn("exec: '%s' is not set in %s", names[i],
			              env);
			missing++;
			continue;
		}
		v = envx_kvset_value(all, (size_t)j, &len);
		if (envx_kvset_add(out, names[i], strlen(names[i]), v, len, 0,
		                   &err) < 0) {
			return envx_cli_fail(&err);
		}
	}
	if (missing > 0) {
		return envx_cli_error(1,
		                      "exec: %zu required secret%s missing in "
		                      "%s; the command was not run",
		                      missing, missing == 1 ? " is" : "s are",
		                      env);
	}
	envx_kvset_sort(out);
	return 0;
}

/* Splits --only's comma list in place into names. */
static int
split_only(struct envx_ctx *ctx, char *list, char ***names, size_t *n)
{
	char *p;
	size_t cap = 1;

	for (p = list; *p != '\0'; p++) {
		cap += *p == ',';
	}
	*names = calloc(cap, sizeof(char *));
	if (*names == NULL) {
		return envx_cli_error(10, "out of memory");
	}
	*n = 0;
	for (p = list;;) {
		char *comma = strchr(p, ',');
		char *end;

		if (comma != NULL) {
			*comma = '\0';
		}
		while (*p == ' ' || *p == '\t') {
			p++;
		}
		end = p + strlen(p);
		while (end > p && (end[-1] == ' ' || end[-1] == '\t')) {
			*--end = '\0';
		}
		if (!envx_name_valid(p, strlen(p))) {
			struct envx_error err;

			/* the message stops where a value could start */
			envx_name_check(p, &err);
			return envx_cli_usage(ctx, "--only: %s", err.msg);
		}
		(*names)[(*n)++] = p;
		if (comma == NULL) {
			break;
		}
		p = comma + 1;
	}
	return 0;
}

int
cmd_exec(int argc, char **argv, struct envx_ctx *ctx)
{
	struct envx_optstate st = {0};
	struct envx_exec_env ee;
	struct envx_kvset all;
	struct envx_kvset chosen;
	struct envx_template *t = NULL;
	struct envx_env *e = NULL;
	struct envx_error err;
	const struct envx_kvset *inject = &all;
	const char *template_path = NULL;
	const char *const *allowed;
	size_t nallowed;
	char *only = NULL;
	char **names = NULL;
	size_t nnames = 0;
	unsigned flags = 0;
	bool redact = false;
	bool refuse_compromised = false;
	bool dashdash;
	char **cmd;
	const char *env;
	size_t i;
	int start;
	int status = 0;
	int o;

	envx_exec_env_init(&ee);
	/* the child's environment points at these sets' strings */
	envx_kvset_init_env(&all);
	envx_kvset_init_env(&chosen);
	start = command_start(argc, argv, &dashdash);
	st.argc = start;
	st.argv = argv;
	while ((o = envx_getopt(ctx, &st, opts)) > 0) {
		if (o == OPT_TEMPLATE) {
			template_path = st.arg;
		} else if (o == OPT_ONLY) {
			only = (char *)st.arg;
		} else if (o == OPT_KEEP) {
			flags |= ENVX_EXEC_KEEP_EXISTING;
		} else if (o == OPT_REFUSE) {
			refuse_compromised = true;
		} else {
			redact = true;
		}
	}
	if (o < 0) {
		status = o == -1 ? 0 : 2;
		goto done;
	}
	cmd = argv + start + (dashdash ? 1 : 0);
	if (st.npositional != 1 || *cmd == NULL) {
		status = envx_cli_usage(ctx, st.npositional == 0
		                                     ? "missing ENV"
		                                     : (st.npositional > 1
		                                                ? "too many "
		                                                  "arguments "
		                                                  "before the "
		                                                  "command"
		                                                : "missing the "
		                                                  "command to "
		                                                  "run"));
		goto done;
	}
	env = st.positional[0];
	if (only != NULL && template_path != NULL) {
		status = envx_cli_usage(ctx, "--only and --template cannot be "
		                             "used together");
		goto done;
	}
	if (only != NULL) {
		status = split_only(ctx, only, &names, &nnames);
		if (status != 0) {
			goto done;
		}
	}
	status = envx_cmd_vault(ctx);
	if (status != 0) {
		goto done;
	}
	if (envx_ctx_unlock_all(ctx, env, &e, &all, &err) < 0) {
		status = envx_cli_fail(&err);
		goto done;
	}
	if (template_path != NULL) {
		status = envx_check_gate(ctx, template_path, e, &all, &t);
		if (status != 0) {
			goto done;
		}
		/* inject only the template's names that are set */
		names = calloc(t->nvars ? t->nvars : 1, sizeof(char *));
		if (names == NULL) {
			status = envx_cli_error(10, "out of memory");
			goto done;
		}
		for (i = 0; i < t->nvars; i++) {
			if (envx_kvset_bsearch(&all, t->vars[i].name) >= 0) {
				names[nnames++] = t->vars[i].name;
			}
		}
	}
	if (names != NULL) {
		status = select_names(&all, names, nnames, env, &chosen);
		if (status != 0) {
			goto done;
		}
		inject = &chosen;
	}
	/* DESIGN §7: a compromised value still works until it is rotated,
	 * so run with it, but never silently */
	status = envx_compromised_gate(e, inject, refuse_compromised);
	if (status != 0) {
		goto done;
	}
	allowed = envx_env_allowed(e, &nallowed);
	if (envx_exec_env_build_allowing(&ee, environ, inject, env, flags,
	                                 allowed, nallowed, &err) < 0) {
		status = envx_cli_fail(&err);
		goto done;
	}
	for (i = 0; i < ee.nskipped; i++) {
		envx_cli_refused_skip("exec: not injecting", env,
		                      envx_kvset_name(inject, ee.skipped[i]));
	}
	/* --template promises every required name or nothing runs */
	for (i = 0; t != NULL && i < ee.nskipped; i++) {
		const char *name = envx_kvset_name(inject, ee.skipped[i]);
		size_t k;

		for (k = 0; k < t->nvars; k++) {
			if (t->vars[k].optional == ENVX_TEMPLATE_REQUIRED &&
			    strcmp(t->vars[k].name, name) == 0) {
				status = envx_cli_error(
				        1,
				        "exec: %s is required by '%s' but "
				        "not injected (see above): nothing "
				        "was run",
				        name, template_path);
				goto done;
			}
		}
	}
	/* an allowance lets code-running names through: say so each time,
	 * so a forged environment cannot do it silently */
	for (i = 0; i < inject->count; i++) {
		const char *name = envx_kvset_name(inject, i);
		size_t k;

		for (k = 0; k < nallowed; k++) {
			if (strcmp(name, allowed[k]) == 0) {
				envx_cli_warn("exec: injecting %s, a refused "
				              "name that %s allows",
				              name, env);
			}
		}
	}
	fflush(stdout);
	/* nothing more is read from the vault: close it so its descriptor
	 * cannot leak into the command and no lock is held while it runs */
	envx_env_free(e);
	e = NULL;
	envx_vault_close(ctx->vault);
	ctx->vault = NULL;
	if (redact) {
		/* every value of the env is redacted, injected or not */
		envx_cli_unredacted_notice("exec", &all);
		if (envx_exec_redacted(cmd, ee.envp, &all, &status, &err) < 0) {
			envx_cli_fail(&err);
		}
		goto done;
	}
	envx_exec_replace(cmd, ee.envp, &status, &err);
	envx_cli_fail(&err);
done:
	envx_exec_env_release(&ee);
	envx_kvset_release(&chosen);
	envx_kvset_release(&all);
	envx_template_free(t);
	envx_env_free(e);
	free(names);
	free(st.positional);
	return status;
}
