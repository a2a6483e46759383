/*
 * Opening, creating and locating vault files, transactions and
 * environments (VF-3, VF-4). Secrets live in secret.c, the audit log
 * (VF-5) in audit.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vault/internal.h"
#include "util/banned.h"

/* The vault file a connection has open, for messages. */
static const char *
db_path(sqlite3 *db)
{
	const char *path = db != NULL ? sqlite3_db_filename(db, "main") : NULL;

	return path != NULL && *path != '\0' ? path : ENVX_VAULT_FILENAME;
}

int
envx_sqlite_error(sqlite3 *db, struct envx_error *err, const char *what)
{
	int xrc = db != NULL ? sqlite3_extended_errcode(db) : SQLITE_ERROR;
	int rc = xrc & 0xff;
	const char *why = db != NULL ? sqlite3_errmsg(db) : "unknown error";

	if (xrc == SQLITE_READONLY_ROLLBACK) {
		/* VF-4.7: met after the check at open (a writer was killed
		 * in between) */
		return envx_error_set(
		        err, ENVX_E_IO,
		        "%s: vault '%s' has a hot journal '%s-journal' left by "
		        "an interrupted write, and this read-only open cannot "
		        "roll it back: run any write command, or envx where the "
		        "vault is writable",
		        what, db_path(db), db_path(db));
	}
	switch (rc) {
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		/* VF-4.4: only after the busy timeout ran out */
		return envx_error_set(
		        err, ENVX_E_IO,
		        "%s: vault busy: '%s' stayed locked by "
		        "another process past the busy timeout; "
		        "try again (ENVX_BUSY_TIMEOUT_MS sets the "
		        "wait)",
		        what, db_path(db));
	case SQLITE_NOTADB:
	case SQLITE_CORRUPT:
	case SQLITE_FORMAT:
		return envx_error_set(
		        err, ENVX_E_INTEGRITY,
		        "%s: vault '%s' is corrupt or not an envx "
		        "vault (%s)",
		        what, db_path(db), why);
	case SQLITE_CONSTRAINT:
	case SQLITE_MISMATCH:
		return envx_error_set(err, ENVX_E_INTEGRITY,
		                      "%s: the vault's contents are "
		                      "inconsistent (%s)",
		                      what, why);
	case SQLITE_FULL:
		return envx_error_set(
		        err, ENVX_E_IO,
		        "%s: disk full: no space left for vault "
		        "'%s' or its journal; nothing was written",
		        what, db_path(db));
	case SQLITE_READONLY:
		return envx_error_set(err, ENVX_E_IO,
		                      "%s: vault '%s' cannot be written here "
		                      "(a read-only file system, or no write "
		                      "permission on it or its directory); "
		                      "nothing was written",
		                      what, db_path(db));
	case SQLITE_IOERR:
	case SQLITE_CANTOPEN:
	case SQLITE_PERM:
	case SQLITE_NOLFS:
		return envx_error_set(err, ENVX_E_IO, "%s: %s", what, why);
	case SQLITE_NOMEM:
		return envx_error_set(err, ENVX_E_INTERNAL, "%s: out of memory",
		                      what);
	default:
		return envx_error_set(err, ENVX_E_INTERNAL, "%s: %s", what,
		                      why);
	}
}

int
envx_vault_integrity_check(struct envx_vault *v, struct envx_error *err)
{
	sqlite3_stmt *st = NULL;
	const char *line = NULL;
	char found[160] = "";
	char *c;
	int rc;
	int r = ENVX_E_INTEGRITY;

	/* one line is enough to say it is corrupt; the count bounds the
	 * work on a badly damaged file */
	if (sqlite3_prepare_v2(v->db, "PRAGMA integrity_check(1)", -1, &st,
	                       NULL) != SQLITE_OK) {
		snprintf(found, sizeof(found), "%s", sqlite3_errmsg(v->db));
		goto out;
	}
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		line = (const char *)sqlite3_column_text(st, 0);
		if (line != NULL && strcmp(line, "ok") == 0) {
			r = 0;
			goto out;
		}
		if (line != NULL &&
		    strncmp(line, "*** in database ", 16) == 0 &&
		    strchr(line, '\n') != NULL) {
			line = strchr(line, '\n') + 1; /* SQLite's header */
		}
		snprintf(found, sizeof(found), "%s",
		         line != NULL ? line : "no answer");
	} else {
		snprintf(found, sizeof(found), "%s", sqlite3_errmsg(v->db));
	}
out:
	sqlite3_finalize(st);
	if (r < 0) {
		/* control characters from a damaged page must not reach the
		 * terminal */
		for (c = found; *c != '\0'; c++) {
			if ((unsigned char)*c < 0x20 || *c == 0x7f) {
				*c = '?';
			}
		}
		r = envx_error_set(err, ENVX_E_INTEGRITY,
		                   "vault '%s' is corrupt: SQLite's integrity "
		                   "check says: %s (restore it from version "
		                   "control or a backup)",
		                   v->path, found);
	}
	return r;
}

int
envx_vault_locate(const char *explicit_path, char *out, size_t outsz,
                  struct envx_error *err)
{
	const char *env = getenv("ENVX_VAULT");
	char dir[PATH_MAX];
	char candidate[PATH_MAX + 16];
	struct stat st;

	if (explicit_path == NULL && env != NULL && *env != '\0') {
		explicit_path = env;
	}
	if (explicit_path != NULL) {
		if ((size_t)snprintf(out, outsz, "%s", explicit_path) >=
		    outsz) {
			return envx_error_set(err, ENVX_E_INPUT,
			                      "vault path too long");
		}
		return 0;
	}
	if (getcwd(dir, sizeof(dir)) == NULL) {
		return envx_error_set(err, ENVX_E_IO,
		                      "cannot get the current directory: %s",
		                      strerror(errno));
	}
	for (bool here = true;; here = false) {
		char *slash;

		snprintf(candidate, sizeof(candidate), "%s/%s",
		         strcmp(dir, "/") == 0 ? "" : dir, ENVX_VAULT_FILENAME);
		if (lstat(candidate, &st) == 0) {
			/* a vault found above the current directory and owned
			 * by someone else may have been planted there (a
			 * shared /tmp): use it only when named */
			if (!here && st.st_uid != geteuid() && st.st_uid != 0) {
				return envx_error_set(
				        err, ENVX_E_UNSAFE,
				        "refusing vault '%s': found in a parent "
				        "directory and owned by another user "
				        "(uid %u); pass --vault '%s' or set "
				        "ENVX_VAULT if it is the one you mean",
				        candidate, (unsigned)st.st_uid,
				        candidate);
			}
			if ((size_t)snprintf(out, outsz, "%s", candidate) >=
			    outsz) {
				return envx_error_set(err, ENVX_E_INPUT,
				                      "vault path too long");
			}
			return 0;
		}
		slash = strrchr(dir, '/');
		if (slash == NULL || strcmp(dir, "/") == 0) {
			break;
		}
		if (slash == dir) {
			dir[1] = '\0';
		} else {
			*slash = '\0';
		}
	}
	return envx_error_set(err, ENVX_E_NOTFOUND,
	                      "no vault found: no %s in this directory or its "
	                      "parents (run 'envx init', or pass --vault PATH "
	                      "or set ENVX_VAULT)",
	                      ENVX_VAULT_FILENAME);
}

static int
exec_sql(struct envx_vault *v, const char *sql, struct envx_error *err,
         const char *what)
{
	if (sqlite3_exec(v->db, sql, NULL, NULL, NULL) != SQLITE_OK) {
		return envx_sqlite_error(v->db, err, what);
	}
	return 0;
}

static int
pragma_int(struct envx_vault *v, const char *sql, int *out,
           struct envx_error *err)
{
	sqlite3_stmt *st = NULL;
	int r;

	if (sqlite3_prepare_v2(v->db, sql, -1, &st, NULL) != SQLITE_OK ||
	    sqlite3_step(st) != SQLITE_ROW) {
		r = envx_sqlite_error(v->db, err, "cannot read vault header");
		goto out;
	}
	*out = sqlite3_column_int(st, 0);
	r = 0;
out:
	sqlite3_finalize(st);
	return r;
}

/* Adds ms milliseconds to t. */
static void
timespec_add_ms(struct timespec *t, long ms)
{
	t->tv_sec += ms / 1000;
	t->tv_nsec += (ms % 1000) * 1000000L;
	if (t->tv_nsec >= 1000000000L) {
		t->tv_sec++;
		t->tv_nsec -= 1000000000L;
	}
}

/*
 * VF-4.4: SQLite calls this while another connection holds the lock it
 * needs; returning 1 retries. Each lock wait may last v->busy_ms in all.
 * The sleeps grow to 50 ms and are jittered, so that writers queued on one
 * lock do not wake in step and starve each other.
 */
static int
busy_wait(void *arg, int count)
{
	struct envx_vault *v = arg;
	struct timespec now;
	struct timespec nap;
	long left_ms;
	long ms;

	clock_gettime(CLOCK_MONOTONIC, &now);
	if (count == 0) {
		v->busy_deadline = now;
		timespec_add_ms(&v->busy_deadline, v->busy_ms);
	}
	left_ms = (long)(v->busy_deadline.tv_sec - now.tv_sec) * 1000L +
	          (v->busy_deadline.tv_nsec - now.tv_nsec) / 1000000L;
	if (left_ms <= 0) {
		return 0;
	}
	ms = count < 6 ? 1L << count : 50L;
	ms = ms / 2 + (long)randombytes_uniform((uint32_t)ms + 1);
	if (ms > left_ms) {
		ms = left_ms;
	}
	if (ms < 1) {
		ms = 1;
	}
	nap.tv_sec = ms / 1000;
	nap.tv_nsec = (ms % 1000) * 1000000L;
	nanosleep(&nap, NULL);
	return 1;
}

/* VF-4.4: the busy timeout, ENVX_BUSY_TIMEOUT_MS if set. */
static int
busy_timeout(long *out, struct envx_error *err)
{
	const char *s = getenv("ENVX_BUSY_TIMEOUT_MS");
	char *end = NULL;
	long ms;

	*out = ENVX_BUSY_TIMEOUT_MS;
	if (s == NULL || *s == '\0') {
		return 0;
	}
	errno = 0;
	ms = strtol(s, &end, 10);
	if (errno != 0 || *end != '\0' || *s < '0' || *s > '9' || ms < 0 ||
	    ms > ENVX_BUSY_TIMEOUT_MS_MAX) {
		return envx_error_set(
		        err, ENVX_E_USAGE,
		        "ENVX_BUSY_TIMEOUT_MS must be a number of "
		        "milliseconds from 0 to %d",
		        ENVX_BUSY_TIMEOUT_MS_MAX);
	}
	*out = ms;
	return 0;
}

/* VF-4.4: connection settings applied to every open. */
static int
configure(struct envx_vault *v, struct envx_error *err)
{
	int r;

	sqlite3_db_config(v->db, SQLITE_DBCONFIG_DEFENSIVE, 1, NULL);
	sqlite3_db_config(v->db, SQLITE_DBCONFIG_TRUSTED_SCHEMA, 0, NULL);
	sqlite3_db_config(v->db, SQLITE_DBCONFIG_ENABLE_TRIGGER, 0, NULL);
	sqlite3_db_config(v->db, SQLITE_DBCONFIG_ENABLE_VIEW, 0, NULL);
	sqlite3_db_config(v->db, SQLITE_DBCONFIG_ENABLE_LOAD_EXTENSION, 0,
	                  NULL);
	sqlite3_busy_handler(v->db, busy_wait, v);
	r = exec_sql(v,
	             "PRAGMA secure_delete = ON; PRAGMA foreign_keys = ON; "
	             "PRAGMA cell_size_check = ON; PRAGMA synchronous = FULL",
	             err, "cannot configure vault");
	if (r < 0) {
		return r;
	}
	if (v->writable) {
		r = exec_sql(v, "PRAGMA journal_mode = DELETE", err,
		             "cannot configure vault");
	} else {
		/* readers map the file instead of one pread per page: exec
		 * reads every page of an environment */
		r = exec_sql(v, "PRAGMA mmap_size = 268435456", err,
		             "cannot configure vault");
	}
	return r;
}

static int
read_vault_id(struct envx_vault *v, struct envx_error *err)
{
	sqlite3_stmt *st = NULL;
	int r = ENVX_E_INTEGRITY;

	if (sqlite3_prepare_v2(v->db, "SELECT vault_id FROM vault WHERE id = 1",
	                       -1, &st, NULL) != SQLITE_OK) {
		r = envx_sqlite_error(v->db, err, "cannot read vault id");
		goto out;
	}
	if (sqlite3_step(st) != SQLITE_ROW ||
	    sqlite3_column_bytes(st, 0) != ENVX_VAULT_ID_BYTES) {
		r = envx_error_set(err, ENVX_E_INTEGRITY,
		                   "vault '%s' has no valid vault id: "
		                   "corrupt or tampered",
		                   v->path);
		goto out;
	}
	memcpy(v->vault_id, sqlite3_column_blob(st, 0), ENVX_VAULT_ID_BYTES);
	r = 0;
out:
	sqlite3_finalize(st);
	return r;
}

static struct envx_vault *
vault_alloc(const char *path, bool writable)
{
	struct envx_vault *v = calloc(1, sizeof(*v));
	const char *user = getenv("USER");

	if (v == NULL) {
		return NULL;
	}
	snprintf(v->path, sizeof(v->path), "%s", path);
	v->writable = writable;
	snprintf(v->actor, sizeof(v->actor), "%s",
	         user != NULL && *user != '\0' ? user : "unknown");
	snprintf(v->claimed, sizeof(v->claimed), "%s", v->actor);
	return v;
}

/* Whether a directory in path (not its last component) is a symbolic
 * link; the first such prefix goes to out. */
static bool
symlinked_dir(const char *path, char *out, size_t outsz)
{
	const char *p = path;
	struct stat st;

	while ((p = strchr(p + 1, '/')) != NULL) {
		size_t len = (size_t)(p - path);

		if (len == 0 || len >= outsz) {
			continue;
		}
		memcpy(out, path, len);
		out[len] = '\0';
		if (lstat(out, &st) == 0 && S_ISLNK(st.st_mode)) {
			return true;
		}
	}
	return false;
}

static int
open_db(struct envx_vault *v, int flags, struct envx_error *err)
{
	int rc = sqlite3_open_v2(v->path, &v->db,
	                         flags | SQLITE_OPEN_NOFOLLOW |
	                                 SQLITE_OPEN_EXRESCODE |
	                                 SQLITE_OPEN_NOMUTEX,
	                         NULL);

	if (rc != SQLITE_OK) {
		char link[PATH_MAX];

		/* SQLite's NOFOLLOW refuses a symlink anywhere in the path,
		 * which envx's own check (of the file itself) lets through */
		if (symlinked_dir(v->path, link, sizeof(link))) {
			return envx_error_set(
			        err, ENVX_E_UNSAFE,
			        "refusing vault '%s': '%s' in its "
			        "path is a symbolic link (use the "
			        "real path)",
			        v->path, link);
		}
		return envx_error_set(err, ENVX_E_IO,
		                      "cannot open vault '%s': %s", v->path,
		                      v->db != NULL ? sqlite3_errmsg(v->db)
		                                    : sqlite3_errstr(rc));
	}
	return 0;
}

int
envx_vault_create(const char *path, struct envx_vault **out,
                  struct envx_error *err)
{
	struct envx_vault *v = NULL;
	unsigned char id[ENVX_VAULT_ID_BYTES];
	sqlite3_stmt *st = NULL;
	char pragma[64];
	bool created = false;
	long busy_ms;
	int fd;
	int r;

	r = busy_timeout(&busy_ms, err);
	if (r < 0) {
		return r;
	}
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
	          0644);
	if (fd < 0) {
		return envx_error_set(err, ENVX_E_IO,
		                      errno == EEXIST
		                              ? "cannot create vault '%s': it "
		                                "already exists"
		                              : "cannot create vault '%s': %s",
		                      path, strerror(errno));
	}
	close(fd);
	created = true;
	v = vault_alloc(path, true);
	if (v == NULL) {
		r = envx_error_set(err, ENVX_E_INTERNAL, "out of memory");
		goto out;
	}
	v->busy_ms = busy_ms;
	r = open_db(v, SQLITE_OPEN_READWRITE, err);
	if (r < 0) {
		goto out;
	}
	r = configure(v, err);
	if (r < 0) {
		goto out;
	}
	r = exec_sql(v, "BEGIN IMMEDIATE", err, "cannot create vault");
	if (r < 0) {
		goto out;
	}
	v->in_tx = true;
	snprintf(pragma, sizeof(pragma), "PRAGMA application_id = %d",
	         ENVX_APPLICATION_ID);
	r = exec_sql(v, pragma, err, "cannot create vault");
	if (r < 0) {
		goto out;
	}
	r = envx_schema_migrate(v->db, 0, ENVX_VAULT_SCHEMA_VERSION, err);
	if (r < 0) {
		goto out;
	}
	randombytes_buf(id, sizeof(id));
	if (sqlite3_prepare_v2(v->db,
	                       "INSERT INTO vault (id, vault_id, created_at) "
	                       "VALUES (1, ?, ?)",
	                       -1, &st, NULL) != SQLITE_OK) {
		r = envx_sqlite_error(v->db, err, "cannot create vault");
		goto out;
	}
	sqlite3_bind_blob(st, 1, id, sizeof(id), SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, envx_now());
	if (sqlite3_step(st) != SQLITE_DONE) {
		r = envx_sqlite_error(v->db, err, "cannot create vault");
		goto out;
	}
	memcpy(v->vault_id, id, sizeof(id));
	v->schema = ENVX_VAULT_SCHEMA_VERSION;
	r = envx_vault_audit(v, "init", "", "", "vault created", err);
	if (r < 0) {
		goto out;
	}
	r = exec_sql(v, "COMMIT", err, "cannot create vault");
	if (r < 0) {
		goto out;
	}
	v->in_tx = false;
	*out = v;
	v = NULL;
	created = false;
out:
	sqlite3_finalize(st);
	envx_vault_close(v);
	if (created) {
		unlink(path);
	}
	return r;
}

/* Runs one read of the schema on a new connection to v's file: enough for
 * SQLite to find, and with a writable connection roll back, a hot journal.
 * Returns SQLite's extended result code. */
static int
probe_read(struct envx_vault *v, int flags)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	int rc;

	rc = sqlite3_open_v2(v->path, &db,
	                     flags | SQLITE_OPEN_NOFOLLOW |
	                             SQLITE_OPEN_EXRESCODE |
	                             SQLITE_OPEN_NOMUTEX,
	                     NULL);
	if (rc == SQLITE_OK) {
		sqlite3_db_config(db, SQLITE_DBCONFIG_DEFENSIVE, 1, NULL);
		sqlite3_db_config(db, SQLITE_DBCONFIG_TRUSTED_SCHEMA, 0, NULL);
		sqlite3_busy_handler(db, busy_wait, v);
		rc = sqlite3_prepare_v2(db,
		                        "SELECT count(*) FROM sqlite_schema",
		                        -1, &st, NULL);
	}
	if (rc == SQLITE_OK) {
		rc = sqlite3_step(st);
		rc = rc == SQLITE_ROW ? SQLITE_OK : rc;
	}
	if (rc != SQLITE_OK && db != NULL) {
		rc = sqlite3_extended_errcode(db);
	}
	sqlite3_finalize(st);
	sqlite3_close_v2(db);
	return rc;
}

/*
 * VF-4.4: envx never writes WAL mode (file header bytes 18 and 19 are 2).
 * A writer's PRAGMA journal_mode = DELETE converts such a file back; a
 * reader refuses it, since SQLite would create envx.vault-wal and -shm
 * beside it and read changes from a -wal file that envx never wrote.
 */
static int
refuse_wal(const char *path, struct envx_error *err)
{
	unsigned char h[20];
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	ssize_t n;

	if (fd < 0) {
		return 0; /* SQLite's open reports it */
	}
	n = pread(fd, h, sizeof(h), 0);
	close(fd);
	/* not an SQLite file at all: the open that follows says so */
	if (n != (ssize_t)sizeof(h) || memcmp(h, "SQLite format 3", 16) != 0 ||
	    (h[18] == 1 && h[19] == 1)) {
		return 0;
	}
	return envx_error_set(err, ENVX_E_INTEGRITY,
	                      "vault '%s' is in a journal mode envx never "
	                      "writes (SQLite WAL: file header bytes 18-19 are "
	                      "%u, %u): something other than envx changed it; "
	                      "any envx write command converts it back",
	                      path, h[18], h[19]);
}

static uint32_t
be32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | p[3];
}

bool
envx_vault_image_is_envx(const unsigned char *head, size_t n, uint64_t size)
{
	/* SQLite's header: page size at 16 (big-endian, 1 for 65536),
	 * user_version (VF-4.1) at 60, application_id (VF-4.2) at 68 */
	uint32_t page;
	uint32_t version;

	if (n < ENVX_VAULT_HEADER_BYTES ||
	    memcmp(head, "SQLite format 3", 16) != 0) {
		return false;
	}
	page = (uint32_t)head[16] << 8 | head[17];
	if (page == 1) {
		page = 65536;
	}
	version = be32(head + 60);
	return page >= 512 && page <= 65536 && (page & (page - 1)) == 0 &&
	       size >= page && size % page == 0 && version >= 1 &&
	       version <= (uint32_t)INT32_MAX &&
	       be32(head + 68) == ENVX_APPLICATION_ID;
}

/* The directory holding path (".", or up to the last slash). */
static void
parent_dir(const char *path, char *out, size_t outsz)
{
	const char *slash = strrchr(path, '/');

	if (slash == NULL) {
		snprintf(out, outsz, ".");
	} else if (slash == path) {
		snprintf(out, outsz, "/");
	} else {
		snprintf(out, outsz, "%.*s", (int)(slash - path), path);
	}
}

/*
 * VF-4.7: a write that was interrupted (a killed envx, a power cut, or a
 * journal committed to git) leaves a hot journal beside the vault. SQLite
 * rolls it back on the next read, which restores the last committed state,
 * but only through a connection that may write the file and its directory.
 * When they are writable, a read-only open lets a short writable connection
 * do that first; when they are not, it says so instead of failing with
 * "attempt to write a readonly database".
 */
static int
recover_hot_journal(struct envx_vault *v, struct envx_error *err)
{
	char journal[sizeof(v->path) + 16];
	char dir[sizeof(v->path)];
	struct stat st;
	int rc;

	snprintf(journal, sizeof(journal), "%s-journal", v->path);
	if (lstat(journal, &st) < 0) {
		return 0; /* the usual case: no journal, nothing to do */
	}
	if (!S_ISREG(st.st_mode)) {
		/* SQLite would read pages from wherever it points (a link
		 * committed to git, say) and write them into the vault */
		return envx_error_set(
		        err, ENVX_E_UNSAFE,
		        "refusing vault '%s': its journal '%s' is "
		        "%s; remove it",
		        v->path, journal,
		        S_ISLNK(st.st_mode) ? "a symbolic link"
		                            : "not a regular file");
	}
	/* a journal that is there but not hot belongs to a writer at work
	 * (or is stale and empty): SQLite ignores it */
	rc = probe_read(v, SQLITE_OPEN_READONLY);
	if ((rc & 0xff) == SQLITE_BUSY) {
		/* the wait is spent: waiting again in the real open would
		 * double it */
		return envx_error_set(err, ENVX_E_IO,
		                      "cannot open vault '%s': vault busy: it "
		                      "stayed locked by another process past "
		                      "the busy timeout; try again "
		                      "(ENVX_BUSY_TIMEOUT_MS sets the wait)",
		                      v->path);
	}
	if (rc != SQLITE_READONLY_ROLLBACK) {
		return 0;
	}
	parent_dir(v->path, dir, sizeof(dir));
	if (access(v->path, W_OK) < 0 || access(dir, W_OK) < 0) {
		return envx_error_set(
		        err, ENVX_E_IO,
		        "cannot read vault '%s': a write to it was interrupted "
		        "and left the hot journal '%s', which must be rolled "
		        "back first, but the vault or its directory is "
		        "read-only here; any envx write command (or any envx "
		        "command run where the vault is writable) rolls it "
		        "back to the last committed state",
		        v->path, journal);
	}
	rc = probe_read(v, SQLITE_OPEN_READWRITE);
	if (rc != SQLITE_OK) {
		bool corrupt = (rc & 0xff) == SQLITE_CORRUPT ||
		               (rc & 0xff) == SQLITE_NOTADB;

		return envx_error_set(err,
		                      corrupt ? ENVX_E_INTEGRITY : ENVX_E_IO,
		                      "cannot roll back the interrupted write "
		                      "in '%s': %s",
		                      journal, sqlite3_errstr(rc));
	}
	v->recovered = true;
	return 0;
}

int
envx_vault_open(const char *path, bool writable, struct envx_vault **out,
                struct envx_error *err)
{
	struct envx_vault *v = NULL;
	struct stat st;
	int app_id = 0;
	int version = 0;
	int r;

	if (lstat(path, &st) < 0) {
		return envx_error_set(
		        err, errno == ENOENT ? ENVX_E_NOTFOUND : ENVX_E_IO,
		        "cannot open vault '%s': %s", path, strerror(errno));
	}
	if (S_ISLNK(st.st_mode) || !S_ISREG(st.st_mode)) {
		return envx_error_set(
		        err, ENVX_E_UNSAFE, "refusing vault '%s': %s", path,
		        S_ISLNK(st.st_mode) ? "it is a symbolic link"
		                            : "not a regular file");
	}
	if ((st.st_mode & S_IWOTH) != 0) {
		return envx_error_set(err, ENVX_E_UNSAFE,
		                      "refusing vault '%s': it is writable by "
		                      "others (run chmod o-w '%s')",
		                      path, path);
	}
	v = vault_alloc(path, writable);
	if (v == NULL) {
		return envx_error_set(err, ENVX_E_INTERNAL, "out of memory");
	}
	r = busy_timeout(&v->busy_ms, err);
	if (r == 0 && !writable) {
		r = refuse_wal(path, err);
	}
	if (r == 0) {
		r = recover_hot_journal(v, err);
	}
	if (r < 0) {
		goto out;
	}
	r = open_db(v, writable ? SQLITE_OPEN_READWRITE : SQLITE_OPEN_READONLY,
	            err);
	if (r < 0) {
		goto out;
	}
	r = configure(v, err);
	if (r == ENVX_E_INTERNAL) {
		/* VF-6.3: configuring runs the first statement, which loads
		 * the file's schema, so what fails here is the file: SQLite's
		 * "unsupported file format", or an allocation that crafted
		 * pages ask for and SQLite refuses ("out of memory") */
		r = envx_error_set(err, ENVX_E_INTEGRITY,
		                   "'%s' is not an envx vault (corrupt, or not "
		                   "an SQLite database: %s)",
		                   path, sqlite3_errmsg(v->db));
	}
	if (r < 0) {
		goto out;
	}
	if (!writable) {
		/* VF-4.4: a reader sees one snapshot from the schema check to
		 * the last value it decrypts, so rows cannot change between
		 * the MAC check at unlock and the reads that follow */
		r = exec_sql(v, "BEGIN", err, "cannot read vault");
		if (r < 0) {
			goto out;
		}
		v->read_tx = true;
	}
	r = pragma_int(v, "PRAGMA application_id", &app_id, err);
	if (r == 0) {
		r = pragma_int(v, "PRAGMA user_version", &version, err);
	}
	if (r < 0) {
		if (err != NULL && err->code == ENVX_E_INTEGRITY) {
			r = envx_error_set(err, ENVX_E_INTEGRITY,
			                   "'%s' is not an envx vault (not an "
			                   "SQLite database, or corrupt)",
			                   path);
		}
		goto out;
	}
	if (app_id != ENVX_APPLICATION_ID || version < 1) {
		r = envx_error_set(err, ENVX_E_INTEGRITY,
		                   "'%s' is not an envx vault", path);
		goto out;
	}
	if (version > ENVX_VAULT_SCHEMA_VERSION) {
		r = envx_error_set(err, ENVX_E_INTEGRITY,
		                   "vault '%s' has format %d, newer than this "
		                   "envx understands (%d): upgrade envx",
		                   path, version, ENVX_VAULT_SCHEMA_VERSION);
		goto out;
	}
	/* VF-4.5: an older format is upgraded by the first write
	 * transaction (envx_vault_begin), which signs every environment */
	r = envx_schema_check(v->db, version, err);
	if (r < 0) {
		goto out;
	}
	v->schema = version;
	r = read_vault_id(v, err);
	if (r < 0) {
		goto out;
	}
	*out = v;
	v = NULL;
out:
	envx_vault_close(v);
	return r;
}

void
envx_vault_close(struct envx_vault *v)
{
	if (v == NULL) {
		return;
	}
	if (v->in_tx) {
		envx_vault_rollback(v);
	}
	if (v->read_tx) {
		sqlite3_exec(v->db, "COMMIT", NULL, NULL, NULL);
	}
	for (size_t i = 0; i < ENVX_STMT_CACHE; i++) {
		sqlite3_finalize(v->stmts[i].st);
	}
	sqlite3_close_v2(v->db);
	sodium_memzero(v, sizeof(*v));
	free(v);
}

int
envx_vault_stmt(struct envx_vault *v, const char *sql, sqlite3_stmt **out,
                const char *what, struct envx_error *err)
{
	size_t i;

	for (i = 0; i < ENVX_STMT_CACHE && v->stmts[i].sql != NULL; i++) {
		if (v->stmts[i].sql == sql) {
			*out = v->stmts[i].st;
			return 0;
		}
	}
	if (i == ENVX_STMT_CACHE) {
		return envx_error_set(err, ENVX_E_INTERNAL,
		                      "too many cached statements");
	}
	if (sqlite3_prepare_v3(v->db, sql, -1, SQLITE_PREPARE_PERSISTENT,
	                       &v->stmts[i].st, NULL) != SQLITE_OK) {
		v->stmts[i].st = NULL;
		return envx_sqlite_error(v->db, err, what);
	}
	v->stmts[i].sql = sql;
	*out = v->stmts[i].st;
	return 0;
}

void
envx_vault_stmt_done(sqlite3_stmt *st)
{
	if (st != NULL) {
		sqlite3_reset(st);
		sqlite3_clear_bindings(st);
	}
}

void
envx_vault_set_actor(struct envx_vault *v, const char *actor)
{
	snprintf(v->actor, sizeof(v->actor), "%s", actor);
	snprintf(v->claimed, sizeof(v->claimed), "%s", actor);
}

void
envx_vault_set_trust(struct envx_vault *v, const struct envx_trust *t)
{
	v->trust = t;
}

void
envx_vault_set_signer(struct envx_vault *v, const struct envx_identity *id)
{
	v->signer = id;
}

void
envx_vault_id_hex(const struct envx_vault *v,
                  char out[ENVX_VAULT_ID_TEXT_BYTES])
{
	size_t i;

	for (i = 0; i < ENVX_VAULT_ID_BYTES; i++) {
		snprintf(out + 2 * i, 3, "%02x", v->vault_id[i]);
	}
}

bool
envx_vault_needs_upgrade(const struct envx_vault *v)
{
	return v->schema < ENVX_VAULT_SCHEMA_VERSION;
}

/*
 * VF-4.5: upgrades an older vault inside the open write transaction: every
 * environment is unlocked (its MAC verified) with the signer, the missing
 * tables are created, and the signer becomes each environment's first
 * admin, signing its access log and its state as they are.
 */
static int
upgrade(struct envx_vault *v, struct envx_error *err)
{
	struct envx_env_info *envs = NULL;
	struct envx_env **open = NULL;
	size_t n = 0;
	size_t i;
	int version = 0;
	int from = v->schema;
	int r;

	r = pragma_int(v, "PRAGMA user_version", &version, err);
	if (r < 0) {
		return r;
	}
	if (version == ENVX_VAULT_SCHEMA_VERSION) {
		/* another writer upgraded it meanwhile */
		r = envx_schema_check(v->db, version, err);
		if (r == 0) {
			v->schema = version;
		}
		return r;
	}
	if (version != from) {
		return envx_error_set(err, ENVX_E_INTEGRITY,
		                      "vault '%s' changed format while envx "
		                      "was using it",
		                      v->path);
	}
	r = envx_schema_check(v->db, version, err);
	if (r == 0) {
		/* VF-4.5: the whole file, its indexes included, before the
		 * upgrade enumerates and signs it: an index that disagrees
		 * with its table would hide an environment from it */
		r = envx_vault_integrity_check(v, err);
	}
	if (r < 0) {
		return r;
	}
	if (v->signer == NULL) {
		return envx_error_set(err, ENVX_E_LOCKED,
		                      "vault '%s' is in format %d: 'envx "
		                      "upgrade' takes it to format %d, which "
		                      "needs an identity to sign with",
		                      v->path, from, ENVX_VAULT_SCHEMA_VERSION);
	}
	r = envx_vault_env_list(v, &envs, &n, err);
	if (r < 0) {
		return r;
	}
	open = calloc(n + 1, sizeof(*open));
	if (open == NULL) {
		free(envs);
		return envx_error_set(err, ENVX_E_INTERNAL, "out of memory");
	}
	v->upgrading = true;
	for (i = 0; i < n && r == 0; i++) {
		struct envx_unlock how = {.identity = v->signer};

		r = envx_env_open(v, envs[i].name, &open[i], err);
		if (r == 0) {
			r = envx_env_unlock(open[i], &how, err);
		}
		if (r == ENVX_E_LOCKED) {
			r = envx_error_set(
			        err, ENVX_E_LOCKED,
			        "vault '%s' is in format %d; 'envx upgrade' "
			        "takes it to format %d and signs every "
			        "environment, but your identity cannot open "
			        "'%s'. Ask someone who can open all of them to "
			        "run 'envx upgrade'",
			        v->path, from, ENVX_VAULT_SCHEMA_VERSION,
			        envs[i].name);
		}
	}
	v->upgrading = false;
	if (r == 0) {
		r = envx_schema_migrate(v->db, from, ENVX_VAULT_SCHEMA_VERSION,
		                        err);
	}
	if (r == 0) {
		r = envx_schema_check(v->db, ENVX_VAULT_SCHEMA_VERSION, err);
	}
	if (r == 0) {
		v->schema = ENVX_VAULT_SCHEMA_VERSION;
		v->upgraded_from = from;
	}
	for (i = 0; i < n && r == 0; i++) {
		if (from < 4) {
			r = envx_env_upgrade_sign(open[i], from, err);
		}
		/* VF-4.5: format 5's bucketed MAC, sealed and signed with
		 * generation + 1 */
		if (r == 0) {
			r = envx_env_upgrade_buckets(open[i], from, err);
		}
	}
	for (i = 0; i < n; i++) {
		envx_env_free(open[i]);
	}
	free(open);
	free(envs);
	return r;
}

bool
envx_vault_recovered(const struct envx_vault *v)
{
	return v->recovered;
}

bool
envx_vault_writable(const struct envx_vault *v)
{
	return v->writable;
}

const char *
envx_vault_path(const struct envx_vault *v)
{
	return v->path;
}

int
envx_vault_schema_version(const struct envx_vault *v)
{
	return v->schema;
}

int
envx_vault_upgrade(struct envx_vault *v, struct envx_error *err)
{
	int r;

	v->allow_upgrade = true;
	r = envx_vault_begin(v, err);
	v->allow_upgrade = false;
	if (r == 0) {
		r = envx_vault_commit(v, err);
	}
	return r;
}

int
envx_vault_begin(struct envx_vault *v, struct envx_error *err)
{
	int r;

	if (!v->writable) {
		return envx_error_set(err, ENVX_E_INTERNAL,
		                      "vault opened read-only");
	}
	r = exec_sql(v, "BEGIN IMMEDIATE", err, "cannot start a transaction");
	if (r == 0) {
		v->in_tx = true;
		v->ndirty = 0;
		v->lost_changes = false;
		v->upgraded_from = 0;
		v->audit_checked = INT64_MAX;
		v->tx_audit_start = INT64_MAX;
	}
	if (r == 0 && v->schema >= 2) {
		sqlite3_stmt *st = NULL;
		if (sqlite3_prepare_v2(v->db,
		                       "SELECT coalesce(max(seq), 0) + 1 FROM "
		                       "audit",
		                       -1, &st, NULL) != SQLITE_OK ||
		    sqlite3_step(st) != SQLITE_ROW) {
			r = envx_sqlite_error(v->db, err,
			                      "cannot read the audit log");
		} else {
			v->tx_audit_start = sqlite3_column_int64(st, 0);
		}
		sqlite3_finalize(st);
		if (r < 0) {
			envx_vault_rollback(v);
		}
	}
	if (r == 0 && v->schema < ENVX_VAULT_SCHEMA_VERSION) {
		/* VF-4.5: only a deliberate upgrade signs an unsigned vault;
		 * a write never does it silently */
		r = v->allow_upgrade ? upgrade(v, err)
		    : v->schema >= 4
		            ? envx_error_set(
		                      err, ENVX_E_INTEGRITY,
		                      "vault '%s' is in format %d, which envx "
		                      "reads but no longer writes: have someone "
		                      "who writes to every environment run 'envx "
		                      "upgrade' (format %d) and commit it",
		                      v->path, v->schema,
		                      ENVX_VAULT_SCHEMA_VERSION)
		            : envx_error_set(
		                      err, ENVX_E_INTEGRITY,
		                      "vault '%s' is in format %d: nothing "
		                      "proves who wrote it, so envx does not "
		                      "write to it. Check it is your team's vault "
		                      "(git log %s), then have someone who opens "
		                      "every environment run 'envx upgrade' and "
		                      "commit it",
		                      v->path, v->schema, v->path);
		if (r < 0) {
			envx_vault_rollback(v);
		}
	}
	return r;
}

void
envx_vault_rollback(struct envx_vault *v)
{
	size_t i;

	if (v->in_tx) {
		sqlite3_exec(v->db, "ROLLBACK", NULL, NULL, NULL);
		v->in_tx = false;
	}
	if (v->upgraded_from != 0) {
		v->schema = v->upgraded_from;
		v->upgraded_from = 0;
	}
	for (i = 0; i < v->ndirty; i++) {
		v->dirty[i]->dirty = false;
	}
	v->ndirty = 0;
}

int
envx_vault_commit(struct envx_vault *v, struct envx_error *err)
{
	size_t i;
	int r = 0;

	if (v->lost_changes) {
		r = envx_error_set(err, ENVX_E_INTERNAL,
		                   "an environment changed in this "
		                   "transaction was closed before commit");
		goto out;
	}
	for (i = 0; i < v->ndirty && r == 0; i++) {
		r = envx_env_seal(v->dirty[i], err);
	}
	if (r == 0) {
		r = exec_sql(v, "COMMIT", err, "cannot commit to the vault");
	}
	if (r == 0) {
		v->in_tx = false;
		v->upgraded_from = 0;
		for (i = 0; i < v->ndirty; i++) {
			v->dirty[i]->dirty = false;
		}
		v->ndirty = 0;
	}
out:
	if (r < 0) {
		envx_vault_rollback(v);
	}
	return r;
}
