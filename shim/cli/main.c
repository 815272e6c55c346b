/* socktune: run a command with the library preloaded, check the
 * configuration, or run an A/B experiment.  This file dispatches; run.c,
 * check.c and ab.c do the work. */
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
	cli_profile_dir_setup();
	if (argc > 1 && !strcmp(argv[1], "check"))
		return cli_check(argc - 1, argv + 1);
	if (argc > 1 && !strcmp(argv[1], "ab"))
		return cli_ab(argc - 1, argv + 1);
	if (argc > 1 && !strcmp(argv[1], "sweep"))
		return cli_sweep(argc - 1, argv + 1);
	if (argc > 1 && !strcmp(argv[1], "stats"))
		return cli_stats(argc - 1, argv + 1);
	return cli_run(argc, argv);
}
