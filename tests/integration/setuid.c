/* setuid.c: a set-user-ID program reads no configuration its invoker controls,
 * neither the SOCKTUNE_* variables nor the user's files: the library asks the
 * kernel (AT_SECURE) or, where the libc has no getauxval, compares the ids
 * (`make check-portable` runs that build).
 *
 * The loader drops a slashed LD_PRELOAD entry in such a program, so the target
 * dlopen()s the library instead; its constructor reads the configuration the
 * same way. Making a program set-user-ID to another user takes root: without
 * it these tests skip.
 *
 * On glibc two things keep the files and variables out, each enough alone:
 * secure_getenv() and the library's own AT_SECURE test, which also skips
 * the user's files; without getauxval and secure_getenv (check-portable),
 * the ids test is all there is, and breaking it fails the first test. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "run.h"

#define NOBODY 65534

/* A copy of the dlopener target owned by NOBODY, set-user-ID when setuid,
 * and a configuration file with an unknown key that anyone may read. */
static const char *prepare(bool setuid, char **conf)
{
	if (geteuid() != 0)
		cr_skip_test("needs root, to make a program set-user-ID to another user");
	const char *first = getenv("SOCKTUNE_TESTPRELOAD_FIRST");
	if (first && first[0])
		cr_skip_test("a sanitizer build needs its runtime preloaded, which a set-user-ID "
			     "program refuses");
	char *copy = it_path("dlopener");
	struct it_run r;
	it_run(&r, IT_LIST("cp", it_target("dlopener"), copy), NULL, IT_INHERIT_ENV);
	it_assert_ran(&r);
	it_run_free(&r);
	cr_assert_eq(chown(copy, NOBODY, NOBODY), 0, "chown %s", copy);
	cr_assert_eq(chmod(copy, setuid ? 04755 : 0755), 0, "chmod %s", copy);
	cr_assert_eq(chmod(it_tmpdir(), 0755), 0);
	*conf = it_write_file("user.conf", "no_such_key = 1;\n");
	cr_assert_eq(chmod(*conf, 0644), 0);
	return copy;
}

static void run(struct it_run *r, const char *prog, const char *conf)
{
	char *conf_env = NULL;
	cr_assert(asprintf(&conf_env, "SOCKTUNE_CONFIG=%s", conf) > 0);
	it_run(r, IT_LIST(prog, it_lib()), IT_LIST(conf_env, "SOCKTUNE_LOG=debug"), 0);
	free(conf_env);
}

Test(setuid, the_users_file_and_variables_are_not_read)
{
	char *conf;
	const char *prog = prepare(true, &conf);
	struct it_run r;
	run(&r, prog, conf);
	if (it_field(r.out, "ids ", "uid") == it_field(r.out, "ids ", "euid"))
		cr_skip_test("the set-user-ID bit had no effect here (a nosuid mount?)");
	cr_assert_neq(strstr(r.out, "loaded=1"), NULL, "the library did not load:\n%s%s", r.out,
		      r.err);
	cr_assert_eq(strstr(r.err, "socktune["), NULL,
		     "a set-user-ID program printed socktune messages (SOCKTUNE_LOG or %s was "
		     "read):\n%s",
		     conf, r.err);
}

/* The control: the same copy without the bit reads both. */
Test(setuid, control_without_the_bit_reads_them)
{
	char *conf;
	const char *prog = prepare(false, &conf);
	struct it_run r;
	run(&r, prog, conf);
	cr_assert_neq(strstr(r.out, "loaded=1"), NULL, "the library did not load:\n%s%s", r.out,
		      r.err);
	cr_assert_neq(strstr(r.err, "no_such_key"), NULL, "%s was not read:\n%s", conf, r.err);
	cr_assert_neq(strstr(r.err, ": debug: "), NULL, "SOCKTUNE_LOG was not read:\n%s", r.err);
}
