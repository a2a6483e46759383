/*
 * dotenv parsing (compatible with the npm `dotenv` package, values literal,
 * never expanded) and writers for the export formats. Values are secrets:
 * they are kept in envx_kvset arenas and streamed to an emit callback, never
 * copied into ordinary heap memory, and never appear in diagnostics.
 */
#ifndef ENVX_DOTENV_H
#define ENVX_DOTENV_H

#include <stdbool.h>
#include <stddef.h>

#include "envx/error.h"
#include "envx/util.h"

/* Largest dotenv input accepted (ENVX_E_INPUT past it). */
#define ENVX_DOTENV_MAX_BYTES      ((size_t)64 * 1024 * 1024)
#define ENVX_DOTENV_DIAG_MSG_BYTES 200
/* At most this many diagnostics are stored; later ones are only counted
 * (nerrors still counts every error). */
#define ENVX_DOTENV_MAX_DIAGS 1000

/* A warning or error tied to a line; the message never quotes a value. */
struct envx_dotenv_diag {
	unsigned line;
	bool is_error;
	char msg[ENVX_DOTENV_DIAG_MSG_BYTES];
};

/*
 * Per-name layout facts the template checker needs. entries[i] describes
 * the i-th pair of the parsed set *before* any sort (same index).
 */
struct envx_dotenv_entry {
	unsigned line;         /* line of the NAME= */
	char *comment_above;   /* the run of '#' comment lines directly above
	                          (no blank line between), '#' and one leading
	                          space stripped, joined with '\n'; NULL if none
	                        */
	unsigned comment_line; /* first line of that run, 0 if none */
	char *inline_comment;  /* text after an unquoted " #" on the NAME=
	                          line, '#' stripped and trimmed; NULL if none */
	bool commented_out;    /* the pair came from a "# NAME=value" line
	                          (only with ENVX_DOTENV_COMMENTED) */
};

struct envx_dotenv_result {
	struct envx_kvset pairs;           /* name -> value, in file order,
	                                      duplicates kept (sort to dedupe) */
	struct envx_dotenv_entry *entries; /* pairs.count of them */
	size_t nentries; /* == pairs.count as parsed; stays valid (for
	                    release) after a sort shrinks pairs.count */
	struct envx_dotenv_diag *diags; /* warnings and errors, file order */
	size_t ndiags;
	size_t nerrors;
	size_t ndiags_dropped; /* diagnostics past ENVX_DOTENV_MAX_DIAGS */
};

enum envx_dotenv_flags {
	/* An unparseable line is a warning instead of an error. */
	ENVX_DOTENV_LENIENT = 1 << 0,
	/* Also report "# NAME=value" comment lines as pairs with
	 * commented_out set (used for .env.example templates). */
	ENVX_DOTENV_COMMENTED = 1 << 1,
};

/* Initializes an empty result (call before parse; release after). The
 * result is caller-owned storage; the parser fills its heap parts. */
void envx_dotenv_result_init(struct envx_dotenv_result *r);
/* Wipes the values and frees pairs, entries (with their comment strings)
 * and diags, leaving r initialized; accepts NULL and works after the caller
 * sorted r->pairs. */
void envx_dotenv_result_release(struct envx_dotenv_result *r);

/*
 * Parses data[0..len) into r, which must be freshly initialized. data need
 * not be NUL-terminated (it may be NULL when len is 0) and is not kept; the
 * values are copied into r->pairs' secure arena only. err may be NULL.
 * Returns 0 when there is no error diagnostic
 * (warnings may exist), ENVX_E_INPUT when any line is an error (r still
 * holds every diagnostic, and err names the first one with its line), or
 * another negative code. Diagnostics are in r->diags either way.
 */
int envx_dotenv_parse(const char *data, size_t len, unsigned flags,
                      struct envx_dotenv_result *r, struct envx_error *err);

/* Output callback for writers: returns 0 or a negative ENVX_E_* code. */
#ifndef ENVX_EMIT_FN_DEFINED
#define ENVX_EMIT_FN_DEFINED
typedef int (*envx_emit_fn)(void *ctx, const void *p, size_t n);
#endif

/*
 * Writers, one per export format. Each walks set in its order (sort it first
 * to dedupe) and streams output through emit; set is not modified and err
 * may be NULL. They fail with ENVX_E_INPUT, naming the secret and never its
 * value, if a name is invalid or a value cannot be carried by the format (a
 * NUL byte anywhere; for dotenv, a value no quoting reads back exactly, see
 * envx-dotenv(5); for json, a value that is not UTF-8), and they check every
 * pair before emitting anything, so such a failure writes nothing. A negative
 * code from emit stops the writer and is returned (output may be partial).
 */
int envx_dotenv_write(const struct envx_kvset *set, envx_emit_fn emit,
                      void *ctx, struct envx_error *err);
int envx_shell_write(const struct envx_kvset *set, envx_emit_fn emit, void *ctx,
                     struct envx_error *err);
int envx_json_write(const struct envx_kvset *set, envx_emit_fn emit, void *ctx,
                    struct envx_error *err);
/*
 * GitHub Actions: NAME<<DELIM heredoc blocks (DELIM random, never
 * occurring in the value) to env_emit (the $GITHUB_ENV file), and
 * "::add-mask::" lines (one per line of each value) to mask_emit.
 */
int envx_github_write(const struct envx_kvset *set, envx_emit_fn env_emit,
                      void *env_ctx, envx_emit_fn mask_emit, void *mask_ctx,
                      struct envx_error *err);

#endif
