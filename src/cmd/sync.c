/*
 * `envx sync github ENV` and `envx sync status ENV` (DESIGN §8,
 * envx-sync(1)): push an environment's values into the GitHub Actions
 * environment of the same name, sending only what changed, and show drift.
 *
 * What envx pushed is recorded in the vault's audit log, one sync-github
 * event per sync (VF-5.2), inside the environment's signed state: the
 * record that decides what --prune may delete cannot be forged by someone
 * who can only write the file. Only records the signed state covers count.
 *
 * Order of work: everything that can be checked locally (the repository,
 * the token, the API URL, GitHub's name and size rules, that this identity
 * may record the sync) is checked before the first request; then one list
 * of GitHub's secrets, the plan, serial writes, one more list for the times
 * GitHub gives the writes, and the record. A failure midway still records
 * what was pushed, so a rerun sends only the rest.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cmd/cmd.h"
#include "envx/sync.h"
#include "util/banned.h"

enum {
	OPT_REPO = 1,
	OPT_ENVIRONMENT,
	OPT_PRUNE,
	OPT_DRY_RUN,
	OPT_WRITE_INTERVAL,
	OPT_MAX_WAIT,
};

struct sync_args {
	bool status; /* `sync status`, else `sync github` */
	const char *env;
	const char *repo_opt;
	const char *environment;
	bool prune;
	bool dry_run;
	const char *write_interval;
	const char *max_wait;
};

/* ---- what is resolved before any request ---- */

struct target {
	char repo[ENVX_GH_REPO_MAX_BYTES];
	const char *repo_from; /* where it came from, for messages */
	char base[1024];
	bool plain_http;
	const char *token;
	long write_interval_ms;
	int64_t max_wait;
	long timeout_ms;
};

/* The stdout of `git -C dir config --get remote.origin.url` into out; -1
 * when git is missing, there is no such remote or it does not fit. */
static int
git_origin(const char *dir, char *out, size_t outsz)
{
	const char *args[] = {"-C", dir, "config", "--get", "remote.origin.url",
	                      NULL};
	int status = 1;

	if (envx_git_text(args, out, outsz, &status, NULL) < 0 || status != 0 ||
	    *out == '\0') {
		return -1;
	}
	return 0;
}

static int
resolve_repo(struct envx_ctx *ctx, const struct sync_args *a, struct target *t)
{
	const char *gr = getenv("GITHUB_REPOSITORY");
	char dir[4096];
	char url[4096];
	char *slash;

	if (a->repo_opt != NULL) {
		if (!envx_gh_repo_valid(a->repo_opt)) {
			return envx_cli_usage(
			        ctx, "--repo '%.100s' is not OWNER/REPO",
			        a->repo_opt);
		}
		snprintf(t->repo, sizeof(t->repo), "%s", a->repo_opt);
		t->repo_from = "--repo";
		return 0;
	}
	if (gr != NULL && *gr != '\0') {
		if (!envx_gh_repo_valid(gr)) {
			return envx_cli_usage(
			        ctx,
			        "GITHUB_REPOSITORY '%.100s' is not "
			        "OWNER/REPO",
			        gr);
		}
		snprintf(t->repo, sizeof(t->repo), "%s", gr);
		t->repo_from = "GITHUB_REPOSITORY";
		return 0;
	}
	snprintf(dir, sizeof(dir), "%s", ctx->vault_path);
	slash = strrchr(dir, '/');
	if (slash == NULL) {
		snprintf(dir, sizeof(dir), ".");
	} else {
		*slash = slash == dir ? '/' : '\0';
		slash[slash == dir ? 1 : 0] = '\0';
	}
	if (git_origin(dir, url, sizeof(url)) < 0) {
		return envx_cli_usage(ctx,
		                      "no repository: pass --repo OWNER/REPO "
		                      "(GITHUB_REPOSITORY is not set, and the "
		                      "vault's directory has no git remote "
		                      "'origin')");
	}
	if (envx_gh_repo_from_url(url, t->repo, sizeof(t->repo)) < 0) {
		return envx_cli_usage(ctx,
		                      "the git remote 'origin' is not a "
		                      "repository URL envx understands: pass "
		                      "--repo OWNER/REPO");
	}
	t->repo_from = "git remote origin";
	return 0;
}

/* A decimal in [lo, hi] into *v. */
static bool
parse_long(const char *s, long lo, long hi, long *v)
{
	char *end;
	long x;

	if (s == NULL || *s < '0' || *s > '9') {
		return false;
	}
	errno = 0;
	x = strtol(s, &end, 10);
	if (errno != 0 || *end != '\0' || x < lo || x > hi) {
		return false;
	}
	*v = x;
	return true;
}

/* "0", "0s", "0m" or "0h": no waiting at all. */
static bool
zero_span(const char *s)
{
	return s[0] == '0' &&
	       (s[1] == '\0' ||
	        ((s[1] == 's' || s[1] == 'm' || s[1] == 'h') && s[2] == '\0'));
}

static int
resolve_target(struct envx_ctx *ctx, const struct sync_args *a,
               struct target *t)
{
	static const struct envx_unit wait_units[] = {
	        {'s', 1}, {'m', 60}, {'h', 3600}};
	const char *base = getenv("GITHUB_API_URL");
	const char *wi = a->write_interval;
	const char *to = getenv("ENVX_GITHUB_TIMEOUT_MS");
	struct envx_error err;
	int status;

	status = resolve_repo(ctx, a, t);
	if (status != 0) {
		return status;
	}
	if (wi == NULL) {
		wi = getenv("ENVX_GITHUB_WRITE_INTERVAL_MS");
	}
	t->write_interval_ms = 1000;
	if (wi != NULL && !parse_long(wi, 0, 600000, &t->write_interval_ms)) {
		return envx_cli_usage(ctx,
		                      "%s '%.32s' is not a number of "
		                      "milliseconds from 0 to 600000",
		                      a->write_interval != NULL
		                              ? "--write-interval"
		                              : "ENVX_GITHUB_WRITE_INTERVAL_MS",
		                      wi);
	}
	t->max_wait = 15 * 60;
	if (a->max_wait != NULL && !zero_span(a->max_wait) &&
	    envx_span_parse(a->max_wait, wait_units, 3, 86400, 86400,
	                    &t->max_wait) < 0) {
		return envx_cli_usage(ctx,
		                      "--max-wait '%.32s' is not a duration "
		                      "like 90s, 15m or 2h (at most 24h)",
		                      a->max_wait);
	}
	if (a->max_wait != NULL && zero_span(a->max_wait)) {
		t->max_wait = 0;
	}
	t->timeout_ms = 30000;
	if (to != NULL && !parse_long(to, 1, 600000, &t->timeout_ms)) {
		return envx_cli_usage(ctx,
		                      "ENVX_GITHUB_TIMEOUT_MS '%.32s' is not a "
		                      "number of milliseconds from 1 to 600000",
		                      to);
	}
	if (envx_gh_api_base_check(
	            base != NULL && *base != '\0' ? base
	                                          : "https://api.github.com",
	            t->base, sizeof(t->base), &t->plain_http, &err) < 0) {
		return envx_cli_fail(&err);
	}
	t->token = getenv("GH_TOKEN");
	if (t->token == NULL || *t->token == '\0') {
		t->token = getenv("GITHUB_TOKEN");
	}
	if (t->token == NULL || *t->token == '\0') {
		return envx_cli_error(2,
		                      "sync: no GitHub token: set GH_TOKEN (or "
		                      "GITHUB_TOKEN) to a token that may write "
		                      "the repository's environment secrets");
	}
	if (!envx_gh_token_valid(t->token)) {
		return envx_cli_error(2,
		                      "sync: the token in %s is not usable (it "
		                      "must be 1 to 1024 visible ASCII "
		                      "characters, no spaces or line breaks)",
		                      getenv("GH_TOKEN") != NULL &&
		                                      *getenv("GH_TOKEN") !=
		                                              '\0'
		                              ? "GH_TOKEN"
		                              : "GITHUB_TOKEN");
	}
	return 0;
}

/* ---- the local side ---- */

struct local_side {
	struct envx_env *e;
	struct envx_kvset values;
	struct envx_sync_local *items;
	size_t n;
	char keytag[ENVX_GH_KEYTAG_BYTES];
	struct envx_sync_state rec;
};

static void
local_release(struct local_side *l)
{
	envx_kvset_release(&l->values);
	free(l->items);
	envx_sync_state_release(&l->rec);
	envx_env_free(l->e);
}

/* GitHub's rules, every offender listed: exit 7 before any request. */
static int
check_limits(const struct local_side *l)
{
	size_t bad = 0;

	for (size_t i = 0; i < l->n; i++) {
		const char *name = l->items[i].name;
		const char *why = envx_gh_name_problem(name);
		char dup[ENVX_NAME_MAX_BYTES + 64];
		size_t len;

		envx_kvset_value(&l->values, l->items[i].index, &len);
		if (why == NULL && envx_name_refused(name, strlen(name)) &&
		    !envx_env_name_allowed(l->e, name)) {
			why = "a refused name (it can make a program run code); "
			      "'envx env allow' lets it in";
		}
		for (size_t j = 0; why == NULL && j < i; j++) {
			if (strcasecmp(l->items[j].name, name) == 0) {
				snprintf(
				        dup, sizeof(dup),
				        "GitHub's names ignore case: it is the "
				        "same name as %s",
				        l->items[j].name);
				why = dup;
			}
		}
		if (why == NULL && len > ENVX_GH_VALUE_MAX_BYTES) {
			why = "its value is over GitHub's 48 KB limit";
		}
		if (why != NULL) {
			envx_cli_warn("sync: %s: %s", name, why);
			bad++;
		}
	}
	if (l->n > ENVX_GH_SECRETS_MAX) {
		envx_cli_warn(
		        "sync: '%s' has %zu secrets; a GitHub environment "
		        "holds at most %d",
		        envx_env_name(l->e), l->n, ENVX_GH_SECRETS_MAX);
		bad++;
	}
	if (bad > 0) {
		return envx_cli_error(7,
		                      "sync: %zu problem%s above: nothing was "
		                      "sent to GitHub",
		                      bad, bad == 1 ? "" : "s");
	}
	return 0;
}

/* The record of what envx pushed to target's environment: the sync-github
 * events of env up to the one its signed state covers. */
static int
load_record(struct envx_ctx *ctx, struct local_side *l, const char *repo,
            const char *environment, bool strict, struct envx_error *err)
{
	struct envx_audit_filter f = {.env = envx_env_name(l->e)};
	struct envx_audit_event *ev = NULL;
	int64_t covered = envx_env_signed_audit_seq(l->e);
	size_t n = 0;
	size_t ignored = 0;
	int r;

	/* a record edited in the file must not steer --prune */
	r = envx_vault_audit_verify(ctx->vault, NULL, err);
	if (r == 0) {
		r = envx_vault_audit_events(ctx->vault, &f, &ev, &n, err);
	}
	for (size_t i = 0; i < n && r == 0; i++) {
		if (strcmp(ev[i].action, ENVX_SYNC_ACTION) != 0) {
			continue;
		}
		if (ev[i].seq > covered) {
			ignored++;
			continue;
		}
		r = envx_sync_state_apply(&l->rec, ev[i].detail, repo,
		                          environment, err);
	}
	if (r == 0 && ignored > 0 && strict) {
		/* a writer would refuse to sign over them anyway (VF-3.8):
		 * stop before sending anything */
		r = envx_error_set(err, ENVX_E_INTEGRITY,
		                   "sync: %zu sync record%s of '%s' no signed "
		                   "state covers: added outside envx; nothing "
		                   "was sent ('envx audit %s' shows them)",
		                   ignored, ignored == 1 ? "" : "s",
		                   envx_env_name(l->e), envx_env_name(l->e));
	} else if (r == 0 && ignored > 0) {
		envx_cli_warn("sync: ignoring %zu sync record%s of '%s' that "
		              "no signed state covers (added outside envx?)",
		              ignored, ignored == 1 ? "" : "s",
		              envx_env_name(l->e));
	}
	envx_audit_events_free(ev, n);
	return r;
}

static int
load_local(struct envx_ctx *ctx, const struct sync_args *a,
           const struct target *t, struct local_side *l)
{
	struct envx_secret_info *info = NULL;
	struct envx_error err;
	size_t ninfo = 0;
	int r;

	r = envx_ctx_unlock_all(ctx, a->env, &l->e, &l->values, &err);
	if (r == 0) {
		r = envx_env_secrets(l->e, &info, &ninfo, &err);
	}
	if (r == 0) {
		l->items = calloc(l->values.count + 1, sizeof(*l->items));
		if (l->items == NULL) {
			r = envx_error_set(&err, ENVX_E_INTERNAL,
			                   "out of memory");
		}
	}
	for (size_t i = 0; r == 0 && i < l->values.count; i++) {
		struct envx_sync_local *it = &l->items[l->n++];
		const char *name = envx_kvset_name(&l->values, i);
		size_t len;
		const unsigned char *v = envx_kvset_value(&l->values, i, &len);

		it->name = name;
		it->index = i;
		/* both lists are sorted by name */
		for (size_t j = 0; j < ninfo; j++) {
			if (strcmp(info[j].name, name) == 0) {
				it->version = info[j].version;
				break;
			}
		}
		r = envx_env_sync_fingerprint(l->e, name, v, len, it->fp, &err);
	}
	free(info);
	if (r == 0) {
		envx_env_key_tag(l->e, l->keytag);
		r = load_record(ctx, l, t->repo, a->environment, !a->status,
		                &err);
	}
	return r < 0 ? envx_cli_fail(&err) : 0;
}

/* That this identity may record the sync (a writer of ENV): checked
 * before sending anything, by starting the write and rolling it back. */
static int
check_can_record(struct envx_ctx *ctx, struct local_side *l)
{
	struct envx_error err;
	int r;

	r = envx_vault_begin(ctx->vault, &err);
	if (r == 0) {
		r = envx_env_touch(l->e, &err);
	}
	envx_vault_rollback(ctx->vault);
	if (r < 0) {
		envx_error_append(&err, " (sync records what it pushed in the "
		                        "vault, so it needs write access: "
		                        "nothing was sent)");
		return envx_cli_fail(&err);
	}
	return 0;
}

/* ---- printing ---- */

static const char *
op_word(int op)
{
	switch (op) {
	case ENVX_SYNC_CREATE:
		return "create";
	case ENVX_SYNC_UPDATE:
		return "update";
	case ENVX_SYNC_DELETE:
		return "delete";
	case ENVX_SYNC_KEEP_DELETED:
		return "keep";
	case ENVX_SYNC_REMOTE_ONLY:
		return "remote-only";
	default:
		return "unchanged";
	}
}

/* sync status's word for an item. */
static const char *
state_word(const struct envx_sync_item *it)
{
	if (it->op == ENVX_SYNC_REMOTE_ONLY) {
		return "remote-only";
	}
	if (it->op == ENVX_SYNC_KEEP_DELETED || it->op == ENVX_SYNC_DELETE) {
		return "deleted-locally";
	}
	if (it->why & ENVX_SYNC_NEW) {
		return "new-locally";
	}
	if (it->why & ENVX_SYNC_MISSING_REMOTE) {
		return "missing-on-github";
	}
	if ((it->why & ENVX_SYNC_CHANGED_LOCAL) &&
	    (it->why & ENVX_SYNC_CHANGED_REMOTE)) {
		return "changed-both";
	}
	if (it->why & ENVX_SYNC_CHANGED_LOCAL) {
		return "changed-locally";
	}
	if (it->why & ENVX_SYNC_CHANGED_REMOTE) {
		return "changed-on-github";
	}
	if (it->why & ENVX_SYNC_UNKNOWN_TIME) {
		return "unknown-on-github";
	}
	return "in-step";
}

/* Why, in words ("" for nothing to say). */
static void
why_text(const struct envx_sync_item *it, char *out, size_t outsz)
{
	struct {
		unsigned bit;
		const char *text;
	} const words[] = {
	        {ENVX_SYNC_ADOPT, "on GitHub but not pushed by envx: "
	                          "envx's value replaces it"},
	        {ENVX_SYNC_REKEYED, "rekeyed since the last sync, so "
	                            "pushed again"},
	        {ENVX_SYNC_CHANGED_LOCAL, "changed locally"},
	        {ENVX_SYNC_CHANGED_REMOTE, "changed on GitHub since envx "
	                                   "pushed it"},
	        {ENVX_SYNC_MISSING_REMOTE, "deleted on GitHub"},
	        {ENVX_SYNC_UNKNOWN_TIME, "GitHub's time of the last push is "
	                                 "unknown"},
	};
	size_t len = 0;

	out[0] = '\0';
	for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++) {
		if ((it->why & words[i].bit) && len < outsz) {
			len += (size_t)snprintf(out + len, outsz - len, "%s%s",
			                        len ? "; " : "", words[i].text);
		}
	}
	if (it->op == ENVX_SYNC_KEEP_DELETED) {
		snprintf(out, outsz,
		         "pushed by envx, no longer local: "
		         "--prune deletes it");
	} else if (it->op == ENVX_SYNC_REMOTE_ONLY) {
		snprintf(out, outsz, "not pushed by envx: left alone");
	}
}

static void
print_version(uint64_t v)
{
	if (v == 0) {
		printf("null");
	} else {
		printf("%llu", (unsigned long long)v);
	}
}

static void
item_json(const struct envx_sync_item *it, const char *result)
{
	char why[256];

	why_text(it, why, sizeof(why));
	printf("{\"name\": ");
	envx_json_print_string(stdout, it->name);
	printf(", \"state\": \"%s\", \"op\": \"%s\", \"version\": ",
	       state_word(it), op_word(it->op));
	print_version(it->local != NULL ? it->local->version : 0);
	printf(", \"pushed_version\": ");
	print_version(it->rec != NULL ? it->rec->version : 0);
	printf(", \"github_updated_at\": ");
	if (it->remote != NULL) {
		envx_json_print_string(stdout, it->remote->updated_at);
	} else {
		printf("null");
	}
	printf(", \"drift\": %s, \"why\": ",
	       envx_sync_item_drift(it) ? "true" : "false");
	envx_json_print_string(stdout, why);
	if (result != NULL) {
		printf(", \"result\": \"%s\"", result);
	}
	printf("}");
}

static void
print_target_json(const struct sync_args *a, const struct target *t)
{
	printf("{\"env\": ");
	envx_json_print_string(stdout, a->env);
	printf(", \"repo\": ");
	envx_json_print_string(stdout, t->repo);
	printf(", \"environment\": ");
	envx_json_print_string(stdout, a->environment);
}

/* ---- sync status ---- */

static int
run_status(struct envx_ctx *ctx, const struct sync_args *a,
           const struct target *t, const struct envx_sync_item *items, size_t n)
{
	size_t drift = 0;
	size_t remote_only = 0;

	for (size_t i = 0; i < n; i++) {
		drift += envx_sync_item_drift(&items[i]);
		remote_only += items[i].op == ENVX_SYNC_REMOTE_ONLY;
	}
	if (ctx->json) {
		print_target_json(a, t);
		printf(", \"in_step\": %s, \"drift\": %zu, \"secrets\": [",
		       drift == 0 ? "true" : "false", drift);
		for (size_t i = 0; i < n; i++) {
			printf("%s", i ? ", " : "");
			item_json(&items[i], NULL);
		}
		printf("]}\n");
	} else {
		printf("%-18s %-32s %-7s %-7s %s\n", "STATE", "NAME", "LOCAL",
		       "PUSHED", "GITHUB UPDATED");
		for (size_t i = 0; i < n; i++) {
			const struct envx_sync_item *it = &items[i];
			char lv[24] = "-";
			char pv[24] = "-";
			char why[256];
			if (it->local != NULL) {
				snprintf(
				        lv, sizeof(lv), "v%llu",
				        (unsigned long long)it->local->version);
			}
			if (it->rec != NULL) {
				snprintf(pv, sizeof(pv), "v%llu",
				         (unsigned long long)it->rec->version);
			}
			why_text(it, why, sizeof(why));
			printf("%-18s %-32s %-7s %-7s %s%s%s\n", state_word(it),
			       it->name, lv, pv,
			       it->remote != NULL ? it->remote->updated_at
			                          : "-",
			       why[0] ? "  " : "", why);
		}
		if (drift == 0) {
			printf("in step: github %s environment '%s' holds what "
			       "envx pushed from '%s'%s\n",
			       t->repo, a->environment, a->env,
			       remote_only ? " (and secrets envx does not "
			                     "own)"
			                   : "");
		} else {
			printf("drift: %zu name%s; 'envx sync github %s' sends "
			       "%s\n",
			       drift, drift == 1 ? "" : "s", a->env,
			       drift == 1 ? "it" : "them");
		}
	}
	return drift == 0 ? 0 : 1;
}

/* ---- sync github ---- */

struct outcome {
	const char *result; /* pushed, deleted, failed, not-sent, ... */
	char at[ENVX_GH_TIME_BYTES];
};

static bool
is_write(const struct envx_sync_item *it)
{
	return it->op == ENVX_SYNC_CREATE || it->op == ENVX_SYNC_UPDATE ||
	       it->op == ENVX_SYNC_DELETE;
}

static void
on_notice(void *c, const char *msg)
{
	const struct envx_ctx *ctx = c;

	envx_cli_note(ctx, "sync: %s", msg);
}

/* GitHub's updated_at for the names written, from one more listing. */
static void
learn_times(struct envx_gh *gh, const struct sync_args *a,
            const struct target *t, const struct envx_sync_item *items,
            size_t n, struct outcome *out)
{
	struct envx_gh_remote *rm = NULL;
	struct envx_error err;
	size_t nrm = 0;

	if (envx_gh_list(gh, t->repo, a->environment, &rm, &nrm, &err) < 0) {
		envx_cli_warn("sync: %s; the names pushed are recorded without "
		              "GitHub's time, and the next sync pushes them "
		              "again to learn it",
		              err.msg);
		return;
	}
	for (size_t i = 0; i < n; i++) {
		if (out[i].result == NULL || strcmp(out[i].result, "pushed")) {
			continue;
		}
		for (size_t j = 0; j < nrm; j++) {
			if (strcasecmp(rm[j].name, items[i].name) == 0 &&
			    strlen(rm[j].updated_at) ==
			            ENVX_GH_TIME_BYTES - 1) {
				memcpy(out[i].at, rm[j].updated_at,
				       ENVX_GH_TIME_BYTES);
			}
		}
	}
	free(rm);
}

/* Records what was pushed and deleted: one sync-github event inside the
 * environment's signed state. */
static int
record(struct envx_ctx *ctx, const struct sync_args *a, const struct target *t,
       struct local_side *l, const struct envx_sync_item *items, size_t n,
       const struct outcome *out, struct envx_error *err)
{
	struct envx_sync_entry *ents = calloc(n + 1, sizeof(*ents));
	size_t k = 0;
	char *detail = NULL;
	int r;

	if (ents == NULL) {
		return envx_error_set(err, ENVX_E_INTERNAL, "out of memory");
	}
	for (size_t i = 0; i < n; i++) {
		if (out[i].result == NULL) {
			continue;
		}
		ents[k].name = items[i].name;
		if (strcmp(out[i].result, "pushed") == 0) {
			ents[k].done = ENVX_SYNC_PUT;
			ents[k].version = items[i].local->version;
			ents[k].fp = items[i].local->fp;
			ents[k].at = out[i].at;
		} else if (strcmp(out[i].result, "deleted") == 0) {
			ents[k].done = ENVX_SYNC_DELETED;
		} else if (strcmp(out[i].result, "failed") == 0) {
			ents[k].done = ENVX_SYNC_FAILED;
		} else {
			continue;
		}
		k++;
	}
	r = envx_sync_detail(t->repo, a->environment, l->keytag, ents, k,
	                     &detail, err);
	if (r == 0) {
		r = envx_vault_begin(ctx->vault, err);
	}
	if (r == 0) {
		r = envx_env_touch(l->e, err);
	}
	if (r == 0) {
		r = envx_vault_audit(ctx->vault, ENVX_SYNC_ACTION, a->env, "",
		                     detail, err);
	}
	if (r == 0) {
		r = envx_vault_commit(ctx->vault, err);
	}
	if (r < 0) {
		envx_vault_rollback(ctx->vault);
	}
	free(detail);
	free(ents);
	return r;
}

static void
print_plan_text(const struct sync_args *a, const struct target *t,
                const struct envx_sync_item *items, size_t n,
                const struct outcome *out)
{
	size_t unchanged = 0;

	printf("%s '%s' to github %s environment '%s' (repository from "
	       "%s)\n",
	       a->dry_run ? "plan for syncing" : "synced", a->env, t->repo,
	       a->environment, t->repo_from);
	for (size_t i = 0; i < n; i++) {
		const struct envx_sync_item *it = &items[i];
		char why[256];
		char ver[24] = "";
		if (it->op == ENVX_SYNC_UNCHANGED) {
			unchanged++;
			continue;
		}
		why_text(it, why, sizeof(why));
		if (it->local != NULL) {
			snprintf(ver, sizeof(ver), "v%llu",
			         (unsigned long long)it->local->version);
		}
		printf("  %-11s %-32s %-6s %s%s%s\n", op_word(it->op), it->name,
		       ver, why,
		       out != NULL && out[i].result != NULL ? "  -> " : "",
		       out != NULL && out[i].result != NULL ? out[i].result
		                                            : "");
	}
	printf("  %zu unchanged\n", unchanged);
}

static int
run_github(struct envx_ctx *ctx, const struct sync_args *a,
           const struct target *t, struct envx_gh *gh, struct local_side *l,
           const struct envx_sync_item *items, size_t n)
{
	struct outcome *out = calloc(n + 1, sizeof(*out));
	struct envx_gh_key key;
	struct envx_error err;
	struct envx_error rerr;
	size_t writes = 0;
	size_t done = 0;
	size_t pushed = 0;
	size_t deleted = 0;
	bool failed = false;
	bool tty = isatty(STDERR_FILENO) && !ctx->quiet;
	unsigned nreq;
	unsigned nwr;
	int status = 0;

	if (out == NULL) {
		return envx_cli_error(10, "out of memory");
	}
	for (size_t i = 0; i < n; i++) {
		writes += is_write(&items[i]);
	}
	if (writes > 0 && !a->dry_run &&
	    envx_gh_public_key(gh, t->repo, a->environment, &key, &err) < 0) {
		envx_cli_fail(&err);
		status = envx_cli_error(5, "sync: nothing was sent");
		goto done;
	}
	for (size_t i = 0; i < n && !a->dry_run; i++) {
		const struct envx_sync_item *it = &items[i];
		int r;
		if (!is_write(it)) {
			continue;
		}
		if (failed) {
			out[i].result = "not-sent";
			continue;
		}
		if (tty) {
			envx_cli_warn("sync: %s %s (%zu/%zu)", op_word(it->op),
			              it->name, ++done, writes);
		}
		if (it->op == ENVX_SYNC_DELETE) {
			r = envx_gh_delete(gh, t->repo, a->environment,
			                   it->name, &err);
		} else {
			size_t len;
			const unsigned char *v = envx_kvset_value(
			        &l->values, it->local->index, &len);
			r = envx_gh_put(gh, t->repo, a->environment, &key,
			                it->name, v, len, &err);
		}
		if (r < 0) {
			failed = true;
			out[i].result = "failed";
			envx_cli_fail(&err);
			continue;
		}
		out[i].result =
		        it->op == ENVX_SYNC_DELETE ? "deleted" : "pushed";
		pushed += it->op != ENVX_SYNC_DELETE;
		deleted += it->op == ENVX_SYNC_DELETE;
	}
	if (pushed > 0) {
		learn_times(gh, a, t, items, n, out);
	}
	if (!a->dry_run && (pushed > 0 || deleted > 0) &&
	    record(ctx, a, t, l, items, n, out, &rerr) < 0) {
		envx_cli_fail(&rerr);
		status = envx_cli_error(envx_error_exit_status(rerr.code),
		                        "sync: GitHub has the changes, but the "
		                        "vault could not record them: the next "
		                        "sync sends them again");
	}
	envx_gh_counts(gh, &nreq, &nwr);
	if (ctx->json) {
		print_target_json(a, t);
		printf(", \"dry_run\": %s, \"complete\": %s, \"secrets\": [",
		       a->dry_run ? "true" : "false",
		       failed ? "false" : "true");
		for (size_t i = 0; i < n; i++) {
			printf("%s", i ? ", " : "");
			item_json(&items[i],
			          a->dry_run ? NULL
			          : out[i].result != NULL
			                  ? out[i].result
			                  : (items[i].op == ENVX_SYNC_UNCHANGED
			                             ? "unchanged"
			                             : "left-alone"));
		}
		printf("], \"requests\": %u, \"writes\": %u}\n", nreq, nwr);
	} else {
		print_plan_text(a, t, items, n, a->dry_run ? NULL : out);
		if (a->dry_run) {
			printf("dry run: %zu write%s planned, none sent\n",
			       writes, writes == 1 ? "" : "s");
		} else {
			printf("%zu pushed, %zu deleted, %u request%s\n",
			       pushed, deleted, nreq, nreq == 1 ? "" : "s");
		}
	}
	if (failed) {
		size_t sent = 0;
		for (size_t i = 0; i < n; i++) {
			sent += out[i].result != NULL &&
			        (strcmp(out[i].result, "pushed") == 0 ||
			         strcmp(out[i].result, "deleted") == 0);
		}
		envx_cli_warn("sync stopped midway: %zu of %zu writes done "
		              "(and recorded); not sent:",
		              sent, writes);
		for (size_t i = 0; i < n; i++) {
			if (out[i].result != NULL &&
			    (strcmp(out[i].result, "failed") == 0 ||
			     strcmp(out[i].result, "not-sent") == 0)) {
				envx_cli_warn("  %s %s (%s)",
				              op_word(items[i].op),
				              items[i].name, out[i].result);
			}
		}
		envx_cli_warn("run the same sync again to send the rest");
		status = 5;
	}
done:
	free(out);
	return status;
}

/* ---- the command ---- */

static int
parse_args(struct envx_ctx *ctx, int argc, char **argv, struct sync_args *a,
           struct envx_optstate *st)
{
	static const struct envx_opt opts[] = {
	        {"--repo", 1, OPT_REPO},
	        {"--environment", 1, OPT_ENVIRONMENT},
	        {"--prune", 0, OPT_PRUNE},
	        {"--dry-run", 0, OPT_DRY_RUN},
	        {"--write-interval", 1, OPT_WRITE_INTERVAL},
	        {"--max-wait", 1, OPT_MAX_WAIT},
	        {NULL, 0, 0}};
	bool github_only = false;
	int o;

	st->argc = argc;
	st->argv = argv;
	while ((o = envx_getopt(ctx, st, opts)) > 0) {
		switch (o) {
		case OPT_REPO:
			a->repo_opt = st->arg;
			break;
		case OPT_ENVIRONMENT:
			a->environment = st->arg;
			break;
		case OPT_PRUNE:
			a->prune = github_only = true;
			break;
		case OPT_DRY_RUN:
			a->dry_run = github_only = true;
			break;
		case OPT_WRITE_INTERVAL:
			a->write_interval = st->arg;
			github_only = true;
			break;
		default:
			a->max_wait = st->arg;
			github_only = true;
			break;
		}
	}
	if (o < 0) {
		return o == -1 ? -1 : 2;
	}
	if (st->npositional < 1) {
		return envx_cli_usage(ctx, "missing 'github ENV' or 'status "
		                           "ENV'");
	}
	if (strcmp(st->positional[0], "status") == 0) {
		a->status = true;
	} else if (strcmp(st->positional[0], "github") != 0) {
		return envx_cli_usage(ctx,
		                      "unknown subcommand '%.32s' (use github "
		                      "or status)",
		                      st->positional[0]);
	}
	if (st->npositional != 2) {
		return envx_cli_usage(ctx, st->npositional < 2
		                                   ? "missing ENV"
		                                   : "too many arguments");
	}
	if (a->status && github_only) {
		return envx_cli_usage(ctx, "--prune, --dry-run, "
		                           "--write-interval and --max-wait "
		                           "are for 'sync github'");
	}
	/* an invalid ENV is simply not found (exit 9), as for get or exec */
	a->env = st->positional[1];
	if (a->environment == NULL) {
		a->environment = a->env; /* checked when ENV is found */
	} else if (!envx_gh_environment_valid(a->environment)) {
		return envx_cli_usage(ctx,
		                      "--environment must be 1 to %d "
		                      "characters of plain text without '/'",
		                      ENVX_GH_ENV_MAX_BYTES);
	}
	return 0;
}

int
cmd_sync(int argc, char **argv, struct envx_ctx *ctx)
{
	struct envx_optstate st = {0};
	struct sync_args a = {0};
	struct target t = {0};
	struct local_side l = {0};
	struct envx_gh *gh = NULL;
	struct envx_gh_remote *remote = NULL;
	struct envx_sync_item *items = NULL;
	size_t nremote = 0;
	size_t nitems = 0;
	size_t total = 0;
	struct envx_error err;
	int status;

	envx_kvset_init(&l.values);
	status = parse_args(ctx, argc, argv, &a, &st);
	if (status != 0) {
		status = status < 0 ? 0 : status;
		goto done;
	}
	/* the record is written by `sync github`: a writable open */
	if (envx_ctx_open_vault(ctx, !a.status && !a.dry_run, &err) < 0) {
		status = envx_cli_fail(&err);
		goto done;
	}
	status = resolve_target(ctx, &a, &t);
	if (status == 0) {
		status = load_local(ctx, &a, &t, &l);
	}
	if (status == 0 && !a.status) {
		status = check_limits(&l);
	}
	if (status == 0 && !a.status && !a.dry_run) {
		status = check_can_record(ctx, &l);
	}
	if (status != 0) {
		goto done;
	}
	{
		struct envx_gh_options o = {
		        .base = t.base,
		        .plain_http = t.plain_http,
		        .token = t.token,
		        .timeout_ms = t.timeout_ms,
		        .max_wait = t.max_wait,
		        .write_interval_ms = t.write_interval_ms,
		        .notify = on_notice,
		        .notify_ctx = ctx,
		};
		if (envx_gh_open(&o, &gh, &err) < 0 ||
		    envx_gh_list(gh, t.repo, a.environment, &remote, &nremote,
		                 &err) < 0 ||
		    envx_sync_plan(l.items, l.n, &l.rec, remote, nremote,
		                   l.keytag, a.prune, &items, &nitems,
		                   &err) < 0) {
			status = envx_cli_fail(&err);
			goto done;
		}
	}
	for (size_t i = 0; i < nitems; i++) {
		total += items[i].op != ENVX_SYNC_DELETE;
	}
	if (!a.status && total > ENVX_GH_SECRETS_MAX) {
		status = envx_cli_error(
		        7,
		        "sync: github %s environment '%s' would "
		        "hold %zu secrets (with those envx does "
		        "not own), past GitHub's %d: nothing "
		        "was sent",
		        t.repo, a.environment, total, ENVX_GH_SECRETS_MAX);
		goto done;
	}
	status = a.status ? run_status(ctx, &a, &t, items, nitems)
	                  : run_github(ctx, &a, &t, gh, &l, items, nitems);
done:
	free(items);
	free(remote);
	envx_gh_close(gh);
	local_release(&l);
	free(st.positional);
	return status;
}
