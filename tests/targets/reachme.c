/* reachme: the program of the reach tests (tests/integration/reach.c), built
 * as it is and, by tests/integration/reach.mk, statically, with musl, 32-bit,
 * linked against GnuTLS and marked as Go: the ways socktune cannot reach a
 * program.  It prints "reachme: WORD" and exits with STATUS, so that a test
 * can tell that it ran, under socktune, exactly as it runs without it.
 *
 * usage: reachme WORD STATUS */
#include <stdio.h>
#include <stdlib.h>

#ifdef REACHME_GNUTLS
#include <gnutls/gnutls.h>
#endif

int main(int argc, char **argv)
{
#ifdef REACHME_GNUTLS
	/* A real call, so the link keeps libgnutls in DT_NEEDED. */
	if (!gnutls_check_version(NULL))
		return 99;
#endif
	printf("reachme: %s\n", argc > 1 ? argv[1] : "");
	return argc > 2 ? atoi(argv[2]) : 0;
}
