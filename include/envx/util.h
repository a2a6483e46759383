/*
 * Small shared building blocks: secure and bounded buffers, a name/value set
 * whose bytes live in sodium_malloc memory, name rules, durations, time, and
 * careful file I/O. Nothing here prints or exits.
 */
#ifndef ENVX_UTIL_H
#define ENVX_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "envx/error.h"

/* ---- UTF-8 text ---- */

/* Length of the valid UTF-8 character at p (1-4), or 0 when p does not
 * start one (overlong forms, surrogates, past U+10FFFF, a NUL inside). */
size_t envx_utf8_char_len(const unsigned char *p);
/* The code point of the valid n-byte UTF-8 character at p. */
uint32_t envx_utf8_cp(const unsigned char *p, size_t n);
/* C1 controls and the bidirectional controls that reorder what a terminal
 * or an editor shows (Trojan Source). */
bool envx_hidden_control(uint32_t cp);
/* Whether s is valid UTF-8 without control characters (C0, DEL, C1) or
 * hidden bidirectional controls. */
bool envx_text_plain(const char *s);

/* The value of hex digit c (either case), or -1. */
int envx_hexval(int c);

/* Copies untrusted text s into out (outsz > 0) for a message: printable
 * ASCII kept, every other byte '?', cut to fit. Returns out. */
char *envx_text_safe(const char *s, char *out, size_t outsz);

/* ---- bounded growable buffer (not for secrets) ---- */

/*
 * A byte buffer with a maximum fixed at init: growing past max fails with
 * ENVX_E_INPUT instead of allocating. data is always NUL-terminated (the
 * terminator is not counted in len). Caller-owned; release frees.
 */
struct envx_buf {
	char *data;
	size_t len;
	size_t cap;
	size_t max;
};

void envx_buf_init(struct envx_buf *b, size_t max);
int envx_buf_append(struct envx_buf *b, const void *p, size_t n,
                    struct envx_error *err);
int envx_buf_appendf(struct envx_buf *b, struct envx_error *err,
                     const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));
void envx_buf_reset(struct envx_buf *b);
/* Wipes the contents before freeing: a buffer may have held key text. */
void envx_buf_release(struct envx_buf *b);

/* ---- secure buffer: sodium_malloc memory, wiped on release ---- */

struct envx_secbuf {
	unsigned char *data;
	size_t len;
	size_t cap;
};

/* Allocates cap bytes (cap > 0) with sodium_malloc. */
int envx_secbuf_init(struct envx_secbuf *b, size_t cap, struct envx_error *err);
/* Appends n bytes; fails with ENVX_E_INPUT past cap (never reallocates). */
int envx_secbuf_append(struct envx_secbuf *b, const void *p, size_t n,
                       struct envx_error *err);
/* Wipes and frees; accepts a zeroed or already released buffer. */
void envx_secbuf_release(struct envx_secbuf *b);

/* ---- name/value set whose bytes live in one sodium_malloc arena ---- */

struct envx_kv {
	size_t name_off;
	size_t name_len;
	size_t value_off;
	size_t value_len;
	unsigned line; /* source line, 0 when not from a file */
};

/*
 * An ordered list of (name, value) pairs. Names and values are stored
 * NUL-terminated in a sodium_malloc arena that grows by copying into a new
 * arena and wiping the old one; use the accessors, never keep pointers across
 * an add. Values may contain any byte (a NUL only if the producer allowed it).
 * The total size is capped at ENVX_KVSET_MAX_BYTES.
 */
struct envx_kvset {
	struct envx_kv *items;
	size_t count;
	size_t cap;
	unsigned char *arena;
	size_t used;
	size_t size;
	bool env_form; /* each pair also stored as "NAME=value" */
};

#define ENVX_KVSET_MAX_BYTES ((size_t)512 * 1024 * 1024)

void envx_kvset_init(struct envx_kvset *s);
/*
 * As envx_kvset_init, for a set whose pairs become a child's environment:
 * each pair is stored as "NAME\0NAME=value\0", so envx_kvset_env_string
 * hands out the "NAME=value" string in place (no second locked copy of the
 * value) at the cost of the name twice.
 */
void envx_kvset_init_env(struct envx_kvset *s);
/* The arena bytes one pair of these lengths takes in s (for
 * envx_kvset_reserve). */
size_t envx_kvset_pair_bytes(const struct envx_kvset *s, size_t name_len,
                             size_t value_len);
/* Makes room for count more pairs taking bytes more arena bytes in one
 * allocation, so the adds that follow never copy the arena. */
int envx_kvset_reserve(struct envx_kvset *s, size_t count, size_t bytes,
                       struct envx_error *err);
/* Appends a pair (no duplicate check). */
int envx_kvset_add(struct envx_kvset *s, const char *name, size_t name_len,
                   const void *value, size_t value_len, unsigned line,
                   struct envx_error *err);
/* Appends a pair whose value_len bytes the caller fills through *value
 * (valid until the next add); the terminating NUL is already written. */
int envx_kvset_add_reserve(struct envx_kvset *s, const char *name,
                           size_t name_len, size_t value_len, unsigned line,
                           unsigned char **value, struct envx_error *err);
const char *envx_kvset_name(const struct envx_kvset *s, size_t i);
const unsigned char *envx_kvset_value(const struct envx_kvset *s, size_t i,
                                      size_t *len);
/* Pair i as one "NAME=value" string inside the arena (valid until the next
 * add or release), or NULL when s was not initialized with
 * envx_kvset_init_env. */
const char *envx_kvset_env_string(const struct envx_kvset *s, size_t i);
/* Index of the last pair named name, or -1. Linear; see envx_kvset_sort. */
ssize_t envx_kvset_find(const struct envx_kvset *s, const char *name);
/* Sorts by name (byte order) and keeps only the last of each duplicate name,
 * so "last duplicate wins" holds. After sorting, envx_kvset_bsearch works. */
void envx_kvset_sort(struct envx_kvset *s);
ssize_t envx_kvset_bsearch(const struct envx_kvset *s, const char *name);
/* Wipes and frees everything; accepts a zeroed or released set. */
void envx_kvset_release(struct envx_kvset *s);

/* ---- string vectors ---- */

/* Drops repeated strings from v (keeping the first of each, in order);
 * returns the new count. */
size_t envx_strv_unique(const char **v, size_t n);
/* Frees n strdup'd strings and the array (v may be NULL). */
void envx_strv_free(char **v, size_t n);

/* ---- names ---- */

#define ENVX_NAME_MAX_BYTES     255
#define ENVX_ENV_NAME_MAX_BYTES 64

/* [A-Za-z_][A-Za-z0-9_]*, at most ENVX_NAME_MAX_BYTES. */
bool envx_name_valid(const char *name, size_t len);
/* [a-z0-9][a-z0-9._-]*, at most ENVX_ENV_NAME_MAX_BYTES. */
bool envx_env_name_valid(const char *name);
/*
 * A refused name (DESIGN §5): one that makes a loader, shell, interpreter or
 * common tool run code from its value or load code from a path in it.
 * pattern is the name, or a prefix followed by '*'; why says whose.
 */
struct envx_refused {
	const char *pattern;
	const char *why;
};
/* The whole list (envx(1), REFUSED NAMES), in its documented order. */
const struct envx_refused *envx_refused_list(size_t *n);
/* The entry that refuses name (len bytes), or NULL. */
const struct envx_refused *envx_name_refused(const char *name, size_t len);
/* Checks name's syntax (envx_name_valid), filling err with ENVX_E_INPUT and
 * a message that shows the name only up to an '=' (what follows could be a
 * value: `envx set ENV NAME=value` is answered with the safe form). Whether
 * a valid name is refused in an environment is envx_env_name_permitted's. */
int envx_name_check(const char *name, struct envx_error *err);

/* ---- durations and time ---- */

/* A unit of a duration syntax: its suffix and its length in seconds. */
struct envx_unit {
	char suffix;
	int64_t seconds;
};
/* A positive count of at most max_count followed by one of units[0..n)'s
 * suffixes, whose product is at most max_seconds, into *seconds; -1
 * otherwise (nothing more may follow). */
int envx_span_parse(const char *text, const struct envx_unit *units, size_t n,
                    int64_t max_count, int64_t max_seconds, int64_t *seconds);
/* "N" followed by h, d or w ("90d", "12w", "36h") into seconds. */
int envx_duration_parse(const char *text, int64_t *seconds,
                        struct envx_error *err);
/* Formats seconds as the largest exact unit: "90d", "12w", "36h". */
void envx_duration_format(int64_t seconds, char *out, size_t outsz);
/* Seconds since the epoch. Only in a build configured with -Dtest_clock=true,
 * $ENVX_NOW (seconds or YYYY-MM-DDTHH:MM:SSZ) overrides the clock so tests
 * can move time; every other build ignores it. */
int64_t envx_now(void);
/* UTC "YYYY-MM-DDTHH:MM:SSZ" into out (>= 21 bytes). */
void envx_time_format(int64_t t, char *out, size_t outsz);
int envx_time_parse(const char *text, int64_t *t);
/* Strictly "YYYY-MM-DD" (midnight UTC) or "YYYY-MM-DDTHH:MM:SSZ", a real
 * date from 1970 on, into Unix seconds: 0, or -1 for anything else. */
int envx_date_parse(const char *text, int64_t *t);

/* ---- files ---- */

/*
 * Writes data to path atomically: a temporary file beside it opened
 * O_CREAT|O_EXCL|O_NOFOLLOW with mode, fsynced, renamed over path, directory
 * fsynced. Refuses to replace a symlink (ENVX_E_UNSAFE).
 */
int envx_file_write_atomic(const char *path, const void *data, size_t len,
                           mode_t mode, struct envx_error *err);
/* mkdir -p of the directories above path (not path itself), mode 0700 for
 * each one it creates; ENVX_E_IO naming the one it could not make. */
int envx_file_make_parents(const char *path, struct envx_error *err);
/*
 * Reads fd to its end, appending to buf (an initialized envx_buf), retrying
 * after EINTR; closes nothing. ENVX_E_IO "cannot read WHAT: why" on a read
 * error, ENVX_E_INPUT "WHAT is too large (more than MAX bytes)" past buf's
 * max (what is the subject as the message should name it). The read chunk
 * is wiped: the bytes may be secret.
 */
int envx_fd_read(int fd, const char *what, struct envx_buf *buf,
                 struct envx_error *err);
/* Reads a whole file (not following a final symlink when nofollow) into buf,
 * failing with ENVX_E_INPUT past buf's max. */
int envx_file_read(const char *path, bool nofollow, struct envx_buf *buf,
                   struct envx_error *err);
/*
 * Reads a whole file ("-" for standard input) into out, a secure buffer this
 * function initializes (release with envx_secbuf_release); for content that
 * may be secret, such as a dotenv file. Fails with ENVX_E_INPUT past max.
 */
int envx_file_read_secure(const char *path, size_t max, struct envx_secbuf *out,
                          struct envx_error *err);
/* Largest list file (.gitignore) envx_file_ensure_line edits. */
#define ENVX_LIST_FILE_MAX_BYTES (1024 * 1024)
/*
 * Makes sure the text file at path has a line equal to line (trailing blanks
 * ignored): appends it (and a newline before it when the file lacks a final
 * one) by atomic replacement, keeping the file's mode, or creates the file
 * (0644) with just that line. *added says whether the file changed. A
 * symlink is refused (ENVX_E_UNSAFE); a file over ENVX_LIST_FILE_MAX_BYTES
 * is ENVX_E_INPUT.
 */
int envx_file_ensure_line(const char *path, const char *line, bool *added,
                          struct envx_error *err);
/*
 * Reads a key file (an identity, a passphrase file) into out, a secure
 * buffer this function initializes. The checks are made on the open file,
 * so it cannot be swapped between check and read: ENVX_E_UNSAFE for a
 * symlink, anything but a regular file (a FIFO does not block), a file
 * owned by another user (root excepted) or accessible by group or others,
 * as ssh does; ENVX_E_NOTFOUND when absent; ENVX_E_INPUT past max.
 */
int envx_file_read_private(const char *path, size_t max,
                           struct envx_secbuf *out, struct envx_error *err);

/* ---- running git ---- */

/* The most arguments envx_git_spawn passes after "git -c ...". */
#define ENVX_GIT_ARGS_MAX 32

/*
 * Starts `git -c core.fsmonitor=false ARGS...` (args NULL-terminated,
 * without "git", at most ENVX_GIT_ARGS_MAX; no shell; git is found on PATH)
 * with the parent's environment minus ENVX_IDENTITY, ENVX_PASSPHRASE,
 * GH_TOKEN and GITHUB_TOKEN, standard input from in_fd (-1: /dev/null),
 * standard error discarded, and standard output a pipe whose read end is
 * *out_fd (the caller closes it and waits for *pid), or /dev/null when
 * out_fd is NULL. 0, or ENVX_E_NOTFOUND when git cannot be run, ENVX_E_IO
 * or ENVX_E_INTERNAL.
 */
int envx_git_spawn(const char *const *args, int in_fd, pid_t *pid, int *out_fd,
                   struct envx_error *err);
/* Waits for pid: its exit status, or 128+N when killed by signal N. */
int envx_git_wait(pid_t pid);
/* Runs git as envx_git_spawn does and reads its whole output into out (an
 * initialized envx_buf; past its max: ENVX_E_INPUT, git is then cut off).
 * *status is git's exit status whenever git ran. */
int envx_git_capture(const char *const *args, int in_fd, struct envx_buf *out,
                     int *status, struct envx_error *err);
/* envx_git_capture into out, a string of at most outsz - 1 bytes (outsz >
 * 0; "" unless it returns 0), without the trailing newlines. */
int envx_git_text(const char *const *args, char *out, size_t outsz, int *status,
                  struct envx_error *err);
/* Runs git as envx_git_spawn does with its output discarded; *status is its
 * exit status (set only on 0). */
int envx_git_run(const char *const *args, int *status, struct envx_error *err);

/* ---- process hardening ---- */

/* Disables core dumps and ptrace attach; called before anything decrypts. */
void envx_harden_process(void);
/* Undoes the core-size limit so an exec'd child starts with the rlimit the
 * user had. */
void envx_harden_restore_for_child(void);

#endif
