/*
 * Helpers shared by the commands: error printing, option parsing, finding
 * and opening the vault, loading the identity, asking for passphrases and
 * values, and writing secret bytes without stdio copies.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include <sodium.h>

#include "cli/cli.h"
#include "envx/redact.h"
#include "envx/exec.h"
#include "util/banned.h"

/*
 * Every message envx prints on stderr passes through here: "envx: ", the
 * message with control bytes, C1 controls and invalid UTF-8 escaped
 * (envx_safe_text), a newline. Messages carry names, paths and arguments
 * that a user or a vault chose; none of them may drive the terminal.
 */
static void
vsay(const char *prefix, const char *fmt, va_list ap)
{
	char msg[2 * ENVX_ERROR_MSG_BYTES];
	char safe[4 * sizeof(msg)];

	fflush(stdout);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	envx_safe_text(msg, safe, sizeof(safe));
	fprintf(stderr, "envx: %s%s\n", prefix, safe);
}

void
envx_cli_warn(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsay("", fmt, ap);
	va_end(ap);
}

void
envx_cli_refused_skip(const char *what, const char *env, const char *name)
{
	const struct envx_refused *why = envx_name_refused(name, strlen(name));

	envx_cli_warn("%s '%s' from %s: %s can take code to run from it "
	              "(refused: %s); if %s really needs it: envx env allow "
	              "%s %s",
	              what, name, env, why != NULL ? why->why : "a program",
	              why != NULL ? why->pattern : name, env, env, name);
}

void
envx_cli_exec_fit_warn(const char *env, const char *name, size_t len)
{
	if (envx_exec_fits(strlen(name), len)) {
		return;
	}
	envx_cli_warn("warning: %s in %s is %zu bytes: 'envx exec' cannot pass "
	              "it to a program (Linux passes at most %zu bytes per "
	              "NAME=value string); 'envx get' and 'envx export' still "
	              "read it",
	              name, env, len, ENVX_EXEC_STRING_MAX);
}

int
envx_cli_fail(const struct envx_error *err)
{
	envx_cli_warn("%s", err->msg[0] != '\0' ? err->msg
	                                        : envx_error_name(err->code));
	return envx_error_exit_status(err->code);
}

int
envx_cli_error(int status, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsay("", fmt, ap);
	va_end(ap);
	return status;
}

int
envx_cli_usage(const struct envx_ctx *ctx, const char *fmt, ...)
{
	char prefix[64];
	va_list ap;

	snprintf(prefix, sizeof(prefix),
	         "%s: ", ctx->cmd != NULL ? ctx->cmd->name : "");
	va_start(ap, fmt);
	vsay(prefix, fmt, ap);
	va_end(ap);
	if (ctx->cmd != NULL) {
		fprintf(stderr, "usage: envx %s\n", ctx->cmd->usage);
	}
	return 2;
}

void
envx_cli_note(const struct envx_ctx *ctx, const char *fmt, ...)
{
	va_list ap;

	if (ctx->quiet) {
		return;
	}
	va_start(ap, fmt);
	vsay("", fmt, ap);
	va_end(ap);
}

/* The global options that take a value, in the order of their slots. */
static const struct {
	const char *name;
	size_t len;
} valued[] = {{"--vault", 7}, {"--identity", 10}, {"--passphrase-file", 17}};

bool
envx_global_takes_value(const char *arg)
{
	size_t i;

	for (i = 0; i < sizeof(valued) / sizeof(valued[0]); i++) {
		if (strcmp(arg, valued[i].name) == 0) {
			return true;
		}
	}
	return false;
}

int
envx_global_opt(struct envx_ctx *ctx, int argc, char **argv, int *index)
{
	const char *a = argv[*index];
	const char **slot = NULL;
	const char *value;
	size_t i;

	if (strcmp(a, "--json") == 0) {
		ctx->json = true;
		(*index)++;
		return 1;
	}
	if (strcmp(a, "-q") == 0 || strcmp(a, "--quiet") == 0) {
		ctx->quiet = true;
		(*index)++;
		return 1;
	}
	for (i = 0; i < sizeof(valued) / sizeof(valued[0]); i++) {
		if (strncmp(a, valued[i].name, valued[i].len) == 0 &&
		    (a[valued[i].len] == '\0' || a[valued[i].len] == '=')) {
			break;
		}
	}
	if (i == sizeof(valued) / sizeof(valued[0])) {
		return 0;
	}
	slot = i == 0   ? &ctx->vault_opt
	       : i == 1 ? &ctx->identity_opt
	                : &ctx->passphrase_file;
	if (a[valued[i].len] == '=') {
		value = a + valued[i].len + 1;
		(*index)++;
	} else if (*index + 1 < argc && strcmp(argv[*index + 1], "--") != 0) {
		value = argv[*index + 1];
		*index += 2;
	} else {
		value = "";
		(*index)++;
	}
	if (*value == '\0') {
		envx_cli_warn("option '%s' needs a value", valued[i].name);
		return -1;
	}
	*slot = value;
	return 1;
}

int
envx_getopt(struct envx_ctx *ctx, struct envx_optstate *st,
            const struct envx_opt *opts)
{
	/* Walks argv by hand: getopt_long's permutation and messages are
	 * not ours to control, and "--" must end option parsing exactly. */
	if (st->positional == NULL) {
		st->positional = calloc((size_t)st->argc + 1, sizeof(char *));
		st->index = 1;
		if (st->positional == NULL) {
			envx_cli_error(10, "out of memory");
			return -2;
		}
	}
	while (st->index < st->argc) {
		char *a = st->argv[st->index];
		const struct envx_opt *o;
		const char *eq;
		size_t nlen;

		if (strcmp(a, "--") == 0) {
			/* the rest is positional, "--" itself is kept for
			 * commands like exec that need to see it */
			while (st->index < st->argc) {
				st->positional[st->npositional++] =
				        st->argv[st->index++];
			}
			break;
		}
		if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
			envx_cli_command_help(ctx->cmd);
			return -1;
		}
		if (a[0] != '-' || a[1] == '\0') {
			st->positional[st->npositional++] = a;
			st->index++;
			continue;
		}
		switch (envx_global_opt(ctx, st->argc, st->argv, &st->index)) {
		case 1:
			continue;
		case -1:
			return -2;
		default:
			break;
		}
		eq = strchr(a, '=');
		nlen = eq != NULL ? (size_t)(eq - a) : strlen(a);
		for (o = opts; o != NULL && o->name != NULL; o++) {
			if (strlen(o->name) == nlen &&
			    strncmp(o->name, a, nlen) == 0) {
				break;
			}
		}
		if (o == NULL || o->name == NULL) {
			envx_cli_usage(ctx, "unknown option '%.*s'", (int)nlen,
			               a);
			return -2;
		}
		st->index++;
		st->arg = NULL;
		if (o->has_arg == 0 && eq != NULL) {
			envx_cli_usage(ctx, "option '%s' takes no value",
			               o->name);
			return -2;
		}
		if (o->has_arg == 1) {
			if (eq != NULL) {
				st->arg = eq + 1;
			} else if (st->index < st->argc &&
			           strcmp(st->argv[st->index], "--") != 0) {
				st->arg = st->argv[st->index++];
			} else {
				envx_cli_usage(ctx, "option '%s' needs a value",
				               o->name);
				return -2;
			}
		} else if (o->has_arg == 2 && eq != NULL) {
			st->arg = eq + 1;
		}
		return o->val;
	}
	return 0;
}

int
envx_ctx_open_vault(struct envx_ctx *ctx, bool writable, struct envx_error *err)
{
	char actor[256];
	int r;

	if (ctx->vault != NULL) {
		/* opened already (by the command table's flags): once */
		return 0;
	}
	r = envx_vault_locate(ctx->vault_opt, ctx->vault_path,
	                      sizeof(ctx->vault_path), err);
	if (r < 0) {
		return r;
	}
	r = envx_vault_open(ctx->vault_path, writable, &ctx->vault, err);
	if (r == 0) {
		envx_ctx_actor(ctx, actor, sizeof(actor));
		envx_vault_set_actor(ctx->vault, actor);
		r = envx_ctx_bind_trust(ctx, err);
	}
	if (r == 0 && envx_vault_recovered(ctx->vault)) {
		envx_cli_note(ctx,
		              "rolled back a write to '%s' that was "
		              "interrupted (its journal '%s-journal' was left "
		              "behind): the vault is as its last committed "
		              "write left it",
		              ctx->vault_path, ctx->vault_path);
	}
	return r;
}

int
envx_seen_path(char *out, size_t outsz)
{
	const char *xdg = getenv("XDG_STATE_HOME");
	const char *home = getenv("HOME");
	int n;

	if (xdg != NULL && *xdg == '/') {
		n = snprintf(out, outsz, "%s/envx/seen", xdg);
	} else if (home != NULL && *home == '/') {
		n = snprintf(out, outsz, "%s/.local/state/envx/seen", home);
	} else {
		return -1;
	}
	return n > 0 && (size_t)n < outsz ? 0 : -1;
}

int
envx_ctx_bind_trust(struct envx_ctx *ctx, struct envx_error *err)
{
	const char *env_trust = getenv("ENVX_TRUST");
	int r;

	if (ctx->trust.anchors[1] == NULL) {
		if (env_trust != NULL && *env_trust != '\0') {
			r = envx_anchors_parse(env_trust, strlen(env_trust),
			                       "$ENVX_TRUST", &ctx->env_anchors,
			                       err);
			if (r < 0) {
				return r;
			}
		}
		ctx->trust.anchors[1] = &ctx->env_anchors;
		ctx->trust.min_generation = getenv("ENVX_MIN_GENERATION");
		r = envx_min_generation_check(ctx->trust.min_generation, err);
		if (r < 0) {
			return r;
		}
		env_trust = getenv("ENVX_ACCEPT_UNSIGNED");
		ctx->trust.accept_unsigned =
		        env_trust != NULL && strcmp(env_trust, "1") == 0;
		if (envx_seen_path(ctx->seen_path, sizeof(ctx->seen_path)) ==
		    0) {
			struct envx_error ignored;

			/* no state directory: no record, not an error */
			(void)envx_file_make_parents(ctx->seen_path, &ignored);
			ctx->trust.seen_path = ctx->seen_path;
		}
	}
	if (ctx->identity != NULL) {
		ctx->trust.anchors[0] = &ctx->identity->anchors;
	}
	if (ctx->vault != NULL) {
		envx_vault_set_trust(ctx->vault, &ctx->trust);
		envx_vault_set_signer(ctx->vault, ctx->identity);
	}
	return 0;
}

int
envx_cmd_vault(struct envx_ctx *ctx)
{
	struct envx_error err;

	if (envx_ctx_open_vault(ctx, (ctx->cmd->flags & ENVX_CMD_VAULT_RW) != 0,
	                        &err) < 0) {
		return envx_cli_fail(&err);
	}
	return 0;
}

int
envx_cmd_positional(struct envx_ctx *ctx, int argc, char **argv,
                    struct envx_optstate *st, int min, int max,
                    const char *missing)
{
	int o;

	st->argc = argc;
	st->argv = argv;
	o = envx_getopt(ctx, st, NULL);
	if (o < 0) {
		return o == -1 ? -1 : 2;
	}
	if (st->npositional < min) {
		return envx_cli_usage(ctx, "%s", missing);
	}
	if (st->npositional > max) {
		return envx_cli_usage(ctx, "too many arguments");
	}
	return 0;
}

int
envx_cmd_args(struct envx_ctx *ctx, int argc, char **argv,
              struct envx_optstate *st, int min, int max, const char *missing)
{
	int r = envx_cmd_positional(ctx, argc, argv, st, min, max, missing);

	return r != 0 ? r : envx_cmd_vault(ctx);
}

void
envx_ctx_actor(struct envx_ctx *ctx, char *out, size_t outsz)
{
	const char *user = getenv("USER");
	char host[128] = "localhost";
	size_t i;

	if (user == NULL || *user == '\0') {
		user = getenv("LOGNAME");
	}
	if (user == NULL || *user == '\0') {
		user = "unknown";
	}
	if (gethostname(host, sizeof(host) - 1) != 0) {
		snprintf(host, sizeof(host), "localhost");
	}
	host[sizeof(host) - 1] = '\0';
	snprintf(out, outsz, "%s@%s", user, host);
	for (i = 0; out[i] != '\0'; i++) {
		unsigned char c = (unsigned char)out[i];
		if (c <= 0x20 || c == 0x7f) {
			out[i] = '_';
		}
	}
	(void)ctx;
}

static bool
have_tty(void)
{
	int fd = open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC);

	if (fd < 0) {
		return false;
	}
	close(fd);
	return true;
}

static volatile sig_atomic_t prompt_signal;

static void
on_prompt_signal(int sig)
{
	prompt_signal = sig;
}

/*
 * Reads one line from /dev/tty with echo off into out. A signal that
 * would end envx while echo is off (^C, ^\, a kill) first restores the
 * terminal, then is raised again with its default action, as OpenBSD's
 * readpassphrase does: the user's shell never inherits a mute terminal.
 */
static int
tty_prompt(const char *prompt, struct envx_secbuf *out, struct envx_error *err)
{
	static const int sigs[] = {SIGINT, SIGTERM, SIGQUIT, SIGHUP};
	struct sigaction old_sa[sizeof(sigs) / sizeof(sigs[0])];
	struct sigaction sa;
	struct termios old;
	struct termios quiet;
	unsigned char c;
	size_t i;
	int fd;
	int r = 0;

	fd = open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (fd < 0) {
		return envx_error_set(err, ENVX_E_IO, "cannot open terminal");
	}
	if (tcgetattr(fd, &old) < 0) {
		close(fd);
		return envx_error_set(err, ENVX_E_IO,
		                      "cannot configure terminal");
	}
	prompt_signal = 0;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_prompt_signal; /* no SA_RESTART: read() stops */
	sigemptyset(&sa.sa_mask);
	for (i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++) {
		sigaction(sigs[i], &sa, &old_sa[i]);
	}
	quiet = old;
	quiet.c_lflag &= ~(tcflag_t)(ECHO | ECHONL);
	quiet.c_lflag |= ICANON;
	/* echo off before the prompt appears: whatever is typed after it
	 * must be read, not flushed, and never shown */
	tcsetattr(fd, TCSAFLUSH, &quiet);
	(void)!write(fd, prompt, strlen(prompt));
	(void)!write(fd, ": ", 2);
	while (prompt_signal == 0) {
		ssize_t n = read(fd, &c, 1);
		if (n < 0 && errno == EINTR) {
			continue;
		}
		if (n <= 0 || c == '\n') {
			break;
		}
		if (c == '\r') {
			continue;
		}
		r = envx_secbuf_append(out, &c, 1, err);
		if (r < 0) {
			break;
		}
	}
	c = 0;
	tcsetattr(fd, TCSAFLUSH, &old);
	(void)!write(fd, "\n", 1);
	close(fd);
	for (i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++) {
		sigaction(sigs[i], &old_sa[i], NULL);
	}
	if (prompt_signal != 0) {
		sodium_memzero(out->data, out->len);
		out->len = 0;
		raise(prompt_signal);
		r = envx_error_set(err, ENVX_E_LOCKED, "interrupted");
	}
	return r;
}

static int
read_passphrase_file(const char *path, struct envx_secbuf *out,
                     struct envx_error *err)
{
	struct envx_secbuf data = {0};
	size_t len;
	int r;

	/* a passphrase file is a key file: same rules as an identity */
	r = envx_file_read_private(path, 1023, &data, err);
	if (r == 0) {
		const unsigned char *nl = memchr(data.data, '\n', data.len);

		len = nl != NULL ? (size_t)(nl - data.data) : data.len;
		if (len > 0 && data.data[len - 1] == '\r') {
			len--;
		}
		r = envx_secbuf_append(out, data.data, len, err);
	}
	envx_secbuf_release(&data);
	return r;
}

/*
 * One passphrase from the first source there is: --passphrase-file, then
 * $ENVX_PASSPHRASE, then the terminal. The first two are one passphrase for
 * every purpose (documented in envx(1)); on a terminal each purpose is asked
 * for on its own, the prompt naming it. With cache, a passphrase found once
 * is reused for the same purpose for the rest of the run.
 */
static int
get_passphrase(struct envx_ctx *ctx, const char *prompt,
               struct envx_secbuf *cache, struct envx_secbuf *out,
               struct envx_error *err)
{
	const char *env = getenv("ENVX_PASSPHRASE");
	int r;

	if (cache != NULL && cache->data != NULL) {
		return envx_secbuf_append(out, cache->data, cache->len, err);
	}
	if (ctx != NULL && ctx->passphrase_file != NULL) {
		/* an explicit flag wins over the environment */
		r = read_passphrase_file(ctx->passphrase_file, out, err);
	} else if (env != NULL) {
		r = envx_secbuf_append(out, env, strlen(env), err);
	} else if (have_tty()) {
		r = tty_prompt(prompt, out, err);
	} else {
		return envx_error_set(err, ENVX_E_LOCKED,
		                      "%s is needed and there is no terminal "
		                      "to ask on: set ENVX_PASSPHRASE or pass "
		                      "--passphrase-file FILE",
		                      prompt);
	}
	if (r == 0 && out->len == 0) {
		r = envx_error_set(err, ENVX_E_LOCKED,
		                   "empty passphrase given for %s", prompt);
	}
	if (r == 0 && cache != NULL &&
	    envx_secbuf_init(cache, out->cap, NULL) == 0) {
		(void)envx_secbuf_append(cache, out->data, out->len, NULL);
	}
	return r;
}

int
envx_ctx_passphrase(void *vctx, const char *prompt, struct envx_secbuf *out,
                    struct envx_error *err)
{
	return get_passphrase(vctx, prompt, NULL, out, err);
}

/* The protected identity's passphrase. */
static int
identity_passphrase(void *vctx, const char *prompt, struct envx_secbuf *out,
                    struct envx_error *err)
{
	struct envx_ctx *ctx = vctx;

	return get_passphrase(ctx, prompt, &ctx->pass_identity, out, err);
}

int
envx_ctx_env_passphrase(void *vctx, const char *prompt, struct envx_secbuf *out,
                        struct envx_error *err)
{
	struct envx_ctx *ctx = vctx;

	return get_passphrase(ctx, prompt, &ctx->pass_env, out, err);
}

int
envx_cli_audit_version(struct envx_ctx *ctx, const char *action,
                       const char *env, const char *name, const char *kind,
                       uint64_t version, const char *more,
                       struct envx_error *err)
{
	char detail[1024];

	snprintf(detail, sizeof(detail), "%s v%llu%s", kind,
	         (unsigned long long)version, more);
	return envx_vault_audit(ctx->vault, action, env, name, detail, err);
}

int
envx_cli_new_passphrase(struct envx_ctx *ctx, const char *prompt,
                        struct envx_secbuf *pass, struct envx_error *err)
{
	struct envx_secbuf again = {0};
	int r;

	r = envx_secbuf_init(pass, 1024, err);
	if (r == 0) {
		r = envx_ctx_passphrase(ctx, prompt, pass, err);
	}
	if (r == 0 && getenv("ENVX_PASSPHRASE") == NULL &&
	    ctx->passphrase_file == NULL) {
		r = envx_secbuf_init(&again, 1024, err);
		if (r == 0) {
			r = envx_ctx_passphrase(ctx, "repeat the passphrase",
			                        &again, err);
		}
		if (r == 0 &&
		    (again.len != pass->len ||
		     sodium_memcmp(again.data, pass->data, pass->len) != 0)) {
			r = envx_error_set(err, ENVX_E_INPUT,
			                   "the passphrases do not match");
		}
	}
	envx_secbuf_release(&again);
	return r;
}

int
envx_ctx_identity_text(struct envx_ctx *ctx, struct envx_secbuf *text,
                       char *source, size_t sourcesz, struct envx_error *err)
{
	const char *env = getenv("ENVX_IDENTITY");
	const char *file = getenv("ENVX_IDENTITY_FILE");
	char path[4096];
	int r;

	if (ctx->identity_opt != NULL) {
		snprintf(path, sizeof(path), "%s", ctx->identity_opt);
	} else if (env != NULL && *env != '\0') {
		snprintf(ctx->identity_source, sizeof(ctx->identity_source),
		         "$ENVX_IDENTITY");
		snprintf(source, sourcesz, "$ENVX_IDENTITY");
		r = envx_secbuf_init(text, strlen(env) + 1, err);
		if (r == 0) {
			r = envx_secbuf_append(text, env, strlen(env), err);
		}
		return r;
	} else if (file != NULL && *file != '\0') {
		snprintf(path, sizeof(path), "%s", file);
	} else if (envx_identity_default_path(path, sizeof(path)) != 0) {
		return envx_error_set(err, ENVX_E_NOTFOUND,
		                      "no identity: set ENVX_IDENTITY or "
		                      "ENVX_IDENTITY_FILE, or pass --identity "
		                      "FILE (HOME is not set)");
	}
	snprintf(ctx->identity_source, sizeof(ctx->identity_source), "%s",
	         path);
	snprintf(source, sourcesz, "identity file '%s'", path);
	/* VF-2.4: the key text only ever lives in secure memory */
	r = envx_file_read_private(path, ENVX_IDENTITY_TEXT_MAX_BYTES, text,
	                           err);
	if (r == ENVX_E_NOTFOUND && ctx->identity_opt == NULL &&
	    (file == NULL || *file == '\0')) {
		r = envx_error_set(err, ENVX_E_NOTFOUND,
		                   "no identity: '%s' does not exist (run "
		                   "'envx identity new', set ENVX_IDENTITY or "
		                   "pass --identity FILE)",
		                   path);
	}
	return r;
}

int
envx_ctx_identity(struct envx_ctx *ctx, struct envx_identity **out,
                  struct envx_error *err)
{
	struct envx_secbuf text = {0};
	char source[4200];
	int r;

	if (ctx->identity != NULL && ctx->identity->sk != NULL) {
		*out = ctx->identity;
		return 0;
	}
	r = envx_ctx_identity_text(ctx, &text, source, sizeof(source), err);
	if (r == 0 && ctx->identity != NULL) {
		/* the public half came from the agent; this command needs
		 * the secret one after all */
		r = envx_identity_complete(
		        ctx->identity, (const char *)text.data, text.len,
		        source, identity_passphrase, ctx, err);
	} else if (r == 0) {
		r = envx_identity_parse((const char *)text.data, text.len,
		                        source, identity_passphrase, ctx,
		                        &ctx->identity, err);
	}
	if (r == 0) {
		ctx->identity_digest_ok =
		        envx_identity_agent_digest((const char *)text.data,
		                                   text.len,
		                                   ctx->identity_digest) == 0;
		*out = ctx->identity;
		r = envx_ctx_bind_trust(ctx, err);
	}
	envx_secbuf_release(&text);
	return r;
}

/* True when the user named an identity (flag or environment): then a
 * missing one is an error of its own, never "try a passphrase instead". */
bool
envx_ctx_identity_configured(const struct envx_ctx *ctx)
{
	const char *text = getenv("ENVX_IDENTITY");
	const char *file = getenv("ENVX_IDENTITY_FILE");

	return ctx->identity_opt != NULL || (text != NULL && *text != '\0') ||
	       (file != NULL && *file != '\0');
}

/* Edit distance (insert, delete, substitute, swap neighbours), capped. */
static size_t
distance(const char *a, const char *b)
{
	size_t la = strlen(a);
	size_t lb = strlen(b);
	size_t d[65][65];
	size_t i;
	size_t j;

	if (la > 64 || lb > 64) {
		return SIZE_MAX;
	}
	for (i = 0; i <= la; i++) {
		d[i][0] = i;
	}
	for (j = 0; j <= lb; j++) {
		d[0][j] = j;
	}
	for (i = 1; i <= la; i++) {
		for (j = 1; j <= lb; j++) {
			size_t best = d[i - 1][j - 1] + (a[i - 1] != b[j - 1]);

			if (d[i - 1][j] + 1 < best) {
				best = d[i - 1][j] + 1;
			}
			if (d[i][j - 1] + 1 < best) {
				best = d[i][j - 1] + 1;
			}
			if (i > 1 && j > 1 && a[i - 1] == b[j - 2] &&
			    a[i - 2] == b[j - 1] &&
			    d[i - 2][j - 2] + 1 < best) {
				best = d[i - 2][j - 2] + 1;
			}
			d[i][j] = best;
		}
	}
	return d[la][lb];
}

const char *
envx_cli_nearest(const char *word, const char *const *cands, size_t n)
{
	const char *best = NULL;
	size_t best_d = SIZE_MAX;
	size_t wlen = strlen(word);
	size_t i;

	for (i = 0; i < n; i++) {
		size_t d;

		/* a prefix of two or more bytes: "prod" for "production" */
		if (wlen >= 2 && strncmp(cands[i], word, wlen) == 0) {
			d = 1;
		} else {
			d = distance(word, cands[i]);
		}
		if (d < best_d) {
			best_d = d;
			best = cands[i];
		}
	}
	/* close enough to be a typo: at most 2 edits, fewer for short
	 * words */
	return best_d <= (wlen <= 4 ? 1 : 2) ? best : NULL;
}

/* "no environment 'x' in vault 'v'" plus the ones there are and the
 * nearest: err keeps its code. */
static void
env_not_found_hint(struct envx_ctx *ctx, const char *env,
                   struct envx_error *err)
{
	struct envx_env_info *list = NULL;
	struct envx_error ignored;
	const char **names = NULL;
	const char *near;
	char all[256] = "";
	size_t n = 0;
	size_t i;
	size_t used = 0;

	if (envx_vault_env_list(ctx->vault, &list, &n, &ignored) < 0) {
		return;
	}
	names = calloc(n + 1, sizeof(*names));
	if (names == NULL) {
		free(list);
		return;
	}
	for (i = 0; i < n; i++) {
		int w = snprintf(all + used, sizeof(all) - used, "%s%s",
		                 i > 0 ? ", " : "", list[i].name);

		names[i] = list[i].name;
		used = w < 0 || (size_t)w >= sizeof(all) - used
		               ? sizeof(all) - 1
		               : used + (size_t)w;
	}
	near = envx_cli_nearest(env, names, n);
	if (n == 0) {
		envx_error_append(err, " (it has no environments: add one with "
		                       "'envx env add NAME')");
	} else if (near != NULL) {
		envx_error_append(err,
		                  "; did you mean '%s'? (environments: %s)",
		                  near, all);
	} else {
		envx_error_append(err, " (environments: %s)", all);
	}
	free(names);
	free(list);
}

int
envx_ctx_unlock(struct envx_ctx *ctx, const char *env, struct envx_env **out,
                struct envx_error *err)
{
	return envx_ctx_unlock_all(ctx, env, out, NULL, err);
}

int
envx_ctx_unlock_all(struct envx_ctx *ctx, const char *env,
                    struct envx_env **out, struct envx_kvset *values,
                    struct envx_error *err)
{
	struct envx_identity *id = NULL;
	struct envx_unlock how = {.values = values,
	                          .lazy = ctx->lazy_unlock && values == NULL};
	struct envx_env *e = NULL;
	int r;

	r = envx_env_open(ctx->vault, env, &e, err);
	if (r == ENVX_E_NOTFOUND) {
		env_not_found_hint(ctx, env, err);
	}
	if (r < 0) {
		return r;
	}
	r = envx_ctx_agent_unlock(ctx, &e, values, err);
	if (r < 0) {
		return r;
	}
	if (r == 0) {
		goto unlocked;
	}
	r = envx_ctx_identity(ctx, &id, err);
	how.ask = envx_ctx_env_passphrase;
	how.ask_ctx = ctx;
	/* no identity at all, or a protected one the passphrase given did not
	 * open: that passphrase may still open a passphrase recipient */
	if ((r == ENVX_E_NOTFOUND && !envx_ctx_identity_configured(ctx)) ||
	    r == ENVX_E_LOCKED) {
		/* no identity at all: a passphrase recipient may still open
		 * it; the message says why there is no identity and how to
		 * make one */
		char hint[ENVX_ERROR_MSG_BYTES];

		snprintf(hint, sizeof(hint), "%s", err->msg);
		how.identity = NULL;
		how.identity_label = hint;
		r = envx_env_unlock(e, &how, err);
	} else if (r == 0) {
		char label[sizeof(ctx->identity_source) + 32];

		if (strcmp(ctx->identity_source, "$ENVX_IDENTITY") == 0) {
			snprintf(label, sizeof(label),
			         "the identity in $ENVX_IDENTITY");
		} else {
			snprintf(label, sizeof(label), "identity file '%s'",
			         ctx->identity_source);
		}
		how.identity = id;
		how.identity_label = label;
		r = envx_env_unlock(e, &how, err);
	}
	if (r == ENVX_E_LOCKED && id != NULL) {
		envx_error_append(err,
		                  " (to be granted access: run 'envx "
		                  "identity show' and send the public key to "
		                  "someone who can open '%s')",
		                  env);
	}
	if (r < 0) {
		envx_env_free(e);
		return r;
	}
	envx_ctx_agent_give(ctx, e,
	                    id == NULL || id->protected_ ||
	                            ctx->pass_env.data != NULL);
unlocked:
	if (envx_vault_schema_version(ctx->vault) < 4) {
		envx_cli_warn("warning: vault '%s' is in format %d, which "
		              "nothing signs; read because "
		              "ENVX_ACCEPT_UNSIGNED=1 (run 'envx upgrade')",
		              ctx->vault_path,
		              envx_vault_schema_version(ctx->vault));
	}
	*out = e;
	return 0;
}

int
envx_ctx_open_verified(struct envx_ctx *ctx, const char *env,
                       struct envx_env **out, bool *verified,
                       struct envx_error *err)
{
	*verified = false;
	if (envx_ctx_unlock(ctx, env, out, err) == 0) {
		*verified = true;
		return 0;
	}
	if (err->code != ENVX_E_LOCKED) {
		return err->code;
	}
	envx_cli_note(ctx,
	              "names unverified: cannot unlock environment '%s', so "
	              "its integrity was not checked",
	              env);
	return envx_env_open(ctx->vault, env, out, err);
}

int
envx_cli_read_value(const char *prompt, bool raw, struct envx_secbuf *out,
                    struct envx_error *err)
{
	unsigned char chunk[4096];
	int r;

	r = envx_secbuf_init(out, ENVX_VALUE_MAX_BYTES + 1, err);
	if (r < 0) {
		return r;
	}
	if (isatty(STDIN_FILENO)) {
		r = tty_prompt(prompt, out, err);
		goto out;
	}
	for (;;) {
		ssize_t n = read(STDIN_FILENO, chunk, sizeof(chunk));
		if (n < 0 && errno == EINTR) {
			continue;
		}
		if (n < 0) {
			r = envx_error_set(err, ENVX_E_IO,
			                   "cannot read standard input: %s",
			                   strerror(errno));
			goto out;
		}
		if (n == 0) {
			break;
		}
		r = envx_secbuf_append(out, chunk, (size_t)n, err);
		if (r < 0) {
			r = envx_error_set(err, ENVX_E_INPUT,
			                   "value is too large: the limit is "
			                   "%zu bytes",
			                   ENVX_VALUE_MAX_BYTES);
			goto out;
		}
	}
	if (!raw && out->len > 0 && out->data[out->len - 1] == '\n') {
		out->len--;
		if (out->len > 0 && out->data[out->len - 1] == '\r') {
			out->len--;
		}
	}
	if (out->len > ENVX_VALUE_MAX_BYTES) {
		r = envx_error_set(err, ENVX_E_INPUT,
		                   "value is too large: the limit is %zu bytes",
		                   ENVX_VALUE_MAX_BYTES);
	}
out:
	sodium_memzero(chunk, sizeof(chunk));
	if (r < 0) {
		envx_secbuf_release(out);
	}
	return r;
}

int
envx_emit_fd(void *ctx, const void *p, size_t n)
{
	int fd = *(int *)ctx;
	const unsigned char *b = p;

	if (fd == STDOUT_FILENO) {
		fflush(stdout);
	}
	while (n > 0) {
		ssize_t w = write(fd, b, n);
		if (w < 0 && errno == EINTR) {
			continue;
		}
		if (w <= 0) {
			return ENVX_E_IO;
		}
		b += w;
		n -= (size_t)w;
	}
	return 0;
}

#define SECOUT_BYTES (64 * 1024)

int
envx_secout_init(struct envx_secout *o, int fd, struct envx_error *err)
{
	o->fd = fd;
	o->error = 0;
	return envx_secbuf_init(&o->buf, SECOUT_BYTES, err);
}

static void
secout_flush(struct envx_secout *o)
{
	if (o->error == 0 && o->buf.len > 0) {
		o->error = envx_emit_fd(&o->fd, o->buf.data, o->buf.len);
	}
	sodium_memzero(o->buf.data, o->buf.len);
	o->buf.len = 0;
}

int
envx_secout_emit(void *ctx, const void *p, size_t n)
{
	struct envx_secout *o = ctx;
	const unsigned char *b = p;

	while (n > 0 && o->error == 0) {
		size_t room = o->buf.cap - o->buf.len;
		size_t k = n < room ? n : room;

		memcpy(o->buf.data + o->buf.len, b, k);
		o->buf.len += k;
		b += k;
		n -= k;
		if (o->buf.len == o->buf.cap) {
			secout_flush(o);
		}
	}
	return o->error;
}

int
envx_secout_finish(struct envx_secout *o)
{
	if (o->buf.data != NULL) {
		secout_flush(o);
	}
	envx_secbuf_release(&o->buf);
	return o->error;
}

int
envx_out_secret(const void *p, size_t n)
{
	int fd = STDOUT_FILENO;

	return envx_emit_fd(&fd, p, n);
}

const char *
envx_safe_text(const char *s, char *out, size_t outsz)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *p = (const unsigned char *)s;
	size_t o = 0;

	if (outsz == 0) {
		return out;
	}
	while (*p != '\0') {
		size_t n = envx_utf8_char_len(p);
		bool escape = n == 0 || p[0] < 0x20 || p[0] == 0x7f ||
		              envx_hidden_control(envx_utf8_cp(p, n));
		size_t i;

		if (escape) {
			/* one byte at a time: a C1 control is two */
			n = n == 0 ? 1 : n;
			if (o + 4 * n >= outsz) {
				break;
			}
			for (i = 0; i < n; i++) {
				out[o++] = '\\';
				out[o++] = 'x';
				out[o++] = hex[p[i] >> 4];
				out[o++] = hex[p[i] & 15];
			}
		} else {
			if (o + n >= outsz) {
				break;
			}
			memcpy(out + o, p, n);
			o += n;
		}
		p += n;
	}
	out[o] = '\0';
	return out;
}

void
envx_json_print_string(FILE *f, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;

	fputc('"', f);
	for (; *p != '\0'; p++) {
		switch (*p) {
		case '"':
			fputs("\\\"", f);
			break;
		case '\\':
			fputs("\\\\", f);
			break;
		case '\n':
			fputs("\\n", f);
			break;
		case '\r':
			fputs("\\r", f);
			break;
		case '\t':
			fputs("\\t", f);
			break;
		default:
			if (*p < 0x20 || *p == 0x7f) {
				fprintf(f, "\\u%04x", *p);
			} else if (*p >= 0x80) {
				/* invalid UTF-8 would make the document
				 * invalid: U+FFFD; hidden controls escaped */
				size_t n = envx_utf8_char_len(p);
				uint32_t cp =
				        n == 0 ? 0xfffd : envx_utf8_cp(p, n);

				if (n == 0 || envx_hidden_control(cp)) {
					fprintf(f, "\\u%04x", (unsigned)cp);
				} else {
					fwrite(p, 1, n, f);
				}
				p += (n == 0 ? 1 : n) - 1;
			} else {
				fputc(*p, f);
			}
		}
	}
	fputc('"', f);
}

void
envx_cli_unredacted_notice(const char *cmd, const struct envx_kvset *all)
{
	size_t n = 0;
	size_t len;

	for (size_t i = 0; i < all->count; i++) {
		(void)envx_kvset_value(all, i, &len);
		if (len < ENVX_REDACT_MIN_BYTES) {
			fprintf(stderr,
			        n++ == 0 ? "envx: %s: not redacting '%s'"
			                 : "%.0s, '%s'",
			        cmd, envx_kvset_name(all, i));
		}
	}
	if (n > 0) {
		fprintf(stderr,
		        ": values under %d bytes are too short to redact "
		        "safely\n",
		        ENVX_REDACT_MIN_BYTES);
	}
}
