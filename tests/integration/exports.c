/* exports.c: the library exports its hooks and nothing else (-fvisibility=hidden and a
 * version script ending in `local: *;`). fork is not hooked: pthread_atfork does that
 * job without interposing on a function that must stay async-signal-safe. */
#include <criterion/criterion.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "run.h"

/* Every hook of shim/hooks.def, those the C library lacks too (the tests that
 * need them all are left out where it does). */
static const char *const hooks[] = {
#define CALL(name, ret, params, probe, role) #name,
#define LIST(name, probe, role) #name,
#define TLS(name, field, ret, params) #name,
#include "hooks.def"
};
#define N_HOOKS (sizeof hooks / sizeof hooks[0])

static bool is_hook(const char *name)
{
	for (size_t i = 0; i < N_HOOKS; i++)
		if (!strcmp(name, hooks[i]))
			return true;
	return false;
}

/* Defined dynamic symbols other than type A (version nodes), "@..." suffixes cut, one
 * name per line, as a malloc'd string. */
static char *defined_symbols(void)
{
	if (!it_have("nm"))
		cr_skip_test("nm is not installed");
	struct it_run r;
	it_run(&r, IT_LIST("nm", "-D", "--defined-only", it_lib()), NULL, IT_INHERIT_ENV);
	it_assert_ran(&r);
	size_t cap = strlen(r.out) + 1, len = 0;
	char *names = malloc(cap);
	cr_assert_not_null(names);
	names[0] = 0;
	for (char *save, *line = strtok_r(r.out, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char addr[64], type[8], name[256];
		if (sscanf(line, "%63s %7s %255s", addr, type, name) != 3)
			continue;
		if (!strcmp(type, "A"))
			continue;
		name[strcspn(name, "@")] = 0;
		len += (size_t)snprintf(names + len, cap - len, "%s\n", name);
	}
	it_run_free(&r);
	return names;
}

static bool listed(const char *names, const char *name)
{
	size_t n = strlen(name);
	for (const char *p = names; (p = strstr(p, name)); p += n)
		if ((p == names || p[-1] == '\n') && p[n] == '\n')
			return true;
	return false;
}

Test(exports, only_hooks_are_exported)
{
	char *names = defined_symbols();
	char *copy = strdup(names);
	for (char *save, *name = strtok_r(copy, "\n", &save); name; name = strtok_r(NULL, "\n", &save))
		cr_expect(is_hook(name), "exported symbol that is not a hook: %s", name);
	free(copy);
	free(names);
}

Test(exports, every_hook_is_exported)
{
	char *names = defined_symbols();
	for (size_t i = 0; i < N_HOOKS; i++)
		cr_expect(listed(names, hooks[i]), "hook not exported: %s\n--- exported:\n%s", hooks[i], names);
	free(names);
}

/* The calls `socktune check` says the C library lacks (shim/probe.sh), one
 * name per line as a malloc'd string: "" when it says every one is there. */
static char *unhooked_by_check(void)
{
	struct it_run r;
	it_run(&r, IT_LIST(it_bin(), "check"), NULL, 0);
	it_assert_ran(&r);
	const char *every = "hooked: every call socktune hooks is in the C library\n";
	const char *lacks = "not hooked, as the C library lacks them:";
	const char *line = strstr(r.out, lacks);
	cr_assert((line != NULL) != (strstr(r.out, every) != NULL),
		  "check says neither or both of \"%s\" and \"%s\":\n%s", lacks, every, r.out);
	char *names = calloc(1, strlen(r.out) + 1);
	cr_assert_not_null(names);
	if (line) {
		char *copy = strndup(line + strlen(lacks), strcspn(line + strlen(lacks), "\n"));
		for (char *save, *n = strtok_r(copy, " ", &save); n; n = strtok_r(NULL, " ", &save))
			strcat(strcat(names, n), "\n");
		free(copy);
	}
	it_run_free(&r);
	return names;
}

/* What the command reports is what the library does: a call it names as
 * missing has no hook, and every other hook is exported.  Holds for a build
 * on any libc, where every_hook_is_exported holds only for glibc's. */
Test(exports, check_names_exactly_the_hooks_left_out)
{
	char *names = defined_symbols();
	char *missing = unhooked_by_check();
	for (size_t i = 0; i < N_HOOKS; i++) {
		if (listed(missing, hooks[i]))
			cr_expect(!listed(names, hooks[i]), "check says %s is not hooked, but it is exported",
				  hooks[i]);
		else
			cr_expect(listed(names, hooks[i]), "hook not exported, and check does not say so: %s",
				  hooks[i]);
	}
	free(missing);
	free(names);
}

Test(exports, fork_is_not_hooked)
{
	char *names = defined_symbols();
	cr_assert(!listed(names, "fork"), "fork is exported");
	cr_assert(!listed(names, "vfork"), "vfork is exported");
	free(names);
}

/* TLS merging finds libssl at run time, in the program that already has it:
 * the library must not depend on it, or every program would load OpenSSL. */
Test(exports, libssl_is_not_a_dependency)
{
	if (!it_have("readelf"))
		cr_skip_test("readelf is not installed");
	struct it_run r;
	it_run(&r, IT_LIST("readelf", "-d", it_lib()), NULL, IT_INHERIT_ENV);
	it_assert_ran(&r);
	cr_assert(strstr(r.out, "(NEEDED)"), "readelf shows no NEEDED entry at all:\n%s", r.out);
	cr_assert_null(strstr(r.out, "libssl"), "the library needs libssl:\n%s", r.out);
	cr_assert_null(strstr(r.out, "libcrypto"), "the library needs libcrypto:\n%s", r.out);
	it_run_free(&r);
}

Test(exports, a_program_without_openssl_does_not_load_it)
{
	struct it_run r;
	it_run(&r, IT_LIST("/bin/cat", "/proc/self/maps"), NULL, IT_PRELOAD);
	it_assert_ran(&r);
	cr_assert(strstr(r.out, "libsocktune"), "the library was not loaded:\n%s", r.out);
	cr_assert_null(strstr(r.out, "libssl"), "libssl was loaded into cat:\n%s", r.out);
	it_run_free(&r);
}
