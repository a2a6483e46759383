/*
 * `envx incident ENV --reason TEXT [--revoke LABEL]...`: in one signed
 * transaction, mark every secret of ENV compromised, revoke the named
 * recipients, rekey, and record one audit event; then print the rotation
 * checklist.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cmd/cmd.h"
#include "util/banned.h"

#define REASON_MAX_BYTES 512

enum { OPT_REASON = 1, OPT_REVOKE };

/* Whether `rotate --generate` can replace the value: "yes" when envx
 * generated the current one (nobody else issued it), "no" when it has
 * the shape of a credential issued elsewhere (a URL with a password),
 * "maybe" otherwise. */
static const char *
generate_verdict(const char *kind, const unsigned char *value, size_t len)
{
	const unsigned char *at;
	const unsigned char *scheme;

	if (strcmp(kind, "generate") == 0) {
		return "yes";
	}
	scheme = value != NULL && len > 3
	                 ? (const unsigned char *)memmem(value, len, "://", 3)
	                 : NULL;
	at = value != NULL ? memchr(value, '@', len) : NULL;
	if (scheme != NULL && at != NULL && at > scheme &&
	    memchr(scheme + 3, ':', (size_t)(at - scheme - 3)) != NULL) {
		return "no";
	}
	return "maybe";
}

struct check_row {
	const struct envx_secret_info *s;
	const char *generate;
	size_t length;
};

static void
print_checklist(struct envx_ctx *ctx, const char *env, const char *reason,
                const char *const *revoked, size_t nrevoked,
                const struct envx_rekey_stats *stats,
                const struct check_row *rows, size_t n)
{
	char safe[4 * REASON_MAX_BYTES + 1];
	char who[4 * sizeof(rows->s->updated_by) + 1];
	char name[ENVX_NAME_MAX_BYTES + 1];
	char age[32];
	char every[32];
	char when[32];
	int64_t now = envx_now();
	size_t i;

	if (ctx->json) {
		printf("{\"env\": ");
		envx_json_print_string(stdout, env);
		printf(", \"reason\": ");
		envx_json_print_string(stdout, reason);
		printf(", \"revoked\": [");
		for (i = 0; i < nrevoked; i++) {
			printf("%s", i ? ", " : "");
			envx_json_print_string(stdout, revoked[i]);
		}
		printf("], \"versions_reencrypted\": %zu, \"recipients\": %zu, "
		       "\"checklist\": [",
		       stats->versions, stats->recipients);
		for (i = 0; i < n; i++) {
			envx_time_format(rows[i].s->rotated_at, when,
			                 sizeof(when));
			printf("%s{\"name\": ", i ? ", " : "");
			envx_json_print_string(stdout, rows[i].s->name);
			printf(", \"rotated_at\": \"%s\", \"age_seconds\": %lld, "
			       "\"rotate_every_seconds\": %lld, \"set_by\": ",
			       when, (long long)(now - rows[i].s->rotated_at),
			       (long long)rows[i].s->rotate_every);
			envx_json_print_string(stdout, rows[i].s->updated_by);
			printf(", \"generate\": \"%s\", \"length\": %zu}",
			       rows[i].generate, rows[i].length);
		}
		printf("]}\n");
		return;
	}
	printf("incident recorded for '%s': %s\n", env,
	       envx_safe_text(reason, safe, sizeof(safe)));
	printf("%zu secrets marked compromised; ", n);
	if (nrevoked > 0) {
		printf("revoked:");
		for (i = 0; i < nrevoked; i++) {
			printf(" %s",
			       envx_safe_text(revoked[i], safe, sizeof(safe)));
		}
		printf("; ");
	}
	printf("rekeyed (%zu versions re-encrypted, key wrapped for %zu "
	       "recipients)\n",
	       stats->versions, stats->recipients);
	if (n == 0) {
		printf("nothing to rotate\n");
		return;
	}
	printf("\nrotate every one of these ('envx rotation %s --check' fails "
	       "until each has a new value):\n",
	       env);
	printf("%-32s  %8s  %8s  %-8s  %s\n", "NAME", "AGE", "SCHEDULE",
	       "GENERATE", "LAST SET BY");
	for (i = 0; i < n; i++) {
		const struct envx_secret_info *s = rows[i].s;
		int64_t a = now - s->rotated_at;

		envx_duration_format(a > 0 ? a : 0, age, sizeof(age));
		if (s->rotate_every > 0) {
			envx_duration_format(s->rotate_every, every,
			                     sizeof(every));
		} else {
			snprintf(every, sizeof(every), "-");
		}
		printf("%-32s  %8s  %8s  %-8s  %s\n",
		       envx_safe_text(s->name, name, sizeof(name)), age, every,
		       rows[i].generate,
		       envx_safe_text(s->updated_by, who, sizeof(who)));
	}
	printf("\nGENERATE yes: envx made the value; 'envx rotate %s NAME "
	       "--generate' replaces it. no: a credential with a password "
	       "issued elsewhere; change it there first, with 'envx rotate "
	       "%s NAME --run CMD'. maybe: yes, unless something outside envx "
	       "issued it.\n",
	       env, env);
}

/* The checklist rows: each secret, its current kind and value shape. */
static int
build_rows(struct envx_env *e, const struct envx_kvset *values,
           const struct envx_secret_info *list, size_t n,
           struct check_row **out, struct envx_error *err)
{
	struct check_row *rows = calloc(n ? n : 1, sizeof(*rows));
	size_t i;

	if (rows == NULL) {
		return envx_error_set(err, ENVX_E_INTERNAL, "out of memory");
	}
	for (i = 0; i < n; i++) {
		struct envx_version_info *h = NULL;
		const unsigned char *value = NULL;
		ssize_t at = envx_kvset_bsearch(values, list[i].name);
		size_t nh = 0;
		size_t len = 0;

		if (envx_env_history(e, list[i].name, &h, &nh, err) < 0) {
			free(rows);
			return err->code;
		}
		if (at >= 0) {
			value = envx_kvset_value(values, (size_t)at, &len);
		}
		rows[i].s = &list[i];
		rows[i].length = len;
		rows[i].generate = generate_verdict(
		        nh > 0 ? h[nh - 1].kind : "", value, len);
		free(h);
	}
	*out = rows;
	return 0;
}

int
cmd_incident(int argc, char **argv, struct envx_ctx *ctx)
{
	static const struct envx_opt opts[] = {{"--reason", 1, OPT_REASON},
	                                       {"--revoke", 1, OPT_REVOKE},
	                                       {NULL, 0, 0}};
	struct envx_optstate st = {.argc = argc, .argv = argv};
	struct envx_rekey_stats stats = {0};
	struct envx_kvset values;
	struct envx_secret_info *list = NULL;
	struct check_row *rows = NULL;
	struct envx_env *e = NULL;
	struct envx_error err;
	const char **revoke = NULL;
	size_t nrevoke = 0;
	const char *reason = NULL;
	const char *env;
	char detail[REASON_MAX_BYTES + 256];
	size_t n = 0;
	size_t used;
	size_t i;
	int status = 0;
	int o;

	envx_kvset_init(&values);
	revoke = calloc((size_t)argc + 1, sizeof(*revoke));
	if (revoke == NULL) {
		return envx_cli_error(1, "out of memory");
	}
	while ((o = envx_getopt(ctx, &st, opts)) > 0) {
		if (o == OPT_REASON) {
			reason = st.arg;
		} else {
			revoke[nrevoke++] = st.arg;
		}
	}
	if (o < 0) {
		status = o == -1 ? 0 : 2;
		goto done;
	}
	if (st.npositional != 1) {
		status =
		        envx_cli_usage(ctx, "usage: envx incident ENV --reason "
		                            "TEXT [--revoke LABEL]...");
		goto done;
	}
	env = st.positional[0];
	if (reason == NULL || reason[0] == '\0') {
		status = envx_cli_usage(ctx, "missing --reason TEXT (what "
		                             "happened: it goes into the audit "
		                             "log)");
		goto done;
	}
	if (!envx_text_plain(reason) || strlen(reason) > REASON_MAX_BYTES) {
		status = envx_cli_error(7,
		                        "invalid --reason: one line of at most "
		                        "%d bytes of UTF-8, without control "
		                        "characters",
		                        REASON_MAX_BYTES);
		goto done;
	}
	nrevoke = envx_strv_unique(revoke, nrevoke);
	used = (size_t)snprintf(detail, sizeof(detail), "%s", reason);
	if (envx_ctx_open_vault(ctx, true, &err) < 0 ||
	    envx_ctx_unlock_all(ctx, env, &e, &values, &err) < 0 ||
	    envx_vault_begin(ctx->vault, &err) < 0 ||
	    envx_env_mark_compromised(e, NULL, &err) < 0 ||
	    envx_env_rekey(e, revoke, nrevoke, envx_ctx_env_passphrase, ctx,
	                   &stats, &err) < 0) {
		goto fail;
	}
	for (i = 0; i < nrevoke && used < sizeof(detail); i++) {
		used += (size_t)snprintf(detail + used, sizeof(detail) - used,
		                         "%s%s", i ? "," : "; revoked ",
		                         revoke[i]);
	}
	if (used < sizeof(detail)) {
		snprintf(detail + used, sizeof(detail) - used,
		         "; %zu secrets compromised; rekeyed", values.count);
	}
	if (envx_vault_audit(ctx->vault, "incident", env, "", detail, &err) <
	            0 ||
	    envx_vault_commit(ctx->vault, &err) < 0) {
		goto fail;
	}
	if (envx_env_secrets(e, &list, &n, &err) < 0 ||
	    build_rows(e, &values, list, n, &rows, &err) < 0) {
		status = envx_cli_fail(&err);
		goto done;
	}
	print_checklist(ctx, env, reason, revoke, nrevoke, &stats, rows, n);
	goto done;
fail:
	envx_vault_rollback(ctx->vault);
	status = envx_cli_fail(&err);
done:
	free(rows);
	free(list);
	envx_kvset_release(&values);
	envx_env_free(e);
	free(revoke);
	free(st.positional);
	return status;
}
