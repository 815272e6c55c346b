/* socktune: run a command with the library preloaded, or check the
 * configuration.  This file dispatches; run.c and check.c do the work. */
#include "cli.h"

#include <stdio.h>
#include <string.h>

void cli_diag(void *ctx, const char *source, int line, const char *key, const char *msg)
{
	(void)ctx;
	if (line > 0)
		fprintf(stderr, "socktune: %s:%d: ", source, line);
	else
		fprintf(stderr, "socktune: %s: ", source);
	if (key)
		fprintf(stderr, "%s: ", key);
	fprintf(stderr, "%s\n", msg);
}

int main(int argc, char **argv)
{
	if (argc > 1 && !strcmp(argv[1], "check"))
		return cli_check(argc - 1, argv + 1);
	return cli_run(argc, argv);
}
