/*
 * `envx scan [ENV...] [PATH...] [--git-history | --staged] [--all]`: looks
 * for the current and past values of environments (and their encodings,
 * envx/scan.h) in the working tree, the index or every blob of the history,
 * and reports where, never what. Exit 1 on any finding.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "cli/cli.h"
#include "cmd/cmd.h"
#include "envx/scan.h"
#include "util/banned.h"

#define PATH_BYTES        4096
#define GIT_LIST_MAX      ((size_t)1024 * 1024 * 1024)
#define READ_CHUNK_BYTES  ((size_t)1024 * 1024)
#define HEADER_MAX_BYTES  256
#define GIT_PATHSPECS_MAX 16

enum source { SRC_FILE, SRC_INDEX, SRC_HISTORY };

/* Which secret version a value is. */
struct label {
	size_t env;
	char *name;
	uint64_t version;
	bool current;
};

struct scan {
	struct envx_ctx *ctx;
	const char **envs; /* the environments scanned for */
	size_t nenvs;
	const char **skipped_envs;
	size_t nskipped_envs;
	struct label *labels;
	size_t nlabels;
	size_t cap_labels;
	size_t skipped_short;
	size_t *pat_value;
	int *pat_encoding;
	size_t npat;
	struct envx_scan *m;
	struct envx_scan_stream *stream;
	/* where the bytes being scanned come from */
	enum source src;
	const char *path;
	const char *commit;
	/* the vault, never a finding */
	dev_t vault_dev;
	ino_t vault_ino;
	bool git_missing_noted;
	/* counts */
	size_t findings;
	size_t files;
	size_t blobs;
	size_t unreadable;
	uint64_t bytes;
};

static int
on_hit(void *arg, const struct envx_scan_hit *h)
{
	struct scan *sc = arg;
	const struct label *l = &sc->labels[sc->pat_value[h->pattern]];
	const char *enc = envx_scan_encoding_name(sc->pat_encoding[h->pattern]);
	const char *env = sc->envs[l->env];
	char path[4 * PATH_BYTES + 1];

	if (sc->ctx->json) {
		printf("%s{\"source\": \"%s\", \"path\": ",
		       sc->findings ? ", " : "",
		       sc->src == SRC_FILE    ? "file"
		       : sc->src == SRC_INDEX ? "index"
		                              : "history");
		envx_json_print_string(stdout, sc->path);
		printf(", \"commit\": ");
		if (sc->src == SRC_HISTORY) {
			printf("\"%s\"", sc->commit);
		} else {
			printf("null");
		}
		printf(", \"line\": %llu, \"column\": %llu, \"offset\": %llu, "
		       "\"env\": \"%s\", \"name\": \"%s\", \"version\": %llu, "
		       "\"current\": %s, \"encoding\": \"%s\"}",
		       (unsigned long long)h->line,
		       (unsigned long long)h->column,
		       (unsigned long long)h->offset, env, l->name,
		       (unsigned long long)l->version,
		       l->current ? "true" : "false", enc);
	} else {
		envx_safe_text(sc->path, path, sizeof(path));
		if (sc->src == SRC_HISTORY) {
			printf("%s:", sc->commit);
		}
		printf("%s:%llu:%llu: %s %s v%llu (%s) %s\n", path,
		       (unsigned long long)h->line,
		       (unsigned long long)h->column, env, l->name,
		       (unsigned long long)l->version,
		       l->current ? "current" : "past", enc);
	}
	sc->findings++;
	return 0;
}

/* ---- the values ---- */

static int
add_label(struct scan *sc, size_t env, const char *name, uint64_t version,
          bool current)
{
	struct label *l;

	if (sc->nlabels == sc->cap_labels) {
		size_t ncap = sc->cap_labels ? 2 * sc->cap_labels : 64;
		struct label *nl = realloc(sc->labels, ncap * sizeof(*nl));

		if (nl == NULL) {
			return -1;
		}
		sc->labels = nl;
		sc->cap_labels = ncap;
	}
	l = &sc->labels[sc->nlabels];
	l->name = strdup(name);
	if (l->name == NULL) {
		return -1;
	}
	l->env = env;
	l->version = version;
	l->current = current;
	sc->nlabels++;
	return 0;
}

/* Adds one value (labelled) to values, or counts it as too short. */
static int
add_value(struct scan *sc, struct envx_kvset *values, size_t env,
          const char *name, uint64_t version, bool current,
          const unsigned char *v, size_t len, struct envx_error *err)
{
	if (len < ENVX_SCAN_MIN_BYTES) {
		sc->skipped_short++;
		return 0;
	}
	if (envx_kvset_add(values, name, strlen(name), v, len, 0, err) < 0 ||
	    add_label(sc, env, name, version, current) < 0) {
		return envx_error_set(err, ENVX_E_INTERNAL, "out of memory");
	}
	return 0;
}

/* Every version of every secret of e into values (labels beside them):
 * the current values decrypted in one pass (cur, sorted by name, as
 * unlock gave them), the past ones of secrets that have any one by one. */
static int
collect_env(struct scan *sc, struct envx_env *e, size_t env,
            const struct envx_kvset *cur, struct envx_kvset *values,
            struct envx_error *err)
{
	struct envx_secret_info *info = NULL;
	struct envx_version_info *vers = NULL;
	struct envx_secbuf v = {0};
	size_t n = 0;
	size_t nv = 0;
	size_t i;
	size_t j;
	int r;

	r = envx_env_secrets(e, &info, &n, err);
	for (i = 0; r == 0 && i < n; i++) {
		ssize_t at = envx_kvset_bsearch(cur, info[i].name);
		const unsigned char *cv;
		size_t clen;

		if (at < 0) {
			r = envx_error_set(err, ENVX_E_INTERNAL,
			                   "secret '%s' has no current value",
			                   info[i].name);
			break;
		}
		cv = envx_kvset_value(cur, (size_t)at, &clen);
		r = add_value(sc, values, env, info[i].name, info[i].version,
		              true, cv, clen, err);
		if (r < 0 || info[i].version <= 1) {
			continue;
		}
		free(vers);
		vers = NULL;
		r = envx_env_history(e, info[i].name, &vers, &nv, err);
		for (j = 0; r == 0 && j < nv; j++) {
			if (vers[j].version == info[i].version) {
				continue;
			}
			r = envx_env_get_version(e, info[i].name,
			                         vers[j].version, &v, err);
			if (r == 0) {
				r = add_value(sc, values, env, info[i].name,
				              vers[j].version, false, v.data,
				              v.len, err);
			}
			envx_secbuf_release(&v);
		}
	}
	free(vers);
	free(info);
	return r;
}

/* The matcher over every form of every value (the forms only in secure
 * memory, wiped once the matcher holds its copy). */
static int
build_matcher(struct scan *sc, const struct envx_kvset *values,
              struct envx_error *err)
{
	struct envx_scan_form forms[ENVX_SCAN_FORMS_MAX];
	struct envx_scan_pattern *pats = NULL;
	struct envx_secbuf buf = {0};
	size_t total = 0;
	size_t i;
	int r = ENVX_E_INTERNAL;

	for (i = 0; i < values->count; i++) {
		size_t len;
		const unsigned char *v = envx_kvset_value(values, i, &len);

		total += envx_scan_forms(v, len, NULL, NULL, NULL);
	}
	pats = calloc(values->count * ENVX_SCAN_FORMS_MAX + 1, sizeof(*pats));
	sc->pat_value = calloc(values->count * ENVX_SCAN_FORMS_MAX + 1,
	                       sizeof(*sc->pat_value));
	sc->pat_encoding = calloc(values->count * ENVX_SCAN_FORMS_MAX + 1,
	                          sizeof(*sc->pat_encoding));
	if (pats == NULL || sc->pat_value == NULL || sc->pat_encoding == NULL) {
		r = envx_error_set(err, ENVX_E_INTERNAL, "out of memory");
		goto out;
	}
	r = envx_secbuf_init(&buf, total + 1, err);
	if (r < 0) {
		goto out;
	}
	for (i = 0; i < values->count; i++) {
		size_t len;
		const unsigned char *v = envx_kvset_value(values, i, &len);
		size_t nforms = 0;
		size_t base = buf.len;
		size_t k;

		buf.len += envx_scan_forms(v, len, buf.data + base, forms,
		                           &nforms);
		for (k = 0; k < nforms; k++) {
			pats[sc->npat].data = buf.data + base + forms[k].off;
			pats[sc->npat].len = forms[k].len;
			sc->pat_value[sc->npat] = i;
			sc->pat_encoding[sc->npat] = forms[k].encoding;
			sc->npat++;
		}
	}
	r = envx_scan_new(&sc->m, pats, sc->npat, err);
	if (r == 0) {
		r = envx_scan_stream_new(&sc->stream, sc->m, err);
	}
out:
	envx_secbuf_release(&buf);
	free(pats);
	return r;
}

/* ---- files ---- */

static void
unreadable(struct scan *sc, const char *path, int e)
{
	envx_cli_warn("scan: cannot read '%s': %s", path, strerror(e));
	sc->unreadable++;
}

/* Streams fd into the matcher (for what cannot be mapped). */
static int
scan_fd_stream(struct scan *sc, int fd)
{
	unsigned char *chunk = malloc(READ_CHUNK_BYTES);
	int e = 0;

	if (chunk == NULL) {
		return ENOMEM;
	}
	for (;;) {
		ssize_t n = read(fd, chunk, READ_CHUNK_BYTES);

		if (n < 0 && errno == EINTR) {
			continue;
		}
		if (n <= 0) {
			e = n < 0 ? errno : 0;
			break;
		}
		sc->bytes += (uint64_t)n;
		envx_scan_stream_feed(sc->stream, chunk, (size_t)n, on_hit, sc);
	}
	envx_scan_stream_finish(sc->stream, on_hit, sc);
	free(chunk);
	return e;
}

/* Scans one file: regular files only, symlinks not followed, the vault
 * skipped. A file that vanished (listed by git, deleted since) is skipped
 * quietly. */
static void
scan_file(struct scan *sc, const char *path)
{
	struct stat st;
	void *map;
	int fd;

	fd = open(path,
	          O_RDONLY | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0) {
		if (errno != ENOENT && errno != ELOOP && errno != ENOTDIR) {
			unreadable(sc, path, errno);
		}
		return;
	}
	if (fstat(fd, &st) < 0) {
		unreadable(sc, path, errno);
		close(fd);
		return;
	}
	if (!S_ISREG(st.st_mode) ||
	    (st.st_dev == sc->vault_dev && st.st_ino == sc->vault_ino)) {
		close(fd);
		return;
	}
	sc->src = SRC_FILE;
	sc->path = path;
	sc->files++;
	if (st.st_size == 0) {
		close(fd);
		return;
	}
	map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	if (map != MAP_FAILED) {
		madvise(map, (size_t)st.st_size, MADV_SEQUENTIAL);
		sc->bytes += (uint64_t)st.st_size;
		envx_scan_buffer(sc->m, map, (size_t)st.st_size, on_hit, sc);
		munmap(map, (size_t)st.st_size);
	} else {
		int e = scan_fd_stream(sc, fd);

		if (e != 0) {
			unreadable(sc, path, e);
		}
	}
	close(fd);
}

static int
join(char *out, const char *dir, const char *name)
{
	int n = strcmp(dir, ".") == 0
	                ? snprintf(out, PATH_BYTES, "%s", name)
	                : snprintf(out, PATH_BYTES, "%s%s%s", dir,
	                           dir[strlen(dir) - 1] == '/' ? "" : "/",
	                           name);

	return n < 0 || n >= PATH_BYTES ? -1 : 0;
}

static int
name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Every regular file under dir, in name order, without following symlinks
 * and without .git directories. */
static void
walk(struct scan *sc, const char *dir)
{
	DIR *d = opendir(dir);
	char **names = NULL;
	size_t n = 0;
	size_t cap = 0;
	struct dirent *de;
	size_t i;

	if (d == NULL) {
		unreadable(sc, dir, errno);
		return;
	}
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0 ||
		    strcmp(de->d_name, ".git") == 0) {
			continue;
		}
		if (n == cap) {
			char **nn = realloc(names,
			                    (cap ? 2 * cap : 32) * sizeof(*nn));
			if (nn == NULL) {
				break;
			}
			names = nn;
			cap = cap ? 2 * cap : 32;
		}
		names[n] = strdup(de->d_name);
		if (names[n] == NULL) {
			break;
		}
		n++;
	}
	closedir(d);
	if (n > 1) {
		qsort(names, n, sizeof(*names), name_cmp);
	}
	for (i = 0; i < n; i++) {
		char path[PATH_BYTES];
		struct stat st;

		if (join(path, dir, names[i]) < 0) {
			unreadable(sc, names[i], ENAMETOOLONG);
		} else if (lstat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
			walk(sc, path);
		} else if (lstat(path, &st) == 0 && S_ISREG(st.st_mode)) {
			scan_file(sc, path);
		}
	}
	envx_strv_free(names, n);
}

/* The files git would commit under dir (tracked and untracked, not
 * ignored); 1 when dir is not in a work tree (or git is missing), so the
 * caller walks it instead. */
static int
scan_git_tree(struct scan *sc, const char *dir, struct envx_error *err)
{
	const char *probe[] = {"-C", dir, "rev-parse", "--is-inside-work-tree",
	                       NULL};
	const char *list[] = {
	        "-C", dir, "ls-files", "-co", "--exclude-standard", "-z", NULL};
	struct envx_buf out;
	const char *prev = "";
	size_t i;
	int status = 0;
	int r;

	envx_buf_init(&out, GIT_LIST_MAX);
	r = envx_git_capture(probe, -1, &out, &status, err);
	if (r == ENVX_E_NOTFOUND) {
		if (!sc->git_missing_noted) {
			envx_cli_note(sc->ctx, "scan: git not found: every "
			                       "file is scanned (.gitignore is "
			                       "not applied)");
			sc->git_missing_noted = true;
		}
		envx_buf_release(&out);
		return 1;
	}
	if (r < 0 || status != 0 || strcmp(out.data, "true\n") != 0) {
		envx_buf_release(&out);
		return r < 0 ? r : 1;
	}
	envx_buf_reset(&out);
	r = envx_git_capture(list, -1, &out, &status, err);
	if (r == 0 && status != 0) {
		r = envx_error_set(err, ENVX_E_IO,
		                   "git ls-files failed in '%s' (exit %d)", dir,
		                   status);
	}
	for (i = 0; r == 0 && i < out.len;) {
		const char *name = out.data + i;
		char path[PATH_BYTES];

		i += strlen(name) + 1;
		/* a conflicted path is listed once per stage */
		if (strcmp(name, prev) == 0) {
			continue;
		}
		prev = name;
		if (join(path, dir, name) < 0) {
			unreadable(sc, name, ENAMETOOLONG);
		} else {
			scan_file(sc, path);
		}
	}
	envx_buf_release(&out);
	return r;
}

/* ---- blobs ---- */

struct blob {
	char oid[65];
	char *commit;
	char *path;
	size_t order;
};

struct blobs {
	struct blob *v;
	size_t n;
	size_t cap;
};

static int
add_blob(void *arg, const struct envx_scan_blob *b)
{
	struct blobs *bs = arg;
	struct blob *x;

	if (bs->n == bs->cap) {
		size_t ncap = bs->cap ? 2 * bs->cap : 256;
		struct blob *nv = realloc(bs->v, ncap * sizeof(*nv));

		if (nv == NULL) {
			return ENVX_E_INTERNAL;
		}
		bs->v = nv;
		bs->cap = ncap;
	}
	x = &bs->v[bs->n];
	snprintf(x->oid, sizeof(x->oid), "%s", b->oid);
	x->commit = strdup(b->commit);
	x->path = strdup(b->path);
	x->order = bs->n;
	if (x->commit == NULL || x->path == NULL) {
		free(x->commit);
		free(x->path);
		return ENVX_E_INTERNAL;
	}
	bs->n++;
	return 0;
}

static int
blob_by_oid(const void *a, const void *b)
{
	const struct blob *x = a;
	const struct blob *y = b;
	int c = strcmp(x->oid, y->oid);

	return c != 0 ? c : (x->order < y->order ? -1 : x->order > y->order);
}

static int
blob_by_order(const void *a, const void *b)
{
	const struct blob *x = a;
	const struct blob *y = b;

	return x->order < y->order ? -1 : x->order > y->order;
}

/* Keeps the first entry of each blob (git log --reverse: the oldest
 * commit that added it), in listing order. */
static void
blobs_unique(struct blobs *bs)
{
	size_t i;
	size_t k = 0;

	if (bs->n > 1) { /* qsort wants an array, even for 0 items */
		qsort(bs->v, bs->n, sizeof(*bs->v), blob_by_oid);
	}
	for (i = 0; i < bs->n; i++) {
		if (k > 0 && strcmp(bs->v[k - 1].oid, bs->v[i].oid) == 0) {
			free(bs->v[i].commit);
			free(bs->v[i].path);
			continue;
		}
		bs->v[k++] = bs->v[i];
	}
	bs->n = k;
	if (bs->n > 1) {
		qsort(bs->v, bs->n, sizeof(*bs->v), blob_by_order);
	}
}

static void
blobs_release(struct blobs *bs)
{
	size_t i;

	for (i = 0; i < bs->n; i++) {
		free(bs->v[i].commit);
		free(bs->v[i].path);
	}
	free(bs->v);
}

/* Buffered reads of git cat-file's output. */
struct reader {
	int fd;
	unsigned char *buf;
	size_t pos;
	size_t len;
};

static int
reader_fill(struct reader *rd)
{
	ssize_t n;

	do {
		n = read(rd->fd, rd->buf, READ_CHUNK_BYTES);
	} while (n < 0 && errno == EINTR);
	rd->pos = 0;
	rd->len = n > 0 ? (size_t)n : 0;
	return n > 0 ? 0 : -1;
}

/* One header line (without the newline) into out; -1 at the end or on a
 * line too long. */
static int
reader_line(struct reader *rd, char *out, size_t outsz)
{
	size_t n = 0;

	for (;;) {
		if (rd->pos == rd->len && reader_fill(rd) < 0) {
			return -1;
		}
		if (rd->buf[rd->pos] == '\n') {
			rd->pos++;
			out[n] = '\0';
			return 0;
		}
		if (n + 1 == outsz) {
			return -1;
		}
		out[n++] = (char)rd->buf[rd->pos++];
	}
}

/* Up to want bytes of the output into out (-1: output cut short). */
static int
reader_take(struct reader *rd, unsigned char *out, size_t want)
{
	size_t got = 0;

	while (got < want) {
		size_t n;

		if (rd->pos == rd->len && reader_fill(rd) < 0) {
			return -1;
		}
		n = rd->len - rd->pos;
		if (n > want - got) {
			n = want - got;
		}
		memcpy(out + got, rd->buf + rd->pos, n);
		rd->pos += n;
		got += n;
	}
	return 0;
}

/*
 * Feeds the next size bytes into the stream, unless they are an envx vault
 * (*vault): by its header, not its path, since a file named envx.vault may
 * hold anything. -1: output cut short.
 */
static int
reader_blob(struct reader *rd, struct scan *sc, uint64_t size, bool *vault)
{
	unsigned char head[ENVX_VAULT_HEADER_BYTES];
	size_t nhead = size < sizeof(head) ? (size_t)size : sizeof(head);

	if (reader_take(rd, head, nhead) < 0) {
		return -1;
	}
	size -= nhead;
	*vault = envx_vault_image_is_envx(head, nhead, nhead + size);
	if (!*vault) {
		envx_scan_stream_feed(sc->stream, head, nhead, on_hit, sc);
	}
	while (size > 0) {
		size_t n;

		if (rd->pos == rd->len && reader_fill(rd) < 0) {
			return -1;
		}
		n = rd->len - rd->pos;
		if (n > size) {
			n = (size_t)size;
		}
		if (!*vault) {
			envx_scan_stream_feed(sc->stream, rd->buf + rd->pos, n,
			                      on_hit, sc);
		}
		rd->pos += n;
		size -= n;
	}
	envx_scan_stream_finish(sc->stream, on_hit, sc);
	/* the newline after the contents */
	if (rd->pos == rd->len && reader_fill(rd) < 0) {
		return -1;
	}
	rd->pos++;
	return 0;
}

/* Reads every blob of bs with one `git cat-file --batch`. */
static int
scan_blobs(struct scan *sc, const struct blobs *bs, enum source src,
           struct envx_error *err)
{
	const char *args[] = {"cat-file", "--batch", NULL};
	struct reader rd = {-1, NULL, 0, 0};
	FILE *names = tmpfile();
	pid_t pid;
	size_t i;
	int status;
	int r = ENVX_E_IO;

	if (names == NULL) {
		return envx_error_set(err, ENVX_E_IO,
		                      "cannot make a temporary file: %s",
		                      strerror(errno));
	}
	for (i = 0; i < bs->n; i++) {
		fprintf(names, "%s\n", bs->v[i].oid);
	}
	if (fflush(names) != 0 || fseek(names, 0, SEEK_SET) != 0) {
		r = envx_error_set(err, ENVX_E_IO,
		                   "cannot write a temporary file: %s",
		                   strerror(errno));
		fclose(names);
		return r;
	}
	rd.buf = malloc(READ_CHUNK_BYTES);
	if (rd.buf == NULL) {
		fclose(names);
		return envx_error_set(err, ENVX_E_INTERNAL, "out of memory");
	}
	r = envx_git_spawn(args, fileno(names), &pid, &rd.fd, err);
	if (r < 0) {
		free(rd.buf);
		fclose(names);
		return r;
	}
	for (i = 0; i < bs->n; i++) {
		char header[HEADER_MAX_BYTES];
		char oid[65];
		char type[16];
		unsigned long long size;
		bool vault;

		if (reader_line(&rd, header, sizeof(header)) < 0 ||
		    sscanf(header, "%64s %15s %llu", oid, type, &size) != 3 ||
		    strcmp(oid, bs->v[i].oid) != 0) {
			break;
		}
		sc->src = src;
		sc->path = bs->v[i].path;
		sc->commit = bs->v[i].commit;
		if (reader_blob(&rd, sc, size, &vault) < 0) {
			break;
		}
		if (!vault) {
			sc->blobs++;
			sc->bytes += size;
		}
	}
	close(rd.fd);
	status = envx_git_wait(pid);
	free(rd.buf);
	fclose(names);
	if (i < bs->n || status != 0) {
		return envx_error_set(err, ENVX_E_IO,
		                      "git cat-file failed after %zu of %zu "
		                      "blobs (exit %d)",
		                      i, bs->n, status);
	}
	return 0;
}

/* --staged (the index against HEAD) or --git-history (every commit
 * reachable from a ref), limited to the PATHs. */
static int
scan_git_blobs(struct scan *sc, bool history, const char *const *paths,
               size_t npaths, struct envx_error *err)
{
	const char *args[GIT_PATHSPECS_MAX + 16];
	struct blobs bs = {NULL, 0, 0};
	struct envx_buf out;
	size_t n = 0;
	size_t i;
	int status = 0;
	int r;

	if (npaths > GIT_PATHSPECS_MAX) {
		return envx_error_set(err, ENVX_E_USAGE,
		                      "scan: at most %d paths with %s",
		                      GIT_PATHSPECS_MAX,
		                      history ? "--git-history" : "--staged");
	}
	if (history) {
		args[n++] = "log";
		args[n++] = "--all";
		args[n++] = "-m";
		args[n++] = "--reverse";
		args[n++] = "--format=%x00commit %H";
	} else {
		args[n++] = "diff";
		args[n++] = "--cached";
	}
	args[n++] = "--raw";
	args[n++] = "--no-abbrev";
	args[n++] = "--no-renames";
	args[n++] = "--no-ext-diff";
	args[n++] = "--no-textconv";
	args[n++] = "-z";
	args[n++] = "--";
	for (i = 0; i < npaths; i++) {
		args[n++] = paths[i];
	}
	args[n] = NULL;
	envx_buf_init(&out, GIT_LIST_MAX);
	r = envx_git_capture(args, -1, &out, &status, err);
	if (r == 0 && status != 0) {
		r = envx_error_set(err, ENVX_E_USAGE,
		                   "scan: %s needs a git repository with a "
		                   "commit: git %s failed (exit %d)",
		                   history ? "--git-history" : "--staged",
		                   args[0], status);
	}
	if (r == 0) {
		r = envx_scan_git_raw_parse(out.data, out.len, add_blob, &bs,
		                            err);
		if (r == ENVX_E_INTERNAL) {
			envx_error_set(err, r, "out of memory");
		}
	}
	if (r == 0) {
		blobs_unique(&bs);
		r = scan_blobs(sc, &bs, history ? SRC_HISTORY : SRC_INDEX, err);
	}
	blobs_release(&bs);
	envx_buf_release(&out);
	return r;
}

/* ---- the command ---- */

static bool
env_exists(const struct envx_env_info *list, size_t n, const char *name)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (strcmp(list[i].name, name) == 0) {
			return true;
		}
	}
	return false;
}

/* Unlocks the environments and gathers their values; explicit says they
 * were named, so one that cannot be unlocked is an error, not a note. */
static int
load_values(struct scan *sc, bool explicit, struct envx_kvset *values)
{
	struct envx_error err;
	size_t i;
	size_t k = 0;

	for (i = 0; i < sc->nenvs; i++) {
		struct envx_env *e = NULL;
		struct envx_kvset cur;
		int r;

		envx_kvset_init(&cur);
		r = envx_ctx_unlock_all(sc->ctx, sc->envs[i], &e, &cur, &err);

		if (r == ENVX_E_LOCKED && !explicit) {
			envx_cli_note(sc->ctx,
			              "scan: skipping environment '%s': this "
			              "identity cannot unlock it",
			              sc->envs[i]);
			sc->skipped_envs[sc->nskipped_envs++] = sc->envs[i];
			continue;
		}
		if (r == 0) {
			sc->envs[k] = sc->envs[i];
			r = collect_env(sc, e, k, &cur, values, &err);
			k++;
		}
		envx_kvset_release(&cur);
		envx_env_free(e);
		if (r < 0) {
			return envx_cli_fail(&err);
		}
	}
	sc->nenvs = k;
	if (k == 0) {
		return envx_cli_error(3,
		                      "scan: cannot unlock any environment of "
		                      "'%s': nothing to look for",
		                      sc->ctx->vault_path);
	}
	return 0;
}

static void
print_names_json(const char *key, const char *const *v, size_t n)
{
	size_t i;

	printf(", \"%s\": [", key);
	for (i = 0; i < n; i++) {
		printf("%s\"%s\"", i ? ", " : "", v[i]);
	}
	printf("]");
}

static void
print_summary(const struct scan *sc, const char *where)
{
	if (sc->ctx->json) {
		printf("]");
		print_names_json("environments", sc->envs, sc->nenvs);
		print_names_json("skipped_environments", sc->skipped_envs,
		                 sc->nskipped_envs);
		printf(", \"count\": %zu, \"values\": %zu, \"skipped_short\": "
		       "%zu, \"min_bytes\": %d, \"patterns\": %zu, \"files\": "
		       "%zu, \"blobs\": %zu, \"bytes\": %llu, \"unreadable\": "
		       "%zu}\n",
		       sc->findings, sc->nlabels, sc->skipped_short,
		       ENVX_SCAN_MIN_BYTES, sc->npat, sc->files, sc->blobs,
		       (unsigned long long)sc->bytes, sc->unreadable);
		return;
	}
	envx_cli_note(
	        sc->ctx,
	        "scan: %zu finding%s in %zu %s%s%s (%zu value%s of %zu "
	        "environment%s, %zu forms; %zu value%s under %d bytes "
	        "skipped)",
	        sc->findings, sc->findings == 1 ? "" : "s",
	        sc->src == SRC_FILE ? sc->files : sc->blobs,
	        sc->src == SRC_FILE ? "file" : "blob",
	        (sc->src == SRC_FILE ? sc->files : sc->blobs) == 1 ? "" : "s",
	        where, sc->nlabels, sc->nlabels == 1 ? "" : "s", sc->nenvs,
	        sc->nenvs == 1 ? "" : "s", sc->npat, sc->skipped_short,
	        sc->skipped_short == 1 ? "" : "s", ENVX_SCAN_MIN_BYTES);
}

static void
scan_release(struct scan *sc)
{
	size_t i;

	for (i = 0; i < sc->nlabels; i++) {
		free(sc->labels[i].name);
	}
	free(sc->labels);
	free(sc->pat_value);
	free(sc->pat_encoding);
	envx_scan_stream_free(sc->stream);
	envx_scan_free(sc->m);
	free(sc->envs);
	free(sc->skipped_envs);
}

enum { OPT_HISTORY = 1, OPT_STAGED, OPT_ALL, OPT_ENV };

int
cmd_scan(int argc, char **argv, struct envx_ctx *ctx)
{
	static const struct envx_opt opts[] = {
	        {"--git-history", 0, OPT_HISTORY},
	        {"--staged", 0, OPT_STAGED},
	        {"--all", 0, OPT_ALL},
	        {"--env", 1, OPT_ENV},
	        {NULL, 0, 0}};
	struct envx_optstate st = {.argc = argc, .argv = argv};
	struct scan sc = {.ctx = ctx};
	struct envx_env_info *list = NULL;
	struct envx_kvset values;
	struct envx_error err;
	const char **paths = NULL;
	const char **named = NULL;
	size_t nlist = 0;
	size_t npaths = 0;
	size_t nnamed = 0;
	bool history = false;
	bool staged = false;
	bool all = false;
	bool after_dashes = false;
	struct stat vst;
	size_t i;
	int status = 0;
	int o;

	envx_kvset_init(&values);
	named = calloc((size_t)argc + 1, sizeof(*named));
	paths = calloc((size_t)argc + 2, sizeof(*paths));
	if (named == NULL || paths == NULL) {
		status = envx_cli_error(10, "out of memory");
		goto done;
	}
	while ((o = envx_getopt(ctx, &st, opts)) > 0) {
		if (o == OPT_HISTORY) {
			history = true;
		} else if (o == OPT_STAGED) {
			staged = true;
		} else if (o == OPT_ALL) {
			all = true;
		} else {
			if (!envx_env_name_valid(st.arg)) {
				status = envx_cli_usage(
				        ctx, "--env: invalid environment name");
				goto done;
			}
			named[nnamed++] = st.arg;
		}
	}
	if (o < 0) {
		status = o == -1 ? 0 : 2;
		goto done;
	}
	if (history && staged) {
		status = envx_cli_usage(ctx, "--git-history and --staged "
		                             "exclude each other");
		goto done;
	}
	if (all && (history || staged)) {
		status = envx_cli_usage(ctx, "--all applies to the working "
		                             "tree, not to --git-history or "
		                             "--staged");
		goto done;
	}
	status = envx_cmd_vault(ctx);
	if (status != 0) {
		goto done;
	}
	if (envx_vault_env_list(ctx->vault, &list, &nlist, &err) < 0) {
		status = envx_cli_fail(&err);
		goto done;
	}
	for (i = 0; i < nnamed; i++) {
		if (!env_exists(list, nlist, named[i])) {
			status = envx_cli_error(9,
			                        "scan: no environment '%s' in "
			                        "'%s'",
			                        named[i], ctx->vault_path);
			goto done;
		}
	}
	/* before "--", an argument naming an environment is one; every
	 * other argument is a path */
	for (i = 0; i < (size_t)st.npositional; i++) {
		const char *a = st.positional[i];

		if (!after_dashes && strcmp(a, "--") == 0) {
			after_dashes = true;
		} else if (!after_dashes && env_exists(list, nlist, a)) {
			named[nnamed++] = a;
		} else {
			paths[npaths++] = a;
		}
	}
	for (i = 0; !history && !staged && i < npaths; i++) {
		struct stat pst;

		if (lstat(paths[i], &pst) < 0) {
			status = envx_cli_error(
			        errno == ENOENT ? 9 : 6, "scan: '%s': %s",
			        paths[i],
			        errno == ENOENT ? "no such environment, file "
			                          "or directory"
			                        : strerror(errno));
			goto done;
		}
	}
	nnamed = envx_strv_unique(named, nnamed);
	sc.envs = calloc((nnamed ? nnamed : nlist) + 1, sizeof(*sc.envs));
	sc.skipped_envs = calloc(nlist + 1, sizeof(*sc.skipped_envs));
	if (sc.envs == NULL || sc.skipped_envs == NULL) {
		status = envx_cli_error(10, "out of memory");
		goto done;
	}
	for (i = 0; i < (nnamed ? nnamed : nlist); i++) {
		sc.envs[sc.nenvs++] = nnamed ? named[i] : list[i].name;
	}
	status = load_values(&sc, nnamed > 0, &values);
	if (status != 0) {
		goto done;
	}
	if (build_matcher(&sc, &values, &err) < 0) {
		status = envx_cli_fail(&err);
		goto done;
	}
	envx_kvset_release(&values);
	if (stat(ctx->vault_path, &vst) == 0) {
		sc.vault_dev = vst.st_dev;
		sc.vault_ino = vst.st_ino;
	}
	if (ctx->json) {
		printf("{\"findings\": [");
	}
	if (history || staged) {
		sc.src = history ? SRC_HISTORY : SRC_INDEX;
		if (scan_git_blobs(&sc, history, paths, npaths, &err) < 0) {
			if (ctx->json) {
				printf("]}\n");
			}
			status = envx_cli_fail(&err);
			goto done;
		}
	} else {
		if (npaths == 0) {
			paths[npaths++] = ".";
		}
		for (i = 0; i < npaths; i++) {
			struct stat pst;
			int r = 1;

			if (lstat(paths[i], &pst) == 0 &&
			    !S_ISDIR(pst.st_mode)) {
				/* named explicitly: scanned even if ignored */
				scan_file(&sc, paths[i]);
				continue;
			}
			if (!all) {
				r = scan_git_tree(&sc, paths[i], &err);
			}
			if (r < 0) {
				if (ctx->json) {
					printf("]}\n");
				}
				status = envx_cli_fail(&err);
				goto done;
			}
			if (r == 1) {
				walk(&sc, paths[i]);
			}
		}
		sc.src = SRC_FILE;
	}
	print_summary(&sc, history  ? " of the history"
	                   : staged ? " of the index"
	                            : "");
	if (sc.findings > 0) {
		status = 1;
	} else if (sc.unreadable > 0) {
		status = envx_cli_error(6,
		                        "scan: %zu file%s could not be read: "
		                        "the scan is incomplete",
		                        sc.unreadable,
		                        sc.unreadable == 1 ? "" : "s");
	}
done:
	envx_kvset_release(&values);
	scan_release(&sc);
	free(list);
	free(named);
	free(paths);
	free(st.positional);
	return status;
}
