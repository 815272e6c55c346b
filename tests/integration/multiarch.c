/* multiarch.c: the command as installed on the multiarch path, PREFIX/lib/TRIPLET, as
 * the Debian package lays it out: `make check` stages such a copy under build/stage,
 * the autopkgtest (`make check-installed`) uses the real one. There the command names
 * the library in LD_PRELOAD with a literal $LIB, which the loader expands for each
 * program by its own ELF class, so:
 *   - a 64-bit program that execs another hands the library on, and the child is tuned;
 *   - a 32-bit child (where `make check` could build one, gcc -m32 and a 32-bit
 *     libconfig, and the kernel runs it) loads its own 32-bit copy, with no loader
 *     error on stderr.
 *
 * SOCKTUNE_MULTIARCH_BIN is that command, SOCKTUNE_MULTIARCH_PRELOAD what it must put in
 * LD_PRELOAD, SOCKTUNE_TARGETS32 the directory of the 32-bit probe. The Makefile sets
 * them whenever the compiler has a multiarch triplet; without one the tests are skipped,
 * saying why. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "run.h"

#define MiB (1024L * 1024L)

static const char *need(const char *name)
{
	const char *v = getenv(name);
	if (!v || !*v)
		cr_skip_test("%s is not set: no multiarch layout to test (`make check` sets it "
			     "where `cc -print-multiarch` names one)", name);
	return v;
}

/* Runs the installed command on `sh -c 'exec PROGRAM ...'`: the library must survive a
 * program (sh) that execs another. */
static void run_through_exec(struct it_run *r, const char *program)
{
	const char *bin = need("SOCKTUNE_MULTIARCH_BIN");
	cr_assert_eq(access(bin, X_OK), 0, "the command %s is missing", bin);
	it_run(r, IT_LIST(bin, "--", "sh", "-c", "exec \"$0\" --family unix --print-env LD_PRELOAD",
			  program),
	       NULL, 0);
}

/* The loader complains on stderr about any LD_PRELOAD entry it cannot load, whatever
 * the reason (missing, wrong ELF class), and runs the program anyway. */
static void assert_no_loader_error(const struct it_run *r)
{
	cr_assert_null(strstr(r->err, "LD_PRELOAD"), "the loader complained:\n%s", r->err);
	cr_assert_null(strstr(r->err, "ld.so"), "the loader complained:\n%s", r->err);
}

static void assert_preload_is(const struct it_run *r, const char *want)
{
	char *got = it_field_str(r->out, "env ", "LD_PRELOAD");
	cr_assert_not_null(got, "the child did not see LD_PRELOAD:\n%s%s", r->out, r->err);
	cr_assert_str_eq(got, want, "LD_PRELOAD in the child");
	free(got);
}

Test(multiarch, the_command_preloads_by_lib_and_an_execed_child_is_tuned)
{
	const char *want = need("SOCKTUNE_MULTIARCH_PRELOAD");
	cr_assert_not_null(strstr(want, "/$LIB/"), "SOCKTUNE_MULTIARCH_PRELOAD=%s has no $LIB", want);
	struct it_run r;
	run_through_exec(&r, it_target("probe"));
	it_assert_ran(&r);
	assert_preload_is(&r, want);
	assert_no_loader_error(&r);
	/* The default for unix stream sockets: the library is loaded and working. */
	it_assert_field(&r, "client ", "sndbuf", it_expected_sndbuf(2 * MiB));
	it_run_free(&r);
}

Test(multiarch, a_32_bit_child_loads_its_own_library)
{
	const char *want = need("SOCKTUNE_MULTIARCH_PRELOAD");
	const char *dir = getenv("SOCKTUNE_TARGETS32");
	if (!dir || !*dir)
		cr_skip_test("no 32-bit probe: `make check` builds one where gcc -m32 and a "
			     "32-bit libconfig are installed (gcc-multilib, libconfig-dev:i386) "
			     "and the kernel runs 32-bit programs");
	char *probe32;
	cr_assert_geq(asprintf(&probe32, "%s/probe", dir), 0);
	cr_assert_eq(access(probe32, X_OK), 0, "the 32-bit probe %s is missing", probe32);
	struct it_run r;
	run_through_exec(&r, probe32);
	it_assert_ran(&r);
	assert_preload_is(&r, want);
	assert_no_loader_error(&r);
	it_assert_field(&r, "client ", "sndbuf", it_expected_sndbuf(2 * MiB));
	it_run_free(&r);
	free(probe32);
}
