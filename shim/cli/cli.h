/* The socktune command: shared pieces of its subcommands. */
#ifndef SOCKTUNE_CLI_H
#define SOCKTUNE_CLI_H

#include "config.h"

/* Prints a configuration problem the way the library would. */
void cli_diag(void *ctx, const char *source, int line, const char *key, const char *msg);

int cli_run(int argc, char **argv);
int cli_check(int argc, char **argv);

#endif
