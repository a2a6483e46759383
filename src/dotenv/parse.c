/*
 * The dotenv parser: a byte-level re-enactment of the regular expression the
 * npm `dotenv` package (v16/v17) runs over a file, so envx reads exactly what
 * dotenv reads, plus a line-by-line sweep that reports, with line numbers,
 * everything dotenv would drop, truncate or misread silently.
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "envx/dotenv.h"
#include "dotenv/jschars.h"
#include "util/banned.h"

#define NONE SIZE_MAX

enum raw_kind {
	RAW_NONE,     /* no value group: NAME= at end of line or before '#' */
	RAW_QUOTED,   /* '...', "..." or `...` closed by a valid quote */
	RAW_UNQUOTED, /* everything up to '#' or the end of the line */
};

/* One match of dotenv's LINE expression. Offsets into the normalized text. */
struct match {
	size_t kstart; /* first non-space character: the key or "export" */
	size_t key;    /* the name */
	size_t key_len;
	size_t sep; /* the '=' or ':' */
	size_t raw; /* the value group, [raw, raw_end) */
	size_t raw_end;
	size_t qopen; /* opening quote (RAW_QUOTED only) */
	size_t hash;  /* '#' of a trailing comment, or NONE */
	size_t end;   /* end of the whole match */
	enum raw_kind kind;
};

/*
 * Candidate closing quotes are found by scanning forward and tested from the
 * last one back; both results do not depend on where the value opened, so
 * they are cached per quote character to keep long files linear.
 */
struct qcache {
	size_t lo;    /* first_unesc below is valid for starts in [lo, hi] */
	size_t hi;    /* candidates end here (a quote position, or len) */
	size_t first; /* first unescaped quote at or after lo, or NONE */
	bool tested;
	size_t best; /* largest closing candidate whose tail matches, or NONE */
};

struct parser {
	const unsigned char *s;
	size_t n;
	unsigned flags;
	struct envx_dotenv_result *r;
	struct envx_error *err;
	struct envx_error first_error;
	struct qcache qc[3];
	struct match *m;
	size_t nm;
	size_t capm;
	/* open-addressing table of pair indices (+1) by name, for duplicates */
	size_t *names;
	size_t names_cap;
	size_t entries_cap;
	size_t diags_cap;
};

static bool
is_key_char(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	       (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-';
}

static bool
is_quote(unsigned char c)
{
	return c == '\'' || c == '"' || c == '`';
}

static int
quote_index(unsigned char c)
{
	return c == '\'' ? 0 : (c == '"' ? 1 : 2);
}

static size_t
skip_ws(const unsigned char *s, size_t p, size_t lim)
{
	size_t k;

	while (p < lim && (k = js_space_len(s, p, lim)) > 0) {
		p += k;
	}
	return p;
}

/* Position of the next line terminator at or after p (or lim). */
static size_t
next_term(const unsigned char *s, size_t p, size_t lim)
{
	while (p < lim && js_eol_len(s, p, lim) == 0) {
		p++;
	}
	return p;
}

/*
 * The tail every match ends with: \s*(?:#.*)?$ in multiline mode. Whitespace
 * may run over line ends, so the tail succeeds when a comment, the end of the
 * input or a line terminator follows; *end gets where the greedy match stops.
 */
static bool
tail(const unsigned char *s, size_t p, size_t lim, size_t *end, size_t *hash)
{
	size_t w = skip_ws(s, p, lim);
	size_t i;
	size_t last = NONE;

	*hash = NONE;
	if (w < lim && s[w] == '#') {
		*hash = w;
		*end = next_term(s, w, lim);
		return true;
	}
	if (w == lim) {
		*end = lim;
		return true;
	}
	for (i = p; i < w; i++) {
		if (js_eol_len(s, i, lim) > 0) {
			last = i;
		}
	}
	if (last == NONE) {
		return false;
	}
	*end = last;
	return true;
}

/*
 * The quoted alternatives '(?:\\'|[^'])*' (and " and `): the content may hold
 * a quote only right after a backslash, so the candidates are every quote up
 * to the first one not preceded by a backslash; the regex tries the farthest
 * first and takes the first whose tail matches.
 */
static bool
quoted(struct parser *P, size_t open, size_t lim, bool use_cache, size_t *close,
       size_t *end, size_t *hash)
{
	const unsigned char *s = P->s;
	unsigned char c = s[open];
	struct qcache local = {0};
	struct qcache *qc = use_cache ? &P->qc[quote_index(c)] : &local;
	size_t start = open + 1;
	size_t i;
	size_t hi;

	if (!use_cache || qc->hi == 0 || start < qc->lo || start > qc->hi) {
		qc->lo = start;
		qc->first = NONE;
		for (i = start; i < lim; i++) {
			if (s[i] == c && s[i - 1] != '\\') {
				qc->first = i;
				break;
			}
		}
		qc->hi = qc->first != NONE ? qc->first : lim;
		qc->tested = false;
	}
	hi = qc->hi;
	if (!qc->tested) {
		qc->best = NONE;
		/* from the last candidate back to the opening quote */
		for (i = (qc->first != NONE ? hi + 1 : hi); i > start; i--) {
			size_t e;
			size_t h;

			if (s[i - 1] == c && tail(s, i, lim, &e, &h)) {
				qc->best = i - 1;
				break;
			}
		}
		qc->tested = true;
	}
	if (qc->best == NONE || qc->best < start) {
		return false;
	}
	*close = qc->best;
	return tail(s, qc->best + 1, lim, end, hash);
}

/*
 * The value group and the tail, from v (just after the separator). One of
 * the three ways always matches: a quoted value whose closing quote is
 * followed by a valid tail, an unquoted run up to '#' or the line end, or no
 * value at all.
 */
static void
value_part(struct parser *P, size_t v, size_t lim, bool use_cache,
           struct match *m)
{
	const unsigned char *s = P->s;
	size_t w = skip_ws(s, v, lim);
	size_t e;

	m->raw = v;
	if (w < lim && is_quote(s[w])) {
		size_t close;

		if (quoted(P, w, lim, use_cache, &close, &m->end, &m->hash)) {
			m->kind = RAW_QUOTED;
			m->qopen = w;
			m->raw_end = close + 1;
			return;
		}
	}
	if (v < lim && s[v] != '#' && s[v] != '\n') {
		e = v;
		while (e < lim && s[e] != '#' && s[e] != '\n') {
			e++;
		}
		m->kind = RAW_UNQUOTED;
		m->raw_end = e;
		(void)tail(s, e, lim, &m->end, &m->hash);
		return;
	}
	m->kind = RAW_NONE;
	m->raw_end = v;
	(void)tail(s, v, lim, &m->end, &m->hash);
}

/* ([\w.-]+)(?:\s*=\s*?|:\s+?) then the value, from p. */
static bool
key_and_value(struct parser *P, size_t p, struct match *m)
{
	const unsigned char *s = P->s;
	size_t k = p;
	size_t q;
	size_t w;

	while (k < P->n && is_key_char(s[k])) {
		k++;
	}
	if (k == p) {
		return false;
	}
	q = skip_ws(s, k, P->n);
	if (q < P->n && s[q] == '=') {
		m->sep = q;
		q++;
	} else if (k < P->n && s[k] == ':' &&
	           (w = js_space_len(s, k + 1, P->n)) > 0) {
		/* the lazy \s+? takes exactly one space character */
		m->sep = k;
		q = k + 1 + w;
	} else {
		return false;
	}
	m->key = p;
	m->key_len = k - p;
	value_part(P, q, P->n, true, m);
	return true;
}

static bool
try_match(struct parser *P, size_t L, struct match *m)
{
	const unsigned char *s = P->s;
	size_t p = skip_ws(s, L, P->n);

	memset(m, 0, sizeof(*m));
	m->kstart = p;
	if (P->n - p > 6 && memcmp(s + p, "export", 6) == 0) {
		size_t w = skip_ws(s, p + 6, P->n);

		if (w > p + 6 && key_and_value(P, w, m)) {
			return true;
		}
	}
	return key_and_value(P, p, m);
}

static bool
at_line_start(const unsigned char *s, size_t p)
{
	return p == 0 || s[p - 1] == '\n' ||
	       (p >= 3 && s[p - 3] == 0xe2 && s[p - 2] == 0x80 &&
	        (s[p - 1] == 0xa8 || s[p - 1] == 0xa9));
}

static int
push_match(struct parser *P, const struct match *m)
{
	if (P->nm == P->capm) {
		size_t ncap = P->capm ? P->capm * 2 : 64;
		struct match *nmv = realloc(P->m, ncap * sizeof(*nmv));

		if (nmv == NULL) {
			return envx_error_set(P->err, ENVX_E_INTERNAL,
			                      "out of memory");
		}
		P->m = nmv;
		P->capm = ncap;
	}
	P->m[P->nm++] = *m;
	return 0;
}

/* Runs the expression over the whole text the way RegExp.exec with /mg
 * does: at each line start in turn, resuming where the last match ended. */
static int
find_matches(struct parser *P)
{
	size_t pos = 0;
	struct match m;
	int r;

	while (pos < P->n) {
		if (!at_line_start(P->s, pos)) {
			pos = next_term(P->s, pos, P->n);
			pos += js_eol_len(P->s, pos, P->n);
			continue;
		}
		if (try_match(P, pos, &m)) {
			r = push_match(P, &m);
			if (r < 0) {
				return r;
			}
			pos = m.end > pos ? m.end : pos + 1;
		} else {
			/* every line start up to kstart fails the same way */
			pos = m.kstart + 1;
		}
	}
	return 0;
}

/* ---- diagnostics ---- */

static void diag(struct parser *P, unsigned line, bool is_error,
                 const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static void
diag(struct parser *P, unsigned line, bool is_error, const char *fmt, ...)
{
	struct envx_dotenv_result *r = P->r;
	struct envx_dotenv_diag *d;
	char msg[ENVX_DOTENV_DIAG_MSG_BYTES];
	va_list ap;

	va_start(ap, fmt);
	(void)vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (is_error) {
		r->nerrors++;
		if (P->first_error.code == 0) {
			(void)envx_error_set(&P->first_error, ENVX_E_INPUT,
			                     "line %u: %s", line, msg);
		}
	}
	if (r->ndiags >= ENVX_DOTENV_MAX_DIAGS) {
		r->ndiags_dropped++;
		return;
	}
	if (r->ndiags == P->diags_cap) {
		size_t ncap = P->diags_cap ? P->diags_cap * 2 : 8;
		struct envx_dotenv_diag *nd =
		        realloc(r->diags, ncap * sizeof(*nd));

		if (nd == NULL) {
			r->ndiags_dropped++;
			return;
		}
		r->diags = nd;
		P->diags_cap = ncap;
	}
	d = &r->diags[r->ndiags++];
	d->line = line;
	d->is_error = is_error;
	memcpy(d->msg, msg, sizeof(d->msg));
}

/* ---- values ---- */

/* Writes value bytes, applying dotenv's \n and \r expansion when asked.
 * With dst NULL it only counts, so a value is sized before it is stored. */
struct vout {
	unsigned char *dst;
	size_t len;
	bool expand;
	bool pending; /* a backslash waiting for its next byte */
};

static void
vput(struct vout *o, unsigned char c)
{
	if (o->expand && o->pending) {
		o->pending = false;
		if (c == 'n' || c == 'r') {
			if (o->dst != NULL) {
				o->dst[o->len] = c == 'n' ? '\n' : '\r';
			}
			o->len++;
			return;
		}
		if (o->dst != NULL) {
			o->dst[o->len] = '\\';
		}
		o->len++;
	}
	if (o->expand && c == '\\') {
		o->pending = true;
		return;
	}
	if (o->dst != NULL) {
		o->dst[o->len] = c;
	}
	o->len++;
}

static void
vput_range(struct vout *o, const unsigned char *s, size_t a, size_t b)
{
	for (; a < b; a++) {
		vput(o, s[a]);
	}
}

static void
vflush(struct vout *o)
{
	if (o->pending) {
		o->pending = false;
		if (o->dst != NULL) {
			o->dst[o->len] = '\\';
		}
		o->len++;
	}
}

static void
trim(const unsigned char *s, size_t *a, size_t *b)
{
	size_t k;

	*a = skip_ws(s, *a, *b);
	while (*b > *a && (k = js_space_len_back(s, *a, *b)) > 0) {
		*b -= k;
	}
}

/*
 * dotenv's post-processing of the value group: trim, then
 * replace(/^(['"`])([\s\S]*)\1$/mg, '$2'), then, when the trimmed value began
 * with '"', \n and \r become a line feed and a carriage return. The regex
 * anchors at line starts inside the value too, so this is done generally.
 */
static void
process_value(const unsigned char *s, size_t a, size_t b, struct vout *o)
{
	size_t lastq[3] = {NONE, NONE, NONE};
	size_t last;
	size_t i;
	size_t j;

	trim(s, &a, &b);
	o->expand = b > a && s[a] == '"';
	/* the largest j with s[j] a quote and $ right after it, per quote */
	for (j = a; j < b; j++) {
		if (is_quote(s[j]) &&
		    (j + 1 == b || js_eol_len(s, j + 1, b) > 0)) {
			lastq[quote_index(s[j])] = j;
		}
	}
	last = a;
	i = a;
	while (i < b) {
		bool bol = i == a || (i > a && js_eol_before(s, a, i));

		if (bol && is_quote(s[i])) {
			j = lastq[quote_index(s[i])];
			if (j != NONE && j > i) {
				vput_range(o, s, last, i);
				vput_range(o, s, i + 1, j);
				last = j + 1;
				i = j + 1;
				continue;
			}
		}
		i++;
	}
	vput_range(o, s, last, b);
	vflush(o);
}

/* ---- names seen, for duplicate warnings ---- */

static uint64_t
name_hash(const char *p, size_t n)
{
	uint64_t h = 1469598103934665603ULL;
	size_t i;

	for (i = 0; i < n; i++) {
		h ^= (unsigned char)p[i];
		h *= 1099511628211ULL;
	}
	return h;
}

/*
 * Returns the index of an earlier real (not commented-out) pair with this
 * name, or NONE, and remembers pair idx under the name.
 */
static size_t
names_see(struct parser *P, const char *name, size_t len, size_t idx)
{
	struct envx_kvset *set = &P->r->pairs;
	size_t mask;
	size_t h;
	size_t prev = NONE;

	if ((P->r->pairs.count + 1) * 2 > P->names_cap) {
		size_t ncap = P->names_cap ? P->names_cap * 2 : 64;
		size_t *nt = calloc(ncap, sizeof(*nt));
		size_t k;

		if (nt == NULL) {
			return NONE; /* only a warning is lost */
		}
		for (k = 0; k < P->names_cap; k++) {
			size_t v = P->names[k];
			const char *nm;

			if (v == 0) {
				continue;
			}
			nm = envx_kvset_name(set, v - 1);
			h = (size_t)name_hash(nm, strlen(nm)) & (ncap - 1);
			while (nt[h] != 0) {
				h = (h + 1) & (ncap - 1);
			}
			nt[h] = v;
		}
		free(P->names);
		P->names = nt;
		P->names_cap = ncap;
	}
	mask = P->names_cap - 1;
	h = (size_t)name_hash(name, len) & mask;
	while (P->names[h] != 0) {
		const char *nm = envx_kvset_name(set, P->names[h] - 1);

		if (strlen(nm) == len && memcmp(nm, name, len) == 0) {
			prev = P->names[h] - 1;
			P->names[h] = idx + 1;
			return prev;
		}
		h = (h + 1) & mask;
	}
	P->names[h] = idx + 1;
	return NONE;
}

/* ---- the line sweep ---- */

struct block {
	bool active;
	size_t a; /* first comment line's start */
	size_t b; /* last comment line's end */
	unsigned line;
};

static unsigned
line_of(const unsigned char *s, size_t from, unsigned line_from, size_t to)
{
	for (; from < to; from++) {
		if (s[from] == '\n') {
			line_from++;
		}
	}
	return line_from;
}

static char *
dup_trimmed(const unsigned char *s, size_t a, size_t b)
{
	char *out;

	trim(s, &a, &b);
	out = malloc(b - a + 1);
	if (out != NULL) {
		memcpy(out, s + a, b - a);
		out[b - a] = '\0';
	}
	return out;
}

/* The comment block's text: each line without its '#' and one space. */
static char *
block_text(const unsigned char *s, const struct block *blk)
{
	char *out = malloc(blk->b - blk->a + 1);
	size_t len = 0;
	size_t p = blk->a;

	if (out == NULL) {
		return NULL;
	}
	while (p < blk->b) {
		size_t e = next_term(s, p, blk->b);
		size_t a = skip_ws(s, p, e);
		size_t b = e;
		size_t k;

		a++; /* the '#' */
		if (a < b && s[a] == ' ') {
			a++;
		}
		while (b > a && (k = js_space_len_back(s, a, b)) > 0) {
			b -= k;
		}
		if (len > 0) {
			out[len++] = '\n';
		}
		memcpy(out + len, s + a, b - a);
		len += b - a;
		p = e + js_eol_len(s, e, blk->b);
	}
	out[len] = '\0';
	return out;
}

static int
add_entry(struct parser *P, const struct envx_dotenv_entry *e)
{
	struct envx_dotenv_result *r = P->r;

	if (r->pairs.count > P->entries_cap) {
		return envx_error_set(P->err, ENVX_E_INTERNAL,
		                      "entry mismatch");
	}
	if (r->pairs.count == P->entries_cap) {
		size_t ncap = P->entries_cap ? P->entries_cap * 2 : 16;
		struct envx_dotenv_entry *ne =
		        realloc(r->entries, ncap * sizeof(*ne));

		if (ne == NULL) {
			return envx_error_set(P->err, ENVX_E_INTERNAL,
			                      "out of memory");
		}
		r->entries = ne;
		P->entries_cap = ncap;
	}
	r->entries[r->pairs.count] = *e;
	r->nentries = r->pairs.count + 1;
	return 0;
}

/* Stores the processed value of m under its name, with its entry. */
static int
store_pair(struct parser *P, const struct match *m, unsigned line,
           bool commented, const struct block *blk, bool *stored)
{
	const unsigned char *s = P->s;
	struct envx_dotenv_entry e = {0};
	struct vout o = {0};
	unsigned char *dst = NULL;
	size_t a = m->raw;
	size_t b = m->raw_end;
	int r = ENVX_E_INTERNAL;

	*stored = false;
	trim(s, &a, &b);
	if (memchr(s + a, '\0', b - a) != NULL) {
		/* a NUL cannot live in the environment; refuse, even leniently
		 */
		diag(P, line, !commented,
		     "%s value of %.*s contains a NUL byte",
		     commented ? "commented-out" : "the",
		     (int)(m->key_len > 64 ? 64 : m->key_len),
		     (const char *)s + m->key);
		r = 0;
		goto out;
	}
	process_value(s, m->raw, m->raw_end, &o);
	r = add_entry(P, &e);
	if (r < 0) {
		goto out;
	}
	r = envx_kvset_add_reserve(&P->r->pairs, (const char *)s + m->key,
	                           m->key_len, o.len, line, &dst, P->err);
	if (r < 0) {
		goto out;
	}
	memset(&o, 0, sizeof(o));
	o.dst = dst;
	process_value(s, m->raw, m->raw_end, &o);
	e.line = line;
	e.commented_out = commented;
	if (blk->active) {
		e.comment_above = block_text(s, blk);
		e.comment_line = blk->line;
	}
	/* an inline comment sits on the value's last line, after a space or
	 * a closing quote; a '#' glued to the value is reported instead */
	if (m->hash != NONE && next_term(s, m->raw_end, P->n) > m->hash &&
	    (m->kind == RAW_QUOTED ||
	     (m->hash > m->sep + 1 &&
	      js_space_len_back(s, m->sep + 1, m->hash) > 0))) {
		e.inline_comment = dup_trimmed(s, m->hash + 1,
		                               next_term(s, m->hash, P->n));
	}
	P->r->entries[P->r->pairs.count - 1] = e;
	*stored = true;
	r = 0;
out:
	return r;
}

static bool
looks_like_assignment(const unsigned char *s, size_t p, size_t lim)
{
	size_t k;

	p = skip_ws(s, p, lim);
	if (lim - p > 7 && memcmp(s + p, "export", 6) == 0 &&
	    (s[p + 6] == ' ' || s[p + 6] == '\t')) {
		p = skip_ws(s, p + 6, lim);
	}
	k = p;
	while (k < lim && is_key_char(s[k])) {
		k++;
	}
	if (k == p) {
		return false;
	}
	k = skip_ws(s, k, lim);
	return k < lim && s[k] == '=';
}

/* Warnings for what dotenv reads differently from how it looks. */
static void
warn_pair(struct parser *P, const struct match *m, unsigned first_line,
          const char *name)
{
	const unsigned char *s = P->s;
	unsigned kline = line_of(s, m->kstart, first_line, m->key);
	unsigned sline = line_of(s, m->key, kline, m->sep);
	size_t a = m->raw;
	size_t b = m->raw_end;
	int nl = (int)(m->key_len > 64 ? 64 : m->key_len);

	trim(s, &a, &b);
	if (kline != first_line) {
		diag(P, kline, false,
		     "'export' and the name %.*s are on different lines", nl,
		     name);
	}
	if (sline != kline) {
		diag(P, kline, false,
		     "the name %.*s and its '%c' are on different lines", nl,
		     name, s[m->sep]);
	} else if (b > a && line_of(s, m->sep, sline, a) != sline) {
		diag(P, kline, false,
		     "the value of %.*s starts on line %u, not on the line of "
		     "its '%c'",
		     nl, name, line_of(s, m->sep, sline, a), s[m->sep]);
	}
	if (m->hash != NONE && m->kind != RAW_QUOTED && m->hash == m->raw_end &&
	    m->hash > m->sep &&
	    (m->hash == m->sep + 1 ||
	     js_space_len_back(s, m->sep + 1, m->hash) == 0)) {
		diag(P, kline, false,
		     "the value of %.*s stops at a '#' with no space before "
		     "it; the rest of the line is a comment (quote the value "
		     "to keep it)",
		     nl, name);
	}
	if (m->kind == RAW_UNQUOTED && b > a && is_quote(s[a])) {
		if (b - a >= 2 && s[b - 1] == s[a]) {
			diag(P, kline, false,
			     "the value of %.*s has a bare quote inside its "
			     "quotes; it is read as the text between the "
			     "outer ones",
			     nl, name);
		} else {
			diag(P, kline, false,
			     "the value of %.*s starts with a quote that is "
			     "not closed at the end of the value; it is read "
			     "as unquoted text",
			     nl, name);
		}
	}
	if (m->kind == RAW_QUOTED) {
		size_t p = next_term(s, m->qopen, m->raw_end);
		unsigned cline = line_of(s, m->sep, sline, m->raw_end);

		while (p < m->raw_end) {
			p += js_eol_len(s, p, m->raw_end);
			if (looks_like_assignment(
			            s, p, next_term(s, p, m->raw_end))) {
				diag(P, kline, false,
				     "the quoted value of %.*s runs to line %u "
				     "over lines that look like assignments (a "
				     "closing quote may be missing)",
				     nl, name, cline);
				break;
			}
			p = next_term(s, p, m->raw_end);
		}
	}
}

/* A real pair: name rules, value, entry, warnings. */
static int
handle_match(struct parser *P, const struct match *m, unsigned seg_line,
             const struct block *blk)
{
	const unsigned char *s = P->s;
	const char *name = (const char *)s + m->key;
	unsigned kline = line_of(s, m->kstart, seg_line, m->key);
	int nl = (int)(m->key_len > 64 ? 64 : m->key_len);
	bool stored = false;
	size_t prev;
	int r;

	if (!envx_name_valid(name, m->key_len)) {
		diag(P, kline, !(P->flags & ENVX_DOTENV_LENIENT),
		     "invalid name '%.*s%s': names must match "
		     "[A-Za-z_][A-Za-z0-9_]* and have at most %d bytes",
		     nl, name, m->key_len > 64 ? "..." : "",
		     ENVX_NAME_MAX_BYTES);
		return 0;
	}
	r = store_pair(P, m, kline, false, blk, &stored);
	if (r < 0 || !stored) {
		return r;
	}
	warn_pair(P, m, seg_line, name);
	prev = names_see(P, name, m->key_len, P->r->pairs.count - 1);
	if (prev != NONE) {
		diag(P, kline, false,
		     "%.*s is set again; this overrides line %u", nl, name,
		     P->r->entries[prev].line);
	}
	return 0;
}

/* "# NAME=value" or "#NAME=": parsed like a pair, on this line only. */
static int
handle_commented(struct parser *P, size_t a, size_t b, unsigned line,
                 const struct block *blk, bool *is_assignment)
{
	const unsigned char *s = P->s;
	struct match m;
	size_t p = skip_ws(s, a, b) + 1;
	size_t k;
	bool stored;

	*is_assignment = false;
	while (p < b && (s[p] == ' ' || s[p] == '\t')) {
		p++;
	}
	if (b - p > 7 && memcmp(s + p, "export", 6) == 0 &&
	    (s[p + 6] == ' ' || s[p + 6] == '\t')) {
		p += 7;
		while (p < b && (s[p] == ' ' || s[p] == '\t')) {
			p++;
		}
	}
	k = p;
	while (k < b && is_key_char(s[k])) {
		k++;
	}
	if (!envx_name_valid((const char *)s + p, k - p)) {
		return 0;
	}
	memset(&m, 0, sizeof(m));
	m.kstart = p;
	m.key = p;
	m.key_len = k - p;
	/* "NAME=" with nothing between: "# x = y" is more likely prose */
	if (k >= b || s[k] != '=') {
		return 0;
	}
	*is_assignment = true;
	if (!(P->flags & ENVX_DOTENV_COMMENTED)) {
		return 0;
	}
	m.sep = k;
	value_part(P, k + 1, b, false, &m);
	return store_pair(P, &m, line, true, blk, &stored);
}

static int
sweep(struct parser *P)
{
	const unsigned char *s = P->s;
	struct block blk = {0};
	size_t mi = 0;
	size_t cover = 0; /* segments starting before this belong to a pair */
	size_t a = 0;
	unsigned line = 1;
	int r;

	while (a < P->n) {
		size_t b = next_term(s, a, P->n);
		size_t next = b + js_eol_len(s, b, P->n);
		size_t w;

		if (mi < P->nm && P->m[mi].kstart < b) {
			const struct match *m = &P->m[mi];

			r = handle_match(P, m, line, &blk);
			if (r < 0) {
				return r;
			}
			cover = m->raw_end > m->sep + 1 ? m->raw_end
			                                : m->sep + 1;
			blk.active = false;
			mi++;
		} else if (a < cover) {
			blk.active = false;
		} else {
			w = skip_ws(s, a, b);
			if (w == b) {
				blk.active = false;
			} else if (s[w] == '#') {
				bool assign;

				r = handle_commented(P, a, b, line, &blk,
				                     &assign);
				if (r < 0) {
					return r;
				}
				if (assign) {
					blk.active = false;
				} else if (blk.active) {
					blk.b = b;
				} else {
					blk.active = true;
					blk.a = a;
					blk.b = b;
					blk.line = line;
				}
			} else {
				diag(P, line, !(P->flags & ENVX_DOTENV_LENIENT),
				     "not a NAME=value assignment; dotenv "
				     "would skip this line");
				blk.active = false;
			}
		}
		line = line_of(s, a, line, next);
		if (next == a) {
			break;
		}
		a = next;
	}
	return 0;
}

void
envx_dotenv_result_init(struct envx_dotenv_result *r)
{
	memset(r, 0, sizeof(*r));
	envx_kvset_init(&r->pairs);
}

void
envx_dotenv_result_release(struct envx_dotenv_result *r)
{
	size_t i;

	if (r == NULL) {
		return;
	}
	if (r->entries != NULL) {
		/* not pairs.count: a sort may have shrunk it */
		for (i = 0; i < r->nentries; i++) {
			free(r->entries[i].comment_above);
			free(r->entries[i].inline_comment);
		}
	}
	free(r->entries);
	free(r->diags);
	envx_kvset_release(&r->pairs);
	envx_dotenv_result_init(r);
}

int
envx_dotenv_parse(const char *data, size_t len, unsigned flags,
                  struct envx_dotenv_result *r, struct envx_error *err)
{
	struct parser P;
	unsigned char *norm = NULL;
	size_t n = 0;
	size_t i;
	int ret = ENVX_E_INTERNAL;

	memset(&P, 0, sizeof(P));
	if (len > ENVX_DOTENV_MAX_BYTES) {
		ret = envx_error_set(err, ENVX_E_INPUT,
		                     "dotenv input too large: more than %zu "
		                     "bytes",
		                     (size_t)ENVX_DOTENV_MAX_BYTES);
		goto out;
	}
	if (data == NULL && len > 0) {
		ret = envx_error_set(err, ENVX_E_INTERNAL, "no dotenv input");
		goto out;
	}
	/* dotenv first turns \r\n and lone \r into \n; the copy holds values,
	 * so it lives in sodium_malloc memory and is wiped when freed */
	norm = sodium_malloc(len + 1);
	if (norm == NULL) {
		ret = envx_error_set(err, ENVX_E_INTERNAL,
		                     "cannot allocate secure memory");
		goto out;
	}
	for (i = 0; i < len; i++) {
		if (data[i] == '\r') {
			norm[n++] = '\n';
			if (i + 1 < len && data[i + 1] == '\n') {
				i++;
			}
		} else {
			norm[n++] = (unsigned char)data[i];
		}
	}
	norm[n] = '\0';
	P.s = norm;
	P.n = n;
	P.flags = flags;
	P.r = r;
	P.err = err;
	ret = find_matches(&P);
	if (ret < 0) {
		goto out;
	}
	ret = sweep(&P);
	if (ret < 0) {
		goto out;
	}
	if (r->nerrors > 0) {
		ret = envx_error_set(err, ENVX_E_INPUT, "%s",
		                     P.first_error.msg);
		goto out;
	}
	ret = 0;
out:
	sodium_free(norm);
	free(P.m);
	free(P.names);
	return ret;
}
