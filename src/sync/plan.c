/*
 * The pure half of the GitHub sync: GitHub's rules, the retry policy, the
 * record of what envx pushed (VF-5.2) and the plan. No I/O.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "envx/sync.h"
#include "envx/util.h"
#include "util/banned.h"

static int
lower(int c)
{
	return c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c;
}

/* ASCII case-insensitive comparison, as GitHub compares names. */
static int
casecmp(const char *a, const char *b)
{
	for (;
	     *a != '\0' && lower((unsigned char)*a) == lower((unsigned char)*b);
	     a++, b++) {
	}
	return lower((unsigned char)*a) - lower((unsigned char)*b);
}

/* Whether s starts with prefix, ignoring ASCII case. */
static bool
caseprefix(const char *s, const char *prefix)
{
	for (; *prefix != '\0'; s++, prefix++) {
		if (lower((unsigned char)*s) != lower((unsigned char)*prefix)) {
			return false;
		}
	}
	return true;
}

static bool
repo_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
}

/* One part of OWNER/REPO, n bytes at p. */
static bool
repo_part(const char *p, size_t n)
{
	size_t i;

	if (n == 0 || (n == 1 && p[0] == '.') ||
	    (n == 2 && p[0] == '.' && p[1] == '.')) {
		return false;
	}
	for (i = 0; i < n; i++) {
		if (!repo_char(p[i])) {
			return false;
		}
	}
	return true;
}

bool
envx_gh_repo_valid(const char *repo)
{
	const char *slash = strchr(repo, '/');

	return slash != NULL && strlen(repo) < ENVX_GH_REPO_MAX_BYTES &&
	       repo_part(repo, (size_t)(slash - repo)) &&
	       repo_part(slash + 1, strlen(slash + 1));
}

int
envx_gh_repo_from_url(const char *url, char *out, size_t outsz)
{
	const char *path = NULL;
	const char *p;
	size_t n;

	if (strncmp(url, "https://", 8) == 0 ||
	    strncmp(url, "http://", 7) == 0 || strncmp(url, "ssh://", 6) == 0 ||
	    strncmp(url, "git://", 6) == 0) {
		p = strstr(url, "://") + 3;
		path = strchr(p, '/');
	} else if (strstr(url, "://") == NULL &&
	           (p = strchr(url, ':')) != NULL && strchr(url, '/') > p) {
		/* scp-like: [user@]host:owner/repo */
		path = p + 1;
	}
	if (path == NULL) {
		return -1;
	}
	while (*path == '/') {
		path++;
	}
	n = strlen(path);
	while (n > 0 && path[n - 1] == '/') {
		n--;
	}
	if (n > 4 && memcmp(path + n - 4, ".git", 4) == 0) {
		n -= 4;
	}
	if (n + 1 > outsz) {
		return -1;
	}
	memcpy(out, path, n);
	out[n] = '\0';
	return envx_gh_repo_valid(out) ? 0 : -1;
}

bool
envx_gh_environment_valid(const char *name)
{
	size_t n = strlen(name);

	/* "." and ".." would be path steps in the URL, not a name */
	return n > 0 && n <= ENVX_GH_ENV_MAX_BYTES && envx_text_plain(name) &&
	       strchr(name, '/') == NULL && strcmp(name, ".") != 0 &&
	       strcmp(name, "..") != 0;
}

/* Whether host (n bytes) is a loopback address envx may speak plain HTTP
 * to: 127.0.0.0/8 written as four decimal parts, [::1], localhost. */
static bool
loopback_host(const char *host, size_t n)
{
	unsigned parts[4];
	char tmp[64];
	char rest;

	if ((n == 9 && memcmp(host, "localhost", 9) == 0) ||
	    (n == 5 && memcmp(host, "[::1]", 5) == 0)) {
		return true;
	}
	if (n >= sizeof(tmp)) {
		return false;
	}
	memcpy(tmp, host, n);
	tmp[n] = '\0';
	for (size_t i = 0; i < n; i++) {
		if (!(tmp[i] == '.' || (tmp[i] >= '0' && tmp[i] <= '9'))) {
			return false;
		}
	}
	if (sscanf(tmp, "%3u.%3u.%3u.%3u%c", &parts[0], &parts[1], &parts[2],
	           &parts[3], &rest) != 4) {
		return false;
	}
	return parts[0] == 127 && parts[1] < 256 && parts[2] < 256 &&
	       parts[3] < 256;
}

int
envx_gh_api_base_check(const char *url, char *out, size_t outsz,
                       bool *plain_http, struct envx_error *err)
{
	const char *auth;
	const char *end;
	const char *host_end;
	size_t n = strlen(url);

	*plain_http = false;
	if (strncmp(url, "https://", 8) == 0) {
		auth = url + 8;
	} else if (strncmp(url, "http://", 7) == 0) {
		auth = url + 7;
		*plain_http = true;
	} else {
		return envx_error_set(err, ENVX_E_USAGE,
		                      "GITHUB_API_URL must start with "
		                      "https://");
	}
	for (const char *p = url; *p != '\0'; p++) {
		if ((unsigned char)*p <= ' ' || (unsigned char)*p >= 0x7f ||
		    *p == '?' || *p == '#' || *p == '\\') {
			return envx_error_set(err, ENVX_E_USAGE,
			                      "GITHUB_API_URL must be a plain "
			                      "URL (no spaces, query or "
			                      "fragment)");
		}
	}
	end = strchr(auth, '/');
	if (end == NULL) {
		end = url + n;
	}
	if (memchr(auth, '@', (size_t)(end - auth)) != NULL) {
		return envx_error_set(err, ENVX_E_USAGE,
		                      "GITHUB_API_URL must not carry a user "
		                      "name or password");
	}
	/* the host, without a port */
	host_end = end;
	if (*auth == '[') {
		host_end = memchr(auth, ']', (size_t)(end - auth));
		host_end = host_end == NULL ? auth : host_end + 1;
	} else {
		const char *colon = memchr(auth, ':', (size_t)(end - auth));
		if (colon != NULL) {
			host_end = colon;
		}
	}
	if (host_end == auth) {
		return envx_error_set(err, ENVX_E_USAGE,
		                      "GITHUB_API_URL has no host");
	}
	if (host_end < end) {
		/* ":PORT": 1 to 65535 */
		const char *p = host_end;
		long port = 0;
		if (*p != ':' || p + 1 == end || p + 6 < end) {
			return envx_error_set(err, ENVX_E_USAGE,
			                      "GITHUB_API_URL has a bad port");
		}
		for (p++; p < end; p++) {
			if (*p < '0' || *p > '9') {
				return envx_error_set(
				        err, ENVX_E_USAGE,
				        "GITHUB_API_URL has a bad "
				        "port");
			}
			port = port * 10 + (*p - '0');
		}
		if (port < 1 || port > 65535) {
			return envx_error_set(err, ENVX_E_USAGE,
			                      "GITHUB_API_URL has a bad port");
		}
	}
	if (*plain_http && !loopback_host(auth, (size_t)(host_end - auth))) {
		return envx_error_set(
		        err, ENVX_E_USAGE,
		        "GITHUB_API_URL: plain http:// is refused "
		        "for '%.*s', which is not a loopback "
		        "address (the token would cross the "
		        "network in clear): use https://",
		        (int)(host_end - auth > 100 ? 100 : host_end - auth),
		        auth);
	}
	while (n > 0 && url[n - 1] == '/') {
		n--;
	}
	if (n + 1 > outsz) {
		return envx_error_set(err, ENVX_E_USAGE,
		                      "GITHUB_API_URL is too long");
	}
	memcpy(out, url, n);
	out[n] = '\0';
	return 0;
}

bool
envx_gh_token_valid(const char *token)
{
	size_t n = strlen(token);

	if (n == 0 || n > 1024) {
		return false;
	}
	for (size_t i = 0; i < n; i++) {
		if ((unsigned char)token[i] <= ' ' ||
		    (unsigned char)token[i] >= 0x7f) {
			return false;
		}
	}
	return true;
}

const char *
envx_gh_name_problem(const char *name)
{
	size_t n = strlen(name);

	if (!envx_name_valid(name, n)) {
		return "GitHub allows only letters, digits and '_', not "
		       "starting with a digit";
	}
	if (n >= 7 && caseprefix(name, "GITHUB_")) {
		return "GitHub reserves names starting with GITHUB_";
	}
	return NULL;
}

/* A header value of decimal digits (surrounding blanks allowed) into *v. */
static bool
header_seconds(const char *s, int64_t *v)
{
	int64_t x = 0;
	bool any = false;

	if (s == NULL) {
		return false;
	}
	while (*s == ' ' || *s == '\t') {
		s++;
	}
	for (; *s >= '0' && *s <= '9'; s++) {
		if (x > INT64_MAX / 10 - 10) {
			return false;
		}
		x = x * 10 + (*s - '0');
		any = true;
	}
	while (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\n') {
		s++;
	}
	*v = x;
	return any && *s == '\0';
}

static bool
contains_ci(const char *hay, const char *needle)
{
	size_t n = strlen(needle);

	for (; hay != NULL && *hay != '\0'; hay++) {
		size_t i;
		for (i = 0; i < n && hay[i] != '\0' &&
		            lower((unsigned char)hay[i]) == needle[i];
		     i++) {
		}
		if (i == n) {
			return true;
		}
	}
	return false;
}

int64_t
envx_gh_retry_wait(const struct envx_gh_answer *a, unsigned attempt,
                   int64_t now, const char **why)
{
	int64_t s;
	int64_t reset;
	int64_t left;
	bool server = a->status == 0 || (a->status >= 500 && a->status <= 599);

	if (a->status == 403 || a->status == 429) {
		if (header_seconds(a->retry_after, &s)) {
			*why = "GitHub asked to retry after a pause "
			       "(retry-after)";
			/* never 0: a server saying "now" forever must still
			 * use up the waiting budget */
			return s > 0 ? s : 1;
		}
		if (header_seconds(a->remaining, &left) && left == 0) {
			if (header_seconds(a->reset, &reset)) {
				*why = "rate limit exhausted until "
				       "x-ratelimit-reset";
				return (reset > now ? reset - now : 0) + 1;
			}
			*why = "rate limit exhausted (x-ratelimit-reset "
			       "unreadable)";
			return (int64_t)60 << (attempt > 5 ? 5 : attempt);
		}
		if (a->status == 429 ||
		    contains_ci(a->message, "secondary rate limit")) {
			*why = "secondary rate limit";
			return (int64_t)60 << (attempt > 5 ? 5 : attempt);
		}
		return -1;
	}
	if (server) {
		if (attempt >= ENVX_GH_SERVER_RETRIES) {
			return -1;
		}
		if (header_seconds(a->retry_after, &s)) {
			*why = "server error, retry-after";
			return s > 0 ? s : 1;
		}
		*why = a->status == 0 ? "connection failed" : "server error";
		return (int64_t)1 << attempt;
	}
	return -1;
}

/* ---- the record (VF-5.2) ---- */

static bool
unreserved(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-' ||
	       c == '~';
}

/* Percent-encodes s into b: every byte but [A-Za-z0-9._~-] as %XX. */
static int
pct_append(struct envx_buf *b, const char *s, struct envx_error *err)
{
	int r = 0;

	for (; *s != '\0' && r == 0; s++) {
		unsigned char c = (unsigned char)*s;
		r = unreserved(c) ? envx_buf_append(b, s, 1, err)
		                  : envx_buf_appendf(b, err, "%%%02X", c);
	}
	return r;
}

/* Decodes n bytes of percent-encoding at p into out (NUL-terminated);
 * -1 for a bad escape, a NUL, or no room. */
static int
pct_decode(const char *p, size_t n, char *out, size_t outsz)
{
	size_t o = 0;

	for (size_t i = 0; i < n; i++) {
		int c = (unsigned char)p[i];
		if (c == '%') {
			int hi = i + 2 < n ? envx_hexval(p[i + 1]) : -1;
			int lo = i + 2 < n ? envx_hexval(p[i + 2]) : -1;
			if (hi < 0 || lo < 0) {
				return -1;
			}
			c = hi * 16 + lo;
			i += 2;
		}
		if (c == 0 || o + 1 >= outsz) {
			return -1;
		}
		out[o++] = (char)c;
	}
	out[o] = '\0';
	return 0;
}

void
envx_sync_state_release(struct envx_sync_state *s)
{
	free(s->recs);
	s->recs = NULL;
	s->n = s->cap = 0;
}

const struct envx_sync_rec *
envx_sync_state_find(const struct envx_sync_state *s, const char *name)
{
	for (size_t i = 0; i < s->n; i++) {
		if (casecmp(s->recs[i].name, name) == 0) {
			return &s->recs[i];
		}
	}
	return NULL;
}

static void
state_forget(struct envx_sync_state *s, const char *name)
{
	for (size_t i = 0; i < s->n; i++) {
		if (casecmp(s->recs[i].name, name) == 0) {
			s->recs[i] = s->recs[--s->n];
			return;
		}
	}
}

static int
state_put(struct envx_sync_state *s, const struct envx_sync_rec *rec,
          struct envx_error *err)
{
	state_forget(s, rec->name);
	if (s->n == s->cap) {
		size_t cap = s->cap == 0 ? 16 : s->cap * 2;
		struct envx_sync_rec *nr = realloc(s->recs, cap * sizeof(*nr));
		if (nr == NULL) {
			return envx_error_set(err, ENVX_E_INTERNAL,
			                      "out of memory");
		}
		s->recs = nr;
		s->cap = cap;
	}
	s->recs[s->n++] = *rec;
	return 0;
}

/* A GitHub time as envx records it: YYYY-MM-DDTHH:MM:SSZ. */
static bool
gh_time_valid(const char *t, size_t n)
{
	static const char shape[] = "dddd-dd-ddTdd:dd:ddZ";

	if (n != sizeof(shape) - 1) {
		return false;
	}
	for (size_t i = 0; i < n; i++) {
		if (shape[i] == 'd' ? !(t[i] >= '0' && t[i] <= '9')
		                    : t[i] != shape[i]) {
			return false;
		}
	}
	return true;
}

/* "NAME:VERSION:FP:AT" (n bytes at p) into rec. */
static int
parse_put(const char *p, size_t n, struct envx_sync_rec *rec)
{
	const char *c1 = memchr(p, ':', n);
	const char *c2;
	const char *c3;
	const char *end = p + n;
	char num[24];
	char *e;
	size_t fplen;

	if (c1 == NULL ||
	    (c2 = memchr(c1 + 1, ':', (size_t)(end - c1 - 1))) == NULL ||
	    (c3 = memchr(c2 + 1, ':', (size_t)(end - c2 - 1))) == NULL) {
		return -1;
	}
	if ((size_t)(c1 - p) >= sizeof(rec->name) ||
	    !envx_name_valid(p, (size_t)(c1 - p)) ||
	    (size_t)(c2 - c1 - 1) >= sizeof(num) || c2 - c1 - 1 == 0) {
		return -1;
	}
	memcpy(rec->name, p, (size_t)(c1 - p));
	rec->name[c1 - p] = '\0';
	memcpy(num, c1 + 1, (size_t)(c2 - c1 - 1));
	num[c2 - c1 - 1] = '\0';
	if (num[0] < '1' || num[0] > '9') {
		return -1;
	}
	rec->version = strtoull(num, &e, 10);
	fplen = (size_t)(c3 - c2 - 1);
	if (*e != '\0' || fplen != 2 * ENVX_GH_FP_BYTES ||
	    sodium_hex2bin(rec->fp, sizeof(rec->fp), c2 + 1, fplen, NULL, NULL,
	                   NULL) != 0) {
		return -1;
	}
	if (end - c3 - 1 == 1 && c3[1] == '-') {
		rec->at[0] = '\0';
	} else if (gh_time_valid(c3 + 1, (size_t)(end - c3 - 1))) {
		memcpy(rec->at, c3 + 1, (size_t)(end - c3 - 1));
		rec->at[end - c3 - 1] = '\0';
	} else {
		return -1;
	}
	return 0;
}

static bool
token_is(const char *tok, size_t n, const char *key, const char **val)
{
	size_t k = strlen(key);

	if (n > k && memcmp(tok, key, k) == 0) {
		*val = tok + k;
		return true;
	}
	return false;
}

static bool
keytag_valid(const char *p, size_t n)
{
	if (n != ENVX_GH_KEYTAG_BYTES - 1) {
		return false;
	}
	for (size_t i = 0; i < n; i++) {
		if (envx_hexval(p[i]) < 0 || (p[i] >= 'A' && p[i] <= 'F')) {
			return false;
		}
	}
	return true;
}

int
envx_sync_state_apply(struct envx_sync_state *s, const char *detail,
                      const char *repo, const char *environment,
                      struct envx_error *err)
{
	char erepo[ENVX_GH_REPO_MAX_BYTES];
	char eenv[ENVX_GH_ENV_MAX_BYTES + 1];
	char key[ENVX_GH_KEYTAG_BYTES];
	const char *p = detail;
	unsigned field = 0;
	bool ours = false;

	while (*p != '\0') {
		const char *sp = strchr(p, ' ');
		size_t n = sp == NULL ? strlen(p) : (size_t)(sp - p);
		const char *val;
		size_t vn;
		struct envx_sync_rec rec;
		int bad = 0;

		if (field == 0) {
			bad = !token_is(p, n, "repo=", &val) ||
			      (vn = n - 5) >= sizeof(erepo);
			if (!bad) {
				memcpy(erepo, val, vn);
				erepo[vn] = '\0';
				bad = !envx_gh_repo_valid(erepo);
			}
		} else if (field == 1) {
			bad = !token_is(p, n, "environment=", &val) ||
			      pct_decode(val, n - 12, eenv, sizeof(eenv)) < 0 ||
			      !envx_gh_environment_valid(eenv);
		} else if (field == 2) {
			bad = !token_is(p, n, "key=", &val) ||
			      !keytag_valid(val, n - 4);
			if (!bad) {
				memcpy(key, val, n - 4);
				key[n - 4] = '\0';
				ours = casecmp(erepo, repo) == 0 &&
				       casecmp(eenv, environment) == 0;
			}
		} else if (token_is(p, n, "put=", &val)) {
			memset(&rec, 0, sizeof(rec));
			bad = parse_put(val, n - 4, &rec) < 0;
			if (!bad && ours) {
				memcpy(rec.key, key, sizeof(rec.key));
				if (state_put(s, &rec, err) < 0) {
					return err->code;
				}
			}
		} else if (token_is(p, n, "delete=", &val) ||
		           token_is(p, n, "failed=", &val)) {
			vn = (size_t)(p + n - val);
			bad = vn >= sizeof(rec.name) ||
			      !envx_name_valid(val, vn);
			if (!bad && ours && p[0] == 'd') {
				memcpy(rec.name, val, vn);
				rec.name[vn] = '\0';
				state_forget(s, rec.name);
			}
		} else {
			bad = 1;
		}
		if (bad) {
			return envx_error_set(
			        err, ENVX_E_INTEGRITY,
			        "a %s audit event is malformed "
			        "(field %u): the vault was edited",
			        ENVX_SYNC_ACTION, field + 1);
		}
		field++;
		p = sp == NULL ? p + n : sp + 1;
	}
	if (field < 3) {
		return envx_error_set(err, ENVX_E_INTEGRITY,
		                      "a %s audit event is incomplete: the "
		                      "vault was edited",
		                      ENVX_SYNC_ACTION);
	}
	return 0;
}

int
envx_sync_detail(const char *repo, const char *environment, const char *keytag,
                 const struct envx_sync_entry *ents, size_t n, char **out,
                 struct envx_error *err)
{
	struct envx_buf b;
	int r;

	envx_buf_init(&b, (size_t)1024 * 1024);
	r = envx_buf_appendf(&b, err, "repo=%s environment=", repo);
	if (r == 0) {
		r = pct_append(&b, environment, err);
	}
	if (r == 0) {
		r = envx_buf_appendf(&b, err, " key=%s", keytag);
	}
	for (size_t i = 0; i < n && r == 0; i++) {
		char fp[2 * ENVX_GH_FP_BYTES + 1];
		if (ents[i].done != ENVX_SYNC_PUT) {
			r = envx_buf_appendf(&b, err, " %s=%s",
			                     ents[i].done == ENVX_SYNC_DELETED
			                             ? "delete"
			                             : "failed",
			                     ents[i].name);
			continue;
		}
		sodium_bin2hex(fp, sizeof(fp), ents[i].fp, ENVX_GH_FP_BYTES);
		r = envx_buf_appendf(&b, err, " put=%s:%" PRIu64 ":%s:%s",
		                     ents[i].name, ents[i].version, fp,
		                     ents[i].at[0] == '\0' ? "-" : ents[i].at);
	}
	if (r < 0) {
		envx_buf_release(&b);
		return r;
	}
	*out = b.data;
	return 0;
}

/* ---- the plan ---- */

static const struct envx_gh_remote *
remote_find(const struct envx_gh_remote *remote, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++) {
		if (casecmp(remote[i].name, name) == 0) {
			return &remote[i];
		}
	}
	return NULL;
}

static bool
local_has(const struct envx_sync_local *local, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++) {
		if (casecmp(local[i].name, name) == 0) {
			return true;
		}
	}
	return false;
}

static int
item_cmp(const void *a, const void *b)
{
	const struct envx_sync_item *x = a;
	const struct envx_sync_item *y = b;
	int c = casecmp(x->name, y->name);

	return c != 0 ? c : strcmp(x->name, y->name);
}

/* What becomes of a local secret. */
static void
plan_local(struct envx_sync_item *it, const char *keytag)
{
	const struct envx_sync_rec *rec = it->rec;

	if (rec == NULL) {
		it->why = ENVX_SYNC_NEW |
		          (it->remote != NULL ? ENVX_SYNC_ADOPT : 0);
		it->op = it->remote != NULL ? ENVX_SYNC_UPDATE
		                            : ENVX_SYNC_CREATE;
		return;
	}
	if (strcmp(rec->key, keytag) != 0) {
		/* keyed by an earlier environment key: the fingerprints
		 * cannot be compared, so the value is pushed again */
		it->why |= ENVX_SYNC_CHANGED_LOCAL | ENVX_SYNC_REKEYED;
	} else if (sodium_memcmp(rec->fp, it->local->fp, ENVX_GH_FP_BYTES) !=
	           0) {
		it->why |= ENVX_SYNC_CHANGED_LOCAL;
	}
	if (it->remote == NULL) {
		it->why |= ENVX_SYNC_MISSING_REMOTE;
	} else if (rec->at[0] == '\0') {
		it->why |= ENVX_SYNC_UNKNOWN_TIME;
	} else if (strcmp(rec->at, it->remote->updated_at) != 0) {
		it->why |= ENVX_SYNC_CHANGED_REMOTE;
	}
	if (it->why & ENVX_SYNC_MISSING_REMOTE) {
		it->op = ENVX_SYNC_CREATE;
	} else if (it->why &
	           (ENVX_SYNC_CHANGED_LOCAL | ENVX_SYNC_CHANGED_REMOTE |
	            ENVX_SYNC_UNKNOWN_TIME)) {
		/* an unknown time is learnt by pushing again */
		it->op = ENVX_SYNC_UPDATE;
	} else {
		it->op = ENVX_SYNC_UNCHANGED;
	}
}

int
envx_sync_plan(const struct envx_sync_local *local, size_t nlocal,
               const struct envx_sync_state *rec,
               const struct envx_gh_remote *remote, size_t nremote,
               const char *keytag, bool prune, struct envx_sync_item **out,
               size_t *n, struct envx_error *err)
{
	size_t cap = nlocal + rec->n + nremote;
	struct envx_sync_item *items =
	        calloc(cap == 0 ? 1 : cap, sizeof(*items));
	size_t k = 0;

	if (items == NULL) {
		return envx_error_set(err, ENVX_E_INTERNAL, "out of memory");
	}
	for (size_t i = 0; i < nlocal; i++) {
		struct envx_sync_item *it = &items[k++];
		it->name = local[i].name;
		it->local = &local[i];
		it->rec = envx_sync_state_find(rec, local[i].name);
		it->remote = remote_find(remote, nremote, local[i].name);
		plan_local(it, keytag);
	}
	/* names envx pushed that are no longer local */
	for (size_t i = 0; i < rec->n; i++) {
		const struct envx_gh_remote *rm;
		if (local_has(local, nlocal, rec->recs[i].name)) {
			continue;
		}
		rm = remote_find(remote, nremote, rec->recs[i].name);
		if (rm == NULL) {
			continue; /* gone on both sides */
		}
		items[k].name = rec->recs[i].name;
		items[k].rec = &rec->recs[i];
		items[k].remote = rm;
		items[k].op = prune ? ENVX_SYNC_DELETE : ENVX_SYNC_KEEP_DELETED;
		k++;
	}
	/* names envx never pushed and does not have */
	for (size_t i = 0; i < nremote; i++) {
		if (local_has(local, nlocal, remote[i].name) ||
		    envx_sync_state_find(rec, remote[i].name) != NULL) {
			continue;
		}
		items[k].name = remote[i].name;
		items[k].remote = &remote[i];
		items[k].op = ENVX_SYNC_REMOTE_ONLY;
		k++;
	}
	qsort(items, k, sizeof(*items), item_cmp);
	*out = items;
	*n = k;
	return 0;
}

bool
envx_sync_item_drift(const struct envx_sync_item *it)
{
	return it->op == ENVX_SYNC_CREATE || it->op == ENVX_SYNC_UPDATE ||
	       it->op == ENVX_SYNC_DELETE || it->op == ENVX_SYNC_KEEP_DELETED;
}
