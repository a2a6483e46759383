/*
 * One function per command, each in src/cmd/<name>.c: parse the command's
 * arguments, call the library, print, and return the exit status.
 */
#ifndef ENVX_CMD_H
#define ENVX_CMD_H

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

int cmd_access(int argc, char **argv, struct envx_ctx *ctx);
int cmd_audit(int argc, char **argv, struct envx_ctx *ctx);
int cmd_trust(int argc, char **argv, struct envx_ctx *ctx);
int cmd_upgrade(int argc, char **argv, struct envx_ctx *ctx);
int cmd_check(int argc, char **argv, struct envx_ctx *ctx);
int cmd_complete(int argc, char **argv, struct envx_ctx *ctx);
int cmd_env(int argc, char **argv, struct envx_ctx *ctx);
int cmd_refused(int argc, char **argv, struct envx_ctx *ctx);
int cmd_exec(int argc, char **argv, struct envx_ctx *ctx);
int cmd_export(int argc, char **argv, struct envx_ctx *ctx);
int cmd_get(int argc, char **argv, struct envx_ctx *ctx);
int cmd_help(int argc, char **argv, struct envx_ctx *ctx);
int cmd_history(int argc, char **argv, struct envx_ctx *ctx);
int cmd_identity(int argc, char **argv, struct envx_ctx *ctx);
int cmd_import(int argc, char **argv, struct envx_ctx *ctx);
int cmd_incident(int argc, char **argv, struct envx_ctx *ctx);
int cmd_init(int argc, char **argv, struct envx_ctx *ctx);
int cmd_list(int argc, char **argv, struct envx_ctx *ctx);
int cmd_rekey(int argc, char **argv, struct envx_ctx *ctx);
int cmd_rm(int argc, char **argv, struct envx_ctx *ctx);
int cmd_rollback(int argc, char **argv, struct envx_ctx *ctx);
int cmd_set(int argc, char **argv, struct envx_ctx *ctx);
int cmd_version(int argc, char **argv, struct envx_ctx *ctx);

#endif
