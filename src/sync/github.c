/*
 * The GitHub REST client of `envx sync`: one libcurl handle (one
 * connection, reused), serial requests, GitHub's rate-limit rules within a
 * waiting budget, a pause between writes.
 *
 * libcurl is loaded with dlopen when a sync starts, not linked: it pulls in
 * dozens of libraries (TLS, HTTP/2, LDAP, SSH, Kerberos) whose loading every
 * `envx exec` would otherwise pay for (bench/startup.sh measures it). Only
 * the headers are used at build time.
 *
 * The token is sent only to the API base's host: redirects are never
 * followed, a pagination link must point under the same base, proxies from
 * the environment are ignored for plain-http loopback bases, and nothing
 * here puts the token in a message.
 */
#include <dlfcn.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>
#include <jansson.h>
#include <sodium.h>

#include "envx/sync.h"
#include "envx/util.h"
#include "util/banned.h"

/* GitHub's answers here are small: a page of 100 names is ~10 KB. */
#define ANSWER_MAX_BYTES ((size_t)4 * 1024 * 1024)
#define LIST_MAX_PAGES   200
#define URL_MAX_BYTES    4096

/* The libcurl functions envx uses, from the loaded library. */
struct curl_api {
	CURLcode (*global_init)(long flags);
	void (*global_cleanup)(void);
	CURL *(*easy_init)(void);
	CURLcode (*easy_setopt)(CURL *h, CURLoption opt, ...);
	CURLcode (*easy_perform)(CURL *h);
	CURLcode (*easy_getinfo)(CURL *h, CURLINFO info, ...);
	void (*easy_cleanup)(CURL *h);
	const char *(*easy_strerror)(CURLcode rc);
	struct curl_slist *(*slist_append)(struct curl_slist *l, const char *s);
	void (*slist_free_all)(struct curl_slist *l);
};

struct envx_gh {
	struct envx_gh_options o;
	struct curl_api api;
	void *lib;
	CURL *h;
	struct curl_slist *hdrs;
	char errbuf[CURL_ERROR_SIZE];
	struct envx_buf body;
	bool body_overflow;
	/* the headers envx reads from the last answer */
	char retry_after[32];
	char remaining[32];
	char reset[32];
	char link[URL_MAX_BYTES];
	int64_t waited;
	unsigned requests;
	unsigned writes;
	struct timespec last_write;
};

static int
load_curl(struct envx_gh *gh, struct envx_error *err)
{
	static const char *const names[] = {
	        "curl_global_init",  "curl_global_cleanup",
	        "curl_easy_init",    "curl_easy_setopt",
	        "curl_easy_perform", "curl_easy_getinfo",
	        "curl_easy_cleanup", "curl_easy_strerror",
	        "curl_slist_append", "curl_slist_free_all",
	};
	void *syms[sizeof(names) / sizeof(names[0])];

	gh->lib = dlopen("libcurl.so.4", RTLD_NOW | RTLD_LOCAL);
	if (gh->lib == NULL) {
		return envx_error_set(err, ENVX_E_REMOTE,
		                      "sync needs libcurl, which cannot be "
		                      "loaded (install libcurl4): %s",
		                      dlerror());
	}
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		syms[i] = dlsym(gh->lib, names[i]);
		if (syms[i] == NULL) {
			return envx_error_set(err, ENVX_E_REMOTE,
			                      "the libcurl found lacks %s",
			                      names[i]);
		}
	}
	/* POSIX guarantees dlsym's object pointers convert to function
	 * pointers; memcpy says so without a cast ISO C frowns on */
	memcpy(&gh->api.global_init, &syms[0], sizeof(void *));
	memcpy(&gh->api.global_cleanup, &syms[1], sizeof(void *));
	memcpy(&gh->api.easy_init, &syms[2], sizeof(void *));
	memcpy(&gh->api.easy_setopt, &syms[3], sizeof(void *));
	memcpy(&gh->api.easy_perform, &syms[4], sizeof(void *));
	memcpy(&gh->api.easy_getinfo, &syms[5], sizeof(void *));
	memcpy(&gh->api.easy_cleanup, &syms[6], sizeof(void *));
	memcpy(&gh->api.easy_strerror, &syms[7], sizeof(void *));
	memcpy(&gh->api.slist_append, &syms[8], sizeof(void *));
	memcpy(&gh->api.slist_free_all, &syms[9], sizeof(void *));
	return 0;
}

static size_t
on_body(char *p, size_t size, size_t n, void *ctx)
{
	struct envx_gh *gh = ctx;

	if (envx_buf_append(&gh->body, p, size * n, NULL) < 0) {
		gh->body_overflow = true;
		return 0; /* libcurl stops with CURLE_WRITE_ERROR */
	}
	return size * n;
}

/* Copies header line p (n bytes) into out when its name is name. */
static void
take_header(const char *p, size_t n, const char *name, char *out, size_t outsz)
{
	size_t k = strlen(name);
	size_t i;

	if (n <= k || p[k] != ':') {
		return;
	}
	for (i = 0; i < k; i++) {
		char c = p[i];
		if (c >= 'A' && c <= 'Z') {
			c = (char)(c - 'A' + 'a');
		}
		if (c != name[i]) {
			return;
		}
	}
	p += k + 1;
	n -= k + 1;
	while (n > 0 && (*p == ' ' || *p == '\t')) {
		p++;
		n--;
	}
	while (n > 0 &&
	       (p[n - 1] == '\r' || p[n - 1] == '\n' || p[n - 1] == ' ')) {
		n--;
	}
	if (n >= outsz) {
		n = outsz - 1; /* a truncated value parses as invalid */
		out[0] = '\0';
		return;
	}
	memcpy(out, p, n);
	out[n] = '\0';
}

static void
clear_headers(struct envx_gh *gh)
{
	gh->retry_after[0] = gh->remaining[0] = gh->reset[0] = '\0';
	gh->link[0] = '\0';
}

static size_t
on_header(char *p, size_t size, size_t n, void *ctx)
{
	struct envx_gh *gh = ctx;
	size_t len = size * n;

	if (len >= 5 && memcmp(p, "HTTP/", 5) == 0) {
		clear_headers(gh); /* a new answer (after 100 Continue) */
	}
	take_header(p, len, "retry-after", gh->retry_after,
	            sizeof(gh->retry_after));
	take_header(p, len, "x-ratelimit-remaining", gh->remaining,
	            sizeof(gh->remaining));
	take_header(p, len, "x-ratelimit-reset", gh->reset, sizeof(gh->reset));
	take_header(p, len, "link", gh->link, sizeof(gh->link));
	return len;
}

int
envx_gh_open(const struct envx_gh_options *o, struct envx_gh **out,
             struct envx_error *err)
{
	struct envx_gh *gh = calloc(1, sizeof(*gh));
	struct envx_secbuf auth = {0};
	const char *proto = o->plain_http ? "http" : "https";
	long connect_ms = o->timeout_ms < 10000 ? o->timeout_ms : 10000;
	int r;

	if (gh == NULL) {
		return envx_error_set(err, ENVX_E_INTERNAL, "out of memory");
	}
	gh->o = *o;
	envx_buf_init(&gh->body, ANSWER_MAX_BYTES);
	r = load_curl(gh, err);
	if (r == 0 && gh->api.global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		r = envx_error_set(err, ENVX_E_REMOTE,
		                   "cannot initialise libcurl");
	}
	if (r == 0 && (gh->h = gh->api.easy_init()) == NULL) {
		r = envx_error_set(err, ENVX_E_REMOTE,
		                   "cannot initialise libcurl");
	}
	/* the token's header is built in locked memory; libcurl keeps its
	 * own copy in the list */
	if (r == 0) {
		r = envx_secbuf_init(&auth, strlen(o->token) + 32, err);
	}
	if (r == 0) {
		static const char prefix[] = "Authorization: Bearer ";
		r = envx_secbuf_append(&auth, prefix, sizeof(prefix) - 1, err);
		if (r == 0) {
			r = envx_secbuf_append(&auth, o->token,
			                       strlen(o->token) + 1, err);
		}
	}
	if (r == 0) {
		struct curl_slist *l = NULL;
		const char *const lines[] = {
		        (const char *)auth.data,
		        "Accept: application/vnd.github+json",
		        "X-GitHub-Api-Version: 2022-11-28",
		        "Content-Type: application/json",
		        "Expect:", /* no 100-continue round trip on PUT */
		};
		for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++) {
			struct curl_slist *nl =
			        gh->api.slist_append(l, lines[i]);
			if (nl == NULL) {
				gh->api.slist_free_all(l);
				l = NULL;
				break;
			}
			l = nl;
		}
		gh->hdrs = l;
		if (l == NULL) {
			r = envx_error_set(err, ENVX_E_INTERNAL,
			                   "out of memory");
		}
	}
	envx_secbuf_release(&auth);
	if (r == 0) {
		const struct curl_api *a = &gh->api;
		CURL *h = gh->h;
		a->easy_setopt(h, CURLOPT_HTTPHEADER, gh->hdrs);
		a->easy_setopt(h, CURLOPT_USERAGENT, "envx/" ENVX_VERSION);
		a->easy_setopt(h, CURLOPT_PROTOCOLS_STR, proto);
		a->easy_setopt(h, CURLOPT_REDIR_PROTOCOLS_STR, proto);
		a->easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
		a->easy_setopt(h, CURLOPT_MAXREDIRS, 0L);
		a->easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
		a->easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
		a->easy_setopt(h, CURLOPT_NETRC, (long)CURL_NETRC_IGNORED);
		a->easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
		a->easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, connect_ms);
		a->easy_setopt(h, CURLOPT_TIMEOUT_MS, o->timeout_ms);
		a->easy_setopt(h, CURLOPT_MAXFILESIZE_LARGE,
		               (curl_off_t)ANSWER_MAX_BYTES);
		a->easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
		a->easy_setopt(h, CURLOPT_WRITEDATA, gh);
		a->easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
		a->easy_setopt(h, CURLOPT_HEADERDATA, gh);
		a->easy_setopt(h, CURLOPT_ERRORBUFFER, gh->errbuf);
		if (o->plain_http) {
			/* a proxy would see the token in clear */
			a->easy_setopt(h, CURLOPT_PROXY, "");
		}
	}
	if (r < 0) {
		envx_gh_close(gh);
		return r;
	}
	*out = gh;
	return 0;
}

void
envx_gh_close(struct envx_gh *gh)
{
	if (gh == NULL) {
		return;
	}
	if (gh->h != NULL) {
		gh->api.easy_cleanup(gh->h);
	}
	if (gh->hdrs != NULL) {
		gh->api.slist_free_all(gh->hdrs);
	}
	if (gh->api.global_cleanup != NULL && gh->h != NULL) {
		gh->api.global_cleanup();
	}
	envx_buf_release(&gh->body);
	/* the library stays loaded: unloading TLS libraries mid-process is
	 * not safe with every OpenSSL build, and the process ends soon */
	free(gh);
}

void
envx_gh_counts(const struct envx_gh *gh, unsigned *requests, unsigned *writes)
{
	*requests = gh->requests;
	*writes = gh->writes;
}

static void
sleep_ms(int64_t ms)
{
	struct timespec ts = {.tv_sec = (time_t)(ms / 1000),
	                      .tv_nsec = (long)(ms % 1000) * 1000000L};

	while (ms > 0 && nanosleep(&ts, &ts) < 0 && errno == EINTR) {
	}
}

static int64_t
elapsed_ms(const struct timespec *since)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (int64_t)(now.tv_sec - since->tv_sec) * 1000 +
	       (now.tv_nsec - since->tv_nsec) / 1000000;
}

static void notify(struct envx_gh *gh, const char *fmt, ...)
        __attribute__((format(printf, 2, 3)));
static void
notify(struct envx_gh *gh, const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	if (gh->o.notify == NULL) {
		return;
	}
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	gh->o.notify(gh->o.notify_ctx, msg);
}

/* The "message" of a JSON error body, shortened, or NULL. */
static const char *
body_message(struct envx_gh *gh, char *out, size_t outsz)
{
	json_t *root;
	const char *m;

	if (gh->body.len == 0) {
		return NULL;
	}
	root = json_loadb(gh->body.data, gh->body.len, 0, NULL);
	m = json_string_value(json_object_get(root, "message"));
	if (m != NULL) {
		snprintf(out, outsz, "%s", m);
	}
	json_decref(root);
	return m != NULL ? out : NULL;
}

/*
 * Sends one request and retries it per envx_gh_retry_wait within the
 * waiting budget. 0 with *status set for a final answer (any 2xx, or one
 * not to retry); ENVX_E_REMOTE when retries ran out, the budget would be
 * exceeded, or no answer came. what names the request in messages.
 */
static int
request(struct envx_gh *gh, const char *method, const char *url,
        const char *body, const char *what, long *status,
        struct envx_error *err)
{
	const struct curl_api *a = &gh->api;
	unsigned limited = 0;
	unsigned failed = 0;
	bool write = body != NULL || strcmp(method, "DELETE") == 0;

	if (write && gh->writes > 0) {
		int64_t left =
		        gh->o.write_interval_ms - elapsed_ms(&gh->last_write);
		sleep_ms(left);
	}
	for (;;) {
		struct envx_gh_answer ans = {0};
		char msg[200];
		const char *why = "";
		int64_t wait;
		CURLcode rc;

		envx_buf_reset(&gh->body);
		gh->body_overflow = false;
		clear_headers(gh);
		gh->errbuf[0] = '\0';
		a->easy_setopt(gh->h, CURLOPT_URL, url);
		if (body != NULL) {
			a->easy_setopt(gh->h, CURLOPT_POSTFIELDS, body);
			a->easy_setopt(gh->h, CURLOPT_POSTFIELDSIZE,
			               (long)strlen(body));
			a->easy_setopt(gh->h, CURLOPT_CUSTOMREQUEST, method);
		} else {
			a->easy_setopt(gh->h, CURLOPT_HTTPGET, 1L);
			a->easy_setopt(gh->h, CURLOPT_CUSTOMREQUEST,
			               strcmp(method, "GET") == 0 ? NULL
			                                          : method);
		}
		gh->requests++;
		if (write) {
			gh->writes++;
			clock_gettime(CLOCK_MONOTONIC, &gh->last_write);
		}
		rc = a->easy_perform(gh->h);
		if (gh->body_overflow) {
			return envx_error_set(err, ENVX_E_REMOTE,
			                      "%s: GitHub's answer is larger "
			                      "than %zu bytes",
			                      what, ANSWER_MAX_BYTES);
		}
		if (rc == CURLE_OK) {
			a->easy_getinfo(gh->h, CURLINFO_RESPONSE_CODE, status);
			if (*status >= 200 && *status <= 299) {
				return 0;
			}
			ans.status = *status;
			ans.retry_after =
			        gh->retry_after[0] ? gh->retry_after : NULL;
			ans.remaining = gh->remaining[0] ? gh->remaining : NULL;
			ans.reset = gh->reset[0] ? gh->reset : NULL;
			ans.message = body_message(gh, msg, sizeof(msg));
		}
		wait = envx_gh_retry_wait(&ans,
		                          ans.status == 403 || ans.status == 429
		                                  ? limited
		                                  : failed,
		                          (int64_t)time(NULL), &why);
		if (wait < 0) {
			if (rc == CURLE_OK &&
			    !(ans.status >= 500 && ans.status <= 599)) {
				return 0; /* the caller explains it */
			}
			if (rc != CURLE_OK) {
				return envx_error_set(
				        err, ENVX_E_REMOTE,
				        "%s: no answer from GitHub after %u "
				        "tries: %s",
				        what, failed + 1,
				        gh->errbuf[0] ? gh->errbuf
				                      : a->easy_strerror(rc));
			}
			return envx_error_set(
			        err, ENVX_E_REMOTE,
			        "%s: GitHub answered %ld %u times "
			        "(server error)",
			        what, ans.status, failed + 1);
		}
		if (gh->waited + wait > gh->o.max_wait) {
			char said[CURL_ERROR_SIZE + 64];
			if (rc != CURLE_OK) {
				snprintf(said, sizeof(said),
				         "no answer from GitHub (%s)",
				         gh->errbuf[0] ? gh->errbuf
				                       : a->easy_strerror(rc));
			} else {
				snprintf(said, sizeof(said),
				         "%s GitHub answered %ld (%s)",
				         ans.status == 403 || ans.status == 429
				                 ? "rate-limited:"
				                 : "",
				         ans.status, why);
			}
			return envx_error_set(
			        err, ENVX_E_REMOTE,
			        "%s: %s; waiting %lld s more to retry would "
			        "pass --max-wait (%lld s, %lld s already "
			        "waited)",
			        what, said[0] == ' ' ? said + 1 : said,
			        (long long)wait, (long long)gh->o.max_wait,
			        (long long)gh->waited);
		}
		notify(gh, "%s: waiting %lld s: %s", what, (long long)wait,
		       why);
		sleep_ms(wait * 1000);
		gh->waited += wait;
		if (ans.status == 403 || ans.status == 429) {
			limited++;
		} else {
			failed++;
		}
	}
}

/* The error for a final answer that is not a success. */
static int
answer_error(struct envx_gh *gh, const char *what, long status,
             struct envx_error *err)
{
	char msg[200];
	const char *m = body_message(gh, msg, sizeof(msg));
	const char *hint = "";

	if (status == 401) {
		hint = " (check GH_TOKEN: GitHub does not accept it)";
	} else if (status == 403) {
		hint = " (the token lacks permission: it needs the "
		       "repository's secrets and environments, read and "
		       "write)";
	} else if (status == 404) {
		hint = " (no such repository or environment, or the token "
		       "cannot see it; create the environment in the "
		       "repository's settings)";
	}
	return envx_error_set(err, ENVX_E_REMOTE,
	                      "%s: GitHub answered %ld%s%s%s", what, status,
	                      m != NULL ? ": " : "", m != NULL ? m : "", hint);
}

/* Percent-encodes s into b as a URL path segment. */
static int
segment(struct envx_buf *b, const char *s, struct envx_error *err)
{
	int r = 0;

	for (; *s != '\0' && r == 0; s++) {
		unsigned char c = (unsigned char)*s;
		bool plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		             (c >= '0' && c <= '9') || c == '-' || c == '.' ||
		             c == '_' || c == '~';
		r = plain ? envx_buf_append(b, s, 1, err)
		          : envx_buf_appendf(b, err, "%%%02X", c);
	}
	return r;
}

/* base/repos/REPO/environments/ENV/secrets[/tail] into b. */
static int
secrets_url(struct envx_gh *gh, struct envx_buf *b, const char *repo,
            const char *environment, const char *tail, struct envx_error *err)
{
	int r;

	envx_buf_init(b, URL_MAX_BYTES);
	r = envx_buf_appendf(b, err, "%s/repos/%s/environments/", gh->o.base,
	                     repo);
	if (r == 0) {
		r = segment(b, environment, err);
	}
	if (r == 0) {
		r = envx_buf_appendf(b, err, "/secrets%s%s",
		                     tail != NULL ? "/" : "",
		                     tail != NULL ? tail : "");
	}
	if (r < 0) {
		envx_buf_release(b);
	}
	return r;
}

int
envx_gh_public_key(struct envx_gh *gh, const char *repo,
                   const char *environment, struct envx_gh_key *key,
                   struct envx_error *err)
{
	struct envx_buf url;
	const char *what = "fetching the environment's public key";
	json_t *root = NULL;
	const char *id;
	const char *k;
	size_t n = 0;
	long status = 0;
	int r;

	r = secrets_url(gh, &url, repo, environment, "public-key", err);
	if (r < 0) {
		return r;
	}
	r = request(gh, "GET", url.data, NULL, what, &status, err);
	envx_buf_release(&url);
	if (r == 0 && status != 200) {
		r = answer_error(gh, what, status, err);
	}
	if (r == 0) {
		root = json_loadb(gh->body.data, gh->body.len, 0, NULL);
		id = json_string_value(json_object_get(root, "key_id"));
		k = json_string_value(json_object_get(root, "key"));
		if (id == NULL || k == NULL ||
		    strlen(id) >= sizeof(key->key_id) ||
		    !envx_gh_token_valid(id) ||
		    sodium_base642bin(key->pk, sizeof(key->pk), k, strlen(k),
		                      NULL, &n, NULL,
		                      sodium_base64_VARIANT_ORIGINAL) != 0 ||
		    n != sizeof(key->pk)) {
			r = envx_error_set(err, ENVX_E_REMOTE,
			                   "%s: GitHub's answer is not a "
			                   "32-byte key with a key_id",
			                   what);
		} else {
			memcpy(key->key_id, id, strlen(id) + 1);
		}
	}
	json_decref(root);
	return r;
}

/* rel="next" of the Link header, which must point under the API base,
 * into next (""), or ENVX_E_REMOTE. */
static int
next_link(struct envx_gh *gh, char *next, size_t nextsz, struct envx_error *err)
{
	const char *p = gh->link;
	size_t base = strlen(gh->o.base);

	next[0] = '\0';
	while ((p = strchr(p, '<')) != NULL) {
		const char *end = strchr(p, '>');
		const char *sep;
		if (end == NULL) {
			break;
		}
		sep = strchr(end, ',');
		if (strstr(end, "rel=\"next\"") != NULL &&
		    (sep == NULL || strstr(end, "rel=\"next\"") < sep)) {
			size_t n = (size_t)(end - p - 1);
			if (n >= nextsz || n <= base ||
			    memcmp(p + 1, gh->o.base, base) != 0 ||
			    p[1 + base] != '/') {
				return envx_error_set(
				        err, ENVX_E_REMOTE,
				        "GitHub's next-page link points "
				        "outside %s: not sending the token "
				        "there",
				        gh->o.base);
			}
			memcpy(next, p + 1, n);
			next[n] = '\0';
			return 0;
		}
		p = end;
	}
	return 0;
}

/* Appends a page's secrets to *out. */
static int
take_page(struct envx_gh *gh, struct envx_gh_remote **out, size_t *n,
          size_t *cap, struct envx_error *err)
{
	json_t *root = json_loadb(gh->body.data, gh->body.len, 0, NULL);
	json_t *list = json_object_get(root, "secrets");
	size_t i;
	json_t *s;
	int r = 0;

	if (!json_is_array(list)) {
		r = envx_error_set(err, ENVX_E_REMOTE,
		                   "listing secrets: GitHub's answer has no "
		                   "\"secrets\" list");
	}
	json_array_foreach(list, i, s)
	{
		const char *name =
		        json_string_value(json_object_get(s, "name"));
		const char *at =
		        json_string_value(json_object_get(s, "updated_at"));
		struct envx_gh_remote *rm;
		if (r < 0) {
			break;
		}
		if (name == NULL || at == NULL ||
		    strlen(name) >= sizeof(rm->name) ||
		    !envx_text_plain(name) ||
		    strlen(at) >= sizeof(rm->updated_at)) {
			r = envx_error_set(err, ENVX_E_REMOTE,
			                   "listing secrets: GitHub listed a "
			                   "secret without a usable name or "
			                   "updated_at");
			break;
		}
		if (*n == *cap) {
			size_t nc = *cap == 0 ? 32 : *cap * 2;
			struct envx_gh_remote *nr =
			        realloc(*out, nc * sizeof(*nr));
			if (nr == NULL) {
				r = envx_error_set(err, ENVX_E_INTERNAL,
				                   "out of memory");
				break;
			}
			*out = nr;
			*cap = nc;
		}
		rm = &(*out)[(*n)++];
		memcpy(rm->name, name, strlen(name) + 1);
		memcpy(rm->updated_at, at, strlen(at) + 1);
	}
	json_decref(root);
	return r;
}

int
envx_gh_list(struct envx_gh *gh, const char *repo, const char *environment,
             struct envx_gh_remote **out, size_t *n, struct envx_error *err)
{
	const char *what = "listing the environment's secrets";
	struct envx_buf first;
	char url[URL_MAX_BYTES];
	size_t cap = 0;
	unsigned pages = 0;
	int r;

	*out = NULL;
	*n = 0;
	r = secrets_url(gh, &first, repo, environment, NULL, err);
	if (r < 0) {
		return r;
	}
	if (first.len + 16 >= sizeof(url)) {
		envx_buf_release(&first);
		return envx_error_set(err, ENVX_E_USAGE, "the URL is too long");
	}
	snprintf(url, sizeof(url), "%s?per_page=100", first.data);
	envx_buf_release(&first);
	while (r == 0 && url[0] != '\0') {
		long status = 0;
		if (++pages > LIST_MAX_PAGES) {
			r = envx_error_set(err, ENVX_E_REMOTE,
			                   "%s: more than %u pages", what,
			                   LIST_MAX_PAGES);
			break;
		}
		r = request(gh, "GET", url, NULL, what, &status, err);
		if (r == 0 && status != 200) {
			r = answer_error(gh, what, status, err);
		}
		if (r == 0) {
			r = take_page(gh, out, n, &cap, err);
		}
		if (r == 0) {
			r = next_link(gh, url, sizeof(url), err);
		}
	}
	if (r < 0) {
		free(*out);
		*out = NULL;
		*n = 0;
	}
	return r;
}

int
envx_gh_put(struct envx_gh *gh, const char *repo, const char *environment,
            const struct envx_gh_key *key, const char *name,
            const unsigned char *value, size_t len, struct envx_error *err)
{
	char what[300];
	struct envx_buf url;
	unsigned char *sealed = NULL;
	char *b64 = NULL;
	char *body = NULL;
	json_t *doc = NULL;
	size_t slen = len + crypto_box_SEALBYTES;
	size_t blen =
	        sodium_base64_encoded_len(slen, sodium_base64_VARIANT_ORIGINAL);
	long status = 0;
	int r;

	snprintf(what, sizeof(what), "writing %s", name);
	r = secrets_url(gh, &url, repo, environment, name, err);
	if (r < 0) {
		return r;
	}
	sealed = malloc(slen);
	b64 = malloc(blen);
	if (sealed == NULL || b64 == NULL) {
		r = envx_error_set(err, ENVX_E_INTERNAL, "out of memory");
		goto out;
	}
	/* sealed to the environment's key: only GitHub opens it */
	if (crypto_box_seal(sealed, value, len, key->pk) != 0) {
		r = envx_error_set(err, ENVX_E_REMOTE,
		                   "%s: GitHub's public key is not a valid "
		                   "X25519 key",
		                   what);
		goto out;
	}
	sodium_bin2base64(b64, blen, sealed, slen,
	                  sodium_base64_VARIANT_ORIGINAL);
	doc = json_pack("{s:s, s:s}", "encrypted_value", b64, "key_id",
	                key->key_id);
	body = doc != NULL ? json_dumps(doc, JSON_COMPACT) : NULL;
	if (body == NULL) {
		r = envx_error_set(err, ENVX_E_INTERNAL, "out of memory");
		goto out;
	}
	r = request(gh, "PUT", url.data, body, what, &status, err);
	if (r == 0 && status != 201 && status != 204) {
		r = answer_error(gh, what, status, err);
	}
out:
	envx_buf_release(&url);
	free(sealed);
	free(b64);
	free(body);
	json_decref(doc);
	return r;
}

int
envx_gh_delete(struct envx_gh *gh, const char *repo, const char *environment,
               const char *name, struct envx_error *err)
{
	char what[300];
	struct envx_buf url;
	long status = 0;
	int r;

	snprintf(what, sizeof(what), "deleting %s", name);
	r = secrets_url(gh, &url, repo, environment, name, err);
	if (r < 0) {
		return r;
	}
	r = request(gh, "DELETE", url.data, NULL, what, &status, err);
	envx_buf_release(&url);
	if (r == 0 && status != 204 && status != 404) {
		r = answer_error(gh, what, status, err);
	}
	return r;
}
