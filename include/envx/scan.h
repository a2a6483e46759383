/*
 * Finding known byte strings (secret values and their encodings) in large
 * inputs: a multi-pattern matcher built once over every pattern and run in
 * one pass over the input, whole or in chunks, and the encoded forms of a
 * value that `envx scan` looks for.
 *
 * The matcher is a sampled-window filter in the style of Hyperscan's FDR:
 * every pattern is at least ENVX_SCAN_MIN_BYTES long, so any occurrence
 * covers one of the input's 4-byte windows that start at a multiple of 5.
 * Only those windows are looked up, in a bitmap and then a hash table of the
 * windows the patterns contain (each pattern contributes the five windows
 * of one 8-byte anchor, chosen where other patterns' windows are rarest, so
 * a prefix that many values share, "AKIA" or "sk_live_", does not make one
 * crowded bucket); a window found there names the candidate patterns and
 * where they would start, and each candidate is compared in full. Every
 * occurrence of every pattern is reported, overlapping ones included, in
 * order of the window that found it.
 */
#ifndef ENVX_SCAN_H
#define ENVX_SCAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "envx/error.h"

/* Patterns (and the values `envx scan` looks for) are at least this long:
 * shorter values match by chance in ordinary text. */
#define ENVX_SCAN_MIN_BYTES 8

/* One pattern: len bytes at data (any bytes, NUL included). */
struct envx_scan_pattern {
	const unsigned char *data;
	size_t len;
};

/* One occurrence: the index of the pattern (as given to envx_scan_new),
 * its first byte's offset from the start of the input, the 1-based line
 * ('\n' ends a line) and 1-based byte column of that byte. */
struct envx_scan_hit {
	size_t pattern;
	uint64_t offset;
	uint64_t line;
	uint64_t column;
};

/* Called for each occurrence; a non-zero return stops the scan and is
 * returned by the feeding function. */
typedef int (*envx_scan_hit_fn)(void *ctx, const struct envx_scan_hit *hit);

struct envx_scan;
struct envx_scan_stream;

/*
 * Builds the matcher over patterns[0..n). The pattern bytes are copied
 * into sodium_malloc memory (they may be secret), wiped by envx_scan_free;
 * patterns is only read during the call. Identical patterns are allowed
 * (each is reported). Returns 0 and a caller-owned *out; ENVX_E_INPUT when
 * a pattern is shorter than ENVX_SCAN_MIN_BYTES or n is too large,
 * ENVX_E_INTERNAL when out of memory (err may be NULL). n may be 0.
 */
int envx_scan_new(struct envx_scan **out,
                  const struct envx_scan_pattern *patterns, size_t n,
                  struct envx_error *err);
/* Wipes and frees; accepts NULL. Free its streams first. */
void envx_scan_free(struct envx_scan *m);
/* The longest pattern's length (0 without patterns). */
size_t envx_scan_max_len(const struct envx_scan *m);

/*
 * Scans len bytes at data as one whole input (an mmap'd file), calling
 * hit for every occurrence. Returns 0 or hit's non-zero value.
 */
int envx_scan_buffer(const struct envx_scan *m, const void *data, size_t len,
                     envx_scan_hit_fn hit, void *ctx);

/*
 * A stream: one input fed in chunks of any size; occurrences that span
 * chunks are found. It holds a window of at most about the longest
 * pattern's length plus its chunk buffer (ENVX_SCAN_CHUNK_BYTES) in
 * ordinary memory: the bytes are the input's, not the patterns'.
 */
#define ENVX_SCAN_CHUNK_BYTES ((size_t)256 * 1024)
/* Returns 0 and a caller-owned *out, or ENVX_E_INTERNAL. m must outlive
 * the stream. */
int envx_scan_stream_new(struct envx_scan_stream **out,
                         const struct envx_scan *m, struct envx_error *err);
/* Frees; accepts NULL. */
void envx_scan_stream_free(struct envx_scan_stream *s);
/* Feeds len bytes (data may be NULL when len is 0). Occurrences are
 * reported as soon as every byte they need has arrived. Returns 0 or hit's
 * non-zero value; after a non-zero one, reset before feeding again. */
int envx_scan_stream_feed(struct envx_scan_stream *s, const void *data,
                          size_t len, envx_scan_hit_fn hit, void *ctx);
/* Ends the input: reports what is left and resets s for a new input.
 * Returns 0 or hit's non-zero value (s is reset either way). */
int envx_scan_stream_finish(struct envx_scan_stream *s, envx_scan_hit_fn hit,
                            void *ctx);
/* Drops whatever was fed and starts a new input. */
void envx_scan_stream_reset(struct envx_scan_stream *s);

/* ---- the encoded forms of a value ---- */

enum envx_scan_encoding {
	ENVX_SCAN_RAW = 0,
	/* RFC 4648 standard alphabet: padded, unpadded, and inside a longer
	 * base64 stream at any of the three alignments (the characters made
	 * of the value's bits alone) */
	ENVX_SCAN_BASE64,
	/* the same with the URL-safe alphabet (- and _) */
	ENVX_SCAN_BASE64URL,
	/* percent-encoding as encodeURIComponent does it, upper-case hex */
	ENVX_SCAN_URL,
	/* the same with lower-case hex */
	ENVX_SCAN_URL_LOWER,
	/* the body of a JSON string as JSON.stringify writes it (\" \\ \b
	 * \f \n \r \t, \u00xx for other control bytes) */
	ENVX_SCAN_JSON,
	/* the same with every non-ASCII character as \uXXXX (surrogate
	 * pairs past U+FFFF), as Python's json.dumps writes it */
	ENVX_SCAN_JSON_ASCII,
	ENVX_SCAN_NENCODINGS
};

/* "raw", "base64", "base64url", "url", "url-lower", "json", "json-ascii". */
const char *envx_scan_encoding_name(int encoding);

/* Upper bound on the number of forms of one value. */
#define ENVX_SCAN_FORMS_MAX 12

struct envx_scan_form {
	int encoding; /* enum envx_scan_encoding */
	size_t off;   /* into the buffer given to envx_scan_forms */
	size_t len;
};

/*
 * The forms of the len-byte value v, the raw bytes first, each different
 * from every earlier one and at least ENVX_SCAN_MIN_BYTES long (a value
 * shorter than that has none). v[len] must be readable and NUL (as
 * envx_kvset stores values): UTF-8 decoding stops there. Call it twice: with
 * dst NULL it returns the number of bytes the forms need; then with dst
 * pointing at that many bytes (secure memory: the forms reveal the value) it
 * writes them and fills forms[0 .. *nforms) (at most ENVX_SCAN_FORMS_MAX).
 * Returns the byte count, which does not depend on dst.
 */
size_t envx_scan_forms(const unsigned char *v, size_t len, unsigned char *dst,
                       struct envx_scan_form *forms, size_t *nforms);

/* ---- git listings, for the sources scan reads ---- */

/*
 * One blob of a `git log --raw -z` or `git diff --raw -z` listing: its
 * object name (40 or 64 hex digits), the commit whose entry named it ("" in
 * a diff) and its path. Pointers into the listing.
 */
struct envx_scan_blob {
	const char *oid;
	const char *commit;
	const char *path;
};
/*
 * Parses a listing made with --format=%x00commit%x20%H (optional), --raw,
 * --no-abbrev, --no-renames and -z, modifying buf (NUL-terminates the
 * fields), and calls fn for each file entry that has a new blob (not a
 * deletion, not a submodule). Returns 0, fn's non-zero value, or
 * ENVX_E_INPUT for output it does not understand.
 */
int envx_scan_git_raw_parse(char *buf, size_t len,
                            int (*fn)(void *ctx,
                                      const struct envx_scan_blob *b),
                            void *ctx, struct envx_error *err);

#endif
