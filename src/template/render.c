/*
 * Rendering check findings for people (a matrix of name x environment and a
 * table of findings, with optional ANSI colour) and for programs (one JSON
 * object, whose shape is documented in envx-check(1)).
 */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "envx/template.h"
#include "util/banned.h"

#define RED    "\033[31m"
#define GREEN  "\033[32m"
#define YELLOW "\033[33m"
#define CYAN   "\033[36m"
#define DIM    "\033[2m"
#define RESET  "\033[0m"

static const char *
severity_colour(enum envx_severity s)
{
	switch (s) {
	case ENVX_SEVERITY_ERROR:
		return RED;
	case ENVX_SEVERITY_WARNING:
		return YELLOW;
	case ENVX_SEVERITY_INFO:
		return CYAN;
	}
	return "";
}

static const char *
cell_colour(enum envx_cell c)
{
	switch (c) {
	case ENVX_CELL_OK:
		return GREEN;
	case ENVX_CELL_MISSING:
	case ENVX_CELL_EMPTY:
	case ENVX_CELL_BAD_TYPE:
		return RED;
	case ENVX_CELL_EXTRA:
		return YELLOW;
	case ENVX_CELL_ABSENT:
	case ENVX_CELL_UNVERIFIED:
		return DIM;
	}
	return "";
}

/* How a cell reads in the table: an absent optional name is a dash. */
static const char *
cell_text(enum envx_cell c)
{
	return c == ENVX_CELL_ABSENT ? "-" : envx_findings_cell_name(c);
}

/* text padded to width, in colour when col is not NULL; padding goes
 * outside the colour so columns line up on a terminal. */
static int
cell(struct envx_buf *out, const char *text, int width, const char *col,
     bool last, struct envx_error *err)
{
	int r;

	if (col != NULL) {
		r = envx_buf_appendf(out, err, "%s%s%s", col, text, RESET);
	} else {
		r = envx_buf_appendf(out, err, "%s", text);
	}
	if (r == 0 && !last) {
		int pad = width - (int)strlen(text);

		r = envx_buf_appendf(out, err, "%*s", pad > 0 ? pad + 2 : 2,
		                     "");
	}
	return r;
}

static int
max_width(int w, const char *s)
{
	int n = s != NULL ? (int)strlen(s) : 0;

	return n > w ? n : w;
}

static int
render_matrix(const struct envx_findings *f, bool colour, struct envx_buf *out,
              struct envx_error *err)
{
	int wname = 4;
	int *wenv = NULL;
	int r = ENVX_E_INTERNAL;

	wenv = calloc(f->nenvs + 1, sizeof(*wenv));
	if (wenv == NULL) {
		r = envx_error_set(err, ENVX_E_INTERNAL, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < f->nrows; i++) {
		wname = max_width(wname, f->rows[i]);
	}
	for (size_t e = 0; e < f->nenvs; e++) {
		wenv[e] = max_width((int)strlen("unverified"), f->envs[e].name);
		if (!f->envs[e].unlocked) {
			wenv[e] = max_width(wenv[e], "(locked)");
		}
	}
	r = cell(out, "NAME", wname, NULL, false, err);
	if (r == 0) {
		r = envx_buf_appendf(out, err, "%5s  ", "LINE");
	}
	for (size_t e = 0; e < f->nenvs && r == 0; e++) {
		r = cell(out, f->envs[e].name, wenv[e], NULL, e + 1 == f->nenvs,
		         err);
	}
	if (r == 0) {
		r = envx_buf_append(out, "\n", 1, err);
	}
	/* A second header line marks the environments that could not be
	 * unlocked, whose values were not checked. */
	for (size_t e = 0; e < f->nenvs && r == 0; e++) {
		if (!f->envs[e].unlocked) {
			r = cell(out, "", wname, NULL, false, err);
			if (r == 0) {
				r = envx_buf_appendf(out, err, "%5s  ", "");
			}
			for (size_t k = 0; k < f->nenvs && r == 0; k++) {
				r = cell(out,
				         f->envs[k].unlocked ? "" : "(locked)",
				         wenv[k], colour ? DIM : NULL,
				         k + 1 == f->nenvs, err);
			}
			if (r == 0) {
				r = envx_buf_append(out, "\n", 1, err);
			}
			break;
		}
	}
	for (size_t i = 0; i < f->nrows && r == 0; i++) {
		r = cell(out, f->rows[i], wname, NULL, false, err);
		if (r == 0 && f->row_lines[i] > 0) {
			r = envx_buf_appendf(out, err, "%5u  ",
			                     f->row_lines[i]);
		} else if (r == 0) {
			r = envx_buf_appendf(out, err, "%5s  ", "-");
		}
		for (size_t e = 0; e < f->nenvs && r == 0; e++) {
			enum envx_cell c = f->cells[i * f->nenvs + e];

			r = cell(out, cell_text(c), wenv[e],
			         colour ? cell_colour(c) : NULL,
			         e + 1 == f->nenvs, err);
		}
		if (r == 0) {
			r = envx_buf_append(out, "\n", 1, err);
		}
	}
out:
	free(wenv);
	return r;
}

static int
render_table(const struct envx_findings *f, bool colour, struct envx_buf *out,
             struct envx_error *err)
{
	int wenv = 3;
	int wname = 4;
	int r = 0;

	for (size_t i = 0; i < f->count; i++) {
		wenv = max_width(wenv, f->items[i].env);
		wname = max_width(wname, f->items[i].name);
	}
	r = envx_buf_appendf(out, err, "%-8s  %-*s  %-*s  %5s  %-8s  %s\n",
	                     "SEVERITY", wenv, "ENV", wname, "NAME", "LINE",
	                     "KIND", "MESSAGE");
	for (size_t i = 0; i < f->count && r == 0; i++) {
		const struct envx_finding *x = &f->items[i];

		r = cell(out, envx_findings_severity_name(x->severity), 8,
		         colour ? severity_colour(x->severity) : NULL, false,
		         err);
		if (r == 0) {
			r = envx_buf_appendf(out, err, "%-*s  %-*s  ", wenv,
			                     x->env, wname,
			                     x->name != NULL ? x->name : "-");
		}
		if (r == 0 && x->line > 0) {
			r = envx_buf_appendf(out, err, "%5u  ", x->line);
		} else if (r == 0) {
			r = envx_buf_appendf(out, err, "%5s  ", "-");
		}
		if (r == 0) {
			r = envx_buf_appendf(out, err, "%-8s  %s\n",
			                     envx_findings_kind_name(x->kind),
			                     x->message);
		}
	}
	return r;
}

static const char *
plural(size_t n)
{
	return n == 1 ? "" : "s";
}

int
envx_findings_render_text(const struct envx_findings *f, bool colour,
                          struct envx_buf *out, struct envx_error *err)
{
	bool matrix = (f->flags & ENVX_CHECK_ALL) != 0 || f->nenvs > 1;
	int r = 0;

	if (matrix) {
		r = render_matrix(f, colour, out, err);
		if (r == 0 && f->count > 0) {
			r = envx_buf_append(out, "\n", 1, err);
		}
	}
	if (r == 0 && f->count > 0) {
		r = render_table(f, colour, out, err);
		if (r == 0) {
			r = envx_buf_append(out, "\n", 1, err);
		}
	}
	if (r < 0) {
		return r;
	}
	if (f->nenvs == 1) {
		r = envx_buf_appendf(out, err,
		                     "%s against %s: ", f->envs[0].name,
		                     f->template_path != NULL ? f->template_path
		                                              : "template");
	} else {
		r = envx_buf_appendf(out, err,
		                     "%zu environments against %s: ", f->nenvs,
		                     f->template_path != NULL ? f->template_path
		                                              : "template");
	}
	if (r == 0 && f->errors == 0 && f->warnings == 0) {
		r = envx_buf_appendf(
		        out, err, "%s%s%s (%zu name%s)\n", colour ? GREEN : "",
		        "ok", colour ? RESET : "", f->nrows, plural(f->nrows));
	} else if (r == 0) {
		r = envx_buf_appendf(
		        out, err, "%s%zu error%s%s, %zu warning%s\n",
		        colour && f->errors > 0 ? RED : "", f->errors,
		        plural(f->errors), colour && f->errors > 0 ? RESET : "",
		        f->warnings, plural(f->warnings));
	}
	return r;
}

/* json_string of s, or null when s is NULL. */
static json_t *
jstr(const char *s)
{
	return s != NULL ? json_string(s) : json_null();
}

static json_t *
jline(unsigned line)
{
	return line > 0 ? json_integer((json_int_t)line) : json_null();
}

static int
build_json(const struct envx_findings *f, json_t **out)
{
	json_t *root = NULL;
	json_t *envs = NULL;
	json_t *names = NULL;
	json_t *items = NULL;
	int r = -1;

	root = json_object();
	envs = json_array();
	names = json_array();
	items = json_array();
	if (root == NULL || envs == NULL || names == NULL || items == NULL) {
		goto out;
	}
	for (size_t e = 0; e < f->nenvs; e++) {
		if (json_array_append_new(
		            envs, json_pack("{s:s, s:b}", "name",
		                            f->envs[e].name, "unlocked",
		                            (int)f->envs[e].unlocked)) < 0) {
			goto out;
		}
	}
	for (size_t i = 0; i < f->nrows; i++) {
		json_t *cells = json_object();

		if (cells == NULL) {
			goto out;
		}
		for (size_t e = 0; e < f->nenvs; e++) {
			enum envx_cell c = f->cells[i * f->nenvs + e];

			if (json_object_set_new(
			            cells, f->envs[e].name,
			            json_string(envx_findings_cell_name(c))) <
			    0) {
				json_decref(cells);
				goto out;
			}
		}
		if (json_array_append_new(names,
		                          json_pack("{s:s, s:o, s:b, s:o}",
		                                    "name", f->rows[i], "line",
		                                    jline(f->row_lines[i]),
		                                    "in_template",
		                                    (int)(f->row_lines[i] > 0),
		                                    "cells", cells)) < 0) {
			goto out;
		}
	}
	for (size_t i = 0; i < f->count; i++) {
		const struct envx_finding *x = &f->items[i];

		if (json_array_append_new(
		            items,
		            json_pack("{s:s, s:s, s:s, s:o, s:o, s:o, s:o, "
		                      "s:s}",
		                      "severity",
		                      envx_findings_severity_name(x->severity),
		                      "kind", envx_findings_kind_name(x->kind),
		                      "env", x->env, "name", jstr(x->name),
		                      "line", jline(x->line), "other_env",
		                      jstr(x->other_env), "other_name",
		                      jstr(x->other_name), "message",
		                      x->message)) < 0) {
			goto out;
		}
	}
	if (json_object_set_new(root, "template", jstr(f->template_path)) < 0 ||
	    json_object_set_new(
	            root, "strict",
	            json_boolean((f->flags & ENVX_CHECK_STRICT) != 0)) < 0 ||
	    json_object_set(root, "environments", envs) < 0 ||
	    json_object_set(root, "names", names) < 0 ||
	    json_object_set(root, "findings", items) < 0 ||
	    json_object_set_new(root, "errors",
	                        json_integer((json_int_t)f->errors)) < 0 ||
	    json_object_set_new(root, "warnings",
	                        json_integer((json_int_t)f->warnings)) < 0 ||
	    json_object_set_new(root, "infos",
	                        json_integer((json_int_t)f->infos)) < 0) {
		goto out;
	}
	*out = root;
	root = NULL;
	r = 0;
out:
	json_decref(envs);
	json_decref(names);
	json_decref(items);
	json_decref(root);
	return r;
}

int
envx_findings_render_json(const struct envx_findings *f, struct envx_buf *out,
                          struct envx_error *err)
{
	json_t *root = NULL;
	char *text = NULL;
	int r = ENVX_E_INTERNAL;

	if (build_json(f, &root) < 0) {
		r = envx_error_set(err, ENVX_E_INTERNAL, "out of memory");
		goto out;
	}
	text = json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	if (text == NULL) {
		r = envx_error_set(err, ENVX_E_INTERNAL, "out of memory");
		goto out;
	}
	r = envx_buf_append(out, text, strlen(text), err);
	if (r == 0) {
		r = envx_buf_append(out, "\n", 1, err);
	}
out:
	free(text);
	json_decref(root);
	return r;
}
