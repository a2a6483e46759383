/*
 * `envx rotation [ENV]`: every secret's rotation status (DESIGN §7), the CI
 * gate with --check; and `envx rotate ENV NAME`: write a new value as a
 * rotation, optionally after a hook (--run) has applied it to the real
 * system. The rules live in src/rotate; this file reads, runs and prints.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "cli/cli.h"
#include "cmd/cmd.h"
#include "envx/exec.h"
#include "envx/rotate.h"
#include "util/banned.h"

extern char **environ;

#define REASON_MAX_BYTES 512
/* The status of a hook stopped by --timeout, as timeout(1) returns. */
#define HOOK_TIMEOUT_STATUS 124

/* ---- envx rotation ---- */

struct report {
	int64_t at;
	int64_t due_within;
	size_t counts[ENVX_ROTATION_UNSCHEDULED + 1];
	size_t failing;    /* overdue or compromised, verified or not */
	size_t unverified; /* environments read without their key */
	char first_unverified[ENVX_ENV_NAME_MAX_BYTES + 1];
	bool json;
	size_t nenv; /* environments printed so far */
	bool header;
};

static void
print_secret_json(const struct report *rep, const struct envx_secret_info *s,
                  const struct envx_rotation *r, bool first)
{
	char when[32];

	printf("%s{\"name\": ", first ? "" : ", ");
	envx_json_print_string(stdout, s->name);
	envx_time_format(s->rotated_at, when, sizeof(when));
	printf(", \"status\": \"%s\", \"version\": %llu, "
	       "\"rotate_every_seconds\": %lld, \"rotated_at\": \"%s\", ",
	       envx_rotation_status_name(r->status),
	       (unsigned long long)s->version, (long long)s->rotate_every,
	       when);
	if (r->deadline != 0) {
		envx_time_format(r->deadline, when, sizeof(when));
		printf("\"deadline\": \"%s\", \"remaining_seconds\": %lld, ",
		       when, (long long)r->remaining);
	} else {
		printf("\"deadline\": null, \"remaining_seconds\": null, ");
	}
	printf("\"age_seconds\": %lld}", (long long)r->age);
	(void)rep;
}

static void
print_secret_row(const char *env, const struct envx_secret_info *s,
                 const struct envx_rotation *r, bool verified)
{
	char rotated[32];
	char deadline[32];
	char every[32];
	char age[32];

	envx_time_format(s->rotated_at, rotated, sizeof(rotated));
	if (r->deadline != 0) {
		envx_time_format(r->deadline, deadline, sizeof(deadline));
		envx_duration_format(s->rotate_every, every, sizeof(every));
	} else {
		snprintf(deadline, sizeof(deadline), "-");
		snprintf(every, sizeof(every), "-");
	}
	if (r->age >= 0) {
		envx_rotation_span_format(r->age, age, sizeof(age));
	} else {
		snprintf(age, sizeof(age), "-");
	}
	printf("%-16s %-32s %-11s %-6s %-20s  %-20s  %6s%s\n", env, s->name,
	       envx_rotation_status_name(r->status), every, rotated, deadline,
	       age, verified ? "" : "  unverified");
}

/* Reports one environment (e unlocked, or only opened: unverified). */
static int
report_env(struct report *rep, struct envx_env *e, bool verified)
{
	struct envx_secret_info *list = NULL;
	struct envx_error err;
	size_t n = 0;
	size_t i;

	if (envx_env_secrets(e, &list, &n, &err) < 0) {
		return envx_cli_fail(&err);
	}
	if (!verified) {
		rep->unverified++;
		if (rep->first_unverified[0] == '\0') {
			/* copied: e is freed before the summary */
			snprintf(rep->first_unverified,
			         sizeof(rep->first_unverified), "%s",
			         envx_env_name(e));
		}
	}
	if (rep->json) {
		printf("%s{\"env\": ", rep->nenv ? ", " : "");
		envx_json_print_string(stdout, envx_env_name(e));
		printf(", \"verified\": %s, \"secrets\": [",
		       verified ? "true" : "false");
	} else if (!rep->header && n > 0) {
		printf("%-16s %-32s %-11s %-6s %-20s  %-20s  %6s\n", "ENV",
		       "NAME", "STATUS", "EVERY", "ROTATED", "DEADLINE", "AGE");
		rep->header = true;
	}
	for (i = 0; i < n; i++) {
		struct envx_rotation r;

		envx_rotation_eval(list[i].rotate_every, list[i].rotated_at,
		                   list[i].state, rep->at, rep->due_within, &r);
		rep->counts[r.status]++;
		rep->failing += envx_rotation_failing(r.status);
		if (rep->json) {
			print_secret_json(rep, &list[i], &r, i == 0);
		} else {
			print_secret_row(envx_env_name(e), &list[i], &r,
			                 verified);
		}
	}
	if (rep->json) {
		printf("]}");
	}
	rep->nenv++;
	free(list);
	return 0;
}

/* Unlocks env when the identity can, else opens its metadata alone. */
static int
report_one(struct envx_ctx *ctx, struct report *rep, const char *env)
{
	struct envx_env *e = NULL;
	struct envx_error err;
	bool verified = true;
	int status;

	if (envx_ctx_unlock(ctx, env, &e, &err) < 0) {
		if (err.code != ENVX_E_LOCKED ||
		    envx_env_open(ctx->vault, env, &e, &err) < 0) {
			return envx_cli_fail(&err);
		}
		verified = false;
		envx_cli_warn("rotation: cannot unlock environment '%s': its "
		              "rotation metadata is unverified (only the "
		              "environment MAC, which needs the key, proves "
		              "nobody edited it)",
		              env);
	}
	status = report_env(rep, e, verified);
	envx_env_free(e);
	return status;
}

static void
print_summary_json(const struct report *rep)
{
	char at[32];
	int i;

	envx_time_format(rep->at, at, sizeof(at));
	printf("], \"counts\": {");
	for (i = 0; i <= ENVX_ROTATION_UNSCHEDULED; i++) {
		printf("%s\"%s\": %zu", i ? ", " : "",
		       envx_rotation_status_name(i), rep->counts[i]);
	}
	printf("}, \"failing\": %zu, \"verified\": %s, \"at\": \"%s\", "
	       "\"due_within_seconds\": %lld}\n",
	       rep->failing, rep->unverified == 0 ? "true" : "false", at,
	       (long long)rep->due_within);
}

enum { OPT_CHECK = 1, OPT_AT, OPT_DUE_WITHIN };

int
cmd_rotation(int argc, char **argv, struct envx_ctx *ctx)
{
	static const struct envx_opt opts[] = {
	        {"--check", 0, OPT_CHECK},
	        {"--at", 1, OPT_AT},
	        {"--due-within", 1, OPT_DUE_WITHIN},
	        {NULL, 0, 0}};
	struct envx_optstate st = {.argc = argc, .argv = argv};
	struct report rep = {.due_within = ENVX_ROTATION_DUE_WITHIN_DEFAULT};
	struct envx_env_info *envs = NULL;
	struct envx_error err;
	size_t nenvs = 0;
	size_t i;
	bool check = false;
	bool at_given = false;
	int status = 0;
	int o;

	while ((o = envx_getopt(ctx, &st, opts)) > 0) {
		if (o == OPT_CHECK) {
			check = true;
		} else if (o == OPT_AT) {
			at_given = true;
			if (envx_rotation_date_parse(st.arg, &rep.at, &err) <
			    0) {
				status = envx_cli_usage(ctx, "--at: %s",
				                        err.msg);
				goto done;
			}
		} else if (envx_duration_parse(st.arg, &rep.due_within, &err) <
		           0) {
			status = envx_cli_usage(ctx, "--due-within: %s",
			                        err.msg);
			goto done;
		}
	}
	if (o < 0) {
		status = o == -1 ? 0 : 2;
		goto done;
	}
	if (st.npositional > 1) {
		status = envx_cli_usage(ctx, "too many arguments");
		goto done;
	}
	if (!at_given) {
		rep.at = envx_now();
	}
	rep.json = ctx->json;
	status = envx_cmd_vault(ctx);
	if (status != 0) {
		goto done;
	}
	if (rep.json) {
		printf("{\"environments\": [");
	}
	if (st.npositional == 1) {
		status = report_one(ctx, &rep, st.positional[0]);
	} else if (envx_vault_env_list(ctx->vault, &envs, &nenvs, &err) < 0) {
		status = envx_cli_fail(&err);
	}
	for (i = 0; status == 0 && i < nenvs; i++) {
		status = report_one(ctx, &rep, envs[i].name);
	}
	if (status != 0) {
		/* the JSON document is left unfinished: the exit status and
		 * stderr say why */
		goto done;
	}
	if (rep.json) {
		print_summary_json(&rep);
	}
	if (!check) {
		goto done;
	}
	if (rep.failing > 0) {
		/* what the metadata shows already fails the gate, verified or
		 * not: no key could make it pass */
		status = envx_cli_error(1,
		                        "rotation: %zu secret%s overdue or "
		                        "compromised",
		                        rep.failing,
		                        rep.failing == 1 ? " is" : "s are");
	} else if (rep.unverified > 0) {
		status = envx_cli_error(
		        3,
		        "rotation: cannot vouch for %zu environment%s ('%s' "
		        "first) this identity cannot unlock: the check did not "
		        "pass; run it with an identity that opens %s, or name "
		        "the environment to check",
		        rep.unverified, rep.unverified == 1 ? "" : "s",
		        rep.first_unverified,
		        rep.unverified == 1 ? "it" : "them");
	}
done:
	free(envs);
	free(st.positional);
	return status;
}

/* ---- compromised secrets at exec ---- */

int
envx_compromised_gate(struct envx_env *e, const struct envx_kvset *inject,
                      bool refuse)
{
	char **list = NULL;
	struct envx_error err;
	struct envx_buf names;
	size_t n = 0;
	size_t found = 0;
	size_t i;
	int status = 0;

	envx_buf_init(&names, 64 * 1024);
	if (envx_env_compromised(e, &list, &n, &err) < 0) {
		status = envx_cli_fail(&err);
		goto out;
	}
	for (i = 0; i < n; i++) {
		if (envx_kvset_find(inject, list[i]) < 0) {
			continue;
		}
		/* names only: a long list is cut, never a value */
		(void)envx_buf_appendf(&names, NULL, "%s%s", found ? ", " : "",
		                       list[i]);
		found++;
	}
	if (found == 0) {
		goto out;
	}
	envx_cli_warn("exec: %zu compromised secret%s in %s: %s (rotate %s: "
	              "envx rotate %s NAME)",
	              found, found == 1 ? "" : "s", envx_env_name(e),
	              names.data, found == 1 ? "it" : "them", envx_env_name(e));
	if (refuse) {
		status = envx_cli_error(1, "exec: --refuse-compromised: the "
		                           "command was not run");
	}
out:
	envx_buf_release(&names);
	envx_strv_free(list, n);
	return status;
}

/* ---- envx rotate ---- */

enum { OPT_RUN = 1, OPT_TIMEOUT, OPT_REASON };

struct rotate_args {
	struct envx_value_src src;
	const char *run;
	const char *reason;
	const char *timeout_text;
	int64_t timeout_ms;
};

static int
parse_rotate(struct envx_ctx *ctx, struct envx_optstate *st,
             struct rotate_args *a)
{
	static const struct envx_opt opts[] = {{"--run", 1, OPT_RUN},
	                                       {"--timeout", 1, OPT_TIMEOUT},
	                                       {"--reason", 1, OPT_REASON},
	                                       ENVX_VALUE_OPTS,
	                                       {NULL, 0, 0}};
	struct envx_error err;
	int o;

	while ((o = envx_getopt(ctx, st, opts)) > 0) {
		if (o == OPT_RUN) {
			a->run = st->arg;
		} else if (o == OPT_TIMEOUT) {
			a->timeout_text = st->arg;
			if (envx_timeout_parse(st->arg, &a->timeout_ms, &err) <
			    0) {
				return envx_cli_usage(ctx, "--timeout: %s",
				                      err.msg);
			}
		} else if (o == OPT_REASON) {
			a->reason = st->arg;
		} else if (envx_value_option(ctx, o, st->arg, &a->src) == 2) {
			return 2;
		}
	}
	if (o < 0) {
		return o == -1 ? -1 : 2;
	}
	if (a->timeout_text != NULL && a->run == NULL) {
		return envx_cli_usage(ctx, "--timeout needs --run");
	}
	if (a->run != NULL && a->run[0] == '\0') {
		return envx_cli_usage(ctx, "--run needs a command");
	}
	if (a->reason != NULL) {
		if (strlen(a->reason) > REASON_MAX_BYTES) {
			return envx_cli_error(
			        7, "--reason is longer than %d bytes",
			        REASON_MAX_BYTES);
		}
		if (!envx_text_plain(a->reason)) {
			return envx_cli_error(7, "--reason must be UTF-8 "
			                         "without control characters");
		}
	}
	return 0;
}

/*
 * Runs the hook: /bin/sh -c CMD with ENVX_NEW_VALUE, ENVX_OLD_VALUE,
 * ENVX_ENV and ENVX_NAME added to envx's environment (never on argv), its
 * output redacted over every value of the environment and both values.
 * Returns 0 when it exited 0, else its status (124 on --timeout) after
 * saying that nothing was recorded.
 */
static int
run_hook(const struct rotate_args *a, const char *env, const char *name,
         const struct envx_kvset *all, const struct envx_secbuf *old_value,
         const struct envx_secbuf *new_value)
{
	char *argv[] = {(char *)"/bin/sh", (char *)"-c", (char *)a->run, NULL};
	struct envx_run_opts ro = {.own_group = true,
	                           .null_stdin = true,
	                           .timeout_ms = a->timeout_ms};
	struct envx_exec_env ee;
	struct envx_kvset vars;
	struct envx_kvset redact;
	struct envx_error err;
	size_t i;
	size_t len;
	int status = 0;

	envx_exec_env_init(&ee);
	envx_kvset_init(&vars);
	envx_kvset_init(&redact);
	/* the hook's own names first: a value shown in its output is
	 * labelled by the role it plays there */
	if (envx_kvset_add(&vars, "ENVX_NAME", 9, name, strlen(name), 0, &err) <
	            0 ||
	    envx_kvset_add(&vars, "ENVX_NEW_VALUE", 14, new_value->data,
	                   new_value->len, 0, &err) < 0 ||
	    envx_kvset_add(&vars, "ENVX_OLD_VALUE", 14, old_value->data,
	                   old_value->len, 0, &err) < 0 ||
	    envx_kvset_add(&redact, "ENVX_NEW_VALUE", 14, new_value->data,
	                   new_value->len, 0, &err) < 0 ||
	    envx_kvset_add(&redact, "ENVX_OLD_VALUE", 14, old_value->data,
	                   old_value->len, 0, &err) < 0) {
		status = envx_cli_fail(&err);
		goto out;
	}
	for (i = 0; i < all->count; i++) {
		const unsigned char *v = envx_kvset_value(all, i, &len);
		const char *n = envx_kvset_name(all, i);

		if (envx_kvset_add(&redact, n, strlen(n), v, len, 0, &err) <
		    0) {
			status = envx_cli_fail(&err);
			goto out;
		}
	}
	if (envx_exec_env_build(&ee, environ, &vars, env, 0, &err) < 0) {
		status = envx_cli_fail(&err);
		goto out;
	}
	envx_cli_unredacted_notice("rotate --run", &redact);
	fflush(stdout);
	if (envx_exec_redacted_opts(argv, ee.envp, &redact, &ro, &status,
	                            &err) < 0) {
		envx_cli_fail(&err);
		if (status == 0) {
			status = envx_error_exit_status(err.code);
		}
	}
	if (ro.timed_out) {
		envx_cli_warn("rotate: the hook did not finish within %s and "
		              "was stopped (SIGTERM to its process group, "
		              "SIGKILL 5s later if still running): nothing "
		              "was recorded, %s in %s is unchanged",
		              a->timeout_text, name, env);
		status = HOOK_TIMEOUT_STATUS;
	} else if (status > 128) {
		envx_cli_warn("rotate: the hook was killed by signal %d: "
		              "nothing was recorded, %s in %s is unchanged",
		              status - 128, name, env);
	} else if (status != 0) {
		envx_cli_warn("rotate: the hook exited with status %d: nothing "
		              "was recorded, %s in %s is unchanged",
		              status, name, env);
	}
out:
	envx_exec_env_release(&ee);
	envx_kvset_release(&vars);
	envx_kvset_release(&redact);
	return status;
}

/* The current version of name in e (0 when it has none). */
static uint64_t
current_version(struct envx_env *e, const char *name, struct envx_error *err)
{
	struct envx_secret_info *list = NULL;
	uint64_t version = 0;
	size_t n = 0;
	size_t i;

	if (envx_env_secrets(e, &list, &n, err) < 0) {
		return 0;
	}
	for (i = 0; i < n; i++) {
		if (strcmp(list[i].name, name) == 0) {
			version = list[i].version;
		}
	}
	free(list);
	if (version == 0) {
		envx_error_set(err, ENVX_E_NOTFOUND,
		               "no secret '%s' in environment '%s' (rotate "
		               "replaces an existing secret: create it with "
		               "envx set)",
		               name, envx_env_name(e));
	}
	return version;
}

int
cmd_rotate(int argc, char **argv, struct envx_ctx *ctx)
{
	struct envx_optstate st = {.argc = argc, .argv = argv};
	struct rotate_args a = {.src = {0}};
	struct envx_set_opts so = {.kind = "rotate"};
	struct envx_secbuf old_value = {0};
	struct envx_secbuf value = {0};
	struct envx_kvset all;
	struct envx_env *e = NULL;
	struct envx_error err;
	char detail[REASON_MAX_BYTES + 64];
	const char *env;
	const char *name;
	uint64_t version = 0;
	int status;

	envx_kvset_init(&all);
	status = parse_rotate(ctx, &st, &a);
	if (status != 0) {
		status = status < 0 ? 0 : status;
		goto done;
	}
	status = envx_value_args(ctx, &a.src, &st, &env, &name);
	if (status != 0) {
		goto done;
	}
	/* the version first, then that very version's value: the hook and
	 * the write below act on the same old value */
	if (envx_ctx_unlock_all(ctx, env, &e, &all, &err) < 0 ||
	    envx_env_name_permitted(e, name, &err) < 0) {
		status = envx_cli_fail(&err);
		goto done;
	}
	so.expect_version = current_version(e, name, &err);
	if (so.expect_version == 0 ||
	    envx_env_get_version(e, name, so.expect_version, &old_value, &err) <
	            0) {
		status = envx_cli_fail(&err);
		goto done;
	}
	so.expect_value = &old_value;
	status = envx_value_read("rotate", env, name, &a.src, &value);
	if (status != 0) {
		goto done;
	}
	if (value.len == old_value.len &&
	    (value.len == 0 ||
	     sodium_memcmp(value.data, old_value.data, value.len) == 0)) {
		status = envx_cli_error(7,
		                        "the new value of %s in %s is the "
		                        "current one: a rotation needs a new "
		                        "value",
		                        name, env);
		goto done;
	}
	if (a.run != NULL) {
		/* no transaction is open while the hook runs: other writers
		 * are not held up, and expect_version catches one that
		 * changed this secret meanwhile */
		status = run_hook(&a, env, name, &all, &old_value, &value);
		if (status != 0) {
			goto done;
		}
	}
	snprintf(detail, sizeof(detail), "%s%s%s%s",
	         a.src.generate ? "; generated" : "",
	         a.run != NULL ? "; hook" : "",
	         a.reason != NULL ? "; reason: " : "",
	         a.reason != NULL ? a.reason : "");
	if (envx_vault_begin(ctx->vault, &err) < 0 ||
	    envx_env_set(e, name, value.data, value.len, &so, &version, &err) <
	            0 ||
	    envx_cli_audit_version(ctx, "rotate", env, name, "rotate", version,
	                           detail, &err) < 0 ||
	    envx_vault_commit(ctx->vault, &err) < 0) {
		envx_vault_rollback(ctx->vault);
		status = envx_cli_fail(&err);
		if (a.run != NULL) {
			envx_cli_warn("rotate: the hook applied the new value "
			              "of %s, but it was not recorded: the "
			              "system may now use a value the vault "
			              "does not have; run envx rotate %s %s "
			              "again",
			              name, env, name);
		}
		goto done;
	}
	envx_cli_note(ctx, "rotated %s in %s (version %llu)", name, env,
	              (unsigned long long)version);
	envx_cli_exec_fit_warn(env, name, value.len);
done:
	envx_secbuf_release(&value);
	envx_secbuf_release(&old_value);
	envx_kvset_release(&all);
	envx_env_free(e);
	free(st.positional);
	return status;
}
