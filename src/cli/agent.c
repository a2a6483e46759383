/*
 * How commands use the unlock agent (envx-agent(1)): ask it for an
 * environment's key before unlocking, hand it the key after an unlock that
 * cost a passphrase. The agent is a cache and nothing more: absent, dead,
 * slow or talking nonsense, it costs at most one warning and the command
 * unlocks as it would without it.
 */
#include <string.h>

#include <sodium.h>

#include "cli/cli.h"
#include "envx/agent.h"
#include "util/banned.h"

enum { AGENT_UNKNOWN = 0, AGENT_ON = 1, AGENT_OFF = -1 };

static bool
agent_on(struct envx_ctx *ctx)
{
	bool chosen;

	if (ctx->agent_state == AGENT_UNKNOWN) {
		ctx->agent_state =
		        envx_agent_path(ctx->agent_path,
		                        sizeof(ctx->agent_path), &chosen) == 0
		                ? AGENT_ON
		                : AGENT_OFF;
	}
	return ctx->agent_state == AGENT_ON;
}

/* Stops asking for the rest of the run; says why, once, unless there is
 * simply no agent. */
static void
agent_off(struct envx_ctx *ctx, const struct envx_error *err)
{
	ctx->agent_state = AGENT_OFF;
	if (err->code != ENVX_E_NOTFOUND || strstr(err->msg, "stale") != NULL) {
		if (!ctx->quiet) {
			envx_cli_warn("warning: %s; unlocking without it",
			              err->msg);
		}
	}
}

/* One request: 0 when the answer is of type want, 1 when the agent has
 * nothing (NONE), -1 after agent_off for anything else. */
static int
ask(struct envx_ctx *ctx, const struct envx_agent_msg *req,
    struct envx_agent_msg *reply, unsigned char *buf, int want)
{
	struct envx_error err;

	if (envx_agent_call(ctx->agent_path, req, reply, buf, &err) < 0) {
		agent_off(ctx, &err);
		return -1;
	}
	if (reply->type == want) {
		return 0;
	}
	if (reply->type == ENVX_AGENT_NONE && want != ENVX_AGENT_OK) {
		return 1;
	}
	envx_error_set(&err, ENVX_E_IO,
	               "the agent at '%s' answered a request of type %d "
	               "with one of type %d",
	               ctx->agent_path, req->type, reply->type);
	agent_off(ctx, &err);
	return -1;
}

/*
 * The identity, without asking for any passphrase: 0 with *id (NULL when
 * none is configured and there is no default one: a passphrase reader), 1
 * when it cannot be had that way (a protected identity whose public half
 * the agent does not hold, or any trouble loading it, which the normal
 * path reports).
 */
static int
quiet_identity(struct envx_ctx *ctx, unsigned char *buf,
               struct envx_identity **id)
{
	struct envx_secbuf text = {0};
	struct envx_agent_msg req = {.type = ENVX_AGENT_ID_GET};
	struct envx_agent_msg reply;
	struct envx_error err;
	char source[4200];
	int r;

	*id = ctx->identity;
	if (*id != NULL) {
		return 0;
	}
	r = envx_ctx_identity_text(ctx, &text, source, sizeof(source), &err);
	if (r == ENVX_E_NOTFOUND && !envx_ctx_identity_configured(ctx)) {
		return 0;
	}
	if (r < 0) {
		return 1;
	}
	if (envx_identity_agent_digest((const char *)text.data, text.len,
	                               req.digest) < 0) {
		/* not protected: loading it costs nothing */
		r = envx_identity_parse((const char *)text.data, text.len,
		                        source, NULL, NULL, &ctx->identity,
		                        &err);
	} else if (ask(ctx, &req, &reply, buf, ENVX_AGENT_ID) != 0) {
		r = -1;
	} else {
		r = envx_identity_parse_public((const char *)text.data,
		                               text.len, source, reply.pk,
		                               reply.spk, &ctx->identity, &err);
		memcpy(ctx->identity_digest, req.digest, 32);
		ctx->identity_digest_ok = true;
	}
	envx_secbuf_release(&text);
	if (r < 0 || envx_ctx_bind_trust(ctx, &err) < 0) {
		return 1;
	}
	*id = ctx->identity;
	return 0;
}

int
envx_ctx_agent_unlock(struct envx_ctx *ctx, struct envx_env **e,
                      struct envx_kvset *values, struct envx_error *err)
{
	struct envx_agent_msg req = {.type = ENVX_AGENT_KEY_GET};
	struct envx_agent_msg reply;
	struct envx_unlock how = {.values = values,
	                          .lazy = ctx->lazy_unlock && values == NULL};
	struct envx_identity *id = NULL;
	struct envx_error why;
	unsigned char *buf = NULL;
	unsigned char *key = NULL;
	char env[ENVX_ENV_NAME_MAX_BYTES + 1];
	int r = 1;

	/* writers sign with the identity's secret key, which the agent
	 * never holds: a write loads the identity as without an agent */
	if (!agent_on(ctx) || envx_vault_writable(ctx->vault)) {
		return 1;
	}
	buf = sodium_malloc(4 + ENVX_AGENT_BODY_MAX_BYTES);
	key = sodium_malloc(ENVX_ENV_KEY_BYTES);
	if (buf == NULL || key == NULL) {
		goto out;
	}
	envx_env_keyref(*e, &req.ref);
	if (ask(ctx, &req, &reply, buf, ENVX_AGENT_KEY) != 0) {
		goto out;
	}
	/* VF-3.2: a key that is not the one asked for is never used */
	if (!envx_key_matches(reply.key, req.ref.commit)) {
		envx_error_set(&why, ENVX_E_IO,
		               "the agent at '%s' gave a key that does not "
		               "open %s",
		               ctx->agent_path, req.ref.env);
		agent_off(ctx, &why);
		goto out;
	}
	memcpy(key, reply.key, ENVX_ENV_KEY_BYTES);
	if (quiet_identity(ctx, buf, &id) != 0) {
		goto out;
	}
	how.identity = id;
	how.key = key;
	how.ask = NULL;
	if (envx_env_unlock(*e, &how, &why) == 0) {
		r = 0;
		goto out;
	}
	/* a key that is not this environment's is the agent's fault; any
	 * other failure the normal unlock finds again and reports */
	if (why.code == ENVX_E_LOCKED) {
		agent_off(ctx, &why);
	}
	snprintf(env, sizeof(env), "%s", envx_env_name(*e));
	envx_env_free(*e);
	*e = NULL;
	r = envx_env_open(ctx->vault, env, e, err);
	r = r < 0 ? r : 1;
out:
	sodium_free(buf);
	sodium_free(key);
	return r;
}

void
envx_ctx_agent_give(struct envx_ctx *ctx, const struct envx_env *e,
                    bool by_passphrase)
{
	struct envx_agent_msg req = {.type = ENVX_AGENT_KEY_PUT};
	struct envx_agent_msg reply;
	const struct envx_identity *id = ctx->identity;
	unsigned char *buf = NULL;
	unsigned char *key = NULL;

	/* only what cost a passphrase: an unprotected identity opens its
	 * environments as fast as the agent would */
	if (!by_passphrase || !agent_on(ctx)) {
		return;
	}
	buf = sodium_malloc(4 + ENVX_AGENT_BODY_MAX_BYTES);
	key = sodium_malloc(ENVX_ENV_KEY_BYTES);
	if (buf == NULL || key == NULL || envx_env_key(e, key, NULL) < 0) {
		goto out;
	}
	envx_env_keyref(e, &req.ref);
	req.key = key;
	if (ask(ctx, &req, &reply, buf, ENVX_AGENT_OK) != 0) {
		goto out;
	}
	if (id != NULL && id->sk != NULL && id->protected_ &&
	    ctx->identity_digest_ok) {
		req = (struct envx_agent_msg){.type = ENVX_AGENT_ID_PUT};
		memcpy(req.digest, ctx->identity_digest, 32);
		memcpy(req.pk, id->pk, 32);
		memcpy(req.spk, id->spk, 32);
		(void)ask(ctx, &req, &reply, buf, ENVX_AGENT_OK);
	}
out:
	sodium_free(buf);
	sodium_free(key);
}
