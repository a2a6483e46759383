/*
 * `envx access list ENV`, `envx access grant ENV PUBKEY --label L [--role
 * read|write|admin]`, `envx access accept VAULTID ENV ADMINKEY`, `envx trust
 * reset ENV` and `envx upgrade`: who may read, write and administer an
 * environment, and what this machine trusts (vault-format/SPEC.md VF-3.8).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cmd/cmd.h"
#include "util/banned.h"

/* The trust line pinning admin spk of env in the open vault. */
static void
trust_line_of(struct envx_ctx *ctx, const char *env, const unsigned char *spk,
              char *out, size_t outsz)
{
	struct envx_anchor a;
	char hex[ENVX_VAULT_ID_TEXT_BYTES];
	size_t i;

	memset(&a, 0, sizeof(a));
	envx_vault_id_hex(ctx->vault, hex);
	for (i = 0; i < 16; i++) {
		unsigned int b = 0;
		(void)sscanf(hex + 2 * i, "%2x", &b);
		a.vault_id[i] = (unsigned char)b;
	}
	snprintf(a.env, sizeof(a.env), "%s", env);
	memcpy(a.admin, spk, sizeof(a.admin));
	envx_anchor_format(&a, out, outsz);
}

static int
access_list(struct envx_ctx *ctx, const char *env)
{
	struct envx_access_info *list = NULL;
	struct envx_env *e = NULL;
	struct envx_error err;
	char hex[ENVX_VAULT_ID_TEXT_BYTES];
	char line[256];
	char label[ENVX_LABEL_MAX_BYTES * 4 + 1];
	char when[32];
	char by[ENVX_LABEL_MAX_BYTES * 4 + 1];
	size_t n = 0;
	size_t admins;
	size_t i;
	bool verified = false;
	int status = 0;

	if (envx_ctx_open_vault(ctx, false, &err) < 0 ||
	    envx_ctx_open_verified(ctx, env, &e, &verified, &err) < 0 ||
	    envx_env_access(e, &list, &n, &err) < 0) {
		status = envx_cli_fail(&err);
		goto done;
	}
	envx_vault_id_hex(ctx->vault, hex);
	admins = envx_env_admin_count(e);
	if (ctx->json) {
		printf("{\"env\": ");
		envx_json_print_string(stdout, env);
		printf(", \"vault_id\": \"%s\", \"format\": %d, "
		       "\"verified\": %s, \"generation\": %lld, "
		       "\"recipients\": [",
		       hex, envx_vault_schema_version(ctx->vault),
		       verified ? "true" : "false",
		       (long long)envx_env_generation(e));
		for (i = 0; i < n; i++) {
			printf("%s{\"label\": ", i ? ", " : "");
			envx_json_print_string(stdout, list[i].label);
			printf(", \"kind\": \"%s\", \"role\": \"%s\", "
			       "\"fingerprint\": ",
			       list[i].kind, envx_role_name(list[i].role));
			if (list[i].has_sign_key) {
				printf("\"%s\"", list[i].fingerprint);
			} else {
				printf("null");
			}
			envx_time_format(list[i].granted_at != 0
			                         ? list[i].granted_at
			                         : list[i].created_at,
			                 when, sizeof(when));
			printf(", \"added_at\": \"%s\", \"added_by\": ", when);
			if (list[i].granted_at != 0) {
				envx_json_print_string(stdout,
				                       list[i].granted_by);
				printf(", \"added_by_fingerprint\": \"%s\"",
				       list[i].granted_by_fingerprint);
			} else {
				printf("null");
			}
			printf("}");
		}
		printf("], \"admins\": %zu, \"trust\": [", admins);
		for (i = 0, admins = 0; i < n; i++) {
			if (list[i].role == ENVX_ROLE_ADMIN &&
			    list[i].has_sign_key) {
				trust_line_of(ctx, env, list[i].sign_key, line,
				              sizeof(line));
				printf("%s\"%s\"", admins++ ? ", " : "", line);
			}
		}
		printf("]}\n");
		goto done;
	}
	printf("environment '%s' of vault %s (format %d, generation %lld)%s\n",
	       env, hex, envx_vault_schema_version(ctx->vault),
	       (long long)envx_env_generation(e),
	       verified ? "" : ", UNVERIFIED");
	printf("%-24s  %-10s  %-6s  %-19s  %-20s  %s\n", "LABEL", "KIND",
	       "ROLE", "FINGERPRINT", "ADDED", "BY");
	for (i = 0; i < n; i++) {
		envx_time_format(list[i].granted_at != 0 ? list[i].granted_at
		                                         : list[i].created_at,
		                 when, sizeof(when));
		if (list[i].granted_at != 0) {
			char lab[ENVX_LABEL_MAX_BYTES * 4 + 1];
			snprintf(by, sizeof(by), "%s %s",
			         envx_safe_text(list[i].granted_by, lab,
			                        sizeof(lab)),
			         list[i].granted_by_fingerprint);
		} else {
			snprintf(by, sizeof(by), "-");
		}
		printf("%-24s  %-10s  %-6s  %-19s  %-20s  %s\n",
		       envx_safe_text(list[i].label, label, sizeof(label)),
		       list[i].kind, envx_role_name(list[i].role),
		       list[i].has_sign_key ? list[i].fingerprint : "-", when,
		       by);
	}
	if (!verified) {
		printf("unverified: without the key of '%s' nothing ties this "
		       "list to an admin you trust or to the recipient rows\n",
		       env);
		goto done;
	}
	if (envx_vault_schema_version(ctx->vault) < 4) {
		printf("format %d: writers are not authenticated until the "
		       "vault is upgraded ('envx upgrade')\n",
		       envx_vault_schema_version(ctx->vault));
		goto done;
	}
	if (admins == 1) {
		printf("only one admin: if that key is lost, nobody can grant, "
		       "change or revoke access to '%s' again (make a second "
		       "admin with 'envx access grant %s KEY --label L --role "
		       "admin')\n",
		       env, env);
	}
	printf("readers that are not members (a passphrase, a new key) trust "
	       "its admins with:\n");
	for (i = 0; i < n; i++) {
		if (list[i].role == ENVX_ROLE_ADMIN && list[i].has_sign_key) {
			trust_line_of(ctx, env, list[i].sign_key, line,
			              sizeof(line));
			printf("  %s\n", line);
		}
	}
done:
	free(list);
	envx_env_free(e);
	return status;
}

static int
access_grant(struct envx_ctx *ctx, const char *env, const char *key,
             const char *label, const char *role_text)
{
	unsigned char pk[ENVX_PUBLIC_KEY_BYTES];
	unsigned char spk[ENVX_SIGN_PUBLIC_BYTES];
	const struct envx_identity *me;
	struct envx_env *e = NULL;
	struct envx_error err;
	char line[256];
	char hex[ENVX_VAULT_ID_TEXT_BYTES];
	char safe[ENVX_LABEL_MAX_BYTES * 4 + 1];
	bool has_spk = false;
	bool changed = false;
	int role;
	int status = 0;

	if (label == NULL) {
		return envx_cli_usage(ctx, "missing --label LABEL (who this "
		                           "key belongs to)");
	}
	if (envx_pubkey_parse2(key, pk, spk, &has_spk, &err) < 0) {
		return envx_cli_fail(&err);
	}
	if (role_text == NULL) {
		role = has_spk ? ENVX_ROLE_WRITE : ENVX_ROLE_READ;
	} else if (envx_role_parse(role_text, &role) < 0 ||
	           role == ENVX_ROLE_NONE) {
		return envx_cli_usage(ctx,
		                      "--role must be read, write or admin");
	}
	if (envx_ctx_open_vault(ctx, true, &err) < 0 ||
	    envx_ctx_unlock(ctx, env, &e, &err) < 0 ||
	    envx_vault_begin(ctx->vault, &err) < 0 ||
	    envx_env_grant(e, label, pk, has_spk ? spk : NULL, role, &changed,
	                   &err) < 0 ||
	    (changed && envx_vault_commit(ctx->vault, &err) < 0)) {
		envx_vault_rollback(ctx->vault);
		status = envx_cli_fail(&err);
		goto done;
	}
	envx_safe_text(label, safe, sizeof(safe));
	if (!changed) {
		envx_vault_rollback(ctx->vault);
		envx_cli_note(ctx, "'%s' already has role %s in %s", safe,
		              envx_role_name(role), env);
		goto done;
	}
	me = ctx->identity;
	envx_vault_id_hex(ctx->vault, hex);
	trust_line_of(ctx, env, me->spk, line, sizeof(line));
	if (ctx->json) {
		printf("{\"env\": ");
		envx_json_print_string(stdout, env);
		printf(", \"label\": ");
		envx_json_print_string(stdout, label);
		printf(", \"role\": \"%s\", \"vault_id\": \"%s\", "
		       "\"trust\": \"%s\"}\n",
		       envx_role_name(role), hex, line);
	} else if (!ctx->quiet) {
		printf("granted %s to '%s' (%s); commit the vault.\n"
		       "They accept this environment once, on their machine "
		       "(this pins you as its admin):\n"
		       "  envx access accept %s\n",
		       env, safe, envx_role_name(role), line + 6);
	}
done:
	envx_env_free(e);
	return status;
}

/* `access grant ENV --new-key --label L`: a fresh identity for a machine
 * (CI), granted and committed first; then its secret text, with the trust
 * line that makes it accept this environment, once on stdout. */
static int
access_grant_new_key(struct envx_ctx *ctx, const char *env, const char *label,
                     int role)
{
	struct envx_identity *fresh = NULL;
	struct envx_secbuf text = {0};
	struct envx_env *e = NULL;
	struct envx_error err;
	char line[256];
	char safe[ENVX_LABEL_MAX_BYTES * 4 + 1];
	bool changed = false;
	int status = 0;

	if (envx_identity_generate(&fresh, &err) < 0 ||
	    envx_ctx_open_vault(ctx, true, &err) < 0 ||
	    envx_ctx_unlock(ctx, env, &e, &err) < 0 ||
	    envx_vault_begin(ctx->vault, &err) < 0 ||
	    envx_env_grant(e, label, fresh->pk, fresh->spk, role, &changed,
	                   &err) < 0 ||
	    (!changed && envx_error_set(&err, ENVX_E_INPUT,
	                                "a recipient labelled '%s' already "
	                                "exists in '%s'",
	                                label, env) < 0) ||
	    envx_identity_encode(fresh, NULL, 0, &text, &err) < 0) {
		envx_vault_rollback(ctx->vault);
		status = envx_cli_fail(&err);
		goto done;
	}
	/* the admin who granted it is the one it trusts */
	trust_line_of(ctx, env, ctx->identity->spk, line, sizeof(line));
	/* the key first: a grant nobody holds the key of is never committed */
	if (ctx->json) {
		/* the identity text as one string: key line, trust line */
		char pub[ENVX_PUBKEY_TEXT_BYTES];
		envx_identity_pubtext(fresh, pub);
		printf("{\"env\": ");
		envx_json_print_string(stdout, env);
		printf(", \"label\": ");
		envx_json_print_string(stdout, label);
		printf(", \"role\": \"%s\", \"public_key\": \"%s\", "
		       "\"identity\": \"",
		       envx_role_name(role), pub);
		for (size_t i = 0; i < text.len; i++) {
			if (text.data[i] == '\n') {
				fputs("\\n", stdout);
			} else {
				putchar(text.data[i]);
			}
		}
		printf("%s\\n\"}\n", line);
	} else {
		fwrite(text.data, 1, text.len, stdout);
		printf("%s\n", line);
	}
	if (fflush(stdout) != 0 || ferror(stdout)) {
		envx_vault_rollback(ctx->vault);
		status = envx_cli_error(6, "cannot write the new key to "
		                           "standard output; nothing was "
		                           "granted");
		goto done;
	}
	if (envx_vault_commit(ctx->vault, &err) < 0) {
		envx_vault_rollback(ctx->vault);
		status = envx_cli_fail(&err);
		envx_cli_warn("the key printed above was NOT granted: discard "
		              "it");
		goto done;
	}
	envx_cli_warn("granted %s to the new key '%s' (%s); its secret key "
	              "is on standard output, once: store all of it as the "
	              "CI secret ENVX_IDENTITY now (envx keeps only the "
	              "public half), then commit the vault",
	              env, envx_safe_text(label, safe, sizeof(safe)),
	              envx_role_name(role));
done:
	envx_secbuf_release(&text);
	envx_identity_free(fresh);
	envx_env_free(e);
	return status;
}

/* `access grant ENV --passphrase --label L`: a passphrase recipient (read
 * only: it cannot sign). */
static int
access_grant_passphrase(struct envx_ctx *ctx, const char *env,
                        const char *label)
{
	struct envx_secbuf pass = {0};
	struct envx_env *e = NULL;
	struct envx_error err;
	char prompt[400];
	char safe[ENVX_LABEL_MAX_BYTES * 4 + 1];
	int status = 0;

	envx_safe_text(label, safe, sizeof(safe));
	snprintf(prompt, sizeof(prompt), "new passphrase for '%s' in '%s'",
	         safe, env);
	if (envx_ctx_open_vault(ctx, true, &err) < 0 ||
	    envx_ctx_unlock(ctx, env, &e, &err) < 0 ||
	    envx_cli_new_passphrase(ctx, prompt, &pass, &err) < 0 ||
	    envx_vault_begin(ctx->vault, &err) < 0 ||
	    envx_env_grant_passphrase(e, label, pass.data, pass.len, &err) <
	            0 ||
	    envx_vault_commit(ctx->vault, &err) < 0) {
		envx_vault_rollback(ctx->vault);
		status = envx_cli_fail(&err);
		goto done;
	}
	envx_cli_note(ctx,
	              "granted %s (read) to the passphrase '%s'; commit the "
	              "vault. A reader with only the passphrase trusts the "
	              "admins listed by 'envx access list %s' through "
	              "$ENVX_TRUST",
	              env, safe, env);
done:
	envx_secbuf_release(&pass);
	envx_env_free(e);
	return status;
}

/* Prints, after a revoke or an incident, the names whose current values
 * the removed parties could read: every current secret of e. */
static void
print_rotate_these(struct envx_ctx *ctx, struct envx_env *e, const char *why)
{
	struct envx_secret_info *list = NULL;
	struct envx_error err;
	char safe[ENVX_NAME_MAX_BYTES + 1];
	size_t n = 0;
	size_t i;

	if (envx_env_secrets(e, &list, &n, &err) < 0) {
		(void)envx_cli_fail(&err);
		return;
	}
	if (ctx->json) {
		printf("{\"env\": ");
		envx_json_print_string(stdout, envx_env_name(e));
		printf(", \"rotate\": [");
		for (i = 0; i < n; i++) {
			printf("%s", i ? ", " : "");
			envx_json_print_string(stdout, list[i].name);
		}
		printf("]}\n");
	} else if (n == 0) {
		printf("%s: '%s' holds no secrets, nothing to rotate\n", why,
		       envx_env_name(e));
	} else {
		printf("%s could read the current value of these; rotate "
		       "them ('envx rotate %s NAME'):\n",
		       why, envx_env_name(e));
		for (i = 0; i < n; i++) {
			printf("  %s\n", envx_safe_text(list[i].name, safe,
			                                sizeof(safe)));
		}
	}
	free(list);
}

/* `access revoke ENV LABEL...` (revoke != NULL) and `rekey ENV`. */
static int
rekey_env(struct envx_ctx *ctx, const char *env, char **revoke, size_t nrevoke)
{
	struct envx_rekey_stats stats = {0};
	struct envx_env *e = NULL;
	struct envx_error err;
	char detail[128];
	char safe[ENVX_LABEL_MAX_BYTES * 4 + 1];
	size_t i;
	int status = 0;

	/* a label named twice is revoked, audited and reported once */
	nrevoke = envx_strv_unique((const char **)revoke, nrevoke);
	if (envx_ctx_open_vault(ctx, true, &err) < 0 ||
	    envx_ctx_unlock(ctx, env, &e, &err) < 0 ||
	    envx_vault_begin(ctx->vault, &err) < 0 ||
	    envx_env_rekey(e, (const char *const *)revoke, nrevoke,
	                   envx_ctx_env_passphrase, ctx, &stats, &err) < 0) {
		goto fail;
	}
	for (i = 0; i < nrevoke; i++) {
		if (envx_vault_audit(ctx->vault, "access-revoke", env, "",
		                     revoke[i], &err) < 0) {
			goto fail;
		}
	}
	snprintf(detail, sizeof(detail),
	         "%zu versions re-encrypted, key wrapped for %zu recipients",
	         stats.versions, stats.recipients);
	if (envx_vault_audit(ctx->vault, "rekey", env, "", detail, &err) < 0 ||
	    envx_vault_commit(ctx->vault, &err) < 0) {
		goto fail;
	}
	if (nrevoke == 0) {
		if (ctx->json) {
			printf("{\"env\": ");
			envx_json_print_string(stdout, env);
			printf(", \"versions\": %zu, \"recipients\": %zu}\n",
			       stats.versions, stats.recipients);
		} else {
			envx_cli_note(
			        ctx,
			        "rekeyed '%s': %zu versions re-encrypted, "
			        "the new key wrapped for %zu recipients; "
			        "commit the vault",
			        env, stats.versions, stats.recipients);
		}
		goto done;
	}
	for (i = 0; i < nrevoke; i++) {
		envx_cli_note(ctx, "revoked '%s' from '%s' and rekeyed it",
		              envx_safe_text(revoke[i], safe, sizeof(safe)),
		              env);
	}
	print_rotate_these(ctx, e,
	                   nrevoke == 1 ? "the revoked recipient"
	                                : "the revoked recipients");
	goto done;
fail:
	envx_vault_rollback(ctx->vault);
	status = envx_cli_fail(&err);
done:
	envx_env_free(e);
	return status;
}

/* `envx rekey ENV`: a new environment key, nobody removed. */
int
cmd_rekey(int argc, char **argv, struct envx_ctx *ctx)
{
	struct envx_optstate st = {0};
	int status;

	status = envx_cmd_args(ctx, argc, argv, &st, 1, 1,
	                       "usage: envx rekey ENV");
	if (status == 0) {
		status = rekey_env(ctx, st.positional[0], NULL, 0);
	}
	free(st.positional);
	return status < 0 ? 0 : status;
}

/* Appends a trust line to the identity file (or says where to put it). */
static int
access_accept(struct envx_ctx *ctx, char **args, size_t nargs)
{
	struct envx_identity *id = NULL;
	struct envx_secbuf text = {0};
	struct envx_secbuf grown = {0};
	struct envx_anchor a;
	struct envx_error err;
	char line[512];
	char env_safe[80];
	int status = 0;

	if (nargs == 1) {
		snprintf(line, sizeof(line), "%s", args[0]);
	} else if (nargs == 3) {
		snprintf(line, sizeof(line), "trust %s %s %s", args[0], args[1],
		         args[2]);
	} else if (nargs == 4 && strcmp(args[0], "trust") == 0) {
		snprintf(line, sizeof(line), "trust %s %s %s", args[1], args[2],
		         args[3]);
	} else {
		return envx_cli_usage(ctx, "usage: envx access accept VAULTID "
		                           "ENV ADMINKEY");
	}
	if (envx_anchor_parse(line, strlen(line), "the command line", &a,
	                      &err) < 0 ||
	    envx_ctx_identity(ctx, &id, &err) < 0) {
		return envx_cli_fail(&err);
	}
	envx_safe_text(a.env, env_safe, sizeof(env_safe));
	for (size_t i = 0; i < id->anchors.n; i++) {
		if (memcmp(&id->anchors.a[i], &a, sizeof(a)) == 0) {
			envx_cli_note(ctx, "already trusted: %s", line);
			return 0;
		}
	}
	if (strcmp(ctx->identity_source, "$ENVX_IDENTITY") == 0) {
		envx_cli_warn("the identity is $ENVX_IDENTITY, which envx "
		              "cannot change: add this line after its key "
		              "line (or to $ENVX_TRUST):");
		printf("%s\n", line);
		return 0;
	}
	if (envx_file_read_private(ctx->identity_source,
	                           ENVX_IDENTITY_TEXT_MAX_BYTES, &text,
	                           &err) < 0 ||
	    envx_secbuf_init(&grown, ENVX_IDENTITY_TEXT_MAX_BYTES, &err) < 0 ||
	    envx_secbuf_append(&grown, text.data, text.len, &err) < 0 ||
	    (text.len > 0 && text.data[text.len - 1] != '\n' &&
	     envx_secbuf_append(&grown, "\n", 1, &err) < 0) ||
	    envx_secbuf_append(&grown, line, strlen(line), &err) < 0 ||
	    envx_secbuf_append(&grown, "\n", 1, &err) < 0 ||
	    envx_identity_save(ctx->identity_source, &grown, true, &err) < 0) {
		status = envx_cli_fail(&err);
		goto done;
	}
	envx_cli_note(ctx,
	              "identity '%s' now trusts the admin %s of '%s' in vault "
	              "%.32s",
	              ctx->identity_source, line + 6 + 33 + strlen(a.env) + 1,
	              env_safe, line + 6);
done:
	envx_secbuf_release(&text);
	envx_secbuf_release(&grown);
	return status;
}

enum { OPT_LABEL = 1, OPT_ROLE, OPT_NEW_KEY, OPT_PASSPHRASE };

/* `access grant ENV (PUBKEY | --new-key | --passphrase) --label L`. */
static int
grant_dispatch(struct envx_ctx *ctx, char **pos, size_t npos, const char *label,
               const char *role_text, bool new_key, bool passphrase)
{
	int role = ENVX_ROLE_READ;

	if (new_key + passphrase + (npos == 3) != 1 || npos < 2 || npos > 3) {
		return envx_cli_usage(ctx,
		                      "usage: envx access grant ENV "
		                      "(PUBKEY | --new-key | --passphrase) "
		                      "--label LABEL");
	}
	if (npos == 3) {
		return access_grant(ctx, pos[1], pos[2], label, role_text);
	}
	if (label == NULL) {
		return envx_cli_usage(ctx, "missing --label LABEL (who this "
		                           "key belongs to)");
	}
	if (role_text != NULL &&
	    (envx_role_parse(role_text, &role) < 0 || role == ENVX_ROLE_NONE)) {
		return envx_cli_usage(ctx,
		                      "--role must be read, write or admin");
	}
	if (passphrase) {
		if (role != ENVX_ROLE_READ) {
			return envx_cli_usage(ctx, "a passphrase recipient can "
			                           "only read (it cannot sign "
			                           "writes)");
		}
		return access_grant_passphrase(ctx, pos[1], label);
	}
	return access_grant_new_key(ctx, pos[1], label, role);
}

int
cmd_access(int argc, char **argv, struct envx_ctx *ctx)
{
	static const struct envx_opt opts[] = {
	        {"--label", 1, OPT_LABEL},
	        {"--role", 1, OPT_ROLE},
	        {"--new-key", 0, OPT_NEW_KEY},
	        {"--passphrase", 0, OPT_PASSPHRASE},
	        {NULL, 0, 0}};
	struct envx_optstate st = {.argc = argc, .argv = argv};
	const char *label = NULL;
	const char *role = NULL;
	bool new_key = false;
	bool passphrase = false;
	const char *sub;
	int status;
	int o;

	while ((o = envx_getopt(ctx, &st, opts)) > 0) {
		if (o == OPT_LABEL) {
			label = st.arg;
		} else if (o == OPT_ROLE) {
			role = st.arg;
		} else if (o == OPT_NEW_KEY) {
			new_key = true;
		} else {
			passphrase = true;
		}
	}
	if (o < 0) {
		free(st.positional);
		return o == -1 ? 0 : 2;
	}
	if (st.npositional < 1) {
		free(st.positional);
		return envx_cli_usage(ctx, "missing subcommand");
	}
	sub = st.positional[0];
	if ((label != NULL || role != NULL || new_key || passphrase) &&
	    strcmp(sub, "grant") != 0) {
		status = envx_cli_usage(ctx, "--label, --role, --new-key and "
		                             "--passphrase are for 'access "
		                             "grant'");
	} else if (strcmp(sub, "list") == 0 && st.npositional == 2) {
		status = access_list(ctx, st.positional[1]);
	} else if (strcmp(sub, "grant") == 0) {
		status = grant_dispatch(ctx, st.positional, st.npositional,
		                        label, role, new_key, passphrase);
	} else if (strcmp(sub, "revoke") == 0 && st.npositional >= 3) {
		status = rekey_env(ctx, st.positional[1], st.positional + 2,
		                   st.npositional - 2);
	} else if (strcmp(sub, "accept") == 0 && st.npositional >= 2) {
		status = access_accept(ctx, st.positional + 1,
		                       st.npositional - 1);
	} else if (strcmp(sub, "list") != 0 && strcmp(sub, "revoke") != 0 &&
	           strcmp(sub, "accept") != 0) {
		status = envx_cli_usage(ctx, "unknown subcommand '%s'", sub);
	} else {
		status = envx_cli_usage(ctx, "wrong arguments for 'access %s'",
		                        sub);
	}
	free(st.positional);
	return status;
}

/* `envx trust reset ENV`: accept, deliberately, a state older than the one
 * this machine last verified; audited in the vault when it is writable. */
int
cmd_trust(int argc, char **argv, struct envx_ctx *ctx)
{
	struct envx_optstate st = {0};
	struct envx_env *e = NULL;
	struct envx_error err;
	char detail[96];
	int status;

	status = envx_cmd_args(ctx, argc, argv, &st, 2, 2,
	                       "usage: envx trust reset ENV");
	if (status != 0) {
		free(st.positional);
		return status < 0 ? 0 : status;
	}
	if (strcmp(st.positional[0], "reset") != 0) {
		status = envx_cli_usage(ctx, "unknown subcommand '%s'",
		                        st.positional[0]);
		goto done;
	}
	/* envx_cmd_args opened the vault */
	ctx->trust.accept_older = true;
	if (envx_ctx_unlock(ctx, st.positional[1], &e, &err) < 0) {
		status = envx_cli_fail(&err);
		goto done;
	}
	snprintf(detail, sizeof(detail), "accepted generation %lld",
	         (long long)envx_env_generation(e));
	if (envx_vault_schema_version(ctx->vault) >= 4 &&
	    (envx_vault_begin(ctx->vault, &err) < 0 ||
	     envx_vault_audit(ctx->vault, "trust-reset", st.positional[1], "",
	                      detail, &err) < 0 ||
	     envx_vault_commit(ctx->vault, &err) < 0)) {
		envx_vault_rollback(ctx->vault);
		status = envx_cli_fail(&err);
		goto done;
	}
	envx_cli_note(ctx,
	              "this machine now accepts '%s' at generation %lld (and "
	              "refuses anything older than that)",
	              st.positional[1], (long long)envx_env_generation(e));
done:
	envx_env_free(e);
	free(st.positional);
	return status;
}

/* `envx upgrade`: the upgrade any write does (VF-4.5), on its own. */
int
cmd_upgrade(int argc, char **argv, struct envx_ctx *ctx)
{
	struct envx_optstate st = {0};
	struct envx_identity *id = NULL;
	struct envx_error err;
	int before;
	int status;

	/* opens the vault too */
	status = envx_cmd_args(ctx, argc, argv, &st, 0, 0, NULL);
	free(st.positional);
	if (status != 0) {
		return status < 0 ? 0 : status;
	}
	before = envx_vault_schema_version(ctx->vault);
	if (!envx_vault_needs_upgrade(ctx->vault)) {
		envx_cli_note(ctx, "vault '%s' is already in format %d",
		              ctx->vault_path, before);
		return 0;
	}
	if (envx_ctx_identity(ctx, &id, &err) < 0 ||
	    envx_vault_upgrade(ctx->vault, &err) < 0) {
		return envx_cli_fail(&err);
	}
	if (before >= 4) {
		/* VF-4.5: members and roles stay; every state is re-signed */
		envx_cli_note(ctx,
		              "upgraded vault '%s' from format %d to %d: every "
		              "environment was verified, sealed again and "
		              "signed by you",
		              ctx->vault_path, before,
		              envx_vault_schema_version(ctx->vault));
		return 0;
	}
	envx_cli_note(ctx,
	              "upgraded vault '%s' from format %d to %d: you are the "
	              "first admin of every environment; grant writers with "
	              "'envx access grant ENV KEY --label L --role write'",
	              ctx->vault_path, before,
	              envx_vault_schema_version(ctx->vault));
	return 0;
}
