/* dlopener LIB: prints its real and effective user ids, then dlopen()s LIB.
 *
 * For tests/integration/setuid.c: the loader drops a slashed LD_PRELOAD entry
 * in a set-user-ID program, but a dlopen() by path still loads the library,
 * whose constructor reads the configuration as it would at start-up.
 *
 * Output: "ids uid=N euid=N", then "loaded=1" or the loader's error. */
#include <dlfcn.h>
#include <stdio.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	if (argc != 2) {
		fputs("usage: dlopener LIB\n", stderr);
		return 2;
	}
	printf("ids uid=%ld euid=%ld\n", (long)getuid(), (long)geteuid());
	fflush(stdout);
	if (!dlopen(argv[1], RTLD_NOW)) {
		fprintf(stderr, "dlopener: %s\n", dlerror());
		return 1;
	}
	puts("loaded=1");
	return 0;
}
