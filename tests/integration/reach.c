/* reach.c: `socktune -- PROG` says on stderr, before PROG runs, why socktune cannot
 * reach PROG, and runs it all the same: its output and exit status are those it has
 * without socktune. `socktune check PROG` shows what it found and says "reachable"
 * when nothing stops the library, exiting 3 when PROG is not reached and 4 when it is
 * partly reached. The programs are the reachme target built each way socktune cannot
 * reach (tests/integration/reach.mk); a test whose program could not be built here
 * skips, saying why. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "run.h"

#define NOBODY 65534

/* build/targets/reach/NAME, or a skip naming what building it needs. */
static const char *variant(const char *name, const char *needs)
{
	char *rel;
	cr_assert_geq(asprintf(&rel, "reach/%s", name), 0);
	const char *path = it_target(rel);
	free(rel);
	if (access(path, X_OK) != 0)
		cr_skip_test("%s was not built: it needs %s (tests/integration/reach.mk)", path,
			     needs);
	return path;
}

/* Runs PROG WORD 7 without socktune and under `socktune --`, asserts that it ran the
 * same way both times (its output and its status), and that socktune said `verdict`
 * and each of the `reasons` about it on stderr. */
static void assert_named_and_ran(const char *prog, const char *verdict,
				 const char *const reasons[])
{
	struct it_run base, r;
	it_run(&base, IT_LIST(prog, "word", "7"), NULL, 0);
	cr_assert_eq(base.status, 7, "%s without socktune: exit %d\n%s%s", prog, base.status,
		     base.out, base.err);
	it_socktune(&r, NULL, IT_LIST("--", prog, "word", "7"));
	cr_assert_eq(r.status, 7, "under socktune: exit %d, not the program's 7\n--- stdout:\n%s"
		     "--- stderr:\n%s", r.status, r.out, r.err);
	cr_assert_str_eq(r.out, base.out, "the program's output changed under socktune\n"
			 "--- stderr:\n%s", r.err);
	char *line;
	cr_assert_geq(asprintf(&line, "socktune: %s: %s: ", prog, verdict), 0);
	cr_assert_not_null(strstr(r.err, line), "no \"%s\" line:\n%s", line, r.err);
	for (size_t i = 0; reasons[i]; i++)
		cr_assert_not_null(strstr(r.err, reasons[i]), "the message does not say \"%s\":\n%s",
				   reasons[i], r.err);
	free(line);
	it_run_free(&r);
	it_run_free(&base);
}

/* `socktune check PROG`: its exit status, and its output in r. */
static void check(struct it_run *r, const char *prog, int want)
{
	it_socktune(r, NULL, IT_LIST("check", prog));
	cr_assert_eq(r->status, want, "check %s: exit %d, want %d\n--- stdout:\n%s--- stderr:\n%s",
		     prog, r->status, want, r->out, r->err);
}

Test(reach, a_dynamic_program_gets_no_message)
{
	struct it_run base, r;
	const char *prog = it_target("reachme");
	it_run(&base, IT_LIST(prog, "word", "7"), NULL, 0);
	it_socktune(&r, NULL, IT_LIST("--", prog, "word", "7"));
	cr_assert_eq(r.status, 7, "exit %d\n%s%s", r.status, r.out, r.err);
	cr_assert_str_eq(r.out, base.out);
	cr_assert_str_empty(r.err, "socktune said something about a program it reaches:\n%s", r.err);
	it_run_free(&r);
	it_run_free(&base);
}

Test(reach, check_says_a_dynamic_program_is_reachable)
{
	struct it_run r;
	const char *prog = it_target("reachme");
	check(&r, prog, 0);
	cr_assert_not_null(strstr(r.out, "reachable: "), "no verdict:\n%s", r.out);
	cr_assert_not_null(strstr(r.out, "dynamically linked, loader "), "what it read is not shown:\n%s",
			   r.out);
	cr_assert_null(strstr(r.out, "not reached"), "%s", r.out);
	it_run_free(&r);
}

Test(reach, a_static_program_is_named_and_still_runs)
{
	assert_named_and_ran(variant("static", "gcc -static and libc.a (libc6-dev)"), "not reached",
			     IT_LIST("statically linked", "PT_INTERP"));
}

Test(reach, a_static_pie_program_is_static_too)
{
	assert_named_and_ran(variant("static-pie", "gcc -static-pie"), "not reached",
			     IT_LIST("statically linked", "static-pie"));
}

Test(reach, check_exits_3_for_a_static_program)
{
	struct it_run r;
	check(&r, variant("static", "gcc -static and libc.a (libc6-dev)"), 3);
	cr_assert_not_null(strstr(r.out, "not reached: statically linked"), "%s", r.out);
	it_run_free(&r);
}

/* A script is judged by the program its #! line names, as the kernel runs that. */
Test(reach, a_script_is_judged_by_its_interpreter)
{
	const char *stat = variant("static", "gcc -static and libc.a (libc6-dev)");
	char *text;
	cr_assert_geq(asprintf(&text, "#!%s\n", stat), 0);
	char *script = it_write_file("script", text);
	cr_assert_eq(chmod(script, 0755), 0);
	struct it_run base, r;
	it_run(&base, IT_LIST(script), NULL, 0);
	it_socktune(&r, NULL, IT_LIST("--", script));
	cr_assert_eq(r.status, base.status, "exit %d, not %d\n%s", r.status, base.status, r.err);
	cr_assert_str_eq(r.out, base.out);
	cr_assert_not_null(strstr(r.err, "not reached: statically linked"), "%s", r.err);
	it_run_free(&r);
	check(&r, script, 3);
	cr_assert_not_null(strstr(r.out, "a #! script, run by"), "the interpreter is not shown:\n%s",
			   r.out);
	it_run_free(&r);
	it_run_free(&base);
	free(script);
	free(text);
}

Test(reach, a_go_buildinfo_section_is_named_and_the_program_still_runs)
{
	assert_named_and_ran(variant("fakego", "objcopy (binutils)"), "not reached",
			     IT_LIST("a Go program", ".go.buildinfo", "raw system calls"));
}

Test(reach, a_real_go_program_is_named_and_still_runs)
{
	assert_named_and_ran(variant("go", "the Go toolchain (golang)"), "not reached",
			     IT_LIST("a Go program", "raw system calls"));
}

/* The copy of reachme at PATH in the test's directory, owned by uid:gid with MODE. */
static char *owned_copy(uid_t uid, gid_t gid, mode_t mode)
{
	if (geteuid() != 0)
		cr_skip_test("needs root, to make a program set-user-ID to another user");
	char *copy = it_path("reachme");
	struct it_run r;
	it_run(&r, IT_LIST("cp", it_target("reachme"), copy), NULL, IT_INHERIT_ENV);
	it_assert_ran(&r);
	it_run_free(&r);
	cr_assert_eq(chown(copy, uid, gid), 0, "chown %s", copy);
	cr_assert_eq(chmod(copy, mode), 0, "chmod %s", copy);
	cr_assert_eq(chmod(it_tmpdir(), 0755), 0);
	struct statvfs fs;
	if (statvfs(copy, &fs) == 0 && (fs.f_flag & ST_NOSUID))
		cr_skip_test("%s is on a nosuid file system: the bit would have no effect", copy);
	return copy;
}

Test(reach, a_setuid_program_is_named_and_still_runs)
{
	char *prog = owned_copy(NOBODY, 0, 04755);
	assert_named_and_ran(prog, "not reached",
			     IT_LIST("set-user-ID to uid 65534", "secure-execution mode", "AT_SECURE"));
	free(prog);
}

Test(reach, a_setgid_program_is_named_and_still_runs)
{
	char *prog = owned_copy(0, NOBODY, 02755);
	assert_named_and_ran(prog, "not reached",
			     IT_LIST("set-group-ID to gid 65534", "secure-execution mode"));
	free(prog);
}

/* Root running a set-user-ID-root program changes no id: no secure mode, and no
 * message. */
Test(reach, a_setuid_program_of_ones_own_id_is_reached)
{
	char *prog = owned_copy(0, 0, 04755);
	struct it_run r;
	it_socktune(&r, NULL, IT_LIST("--", prog, "word", "7"));
	cr_assert_eq(r.status, 7, "exit %d\n%s%s", r.status, r.out, r.err);
	cr_assert_str_empty(r.err, "%s", r.err);
	it_run_free(&r);
	check(&r, prog, 0);
	cr_assert_not_null(strstr(r.out, "reachable: "), "%s", r.out);
	it_run_free(&r);
	free(prog);
}

/* The musl loader would not start the program with a glibc library in LD_PRELOAD
 * (exit 127): the run leaves it out, so the program runs as without socktune. */
Test(reach, a_musl_program_is_named_and_still_runs)
{
	const char *prog = variant("musl", "musl-gcc (musl-tools)");
	struct it_run r;
	if (!it_have("readelf"))
		cr_skip_test("no readelf (binutils), to see what the library was built for");
	it_run(&r, IT_LIST("readelf", "-d", it_lib()), NULL, IT_INHERIT_ENV);
	bool glibc = strstr(r.out, "[libc.so.6]") != NULL;
	it_run_free(&r);
	if (!glibc)
		cr_skip_test("the library under test is not a glibc build");
	assert_named_and_ran(prog, "not reached",
			     IT_LIST("built for musl", "the library for glibc", "without the library"));
}

Test(reach, another_elf_class_is_named_and_still_runs)
{
	const char *prog = variant("m32", "gcc -m32 (gcc-multilib) and a kernel that runs it");
	struct it_run r;
	it_socktune(&r, NULL, IT_LIST("check", prog));
	bool by_lib = strstr(r.out, "$LIB") != NULL;
	it_run_free(&r);
	if (by_lib)
		cr_skip_test("the library goes into LD_PRELOAD by $LIB, and the loader picks the "
			     "32-bit copy (tests/integration/multiarch.c)");
	assert_named_and_ran(prog, "not reached",
			     IT_LIST("32-bit program", "64-bit", "wrong ELF class"));
}

Test(reach, a_gnutls_program_is_partly_reached_and_still_runs)
{
	assert_named_and_ran(variant("gnutls", "GnuTLS's headers (libgnutls28-dev)"), "partly reached",
			     IT_LIST("GnuTLS (libgnutls.so.", "does not merge",
				     "socket buffers are still tuned"));
}

Test(reach, check_exits_4_for_a_partly_reached_program)
{
	struct it_run r;
	check(&r, variant("gnutls", "GnuTLS's headers (libgnutls28-dev)"), 4);
	cr_assert_not_null(strstr(r.out, "partly reached: it links GnuTLS"), "%s", r.out);
	it_run_free(&r);
}

Test(reach, check_exits_127_for_a_missing_program)
{
	struct it_run r;
	check(&r, "socktune-no-such-program", 127);
	cr_assert_not_null(strstr(r.out, "not found"), "%s", r.out);
	it_run_free(&r);
}
