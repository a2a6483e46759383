/*
 * Writers for `envx export`: dotenv, POSIX shell, JSON and GitHub Actions.
 * Each checks every pair before it emits a byte, so a value the format cannot
 * carry fails the whole export instead of leaving half a file, and values are
 * streamed from the kvset arena, never copied into ordinary heap memory.
 */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include <sodium.h>

#include "envx/dotenv.h"
#include "dotenv/jschars.h"
#include "util/banned.h"

static int
put(envx_emit_fn emit, void *ctx, const void *p, size_t n,
    struct envx_error *err)
{
	int r;

	if (n == 0) {
		return 0;
	}
	r = emit(ctx, p, n);
	if (r < 0) {
		return envx_error_set(err, r, "cannot write the export output");
	}
	return 0;
}

static int
put_str(envx_emit_fn emit, void *ctx, const char *s, struct envx_error *err)
{
	return put(emit, ctx, s, strlen(s), err);
}

/* Names and NUL bytes, which no format carries. */
static int
check_pair(const struct envx_kvset *set, size_t i, const char *format,
           struct envx_error *err)
{
	const char *name = envx_kvset_name(set, i);
	size_t len;
	const unsigned char *v = envx_kvset_value(set, i, &len);

	if (!envx_name_valid(name, strlen(name))) {
		return envx_error_set(err, ENVX_E_INPUT,
		                      "cannot export '%.64s' as %s: invalid "
		                      "name",
		                      name, format);
	}
	if (memchr(v, '\0', len) != NULL) {
		return envx_error_set(err, ENVX_E_INPUT,
		                      "cannot export %s as %s: its value "
		                      "contains a NUL byte",
		                      name, format);
	}
	return 0;
}

/* ---- dotenv ---- */

enum quoting {
	Q_PLAIN,    /* NAME=value, shell-safe characters only */
	Q_SINGLE,   /* NAME='value' */
	Q_DOUBLE,   /* NAME="value" with CR written as \r */
	Q_BACKTICK, /* NAME=`value` */
	Q_BARE,     /* NAME=value, any other text dotenv keeps as it is */
	Q_IMPOSSIBLE,
};

static bool
plain_char(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	       (c >= '0' && c <= '9') ||
	       (c != 0 && strchr("_./:@%+,=-", c) != NULL);
}

/* dotenv's quoted forms allow the quote inside only right after a
 * backslash, and keep that backslash: such values need no escaping. */
static bool
quote_ok(const unsigned char *v, size_t len, unsigned char q)
{
	size_t i;

	for (i = 0; i < len; i++) {
		if (v[i] == q && (i == 0 || v[i - 1] != '\\')) {
			return false;
		}
	}
	/* a final backslash would make the closing quote look escaped, and
	 * dotenv would then look for a later closing quote */
	return len == 0 || v[len - 1] != '\\';
}

/*
 * The first form in which both dotenv and envx_dotenv_parse read v back
 * exactly. dotenv offers no escape for a quote or a backslash, a raw CR turns
 * into LF, and only double quotes expand \n and \r, so some values (every
 * quote character used bare, plus a line break, '#' or edge spaces) have no
 * form at all.
 */
static enum quoting
choose_quoting(const unsigned char *v, size_t len)
{
	bool plain = len > 0;
	bool cr = memchr(v, '\r', len) != NULL;
	bool bare = len > 0;
	size_t i;

	for (i = 0; i < len; i++) {
		if (!plain_char(v[i])) {
			plain = false;
		}
		if (v[i] == '#' || v[i] == '\n' || v[i] == '\r' ||
		    js_eol_len(v, i, len) > 0) {
			bare = false;
		}
	}
	if (plain) {
		return Q_PLAIN;
	}
	if (!cr && quote_ok(v, len, '\'')) {
		return Q_SINGLE;
	}
	if (quote_ok(v, len, '"')) {
		bool esc = false;

		for (i = 0; i + 1 < len; i++) {
			if (v[i] == '\\' &&
			    (v[i + 1] == 'n' || v[i + 1] == 'r')) {
				esc = true;
			}
		}
		if (!esc) {
			return Q_DOUBLE;
		}
	}
	if (!cr && quote_ok(v, len, '`')) {
		return Q_BACKTICK;
	}
	if (bare &&
	    (v[0] == '\'' || v[0] == '"' || v[0] == '`' ||
	     js_space_len(v, 0, len) > 0 || js_space_len_back(v, 0, len) > 0)) {
		bare = false;
	}
	return bare ? Q_BARE : Q_IMPOSSIBLE;
}

int
envx_dotenv_write(const struct envx_kvset *set, envx_emit_fn emit, void *ctx,
                  struct envx_error *err)
{
	static const char qchar[] = {0, '\'', '"', '`', 0};
	size_t i;
	int r = ENVX_E_INTERNAL;

	for (i = 0; i < set->count; i++) {
		size_t len;
		const unsigned char *v = envx_kvset_value(set, i, &len);

		r = check_pair(set, i, "dotenv", err);
		if (r < 0) {
			goto out;
		}
		if (choose_quoting(v, len) == Q_IMPOSSIBLE) {
			r = envx_error_set(
			        err, ENVX_E_INPUT,
			        "cannot export %s as dotenv: no quoting that "
			        "dotenv reads back exactly fits its value (it "
			        "uses all three quote characters, or ends in a "
			        "backslash, together with a line break, '#' or "
			        "leading or trailing spaces); use --format json "
			        "or shell",
			        envx_kvset_name(set, i));
			goto out;
		}
	}
	for (i = 0; i < set->count; i++) {
		size_t len;
		const unsigned char *v = envx_kvset_value(set, i, &len);
		enum quoting q = choose_quoting(v, len);
		const char *name = envx_kvset_name(set, i);
		size_t a;
		size_t k;

		r = put_str(emit, ctx, name, err);
		if (r == 0) {
			r = put(emit, ctx, "=", 1, err);
		}
		if (r == 0 && qchar[q] != 0) {
			r = put(emit, ctx, &qchar[q], 1, err);
		}
		if (r < 0) {
			goto out;
		}
		/* stream the value; in double quotes a CR becomes \r */
		a = 0;
		for (k = 0; k <= len; k++) {
			if (k < len && !(q == Q_DOUBLE && v[k] == '\r')) {
				continue;
			}
			r = put(emit, ctx, v + a, k - a, err);
			if (r == 0 && k < len) {
				r = put(emit, ctx, "\\r", 2, err);
			}
			if (r < 0) {
				goto out;
			}
			a = k + 1;
		}
		if (qchar[q] != 0) {
			r = put(emit, ctx, &qchar[q], 1, err);
		}
		if (r == 0) {
			r = put(emit, ctx, "\n", 1, err);
		}
		if (r < 0) {
			goto out;
		}
	}
	r = 0;
out:
	return r;
}

/* ---- POSIX shell ---- */

int
envx_shell_write(const struct envx_kvset *set, envx_emit_fn emit, void *ctx,
                 struct envx_error *err)
{
	size_t i;
	int r = ENVX_E_INTERNAL;

	for (i = 0; i < set->count; i++) {
		r = check_pair(set, i, "shell", err);
		if (r < 0) {
			goto out;
		}
	}
	for (i = 0; i < set->count; i++) {
		size_t len;
		const unsigned char *v = envx_kvset_value(set, i, &len);
		size_t a = 0;
		size_t k;

		r = put_str(emit, ctx, "export ", err);
		if (r == 0) {
			r = put_str(emit, ctx, envx_kvset_name(set, i), err);
		}
		if (r == 0) {
			r = put(emit, ctx, "='", 2, err);
		}
		if (r < 0) {
			goto out;
		}
		/* inside single quotes every byte is literal except the quote,
		 * which closes, adds an escaped quote and reopens */
		for (k = 0; k <= len; k++) {
			if (k < len && v[k] != '\'') {
				continue;
			}
			r = put(emit, ctx, v + a, k - a, err);
			if (r == 0 && k < len) {
				r = put(emit, ctx, "'\\''", 4, err);
			}
			if (r < 0) {
				goto out;
			}
			a = k + 1;
		}
		r = put(emit, ctx, "'\n", 2, err);
		if (r < 0) {
			goto out;
		}
	}
	r = 0;
out:
	return r;
}

/* ---- JSON ---- */

/* Length of the well-formed UTF-8 sequence at v[i] (RFC 3629: no overlong
 * forms, no surrogates, at most U+10FFFF), or 0. */
static size_t
utf8_len(const unsigned char *v, size_t i, size_t len)
{
	unsigned char c = v[i];
	size_t n;
	size_t k;
	unsigned char lo = 0x80;
	unsigned char hi = 0xbf;

	if (c < 0x80) {
		return 1;
	} else if (c >= 0xc2 && c <= 0xdf) {
		n = 2;
	} else if (c >= 0xe0 && c <= 0xef) {
		n = 3;
		lo = c == 0xe0 ? 0xa0 : 0x80;
		hi = c == 0xed ? 0x9f : 0xbf;
	} else if (c >= 0xf0 && c <= 0xf4) {
		n = 4;
		lo = c == 0xf0 ? 0x90 : 0x80;
		hi = c == 0xf4 ? 0x8f : 0xbf;
	} else {
		return 0;
	}
	if (len - i < n) {
		return 0;
	}
	if (v[i + 1] < lo || v[i + 1] > hi) {
		return 0;
	}
	for (k = 2; k < n; k++) {
		if (v[i + k] < 0x80 || v[i + k] > 0xbf) {
			return 0;
		}
	}
	return n;
}

static bool
utf8_valid(const unsigned char *v, size_t len)
{
	size_t i = 0;
	size_t n;

	while (i < len) {
		n = utf8_len(v, i, len);
		if (n == 0) {
			return false;
		}
		i += n;
	}
	return true;
}

/* Writes s as a JSON string: quotes, backslash and control characters
 * escaped, U+2028 and U+2029 too so the output is also valid JavaScript. */
static int
json_string(envx_emit_fn emit, void *ctx, const unsigned char *v, size_t len,
            struct envx_error *err)
{
	static const char hex[] = "0123456789abcdef";
	char esc[8];
	size_t a = 0;
	size_t k;
	int r;

	r = put(emit, ctx, "\"", 1, err);
	for (k = 0; r == 0 && k < len; k++) {
		unsigned char c = v[k];
		size_t n = 0;
		size_t skip = 1;

		if (c == '"' || c == '\\') {
			esc[0] = '\\';
			esc[1] = (char)c;
			n = 2;
		} else if (c == '\n' || c == '\r' || c == '\t') {
			esc[0] = '\\';
			esc[1] = c == '\n' ? 'n' : (c == '\r' ? 'r' : 't');
			n = 2;
		} else if (c < 0x20) {
			memcpy(esc, "\\u00", 4);
			esc[4] = hex[c >> 4];
			esc[5] = hex[c & 15];
			n = 6;
		} else if (js_eol_len(v, k, len) == 3) {
			memcpy(esc, v[k + 2] == 0xa8 ? "\\u2028" : "\\u2029",
			       6);
			n = 6;
			skip = 3;
		}
		if (n == 0) {
			continue;
		}
		r = put(emit, ctx, v + a, k - a, err);
		if (r == 0) {
			r = put(emit, ctx, esc, n, err);
		}
		a = k + skip;
		k += skip - 1;
	}
	if (r == 0) {
		r = put(emit, ctx, v + a, len - a, err);
	}
	if (r == 0) {
		r = put(emit, ctx, "\"", 1, err);
	}
	/* esc held value bytes */
	sodium_memzero(esc, sizeof(esc));
	return r;
}

int
envx_json_write(const struct envx_kvset *set, envx_emit_fn emit, void *ctx,
                struct envx_error *err)
{
	size_t i;
	int r = ENVX_E_INTERNAL;

	for (i = 0; i < set->count; i++) {
		size_t len;
		const unsigned char *v = envx_kvset_value(set, i, &len);

		r = check_pair(set, i, "json", err);
		if (r < 0) {
			goto out;
		}
		if (!utf8_valid(v, len)) {
			r = envx_error_set(
			        err, ENVX_E_INPUT,
			        "cannot export %s as json: its value "
			        "is not valid UTF-8",
			        envx_kvset_name(set, i));
			goto out;
		}
	}
	r = put_str(emit, ctx, set->count ? "{\n" : "{", err);
	for (i = 0; r == 0 && i < set->count; i++) {
		const char *name = envx_kvset_name(set, i);
		size_t len;
		const unsigned char *v = envx_kvset_value(set, i, &len);

		r = put_str(emit, ctx, "  ", err);
		if (r == 0) {
			r = json_string(emit, ctx, (const unsigned char *)name,
			                strlen(name), err);
		}
		if (r == 0) {
			r = put_str(emit, ctx, ": ", err);
		}
		if (r == 0) {
			r = json_string(emit, ctx, v, len, err);
		}
		if (r == 0) {
			r = put_str(emit, ctx,
			            i + 1 < set->count ? ",\n" : "\n", err);
		}
	}
	if (r == 0) {
		r = put_str(emit, ctx, "}\n", err);
	}
	if (r < 0) {
		goto out;
	}
	r = 0;
out:
	return r;
}

/* ---- GitHub Actions ---- */

#define DELIM_PREFIX       "ghadelimiter_"
#define DELIM_RANDOM_BYTES 16

/* Masks every line of v that is not only blanks (split at LF and CR, since
 * the log may show either as a break) with ::add-mask::; '%' is escaped because
 * the runner unescapes %25, %0D and %0A in command data. */
static int
mask_value(envx_emit_fn emit, void *ctx, const unsigned char *v, size_t len,
           struct envx_error *err)
{
	size_t a = 0;
	size_t k;
	int r = 0;

	while (r == 0 && a < len) {
		size_t e = a;
		size_t p;

		bool blank = true;

		while (e < len && v[e] != '\n' && v[e] != '\r') {
			if (v[e] != ' ' && v[e] != '\t') {
				blank = false;
			}
			e++;
		}
		/* a line of blanks is not masked: the runner would then hide
		 * every space in the log */
		if (!blank) {
			r = put_str(emit, ctx, "::add-mask::", err);
			p = a;
			for (k = a; r == 0 && k <= e; k++) {
				if (k < e && v[k] != '%') {
					continue;
				}
				r = put(emit, ctx, v + p, k - p, err);
				if (r == 0 && k < e) {
					r = put(emit, ctx, "%25", 3, err);
				}
				p = k + 1;
			}
			if (r == 0) {
				r = put(emit, ctx, "\n", 1, err);
			}
		}
		a = e + 1;
	}
	return r;
}

int
envx_github_write(const struct envx_kvset *set, envx_emit_fn env_emit,
                  void *env_ctx, envx_emit_fn mask_emit, void *mask_ctx,
                  struct envx_error *err)
{
	unsigned char rnd[DELIM_RANDOM_BYTES];
	char delim[sizeof(DELIM_PREFIX) + 2 * DELIM_RANDOM_BYTES];
	size_t i;
	int r = ENVX_E_INTERNAL;

	for (i = 0; i < set->count; i++) {
		r = check_pair(set, i, "github", err);
		if (r < 0) {
			goto out;
		}
	}
	for (i = 0; i < set->count; i++) {
		size_t len;
		const unsigned char *v = envx_kvset_value(set, i, &len);
		size_t dlen;

		/* mask first: the values must be secret before they exist */
		r = mask_value(mask_emit, mask_ctx, v, len, err);
		if (r < 0) {
			goto out;
		}
		do {
			randombytes_buf(rnd, sizeof(rnd));
			memcpy(delim, DELIM_PREFIX, sizeof(DELIM_PREFIX) - 1);
			sodium_bin2hex(delim + sizeof(DELIM_PREFIX) - 1,
			               2 * DELIM_RANDOM_BYTES + 1, rnd,
			               sizeof(rnd));
			dlen = strlen(delim);
		} while (memmem(v, len, delim, dlen) != NULL);
		r = put_str(env_emit, env_ctx, envx_kvset_name(set, i), err);
		if (r == 0) {
			r = put(env_emit, env_ctx, "<<", 2, err);
		}
		if (r == 0) {
			r = put(env_emit, env_ctx, delim, dlen, err);
		}
		if (r == 0) {
			r = put(env_emit, env_ctx, "\n", 1, err);
		}
		if (r == 0) {
			r = put(env_emit, env_ctx, v, len, err);
		}
		if (r == 0) {
			r = put(env_emit, env_ctx, "\n", 1, err);
		}
		if (r == 0) {
			r = put(env_emit, env_ctx, delim, dlen, err);
		}
		if (r == 0) {
			r = put(env_emit, env_ctx, "\n", 1, err);
		}
		if (r < 0) {
			goto out;
		}
	}
	r = 0;
out:
	return r;
}
