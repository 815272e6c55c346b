/* privssl PLUGIN: dlopen()s PLUGIN with RTLD_LOCAL and runs its plugin_main(); the
 * program itself links no libssl (issue 13, case J, with tests/plugins/tlsplugin.c).
 * Exit status: plugin_main's, or 1 when the plugin cannot be loaded. */
#include <dlfcn.h>
#include <stdio.h>

int main(int argc, char **argv)
{
	if (argc != 2) {
		fputs("usage: privssl PLUGIN\n", stderr);
		return 2;
	}
	void *h = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
	int (*run)(void) = h ? (int (*)(void))dlsym(h, "plugin_main") : NULL;
	if (!run) {
		fprintf(stderr, "privssl: %s\n", dlerror());
		return 1;
	}
	int r = run();
	fflush(stdout);
	return r;
}
