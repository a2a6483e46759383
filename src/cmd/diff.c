/*
 * `envx diff FILE`: the vault as stable, sorted, line-oriented text for
 * git's textconv (`[diff "envx"] textconv = envx diff`): environments,
 * recipients, secrets with their versions and schedules, compromised
 * marks, and audit events. Metadata only: never a value or a ciphertext,
 * no key, no prompt, nothing written.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cmd/cmd.h"
#include "util/banned.h"

#define SAFE_BYTES 1100

static void
print_access(struct envx_env *e)
{
	struct envx_access_info *list = NULL;
	struct envx_error err;
	char label[SAFE_BYTES];
	char by[SAFE_BYTES];
	char when[32];
	size_t n = 0;
	size_t i;

	if (envx_env_access(e, &list, &n, &err) < 0) {
		printf("  recipients unreadable: %s\n",
		       envx_safe_text(err.msg, label, sizeof(label)));
		return;
	}
	for (i = 0; i < n; i++) {
		const struct envx_access_info *a = &list[i];

		envx_time_format(a->granted_at != 0 ? a->granted_at
		                                    : a->created_at,
		                 when, sizeof(when));
		printf("  recipient %s %s %s %s %s by %s\n",
		       envx_safe_text(a->label, label, sizeof(label)),
		       envx_role_name(a->role), a->kind,
		       a->fingerprint[0] != '\0' ? a->fingerprint : "-", when,
		       a->granted_by[0] != '\0'
		               ? envx_safe_text(a->granted_by, by, sizeof(by))
		               : "-");
	}
	free(list);
}

static void
print_secret(struct envx_env *e, const struct envx_secret_info *s)
{
	struct envx_version_info *vers = NULL;
	struct envx_error err;
	char text[SAFE_BYTES * 4];
	char every[32];
	char when[32];
	size_t n = 0;
	size_t i;

	if (s->rotate_every > 0) {
		envx_duration_format(s->rotate_every, every, sizeof(every));
	} else {
		snprintf(every, sizeof(every), "unscheduled");
	}
	printf("  secret %s v%llu rotate %s%s\n", s->name,
	       (unsigned long long)s->version, every,
	       s->state == ENVX_STATE_COMPROMISED ? " compromised" : "");
	if (s->description[0] != '\0') {
		printf("    description %s\n",
		       envx_safe_text(s->description, text, sizeof(text)));
	}
	if (envx_env_history(e, s->name, &vers, &n, &err) < 0) {
		printf("    versions unreadable: %s\n",
		       envx_safe_text(err.msg, text, sizeof(text)));
		return;
	}
	for (i = 0; i < n; i++) {
		char kind[SAFE_BYTES];

		envx_time_format(vers[i].created_at, when, sizeof(when));
		printf("    v%llu %s %s %s\n",
		       (unsigned long long)vers[i].version, when,
		       envx_safe_text(vers[i].kind, kind, sizeof(kind)),
		       envx_safe_text(vers[i].author, text, sizeof(text)));
	}
	free(vers);
}

static int
print_env(struct envx_vault *v, const char *name)
{
	struct envx_secret_info *list = NULL;
	struct envx_env *e = NULL;
	struct envx_error err;
	size_t n = 0;
	size_t i;

	printf("env %s\n", name);
	if (envx_env_open(v, name, &e, &err) < 0) {
		return envx_cli_fail(&err);
	}
	printf("  generation %lld\n", (long long)envx_env_generation(e));
	print_access(e);
	if (envx_env_secrets(e, &list, &n, &err) < 0) {
		envx_env_free(e);
		return envx_cli_fail(&err);
	}
	for (i = 0; i < n; i++) {
		print_secret(e, &list[i]);
	}
	free(list);
	envx_env_free(e);
	return 0;
}

static int
print_audit(struct envx_vault *v)
{
	struct envx_audit_event *ev = NULL;
	struct envx_error err;
	char t[5][SAFE_BYTES];
	char when[32];
	size_t n = 0;
	size_t i;

	if (envx_vault_audit_events(v, NULL, &ev, &n, &err) < 0) {
		return envx_cli_fail(&err);
	}
	for (i = 0; i < n; i++) {
		envx_time_format(ev[i].at, when, sizeof(when));
		printf("audit %lld %s %s %s %s %s %s\n", (long long)ev[i].seq,
		       when, envx_safe_text(ev[i].action, t[0], SAFE_BYTES),
		       ev[i].env[0]
		               ? envx_safe_text(ev[i].env, t[1], SAFE_BYTES)
		               : "-",
		       ev[i].name[0]
		               ? envx_safe_text(ev[i].name, t[2], SAFE_BYTES)
		               : "-",
		       envx_safe_text(ev[i].actor, t[3], SAFE_BYTES),
		       envx_safe_text(ev[i].detail, t[4], SAFE_BYTES));
	}
	envx_audit_events_free(ev, n);
	return 0;
}

int
cmd_diff(int argc, char **argv, struct envx_ctx *ctx)
{
	struct envx_optstate st = {0};
	struct envx_env_info *envs = NULL;
	struct envx_vault *v = NULL;
	struct envx_error err;
	char vid[ENVX_VAULT_ID_TEXT_BYTES];
	size_t n = 0;
	size_t i;
	int status;

	/* the file git names is the whole input: no vault is looked for */
	status =
	        envx_cmd_positional(ctx, argc, argv, &st, 1, 1, "missing FILE");
	if (status != 0) {
		status = status < 0 ? 0 : status;
		goto done;
	}
	if (envx_vault_open(st.positional[0], false, &v, &err) < 0 ||
	    envx_vault_env_list(v, &envs, &n, &err) < 0) {
		status = envx_cli_fail(&err);
		goto done;
	}
	envx_vault_id_hex(v, vid);
	printf("envx vault %s format %d\n", vid, envx_vault_schema_version(v));
	/* metadata only: nothing here is checked against a MAC */
	printf("(unverified)\n");
	for (i = 0; i < n && status == 0; i++) {
		status = print_env(v, envs[i].name);
	}
	if (status == 0) {
		status = print_audit(v);
	}
done:
	free(envs);
	envx_vault_close(v);
	free(st.positional);
	return status;
}
