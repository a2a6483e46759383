/*
 * Reading a dotenv template (.env.example): the dotenv parser supplies the
 * names, values, lines and comments; this file turns the comment lines above
 * each name into annotations and a description, and refuses a template whose
 * annotations are unknown, malformed or attached to no name (DESIGN §6).
 */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "envx/dotenv.h"
#include "envx/template.h"
#include "util/banned.h"

/* What the comment run above one name says. */
struct notes {
	enum envx_template_optional optional;
	bool shared;
	bool has_type;
	int64_t rotate_every;
	unsigned rotate_line;
	struct envx_template_type type;
	struct envx_buf desc;
};

#define DESCRIPTION_MAX_BYTES ((size_t)64 * 1024)

static void
notes_init(struct notes *n)
{
	memset(n, 0, sizeof(*n));
	envx_buf_init(&n->desc, DESCRIPTION_MAX_BYTES);
}

static void
notes_release(struct notes *n)
{
	envx_template_type_release(&n->type);
	envx_buf_release(&n->desc);
	memset(n, 0, sizeof(*n));
}

static void
notes_reset(struct notes *n)
{
	notes_release(n);
	notes_init(n);
}

static char *
dup_str(const char *s, size_t n)
{
	char *d = malloc(n + 1);

	if (d == NULL) {
		return NULL;
	}
	memcpy(d, s, n);
	d[n] = '\0';
	return d;
}

static bool
is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r';
}

static bool
is_name_start(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

static bool
is_name_char(char c)
{
	return is_name_start(c) || (c >= '0' && c <= '9');
}

/* "NAME=", "NAME =" or "export NAME=" at the start of a comment's text: the
 * line documents another (commented-out) name, so what was read above it
 * belongs to that name, not to the one below. */
static bool
looks_like_assignment(const char *p, const char *end)
{
	if (end - p > 7 && memcmp(p, "export ", 7) == 0) {
		p += 7;
		while (p < end && is_blank(*p)) {
			p++;
		}
	}
	if (p == end || !is_name_start(*p)) {
		return false;
	}
	while (p < end && is_name_char(*p)) {
		p++;
	}
	while (p < end && is_blank(*p)) {
		p++;
	}
	return p < end && *p == '=';
}

static bool
word_at(const char *p, const char *word, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		char c = p[i];

		if (c >= 'A' && c <= 'Z') {
			c = (char)(c - 'A' + 'a');
		}
		if (c != word[i]) {
			return false;
		}
	}
	return true;
}

/* The word "optional", in any case, in an inline comment: not as part of
 * a longer word ("optionally") and not negated ("non-optional", "not
 * optional"). */
static bool
says_optional(const char *c)
{
	size_t len = strlen(c);

	for (size_t i = 0; i + 8 <= len; i++) {
		bool left = i == 0 || !is_name_char(c[i - 1]);
		bool right = !is_name_char(c[i + 8]);
		bool negated = i >= 4 && (word_at(c + i - 4, "non-", 4) ||
		                          word_at(c + i - 4, "not ", 4));

		if (left && right && !negated &&
		    word_at(c + i, "optional", 8)) {
			return true;
		}
	}
	return false;
}

static int
parse_annotation(const char *display, unsigned line, const char *p,
                 const char *end, struct notes *n, struct envx_error *err)
{
	const char *word = p + 1;
	const char *we = word;
	char *arg = NULL;
	const char *a;
	const char *ae = end;
	size_t wlen;
	int r = ENVX_E_INPUT;

	for (const char *c = p; c < end; c++) {
		if ((*c > 0 && *c < 0x20 && !is_blank(*c)) || *c == 0x7f) {
			r = envx_error_set(err, ENVX_E_INPUT,
			                   "%s:%u: control character in "
			                   "annotation",
			                   display, line);
			goto out;
		}
	}
	while (we < end && (is_name_char(*we) || *we == '-')) {
		we++;
	}
	wlen = (size_t)(we - word);
	if (we < end && !is_blank(*we)) {
		r = envx_error_set(err, ENVX_E_INPUT,
		                   "%s:%u: malformed annotation: expected "
		                   "'@word' followed by a space",
		                   display, line);
		goto out;
	}
	a = we;
	while (a < ae && is_blank(*a)) {
		a++;
	}
	while (ae > a && is_blank(ae[-1])) {
		ae--;
	}
	arg = dup_str(a, (size_t)(ae - a));
	if (arg == NULL) {
		r = envx_error_set(err, ENVX_E_INTERNAL, "out of memory");
		goto out;
	}
	if (wlen == 0) {
		r = envx_error_set(err, ENVX_E_INPUT,
		                   "%s:%u: empty annotation '@'", display,
		                   line);
	} else if ((wlen == 8 && memcmp(word, "optional", 8) == 0) ||
	           (wlen == 6 && memcmp(word, "shared", 6) == 0)) {
		bool is_opt = wlen == 8;

		if (arg[0] != '\0') {
			r = envx_error_set(err, ENVX_E_INPUT,
			                   "%s:%u: @%s takes no argument",
			                   display, line,
			                   is_opt ? "optional" : "shared");
		} else if (is_opt ? n->optional != ENVX_TEMPLATE_REQUIRED
		                  : n->shared) {
			r = envx_error_set(
			        err, ENVX_E_INPUT, "%s:%u: duplicate @%s",
			        display, line, is_opt ? "optional" : "shared");
		} else {
			if (is_opt) {
				n->optional = ENVX_TEMPLATE_OPTIONAL_ANNOTATION;
			} else {
				n->shared = true;
			}
			r = 0;
		}
	} else if (wlen == 4 && memcmp(word, "type", 4) == 0) {
		struct envx_error e;

		if (n->has_type) {
			r = envx_error_set(err, ENVX_E_INPUT,
			                   "%s:%u: duplicate @type", display,
			                   line);
			goto out;
		}
		envx_error_clear(&e);
		r = envx_template_type_parse(arg, &n->type, &e);
		if (r < 0) {
			envx_error_set(err, r, "%s:%u: %s", display, line,
			               e.msg);
			goto out;
		}
		n->has_type = true;
	} else if (wlen == 6 && memcmp(word, "rotate", 6) == 0) {
		if (n->rotate_every != 0) {
			r = envx_error_set(err, ENVX_E_INPUT,
			                   "%s:%u: duplicate @rotate", display,
			                   line);
			goto out;
		}
		if (envx_duration_parse(arg, &n->rotate_every, NULL) < 0 ||
		    n->rotate_every <= 0) {
			n->rotate_every = 0;
			r = envx_error_set(err, ENVX_E_INPUT,
			                   "%s:%u: @rotate needs a duration: a "
			                   "positive number followed by h, d "
			                   "or w (e.g. @rotate 90d)",
			                   display, line);
			goto out;
		}
		n->rotate_line = line;
		r = 0;
	} else {
		r = envx_error_set(err, ENVX_E_INPUT,
		                   "%s:%u: unknown annotation '@%.*s' (known: "
		                   "@optional, @type, @rotate, @shared)",
		                   display, line, (int)(wlen > 32 ? 32 : wlen),
		                   word);
	}
out:
	free(arg);
	return r;
}

/*
 * Reads the comment run above one name (lines first..first+k) into n,
 * marking each annotation line in annotated[] (indexed by line, nlines+1
 * entries) so that annotations attached to no name can be found after.
 */
static int
parse_comments(const char *display, const struct envx_dotenv_entry *e,
               unsigned char *annotated, size_t nlines, struct notes *n,
               struct envx_error *err)
{
	const char *p = e->comment_above;
	unsigned line = e->comment_line != 0 ? e->comment_line : e->line;
	int r = 0;

	if (p == NULL) {
		goto out;
	}
	for (;;) {
		const char *end = strchr(p, '\n');
		const char *q = p;

		if (end == NULL) {
			end = p + strlen(p);
		}
		while (q < end && is_blank(*q)) {
			q++;
		}
		if (q < end && *q == '@') {
			if (line <= nlines) {
				annotated[line] = 1;
			}
			r = parse_annotation(display, line, q, end, n, err);
			if (r < 0) {
				goto out;
			}
		} else if (looks_like_assignment(q, end)) {
			notes_reset(n);
		} else if (q < end) {
			const char *te = end;

			while (te > q && is_blank(te[-1])) {
				te--;
			}
			if (n->desc.len > 0) {
				r = envx_buf_append(&n->desc, "\n", 1, err);
			}
			if (r == 0) {
				r = envx_buf_append(&n->desc, q,
				                    (size_t)(te - q), err);
			}
			if (r < 0) {
				goto out;
			}
		}
		if (*end == '\0') {
			break;
		}
		p = end + 1;
		line++;
	}
out:
	return r;
}

/* Lines whose comment text starts with '@' but that belong to no name's
 * comment run: an annotation separated from its name by a blank line, or at
 * the end of the file, would otherwise be silently ignored. */
static int
find_orphans(const char *display, const char *data, size_t len,
             const unsigned char *annotated, size_t nlines,
             struct envx_error *err)
{
	size_t i = 0;
	unsigned line = 1;

	while (i < len) {
		size_t j = i;

		while (j < len && is_blank(data[j])) {
			j++;
		}
		if (j < len && data[j] == '#') {
			j++;
			while (j < len && is_blank(data[j])) {
				j++;
			}
			if (j < len && data[j] == '@' && line <= nlines &&
			    !annotated[line]) {
				return envx_error_set(
				        err, ENVX_E_INPUT,
				        "%s:%u: annotation is not directly "
				        "above a name (remove the blank line "
				        "or the annotation)",
				        display, line);
			}
		}
		while (i < len && data[i] != '\n') {
			i++;
		}
		i++;
		line++;
	}
	return 0;
}

/* A name and where it came from, sorted by name then position. */
struct named {
	const char *name;
	size_t idx;
};

static int
cmp_named(const void *a, const void *b)
{
	const struct named *x = a;
	const struct named *y = b;
	int c = strcmp(x->name, y->name);

	if (c != 0) {
		return c;
	}
	return x->idx < y->idx ? -1 : x->idx > y->idx;
}

/*
 * Chooses which pair stands for each name: the uncommented assignment if
 * there is one (a "# NAME=..." line beside it shows an alternative), else
 * the first commented-out one. Two uncommented assignments of one name are
 * an error: in a template that is a mistake, not an override.
 */
static int
choose_pairs(const char *display, const struct envx_dotenv_result *res,
             bool *keep, struct envx_error *err)
{
	size_t n = res->pairs.count;
	struct named *idx = NULL;
	size_t i = 0;
	int r = ENVX_E_INTERNAL;

	idx = calloc(n > 0 ? n : 1, sizeof(*idx));
	if (idx == NULL) {
		r = envx_error_set(err, ENVX_E_INTERNAL, "out of memory");
		goto out;
	}
	for (size_t k = 0; k < n; k++) {
		idx[k].name = envx_kvset_name(&res->pairs, k);
		idx[k].idx = k;
	}
	qsort(idx, n, sizeof(*idx), cmp_named);
	while (i < n) {
		size_t j = i;
		ssize_t live = -1;
		const char *name = idx[i].name;

		while (j < n && strcmp(idx[j].name, name) == 0) {
			if (!res->entries[idx[j].idx].commented_out) {
				if (live >= 0) {
					r = envx_error_set(
					        err, ENVX_E_INPUT,
					        "%s:%u: '%s' is assigned twice "
					        "(first on line %u)",
					        display,
					        res->entries[idx[j].idx].line,
					        name, res->entries[live].line);
					goto out;
				}
				live = (ssize_t)idx[j].idx;
			}
			j++;
		}
		keep[live >= 0 ? (size_t)live : idx[i].idx] = true;
		i = j;
	}
	r = 0;
out:
	free(idx);
	return r;
}

static int
add_var(struct envx_template *t, const struct envx_dotenv_result *res, size_t i,
        struct notes *n, struct envx_error *err)
{
	const struct envx_dotenv_entry *e = &res->entries[i];
	struct envx_template_var *v = &t->vars[t->nvars];
	const char *name = envx_kvset_name(&res->pairs, i);
	const unsigned char *value;
	size_t vlen;
	int r = ENVX_E_INTERNAL;

	value = envx_kvset_value(&res->pairs, i, &vlen);
	memset(v, 0, sizeof(*v));
	v->name = dup_str(name, strlen(name));
	if (v->name == NULL) {
		r = envx_error_set(err, ENVX_E_INTERNAL, "out of memory");
		goto out;
	}
	v->line = e->line;
	v->optional = n->optional;
	if (v->optional == ENVX_TEMPLATE_REQUIRED && e->commented_out) {
		v->optional = ENVX_TEMPLATE_OPTIONAL_COMMENTED;
	}
	if (v->optional == ENVX_TEMPLATE_REQUIRED &&
	    e->inline_comment != NULL && says_optional(e->inline_comment)) {
		v->optional = ENVX_TEMPLATE_OPTIONAL_INLINE;
	}
	v->shared = n->shared;
	v->rotate_every = n->rotate_every;
	v->rotate_line = n->rotate_line;
	v->type = n->type;
	memset(&n->type, 0, sizeof(n->type));
	if (n->desc.len > 0) {
		v->description = dup_str(n->desc.data, n->desc.len);
		if (v->description == NULL) {
			r = envx_error_set(err, ENVX_E_INTERNAL,
			                   "out of memory");
			goto out;
		}
	}
	t->nvars++; /* from here on the template owns v */
	r = envx_kvset_add(&t->values, name, strlen(name), value, vlen, e->line,
	                   err);
out:
	if (r < 0 && v->name != NULL && (size_t)(v - t->vars) >= t->nvars) {
		free(v->name);
		free(v->description);
		envx_template_type_release(&v->type);
	}
	return r;
}

/* Fills t->sorted so envx_template_find can bisect. */
static int
sort_vars(struct envx_template *t, struct envx_error *err)
{
	struct named *tmp = calloc(t->nvars + 1, sizeof(*tmp));

	if (tmp == NULL) {
		return envx_error_set(err, ENVX_E_INTERNAL, "out of memory");
	}
	for (size_t i = 0; i < t->nvars; i++) {
		tmp[i].name = t->vars[i].name;
		tmp[i].idx = i;
	}
	qsort(tmp, t->nvars, sizeof(*tmp), cmp_named);
	for (size_t i = 0; i < t->nvars; i++) {
		t->sorted[i] = tmp[i].idx;
	}
	free(tmp);
	return 0;
}

static size_t
count_lines(const char *data, size_t len)
{
	size_t n = 1;

	for (size_t i = 0; i < len; i++) {
		n += data[i] == '\n';
	}
	return n;
}

int
envx_template_parse(const char *data, size_t len, const char *display_name,
                    struct envx_template **out, struct envx_error *err)
{
	struct envx_dotenv_result res;
	struct envx_template *t = NULL;
	struct envx_error e;
	struct notes n;
	unsigned char *annotated = NULL;
	bool *keep = NULL;
	size_t nlines = count_lines(data, len);
	int r = ENVX_E_INTERNAL;

	*out = NULL;
	envx_dotenv_result_init(&res);
	notes_init(&n);
	envx_error_clear(&e);
	r = envx_dotenv_parse(data, len, ENVX_DOTENV_COMMENTED, &res, &e);
	if (r < 0) {
		const struct envx_dotenv_diag *d = NULL;

		for (size_t i = 0; i < res.ndiags && d == NULL; i++) {
			if (res.diags[i].is_error) {
				d = &res.diags[i];
			}
		}
		if (d != NULL) {
			envx_error_set(err, r, "%s:%u: %s", display_name,
			               d->line, d->msg);
		} else {
			envx_error_set(err, r, "%s: %s", display_name, e.msg);
		}
		goto out;
	}
	t = calloc(1, sizeof(*t));
	annotated = calloc(nlines + 1, 1);
	keep = calloc(res.pairs.count + 1, sizeof(*keep));
	if (t == NULL || annotated == NULL || keep == NULL) {
		r = envx_error_set(err, ENVX_E_INTERNAL, "out of memory");
		goto out;
	}
	envx_kvset_init(&t->values);
	t->path = dup_str(display_name, strlen(display_name));
	t->vars = calloc(res.pairs.count + 1, sizeof(*t->vars));
	t->sorted = calloc(res.pairs.count + 1, sizeof(*t->sorted));
	if (t->path == NULL || t->vars == NULL || t->sorted == NULL) {
		r = envx_error_set(err, ENVX_E_INTERNAL, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < res.pairs.count; i++) {
		const char *name = envx_kvset_name(&res.pairs, i);

		if (!envx_name_valid(name, strlen(name))) {
			r = envx_error_set(err, ENVX_E_INPUT,
			                   "%s:%u: invalid name '%.64s'",
			                   display_name, res.entries[i].line,
			                   name);
			goto out;
		}
	}
	r = choose_pairs(display_name, &res, keep, err);
	if (r < 0) {
		goto out;
	}
	for (size_t i = 0; i < res.pairs.count; i++) {
		notes_reset(&n);
		/* Every run is read, even for a pair that is not kept, so a
		 * bad annotation anywhere is reported. */
		r = parse_comments(display_name, &res.entries[i], annotated,
		                   nlines, &n, err);
		if (r < 0) {
			goto out;
		}
		if (keep[i]) {
			r = add_var(t, &res, i, &n, err);
			if (r < 0) {
				goto out;
			}
		}
	}
	r = find_orphans(display_name, data, len, annotated, nlines, err);
	if (r < 0) {
		goto out;
	}
	r = sort_vars(t, err);
	if (r < 0) {
		goto out;
	}
	*out = t;
	t = NULL;
	r = 0;
out:
	envx_template_free(t);
	notes_release(&n);
	free(annotated);
	free(keep);
	envx_dotenv_result_release(&res);
	sodium_memzero(&e, sizeof(e));
	return r;
}

int
envx_template_load(const char *path, struct envx_template **out,
                   struct envx_error *err)
{
	struct envx_buf buf;
	int r;

	*out = NULL;
	envx_buf_init(&buf, ENVX_TEMPLATE_MAX_BYTES);
	r = envx_file_read(path, false, &buf, err);
	if (r < 0) {
		goto out;
	}
	r = envx_template_parse(buf.data != NULL ? buf.data : "", buf.len, path,
	                        out, err);
out:
	envx_buf_release(&buf);
	return r;
}

void
envx_template_free(struct envx_template *t)
{
	if (t == NULL) {
		return;
	}
	for (size_t i = 0; i < t->nvars; i++) {
		free(t->vars[i].name);
		free(t->vars[i].description);
		envx_template_type_release(&t->vars[i].type);
	}
	free(t->vars);
	free(t->sorted);
	free(t->path);
	envx_kvset_release(&t->values);
	free(t);
}

const struct envx_template_var *
envx_template_find(const struct envx_template *t, const char *name)
{
	size_t lo = 0;
	size_t hi = t->nvars;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const struct envx_template_var *v = &t->vars[t->sorted[mid]];
		int c = strcmp(name, v->name);

		if (c == 0) {
			return v;
		}
		if (c < 0) {
			hi = mid;
		} else {
			lo = mid + 1;
		}
	}
	return NULL;
}

const unsigned char *
envx_template_value(const struct envx_template *t, size_t i, size_t *len)
{
	return envx_kvset_value(&t->values, i, len);
}

bool
envx_template_required(const struct envx_template *t, size_t i)
{
	return t->vars[i].optional == ENVX_TEMPLATE_REQUIRED;
}
