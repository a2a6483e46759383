/*
 * The command-line layer: the shared context every command receives, the
 * command table, and the helpers that print errors, read values and unlock
 * environments. Only src/cli and src/cmd print or choose exit codes.
 */
#ifndef ENVX_CLI_H
#define ENVX_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "envx/error.h"
#include "envx/identity.h"
#include "envx/util.h"
#include "envx/vault.h"

struct envx_ctx {
	/* global options */
	const char *vault_opt;
	const char *identity_opt;
	const char *passphrase_file;
	bool json;
	bool quiet;
	/* state */
	const struct envx_command *cmd;
	struct envx_vault *vault;
	struct envx_identity *identity;
	bool identity_tried;
	/* passphrases cached for one run, one per purpose: a protected
	 * identity's and the one for passphrase recipients may differ */
	struct envx_secbuf pass_identity;
	struct envx_secbuf pass_env;
	char vault_path[4096];
	char identity_source[4200];
	/* VF-3.8: what the reader trusts from outside the vault */
	struct envx_trust trust;
	struct envx_anchors env_anchors; /* $ENVX_TRUST */
	char seen_path[4200];
	/* the unlock agent (envx-agent(1)): its socket, whether it is
	 * still worth asking in this run, and what it files the protected
	 * identity's public half under */
	char agent_path[108];
	int agent_state;
	unsigned char identity_digest[32];
	bool identity_digest_ok;
	/* VF-3.4: the command reads or writes named secrets only (get, set,
	 * rm, rollback): unlocking verifies the MAC root, and each name's
	 * bucket is verified when it is used */
	bool lazy_unlock;
};

/* Points the open vault at the identity (signer, own key trusted) and at
 * the trust settings: trust lines, $ENVX_TRUST, the record of verified
 * states, $ENVX_MIN_GENERATION. Called whenever either appears. */
int envx_ctx_bind_trust(struct envx_ctx *ctx, struct envx_error *err);
/* ${XDG_STATE_HOME:-$HOME/.local/state}/envx/seen into out; -1 without a
 * home. */
int envx_seen_path(char *out, size_t outsz);

enum envx_cmd_flags {
	ENVX_CMD_VAULT_RO = 1 << 0, /* opens the vault read-only first */
	ENVX_CMD_VAULT_RW = 1 << 1, /* opens the vault for writing first */
	ENVX_CMD_HIDDEN = 1 << 2,   /* not listed by help */
	ENVX_CMD_DECRYPTS = 1 << 3, /* harden the process before running */
};

/* What one option of a command does, for `envx help COMMAND`. */
struct envx_optdoc {
	const char *name; /* as in the options list: "--only" */
	const char *arg;  /* "NAME,...", or NULL for a flag */
	const char *help; /* one line */
};

struct envx_command {
	const char *name;
	int (*fn)(int argc, char **argv, struct envx_ctx *ctx);
	unsigned flags;
	const char *usage;          /* after "envx " */
	const char *summary;        /* one line */
	const char *const *options; /* long options, for completion */
	const char *const *subcommands;
	const struct envx_optdoc *docs; /* one per option, NULL-terminated */
	const char *exits;   /* the exit statuses it can return: "0 2 3" */
	const char *example; /* one command line */
};

/* The meaning of an exit status (0-10, 126, 127), one line. */
const char *envx_exit_meaning(int status);
/* Prints `envx help COMMAND`: usage, summary, options, exit statuses and an
 * example, from the table (help.c). */
void envx_cli_command_help(const struct envx_command *c);

extern const struct envx_command envx_commands[];
extern const size_t envx_ncommands;
const struct envx_command *envx_command_find(const char *name);

/*
 * Every message to stderr goes through these: "envx: " and the message with
 * control bytes escaped as envx_safe_text does (user- and vault-supplied
 * names and paths in a message cannot drive the terminal).
 */
/* Prints "envx: <printf>" to stderr. */
void envx_cli_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* The error for a refused name a read path leaves out: "envx: <what>
 * 'NAME' from ENV: <whose> can take code to run from it; ..." with the
 * `envx env allow` line. */
void envx_cli_refused_skip(const char *what, const char *env, const char *name);
/* Warns when NAME's len-byte value in ENV is too long for exec to pass
 * (envx_exec_fits): it is stored, and get and export still read it. */
void envx_cli_exec_fit_warn(const char *env, const char *name, size_t len);
/* One line on stderr naming (never showing) the values of all that are
 * too short to redact (ENVX_REDACT_MIN_BYTES), for exec --redact and
 * rotate --run. */
void envx_cli_unredacted_notice(const char *cmd, const struct envx_kvset *all);
/* Prints "envx: <msg>" to stderr and returns the exit status for err. */
int envx_cli_fail(const struct envx_error *err);
/* Prints "envx: <printf>" and returns status. */
int envx_cli_error(int status, const char *fmt, ...)
        __attribute__((format(printf, 2, 3)));
/* Prints "envx: <cmd>: <msg>" and the command's usage; returns 2. */
int envx_cli_usage(const struct envx_ctx *ctx, const char *fmt, ...)
        __attribute__((format(printf, 2, 3)));
/* The candidate nearest to word (a prefix of it, or at most two edits
 * away; one for words of four bytes or fewer), or NULL: "did you mean". */
const char *envx_cli_nearest(const char *word, const char *const *cands,
                             size_t n);
/* Prints a notice to stderr unless --quiet. */
void envx_cli_note(const struct envx_ctx *ctx, const char *fmt, ...)
        __attribute__((format(printf, 2, 3)));

/*
 * Option parsing shared by commands: a getopt_long wrapper that reports
 * unknown options and missing arguments as usage errors (returns -2 and
 * prints) and handles -h/--help (returns -1 after printing help).
 * Otherwise returns the option's val, or 0 at the end of options.
 */
struct envx_opt {
	const char *name;
	int has_arg; /* 0 none, 1 required, 2 optional (--name=VALUE) */
	int val;
};
struct envx_optstate {
	int index;
	const char *arg;
	int argc;
	char **argv;
	char **positional;
	int npositional;
};
/*
 * If argv[*index] is a global option (--vault, --identity,
 * --passphrase-file with a value; --json, -q/--quiet), records it in ctx,
 * advances *index past it and returns 1; returns 0 when it is not one, -1
 * (printed) when its value is missing.
 */
int envx_global_opt(struct envx_ctx *ctx, int argc, char **argv, int *index);
/* Whether arg is a global option that takes a separate value (--vault
 * PATH), as envx_global_opt parses them. */
bool envx_global_takes_value(const char *arg);
int envx_getopt(struct envx_ctx *ctx, struct envx_optstate *st,
                const struct envx_opt *opts);

/*
 * For commands without options of their own: parses argv (handling -h and
 * unknown options), requires min..max positional arguments (missing is the
 * message when there are too few), then opens the vault as the table flags
 * say. Returns 0 to go on, or the exit status to return now (0 after
 * --help). st->positional must be freed by the caller either way.
 */
int envx_cmd_args(struct envx_ctx *ctx, int argc, char **argv,
                  struct envx_optstate *st, int min, int max,
                  const char *missing);
/* As envx_cmd_args without opening any vault: for a command that works
 * on the files it is given (merge-driver). */
int envx_cmd_positional(struct envx_ctx *ctx, int argc, char **argv,
                        struct envx_optstate *st, int min, int max,
                        const char *missing);
/* Opens the vault as the command's table flags say (read-only or for
 * writing); call after parsing arguments. Prints and returns the exit status
 * on failure, 0 on success. */
int envx_cmd_vault(struct envx_ctx *ctx);
/* Resolves the vault path and opens it (writable or not). */
int envx_ctx_open_vault(struct envx_ctx *ctx, bool writable,
                        struct envx_error *err);
/*
 * Loads the caller's identity: --identity FILE, else $ENVX_IDENTITY (key
 * text), else $ENVX_IDENTITY_FILE, else the default path. Returns
 * ENVX_E_NOTFOUND (with a helpful message) when there is none.
 */
int envx_ctx_identity(struct envx_ctx *ctx, struct envx_identity **out,
                      struct envx_error *err);
/* The caller's identity text (as envx_ctx_identity finds it) into text,
 * a secure buffer initialized here, and what it is into source ("identity
 * file 'x'", "$ENVX_IDENTITY"). */
int envx_ctx_identity_text(struct envx_ctx *ctx, struct envx_secbuf *text,
                           char *source, size_t sourcesz,
                           struct envx_error *err);
/* Whether the user named an identity (flag or environment). */
bool envx_ctx_identity_configured(const struct envx_ctx *ctx);
/*
 * Unlocks *e with a key from the agent (src/cli/agent.c): 0 when it
 * opened and verified; 1 when it did not (no agent, no such key, a key
 * that does not match, a protected identity whose public half the agent
 * lacks, a vault opened for writing), with *e reopened if it was tried, so
 * the caller unlocks as usual; < 0 only when reopening *e failed.
 */
int envx_ctx_agent_unlock(struct envx_ctx *ctx, struct envx_env **e,
                          struct envx_kvset *values, struct envx_error *err);
/* After an unlock that cost a passphrase (by_passphrase), hands e's key,
 * and a protected identity's public half, to the agent. Never fails. */
void envx_ctx_agent_give(struct envx_ctx *ctx, const struct envx_env *e,
                         bool by_passphrase);

/*
 * The passphrase callback: --passphrase-file, else $ENVX_PASSPHRASE, else a
 * no-echo prompt on /dev/tty showing prompt, else ENVX_E_LOCKED saying how
 * to provide one. Nothing is cached: this is for new passphrases. Unlocking
 * asks through per-purpose callbacks that cache (see pass_identity,
 * pass_env).
 */
int envx_ctx_passphrase(void *ctx, const char *prompt, struct envx_secbuf *out,
                        struct envx_error *err);
/* Opens and unlocks env with the identity (if any) and passphrases. */
/* VF-5.1: the audit event of a new version of name: detail "KIND vN"
 * followed by more ("" or "; ..."). */
int envx_cli_audit_version(struct envx_ctx *ctx, const char *action,
                           const char *env, const char *name, const char *kind,
                           uint64_t version, const char *more,
                           struct envx_error *err);
/* A new passphrase (prompt names it): asked twice on a terminal so a typo
 * does not lock anything away; --passphrase-file or $ENVX_PASSPHRASE once.
 * pass is initialized here. */
int envx_cli_new_passphrase(struct envx_ctx *ctx, const char *prompt,
                            struct envx_secbuf *pass, struct envx_error *err);
/* The passphrase tried on environments' passphrase recipients (asked once
 * per run on a terminal, then reused). */
int envx_ctx_env_passphrase(void *ctx, const char *prompt,
                            struct envx_secbuf *out, struct envx_error *err);
int envx_ctx_unlock(struct envx_ctx *ctx, const char *env,
                    struct envx_env **out, struct envx_error *err);
/* For commands that work without the key (list, history): unlocks env
 * when the caller can, else opens its metadata and prints a notice that
 * the names are unverified. *verified says which. */
int envx_ctx_open_verified(struct envx_ctx *ctx, const char *env,
                           struct envx_env **out, bool *verified,
                           struct envx_error *err);
/* envx_ctx_unlock that also decrypts every current value into values (an
 * initialized, empty set; sorted by name) in the same pass as the MAC
 * check. */
int envx_ctx_unlock_all(struct envx_ctx *ctx, const char *env,
                        struct envx_env **out, struct envx_kvset *values,
                        struct envx_error *err);
/* "user@host" style label / actor text for the audit log. */
void envx_ctx_actor(struct envx_ctx *ctx, char *out, size_t outsz);

/*
 * Reads a secret value: with stdin not a terminal, all of stdin (one
 * trailing "\n" or "\r\n" removed unless raw); on a terminal, a no-echo
 * prompt. out is initialized here (capacity ENVX_VALUE_MAX_BYTES + 1).
 */
int envx_cli_read_value(const char *prompt, bool raw, struct envx_secbuf *out,
                        struct envx_error *err);

/* Writes bytes to fd 1 with write(2) after flushing stdio, so secret bytes
 * never pass through stdio's heap buffer. */
int envx_out_secret(const void *p, size_t n);
/* envx_emit_fn that writes to the fd in *(int *)ctx. */
int envx_emit_fd(void *ctx, const void *p, size_t n);

/*
 * Buffered output for secret bytes: a sodium_malloc buffer flushed with
 * write(2) to fd, so values never sit in stdio's heap buffers. Use
 * envx_secout_emit as an envx_emit_fn with the secout as its context.
 */
struct envx_secout {
	int fd;
	struct envx_secbuf buf;
	int error; /* first ENVX_E_* code, sticky */
};
int envx_secout_init(struct envx_secout *o, int fd, struct envx_error *err);
int envx_secout_emit(void *ctx, const void *p, size_t n);
/* Flushes and releases; returns the sticky error or 0. */
int envx_secout_finish(struct envx_secout *o);

/*
 * Copies s into out (outsz bytes) with every control byte (below 0x20, and
 * 0x7f), every C1 control (U+0080-U+009F, which some terminals obey as
 * ESC sequences) and every byte that is not part of valid UTF-8 written as
 * \xNN, so text read from a vault or typed by a user cannot drive the
 * terminal. Truncates to fit, never inside a character; returns out.
 */
const char *envx_safe_text(const char *s, char *out, size_t outsz);

/* Prints s as a JSON string literal (with quotes) to f. */
void envx_json_print_string(FILE *f, const char *s);

#endif
