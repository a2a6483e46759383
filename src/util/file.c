/*
 * Careful file I/O for key files and exports: atomic replacement through an
 * O_EXCL|O_NOFOLLOW temporary, reads with a size cap, ssh-style checks
 * that refuse key files other users could read, and adding a line to a
 * list file such as .gitignore.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "envx/util.h"
#include "util/banned.h"

static int
dir_of(const char *path, char *out, size_t outsz)
{
	const char *slash = strrchr(path, '/');

	if (slash == NULL) {
		return snprintf(out, outsz, ".") < (int)outsz ? 0 : -1;
	}
	if (slash == path) {
		return snprintf(out, outsz, "/") < (int)outsz ? 0 : -1;
	}
	return snprintf(out, outsz, "%.*s", (int)(slash - path), path) <
	                       (int)outsz
	               ? 0
	               : -1;
}

int
envx_file_write_atomic(const char *path, const void *data, size_t len,
                       mode_t mode, struct envx_error *err)
{
	char tmp[4096];
	char dir[4096];
	unsigned char rnd[8];
	struct stat st;
	const unsigned char *p = data;
	int fd = -1;
	int dfd = -1;
	int r = ENVX_E_IO;
	bool created = false;

	if (lstat(path, &st) == 0 && S_ISLNK(st.st_mode)) {
		return envx_error_set(err, ENVX_E_UNSAFE,
		                      "refusing to write '%s': it is a "
		                      "symbolic link",
		                      path);
	}
	randombytes_buf(rnd, sizeof(rnd));
	if (snprintf(tmp, sizeof(tmp), "%s.tmp-%02x%02x%02x%02x%02x%02x", path,
	             rnd[0], rnd[1], rnd[2], rnd[3], rnd[4],
	             rnd[5]) >= (int)sizeof(tmp) ||
	    dir_of(path, dir, sizeof(dir)) < 0) {
		return envx_error_set(err, ENVX_E_INPUT, "path too long: '%s'",
		                      path);
	}
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
	          mode);
	if (fd < 0) {
		r = envx_error_set(err, ENVX_E_IO, "cannot create '%s': %s",
		                   tmp, strerror(errno));
		goto out;
	}
	created = true;
	if (fchmod(fd, mode) < 0) {
		r = envx_error_set(err, ENVX_E_IO, "cannot chmod '%s': %s", tmp,
		                   strerror(errno));
		goto out;
	}
	while (len > 0) {
		ssize_t n = write(fd, p, len);
		if (n < 0 && errno == EINTR) {
			continue;
		}
		if (n <= 0) {
			r = envx_error_set(err, ENVX_E_IO,
			                   "cannot write '%s': %s", tmp,
			                   strerror(n < 0 ? errno : EIO));
			goto out;
		}
		p += n;
		len -= (size_t)n;
	}
	if (fsync(fd) < 0 || close(fd) < 0) {
		fd = -1;
		r = envx_error_set(err, ENVX_E_IO, "cannot sync '%s': %s", tmp,
		                   strerror(errno));
		goto out;
	}
	fd = -1;
	if (rename(tmp, path) < 0) {
		r = envx_error_set(err, ENVX_E_IO, "cannot rename to '%s': %s",
		                   path, strerror(errno));
		goto out;
	}
	created = false;
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0) {
		(void)fsync(dfd);
	}
	r = 0;
out:
	if (fd >= 0) {
		close(fd);
	}
	if (dfd >= 0) {
		close(dfd);
	}
	if (created) {
		unlink(tmp);
	}
	return r;
}

int
envx_fd_read(int fd, const char *what, struct envx_buf *buf,
             struct envx_error *err)
{
	char chunk[16384];
	int r = 0;

	for (;;) {
		ssize_t n = read(fd, chunk, sizeof(chunk));

		if (n < 0 && errno == EINTR) {
			continue;
		}
		if (n < 0) {
			r = envx_error_set(err, ENVX_E_IO, "cannot read %s: %s",
			                   what, strerror(errno));
			break;
		}
		if (n == 0) {
			break;
		}
		r = envx_buf_append(buf, chunk, (size_t)n, err);
		if (r < 0) {
			r = envx_error_set(
			        err, ENVX_E_INPUT,
			        "%s is too large (more than %zu bytes)", what,
			        buf->max);
			break;
		}
	}
	sodium_memzero(chunk, sizeof(chunk));
	return r;
}

/* The error for a failed open(2) of path: a symbolic link (O_NOFOLLOW) is
 * refused as unsafe, a missing file is "not found". */
static int
open_error(int e, const char *refuse, const char *cannot, const char *path,
           struct envx_error *err)
{
	if (e == ELOOP) {
		return envx_error_set(err, ENVX_E_UNSAFE,
		                      "%s '%s': it is a symbolic link", refuse,
		                      path);
	}
	return envx_error_set(err, e == ENOENT ? ENVX_E_NOTFOUND : ENVX_E_IO,
	                      "%s '%s': %s", cannot, path, strerror(e));
}

int
envx_file_read(const char *path, bool nofollow, struct envx_buf *buf,
               struct envx_error *err)
{
	char what[4200];
	int fd;
	int r;
	int flags = O_RDONLY | O_CLOEXEC | (nofollow ? O_NOFOLLOW : 0);

	fd = strcmp(path, "-") == 0 ? dup(STDIN_FILENO) : open(path, flags);
	if (fd < 0) {
		return open_error(errno, "refusing to read", "cannot open",
		                  path, err);
	}
	snprintf(what, sizeof(what), "'%s'", path);
	r = envx_fd_read(fd, what, buf, err);
	close(fd);
	return r;
}

/* Grows a secure buffer by copying: sodium_malloc memory cannot be
 * reallocated in place. */
static int
secbuf_grow(struct envx_secbuf *b, size_t cap, struct envx_error *err)
{
	struct envx_secbuf nb;
	int r;

	r = envx_secbuf_init(&nb, cap, err);
	if (r < 0) {
		return r;
	}
	memcpy(nb.data, b->data, b->len);
	nb.len = b->len;
	envx_secbuf_release(b);
	*b = nb;
	return 0;
}

/*
 * Reads fd to its end into out, a secure buffer this function initializes
 * (at least hint bytes), failing with ENVX_E_INPUT past max. Closes nothing.
 */
static int
read_fd_secure(int fd, const char *path, size_t hint, size_t max,
               struct envx_secbuf *out, struct envx_error *err)
{
	int r;

	r = envx_secbuf_init(out, hint, err);
	if (r < 0) {
		return r;
	}
	for (;;) {
		ssize_t n;

		if (out->len == out->cap) {
			size_t ncap = out->cap * 2;
			if (out->cap > max) {
				r = envx_error_set(err, ENVX_E_INPUT,
				                   "'%s' is too large (more "
				                   "than %zu bytes)",
				                   path, max);
				goto out;
			}
			r = secbuf_grow(out, ncap > max + 1 ? max + 1 : ncap,
			                err);
			if (r < 0) {
				goto out;
			}
		}
		n = read(fd, out->data + out->len, out->cap - out->len);
		if (n < 0 && errno == EINTR) {
			continue;
		}
		if (n < 0) {
			r = envx_error_set(err, ENVX_E_IO,
			                   "cannot read '%s': %s", path,
			                   strerror(errno));
			goto out;
		}
		if (n == 0) {
			break;
		}
		out->len += (size_t)n;
	}
	if (out->len > max) {
		r = envx_error_set(err, ENVX_E_INPUT,
		                   "'%s' is too large (more than %zu bytes)",
		                   path, max);
		goto out;
	}
	r = 0;
out:
	if (r < 0) {
		envx_secbuf_release(out);
	}
	return r;
}

/* Whether text (len bytes) has a line equal to line, ignoring trailing
 * blanks and a CR. */
static bool
has_line(const char *text, size_t len, const char *line)
{
	size_t want = strlen(line);
	size_t i = 0;

	while (i < len) {
		const char *nl = memchr(text + i, '\n', len - i);
		size_t end = nl != NULL ? (size_t)(nl - text) : len;
		size_t n = end - i;

		while (n > 0 &&
		       (text[i + n - 1] == ' ' || text[i + n - 1] == '\t' ||
		        text[i + n - 1] == '\r')) {
			n--;
		}
		if (n == want && memcmp(text + i, line, want) == 0) {
			return true;
		}
		i = end + 1;
	}
	return false;
}

int
envx_file_ensure_line(const char *path, const char *line, bool *added,
                      struct envx_error *err)
{
	struct envx_buf buf;
	struct stat st;
	mode_t mode = 0644;
	int r;

	*added = false;
	envx_buf_init(&buf, ENVX_LIST_FILE_MAX_BYTES);
	r = envx_file_read(path, true, &buf, err);
	if (r == ENVX_E_NOTFOUND) {
		r = 0;
	}
	if (r < 0) {
		goto out;
	}
	if (buf.len > 0 && has_line(buf.data, buf.len, line)) {
		goto out;
	}
	if (lstat(path, &st) == 0) {
		mode = st.st_mode & 07777;
	}
	if (buf.len > 0 && buf.data[buf.len - 1] != '\n') {
		r = envx_buf_append(&buf, "\n", 1, err);
	}
	if (r == 0) {
		r = envx_buf_appendf(&buf, err, "%s\n", line);
	}
	if (r == 0) {
		r = envx_file_write_atomic(path, buf.data, buf.len, mode, err);
	}
	if (r == 0) {
		*added = true;
	}
out:
	envx_buf_release(&buf);
	return r;
}

int
envx_file_read_secure(const char *path, size_t max, struct envx_secbuf *out,
                      struct envx_error *err)
{
	struct stat st;
	size_t cap = 64 * 1024;
	int fd;
	int r;

	out->data = NULL;
	fd = strcmp(path, "-") == 0 ? dup(STDIN_FILENO)
	                            : open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		return envx_error_set(
		        err, errno == ENOENT ? ENVX_E_NOTFOUND : ENVX_E_IO,
		        "cannot open '%s': %s", path, strerror(errno));
	}
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) {
		if ((size_t)st.st_size > max) {
			r = envx_error_set(err, ENVX_E_INPUT,
			                   "'%s' is too large (more than %zu "
			                   "bytes)",
			                   path, max);
			goto out;
		}
		cap = (size_t)st.st_size + 1;
	}
	r = read_fd_secure(fd, path, cap, max, out, err);
out:
	close(fd);
	return r;
}

/*
 * Opens first and checks what was opened: a check by path followed by an
 * open by path lets the file be swapped in between (a FIFO would block the
 * read forever). O_NOFOLLOW refuses a final symlink, O_NONBLOCK makes
 * opening a FIFO or device return at once so fstat can refuse it.
 */
int
envx_file_read_private(const char *path, size_t max, struct envx_secbuf *out,
                       struct envx_error *err)
{
	struct stat st;
	int fd;
	int r;

	out->data = NULL;
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0) {
		return open_error(errno, "refusing key file",
		                  "cannot read key file", path, err);
	}
	if (fstat(fd, &st) < 0) {
		r = envx_error_set(err, ENVX_E_IO,
		                   "cannot read key file '%s': %s", path,
		                   strerror(errno));
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		r = envx_error_set(err, ENVX_E_UNSAFE,
		                   "refusing key file '%s': not a regular "
		                   "file",
		                   path);
		goto out;
	}
	/* ssh's rule: the user's own file, or root's */
	if (st.st_uid != geteuid() && st.st_uid != 0) {
		r = envx_error_set(err, ENVX_E_UNSAFE,
		                   "refusing key file '%s': it is owned by "
		                   "another user (uid %u)",
		                   path, (unsigned)st.st_uid);
		goto out;
	}
	if ((st.st_mode & 077) != 0) {
		r = envx_error_set(err, ENVX_E_UNSAFE,
		                   "refusing key file '%s': permissions "
		                   "%04o are too open (it must not be "
		                   "accessible by group or others; run "
		                   "chmod 600 '%s')",
		                   path, (unsigned)(st.st_mode & 07777), path);
		goto out;
	}
	if ((size_t)st.st_size > max) {
		r = envx_error_set(err, ENVX_E_INPUT,
		                   "'%s' is too large (more than %zu bytes)",
		                   path, max);
		goto out;
	}
	r = read_fd_secure(fd, path, (size_t)st.st_size + 1, max, out, err);
out:
	close(fd);
	return r;
}

int
envx_file_make_parents(const char *path, struct envx_error *err)
{
	char dir[4096];
	size_t i;

	if (snprintf(dir, sizeof(dir), "%s", path) >= (int)sizeof(dir)) {
		return envx_error_set(err, ENVX_E_INPUT, "path too long");
	}
	for (i = 1; dir[i] != '\0'; i++) {
		if (dir[i] != '/') {
			continue;
		}
		dir[i] = '\0';
		if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
			return envx_error_set(
			        err, ENVX_E_IO,
			        "cannot create directory '%s': %s", dir,
			        strerror(errno));
		}
		dir[i] = '/';
	}
	return 0;
}
