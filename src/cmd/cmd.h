/*
 * One function per command, each in src/cmd/<name>.c: parse the command's
 * arguments, call the library, print, and return the exit status.
 */
#ifndef ENVX_CMD_H
#define ENVX_CMD_H

#include <stdbool.h>
#include <stddef.h>

struct envx_ctx;
struct envx_env;
struct envx_kvset;
struct envx_template;

/*
 * The check `exec --template` runs before starting anything: loads the
 * template, checks e (with its decrypted values) against it, prints the
 * findings and returns 1 on any error; else 0 with the template in *out
 * (free with envx_template_free). Other failures print and return their
 * exit status.
 */
int envx_check_gate(struct envx_ctx *ctx, const char *template_path,
                    struct envx_env *e, const struct envx_kvset *values,
                    struct envx_template **out);

/*
 * The new value of `set` and `rotate` (value.c). Commands put
 * ENVX_VALUE_OPTS in their option table, pass every option to
 * envx_value_option, then call envx_value_args and envx_value_read.
 */
enum {
	ENVX_VALUE_OPT_GENERATE = 100,
	ENVX_VALUE_OPT_CHARSET,
	ENVX_VALUE_OPT_RAW,
	ENVX_VALUE_OPT_EMPTY,
};
#define ENVX_VALUE_OPTS                                                        \
	{"--generate", 2, ENVX_VALUE_OPT_GENERATE},                            \
	        {"--charset", 1, ENVX_VALUE_OPT_CHARSET},                      \
	        {"--raw", 0, ENVX_VALUE_OPT_RAW},                              \
	{                                                                      \
		"--allow-empty", 0, ENVX_VALUE_OPT_EMPTY                       \
	}
struct envx_value_src {
	bool generate;
	size_t genlen;
	int charset; /* enum envx_charset */
	bool charset_given;
	bool raw;
	bool allow_empty;
};
struct envx_optstate;
struct envx_secbuf;
/* Records option o if it is a value option: returns 1 when it was, 0 when
 * it is not one, 2 after printing a usage error. */
int envx_value_option(struct envx_ctx *ctx, int o, const char *arg,
                      struct envx_value_src *src);
/* After the options: the combinations are sensible, the positional
 * arguments are ENV and a valid NAME (into *env, *name, borrowed from
 * st), and the vault is open as the command's flags say. 0, or the exit
 * status after printing. */
int envx_value_args(struct envx_ctx *ctx, const struct envx_value_src *src,
                    const struct envx_optstate *st, const char **env,
                    const char **name);
/* Generates, or reads from standard input or the prompt, the value of
 * NAME in ENV into out (release with envx_secbuf_release), refusing an
 * empty one without --allow-empty; cmd ("set", "rotate") is for messages.
 * 0, or the exit status after printing. */
int envx_value_read(const char *cmd, const char *env, const char *name,
                    const struct envx_value_src *src, struct envx_secbuf *out);

/*
 * What exec does about compromised secrets among those it injects (names
 * in inject): warns on stderr, names only; with refuse, returns 1 after
 * saying nothing was run. 0 otherwise, or the exit status of a failure.
 */
int envx_compromised_gate(struct envx_env *e, const struct envx_kvset *inject,
                          bool refuse);

int cmd_agent(int argc, char **argv, struct envx_ctx *ctx);
int cmd_access(int argc, char **argv, struct envx_ctx *ctx);
int cmd_audit(int argc, char **argv, struct envx_ctx *ctx);
int cmd_sync(int argc, char **argv, struct envx_ctx *ctx);
int cmd_trust(int argc, char **argv, struct envx_ctx *ctx);
int cmd_upgrade(int argc, char **argv, struct envx_ctx *ctx);
int cmd_check(int argc, char **argv, struct envx_ctx *ctx);
int cmd_complete(int argc, char **argv, struct envx_ctx *ctx);
int cmd_diff(int argc, char **argv, struct envx_ctx *ctx);
int cmd_env(int argc, char **argv, struct envx_ctx *ctx);
int cmd_refused(int argc, char **argv, struct envx_ctx *ctx);
int cmd_exec(int argc, char **argv, struct envx_ctx *ctx);
int cmd_export(int argc, char **argv, struct envx_ctx *ctx);
int cmd_get(int argc, char **argv, struct envx_ctx *ctx);
int cmd_git(int argc, char **argv, struct envx_ctx *ctx);
int cmd_help(int argc, char **argv, struct envx_ctx *ctx);
int cmd_history(int argc, char **argv, struct envx_ctx *ctx);
int cmd_identity(int argc, char **argv, struct envx_ctx *ctx);
int cmd_import(int argc, char **argv, struct envx_ctx *ctx);
int cmd_incident(int argc, char **argv, struct envx_ctx *ctx);
int cmd_init(int argc, char **argv, struct envx_ctx *ctx);
int cmd_list(int argc, char **argv, struct envx_ctx *ctx);
int cmd_merge_driver(int argc, char **argv, struct envx_ctx *ctx);
int cmd_rekey(int argc, char **argv, struct envx_ctx *ctx);
int cmd_rm(int argc, char **argv, struct envx_ctx *ctx);
int cmd_rollback(int argc, char **argv, struct envx_ctx *ctx);
int cmd_rotate(int argc, char **argv, struct envx_ctx *ctx);
int cmd_rotation(int argc, char **argv, struct envx_ctx *ctx);
int cmd_scan(int argc, char **argv, struct envx_ctx *ctx);
int cmd_set(int argc, char **argv, struct envx_ctx *ctx);
int cmd_version(int argc, char **argv, struct envx_ctx *ctx);

#endif
