/*
 * Sync to GitHub Actions environment secrets (DESIGN §8, envx-sync(1)).
 *
 * Two halves. The pure half (src/sync/plan.c) knows GitHub's rules and
 * envx's record of what it pushed: names and limits, repository and API
 * URLs, when an answer may be retried and after how long, the audit-event
 * text that records a sync (VF-5.2), and the plan that compares the
 * environment, the record and what GitHub holds. The client half
 * (src/sync/github.c) talks to the REST API through libcurl, which it loads
 * only when a sync runs (so no other command pays for linking it).
 * Nothing here prints; messages and notices go through callbacks.
 */
#ifndef ENVX_SYNC_H
#define ENVX_SYNC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "envx/error.h"

/* GitHub's limits for Actions secrets. */
#define ENVX_GH_VALUE_MAX_BYTES ((size_t)48 * 1024)
#define ENVX_GH_SECRETS_MAX     100
/* owner/repo: 39 + 1 + 100 bytes on github.com; room for Enterprise */
#define ENVX_GH_REPO_MAX_BYTES 256
/* GitHub environment names: at most 255 characters */
#define ENVX_GH_ENV_MAX_BYTES 255
#define ENVX_GH_TIME_BYTES    21 /* "YYYY-MM-DDTHH:MM:SSZ" and NUL */
#define ENVX_GH_FP_BYTES      16
#define ENVX_GH_KEYTAG_BYTES  17 /* 16 hex digits and NUL */

/* ---- rules (plan.c) ---- */

/* OWNER/REPO: two non-empty parts of [A-Za-z0-9._-], neither "." nor "..". */
bool envx_gh_repo_valid(const char *repo);
/* OWNER/REPO from a git remote URL: https://HOST/OWNER/REPO(.git),
 * ssh://[USER@]HOST[:PORT]/OWNER/REPO(.git) or [USER@]HOST:OWNER/REPO(.git).
 * 0, or -1 when url is none of these. */
int envx_gh_repo_from_url(const char *url, char *out, size_t outsz);
/* A GitHub environment name envx will send: 1 to ENVX_GH_ENV_MAX_BYTES
 * bytes of plain UTF-8 text (envx_text_plain), no '/'. */
bool envx_gh_environment_valid(const char *name);
/* The API base URL: https://HOST[:PORT][/PATH], or http:// only when HOST
 * is a loopback address (127.0.0.0/8, [::1], localhost). No user info,
 * query or fragment. Copies it without a trailing '/' into out.
 * ENVX_E_USAGE naming what is wrong otherwise. */
int envx_gh_api_base_check(const char *url, char *out, size_t outsz,
                           bool *plain_http, struct envx_error *err);
/* A token fit for an HTTP header: 1 to 1024 visible ASCII bytes. */
bool envx_gh_token_valid(const char *token);
/* Why GitHub refuses name as a secret name, or NULL when it accepts it. */
const char *envx_gh_name_problem(const char *name);

/* ---- retries (plan.c) ---- */

/* What envx knows of an answer that was not a success. */
struct envx_gh_answer {
	long status;             /* 0: no answer (connection failed) */
	const char *retry_after; /* header values, NULL when absent */
	const char *remaining;   /* x-ratelimit-remaining */
	const char *reset;       /* x-ratelimit-reset (Unix seconds) */
	const char *message;     /* the body's "message", NULL if none */
};
/* Server errors and failed connections are retried this many times. */
#define ENVX_GH_SERVER_RETRIES 3
/*
 * GitHub's rules ("Best practices for using the REST API"): after a 403 or
 * 429, wait retry-after seconds when given; else, with
 * x-ratelimit-remaining 0, until x-ratelimit-reset; else, for a secondary
 * rate limit, at least a minute, doubling with each retry (attempt counts
 * the rate-limit retries so far). A 5xx answer or a failed connection is
 * retried after 1, 2, 4 s (attempt counts those). Any other answer is not
 * retried: -1. Otherwise the seconds to wait, with *why saying which rule.
 */
int64_t envx_gh_retry_wait(const struct envx_gh_answer *a, unsigned attempt,
                           int64_t now, const char **why);

/* ---- the record of what envx pushed (plan.c, VF-5.2) ---- */

/* One secret as the last sync that pushed it left it. */
struct envx_sync_rec {
	char name[256]; /* as envx pushed it */
	uint64_t version;
	unsigned char fp[ENVX_GH_FP_BYTES];
	char key[ENVX_GH_KEYTAG_BYTES]; /* the environment key it was keyed by
	                                 */
	char at[ENVX_GH_TIME_BYTES];    /* GitHub's updated_at, "" unknown */
};
/* What envx pushed to one repository's environment, by name (GitHub's
 * names are case-insensitive: one record per upper-cased name). */
struct envx_sync_state {
	struct envx_sync_rec *recs;
	size_t n;
	size_t cap;
};
#define ENVX_SYNC_ACTION "sync-github"

/* Applies one sync-github event's detail to s when it concerns repo and
 * environment (compared as GitHub does, ignoring ASCII case): a put
 * records, a delete forgets. Another repository's event is skipped.
 * ENVX_E_INTEGRITY for a detail no writer would have made. */
int envx_sync_state_apply(struct envx_sync_state *s, const char *detail,
                          const char *repo, const char *environment,
                          struct envx_error *err);
const struct envx_sync_rec *
envx_sync_state_find(const struct envx_sync_state *s, const char *name);
void envx_sync_state_release(struct envx_sync_state *s);

/* What one name became in a sync, for its audit event. */
enum envx_sync_done { ENVX_SYNC_PUT, ENVX_SYNC_DELETED, ENVX_SYNC_FAILED };
struct envx_sync_entry {
	const char *name;
	int done; /* enum envx_sync_done */
	uint64_t version;
	const unsigned char *fp;
	const char *at; /* "" unknown */
};
/* The detail text of a sync-github event: the repository, the
 * environment, the key tag, then each entry. ENVX_E_INPUT past max. */
int envx_sync_detail(const char *repo, const char *environment,
                     const char *keytag, const struct envx_sync_entry *ents,
                     size_t n, char **out, struct envx_error *err);

/* ---- the plan (plan.c) ---- */

/* One local secret: its name, current version and value fingerprint. */
struct envx_sync_local {
	const char *name;
	uint64_t version;
	unsigned char fp[ENVX_GH_FP_BYTES];
	size_t index; /* the caller's, e.g. into its value set */
};
/* One secret GitHub holds. */
struct envx_gh_remote {
	char name[256];
	char updated_at[ENVX_GH_TIME_BYTES];
};

enum envx_sync_op {
	ENVX_SYNC_UNCHANGED,
	ENVX_SYNC_CREATE,
	ENVX_SYNC_UPDATE,
	ENVX_SYNC_DELETE,
	ENVX_SYNC_KEEP_DELETED, /* deleted locally, still on GitHub: --prune */
	ENVX_SYNC_REMOTE_ONLY,  /* never pushed by envx: never touched */
};
/* Why (bits). */
enum envx_sync_why {
	ENVX_SYNC_NEW = 1 << 0,            /* envx never pushed it */
	ENVX_SYNC_CHANGED_LOCAL = 1 << 1,  /* another value than pushed */
	ENVX_SYNC_CHANGED_REMOTE = 1 << 2, /* updated on GitHub since */
	ENVX_SYNC_MISSING_REMOTE = 1 << 3, /* pushed, then deleted on GitHub */
	ENVX_SYNC_ADOPT = 1 << 4,          /* on GitHub, not pushed by envx */
	ENVX_SYNC_REKEYED = 1 << 5,        /* pushed under another key */
	ENVX_SYNC_UNKNOWN_TIME = 1 << 6,   /* GitHub's time was not recorded */
};
struct envx_sync_item {
	const char *name; /* the local name, else the remote one */
	int op;           /* enum envx_sync_op */
	unsigned why;
	const struct envx_sync_local *local; /* NULL when not local */
	const struct envx_sync_rec *rec;     /* NULL when never pushed */
	const struct envx_gh_remote *remote; /* NULL when not on GitHub */
};
/*
 * Compares the local secrets, the record and GitHub's list (names matched
 * ignoring ASCII case) into items sorted by name: a local secret is
 * created, updated (its value is not the one pushed, or GitHub's copy
 * changed or vanished since) or unchanged; a name envx pushed that is no
 * longer local is deleted with prune, else kept; a name envx never pushed
 * is never touched. keytag is the environment's key tag now. Free *out
 * with free(); the items borrow from the inputs.
 */
int envx_sync_plan(const struct envx_sync_local *local, size_t nlocal,
                   const struct envx_sync_state *rec,
                   const struct envx_gh_remote *remote, size_t nremote,
                   const char *keytag, bool prune, struct envx_sync_item **out,
                   size_t *n, struct envx_error *err);
/* Whether an item is drift for `sync status` (exit 1): anything to create,
 * update or prune. Remote-only names are not envx's, so they are not. */
bool envx_sync_item_drift(const struct envx_sync_item *it);

/* ---- the client (github.c) ---- */

struct envx_gh;
struct envx_gh_options {
	const char *base;  /* checked by envx_gh_api_base_check */
	bool plain_http;   /* its result */
	const char *token; /* envx_gh_token_valid */
	long timeout_ms;   /* whole request; connect gets min(10 s, this) */
	int64_t max_wait;  /* seconds of waiting for rate limits, in all */
	long write_interval_ms; /* pause between writes */
	/* notices ("waiting 60 s: secondary rate limit"); may be NULL */
	void (*notify)(void *ctx, const char *msg);
	void *notify_ctx;
};
/* Loads libcurl and prepares one connection. ENVX_E_REMOTE when libcurl
 * cannot be loaded. */
int envx_gh_open(const struct envx_gh_options *o, struct envx_gh **out,
                 struct envx_error *err);
void envx_gh_close(struct envx_gh *gh);
/* Requests and writes sent so far (writes: PUT and DELETE). */
void envx_gh_counts(const struct envx_gh *gh, unsigned *requests,
                    unsigned *writes);

struct envx_gh_key {
	char key_id[128];
	unsigned char pk[32];
};
/* The environment's own public key (never the repository's). */
int envx_gh_public_key(struct envx_gh *gh, const char *repo,
                       const char *environment, struct envx_gh_key *key,
                       struct envx_error *err);
/* Every secret of the environment, following Link pagination. Free *out
 * with free(). */
int envx_gh_list(struct envx_gh *gh, const char *repo, const char *environment,
                 struct envx_gh_remote **out, size_t *n,
                 struct envx_error *err);
/* Seals value to key (crypto_box_seal, standard base64) and PUTs it. */
int envx_gh_put(struct envx_gh *gh, const char *repo, const char *environment,
                const struct envx_gh_key *key, const char *name,
                const unsigned char *value, size_t len, struct envx_error *err);
/* DELETEs name; one already gone (404) counts as deleted. */
int envx_gh_delete(struct envx_gh *gh, const char *repo,
                   const char *environment, const char *name,
                   struct envx_error *err);

#endif
