/*
 * One function per command, each in src/cmd/<name>.c: parse the command's
 * arguments, call the library, print, and return the exit status.
 */
#ifndef ENVX_CMD_H
#define ENVX_CMD_H

struct envx_ctx;

int cmd_complete(int argc, char **argv, struct envx_ctx *ctx);
int cmd_env(int argc, char **argv, struct envx_ctx *ctx);
int cmd_get(int argc, char **argv, struct envx_ctx *ctx);
int cmd_help(int argc, char **argv, struct envx_ctx *ctx);
int cmd_history(int argc, char **argv, struct envx_ctx *ctx);
int cmd_identity(int argc, char **argv, struct envx_ctx *ctx);
int cmd_init(int argc, char **argv, struct envx_ctx *ctx);
int cmd_list(int argc, char **argv, struct envx_ctx *ctx);
int cmd_rm(int argc, char **argv, struct envx_ctx *ctx);
int cmd_rollback(int argc, char **argv, struct envx_ctx *ctx);
int cmd_set(int argc, char **argv, struct envx_ctx *ctx);
int cmd_version(int argc, char **argv, struct envx_ctx *ctx);

#endif
