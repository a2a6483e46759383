/*
 * `envx audit [ENV] [--since DATE] [--name NAME] [--verify]`: the audit
 * log's events, or with --verify a check of its whole hash chain (VF-5.1).
 * It needs no key (the log is metadata) and opens the vault read-only, so
 * it works on a vault other commands refuse. A listing verifies the chain
 * too, and marks the events from the first bad one on as unverified.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cmd/cmd.h"
#include "util/banned.h"

#define HASH_HEX_BYTES (2 * 32 + 1)

static void
hash_hex(const unsigned char h[32], char out[HASH_HEX_BYTES])
{
	static const char digits[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < 32; i++) {
		out[2 * i] = digits[h[i] >> 4];
		out[2 * i + 1] = digits[h[i] & 0xf];
	}
	out[64] = '\0';
}

/* The chain's verdict as the members of a JSON object, without braces. */
static void
print_chain_json(const struct envx_audit_chain *c, int r,
                 const struct envx_error *err)
{
	char hex[HASH_HEX_BYTES];

	hash_hex(c->last_hash, hex);
	printf("\"intact\": %s, \"count\": %lld, \"verified\": %lld, ",
	       r == 0 ? "true" : "false", (long long)c->count,
	       (long long)c->intact);
	if (r == 0) {
		printf("\"last_hash\": \"%s\", \"first_bad\": null, "
		       "\"error\": null",
		       hex);
	} else {
		printf("\"last_hash\": null, \"first_bad\": %lld, \"error\": ",
		       (long long)c->intact + 1);
		envx_json_print_string(stdout, err->msg);
	}
}

static void
print_events_json(const struct envx_audit_event *ev, size_t n,
                  const struct envx_audit_chain *c)
{
	char when[32];
	char hex[HASH_HEX_BYTES];
	size_t i;

	printf(", \"events\": [");
	for (i = 0; i < n; i++) {
		envx_time_format(ev[i].at, when, sizeof(when));
		hash_hex(ev[i].hash, hex);
		printf("%s{\"seq\": %lld, \"at\": \"%s\", \"actor\": ",
		       i ? ", " : "", (long long)ev[i].seq, when);
		envx_json_print_string(stdout, ev[i].actor);
		printf(", \"action\": ");
		envx_json_print_string(stdout, ev[i].action);
		printf(", \"env\": ");
		envx_json_print_string(stdout, ev[i].env);
		printf(", \"name\": ");
		envx_json_print_string(stdout, ev[i].name);
		printf(", \"detail\": ");
		envx_json_print_string(stdout, ev[i].detail);
		printf(", \"hash\": \"%s\", \"verified\": %s}", hex,
		       ev[i].seq <= c->intact ? "true" : "false");
	}
	printf("]");
}

static void
print_events_table(const struct envx_audit_event *ev, size_t n,
                   const struct envx_audit_chain *c)
{
	char when[32];
	char actor[4 * 128 + 1];
	char action[4 * 32 + 1];
	char env[4 * 64 + 1];
	char name[4 * 255 + 1];
	char detail[4 * 512 + 1];
	size_t i;

	if (n == 0) {
		return;
	}
	printf("%5s  %-20s  %-30s  %-12s  %-12s  %-24s  %s\n", "SEQ", "TIME",
	       "ACTOR", "ACTION", "ENV", "NAME", "DETAIL");
	for (i = 0; i < n; i++) {
		envx_time_format(ev[i].at, when, sizeof(when));
		printf("%5lld  %-20s  %-30s  %-12s  %-12s  %-24s  %s%s\n",
		       (long long)ev[i].seq, when,
		       envx_safe_text(ev[i].actor, actor, sizeof(actor)),
		       envx_safe_text(ev[i].action, action, sizeof(action)),
		       *ev[i].env != '\0'
		               ? envx_safe_text(ev[i].env, env, sizeof(env))
		               : "-",
		       *ev[i].name != '\0'
		               ? envx_safe_text(ev[i].name, name, sizeof(name))
		               : "-",
		       ev[i].seq <= c->intact ? "" : "[unverified] ",
		       envx_safe_text(ev[i].detail, detail, sizeof(detail)));
	}
}

/* Checks the filters; 0, or the exit status (printed). */
static int
check_filters(struct envx_ctx *ctx, const struct envx_audit_filter *f,
              const char *since)
{
	struct envx_error err;

	if (since != NULL && !f->has_since) {
		return envx_cli_usage(
		        ctx,
		        "invalid date '%.32s' for --since: use "
		        "YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ (UTC)",
		        since);
	}
	/* a removed environment may have events: only the syntax counts */
	if (f->env != NULL && !envx_env_name_valid(f->env)) {
		return envx_cli_error(7,
		                      "invalid environment name '%.64s': use "
		                      "lowercase letters, digits, '.', '_' "
		                      "and '-'",
		                      f->env);
	}
	if (f->name != NULL && envx_name_check(f->name, &err) < 0) {
		return envx_cli_fail(&err);
	}
	return 0;
}

int
cmd_audit(int argc, char **argv, struct envx_ctx *ctx)
{
	enum { OPT_SINCE = 1, OPT_NAME, OPT_VERIFY };
	static const struct envx_opt opts[] = {{"--since", 1, OPT_SINCE},
	                                       {"--name", 1, OPT_NAME},
	                                       {"--verify", 0, OPT_VERIFY},
	                                       {NULL, 0, 0}};
	struct envx_optstate st = {.argc = argc, .argv = argv};
	struct envx_audit_filter filter = {0};
	struct envx_audit_chain chain = {0};
	struct envx_audit_event *ev = NULL;
	struct envx_error err;
	struct envx_error lerr;
	const char *since = NULL;
	char hex[HASH_HEX_BYTES];
	bool verify = false;
	size_t n = 0;
	int status = 0;
	int r;
	int o;

	while ((o = envx_getopt(ctx, &st, opts)) > 0) {
		if (o == OPT_SINCE) {
			since = st.arg;
			filter.has_since =
			        envx_date_parse(since, &filter.since) == 0;
		} else if (o == OPT_NAME) {
			filter.name = st.arg;
		} else {
			verify = true;
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
	filter.env = st.npositional == 1 ? st.positional[0] : NULL;
	status = check_filters(ctx, &filter, since);
	if (status == 0) {
		status = envx_cmd_vault(ctx);
	}
	if (status != 0) {
		goto done;
	}
	if (envx_vault_schema_version(ctx->vault) < 2) {
		envx_cli_note(ctx,
		              "vault format %d keeps no audit log ('envx "
		              "upgrade' starts one)",
		              envx_vault_schema_version(ctx->vault));
	}
	/* VF-5.1: the whole chain, whatever the filters */
	r = envx_vault_audit_verify(ctx->vault, &chain, &err);
	if (r < 0 && r != ENVX_E_INTEGRITY) {
		status = envx_cli_fail(&err);
		goto done;
	}
	if (!verify &&
	    envx_vault_audit_events(ctx->vault, &filter, &ev, &n, &lerr) < 0) {
		status = envx_cli_fail(&lerr);
		goto done;
	}
	if (verify && (filter.env != NULL || filter.name != NULL || since)) {
		envx_cli_note(ctx, "--verify checks every event of the log: "
		                   "ENV, --name and --since select none");
	}
	if (ctx->json) {
		printf("{");
		print_chain_json(&chain, r, &err);
		if (!verify) {
			print_events_json(ev, n, &chain);
		}
		printf("}\n");
	} else if (!verify) {
		print_events_table(ev, n, &chain);
	}
	hash_hex(chain.last_hash, hex);
	if (r < 0) {
		envx_error_append(&err, " (events from %lld on are unverified)",
		                  (long long)chain.intact + 1);
		status = envx_cli_fail(&err);
	} else if (verify && !ctx->json) {
		printf("audit log intact: %lld event%s, last hash %s\n",
		       (long long)chain.count, chain.count == 1 ? "" : "s",
		       hex);
	} else if (!ctx->json) {
		envx_cli_note(ctx,
		              "audit log intact: %lld event%s, last hash %s",
		              (long long)chain.count,
		              chain.count == 1 ? "" : "s", hex);
	}
done:
	envx_audit_events_free(ev, n);
	free(st.positional);
	return status;
}
