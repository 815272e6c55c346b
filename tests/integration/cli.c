/* cli.c: the socktune command: it runs a program with the library prepended to
 * LD_PRELOAD and its options turned into the environment, validates values before
 * exec (exit 2), passes the program's exit status through (127/126 when it cannot
 * run it), and `socktune check` validates a configuration. The command itself is run
 * without LD_PRELOAD: setting it is its job. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "run.h"

#define MiB (1024L * 1024L)

Test(cli, option_sndbuf_tunes_the_program)
{
	struct it_run r;
	it_socktune(&r, NULL, IT_LIST("-o", "sndbuf=1M", "--", it_target("probe"), "--family", "inet"));
	it_assert_ran(&r);
	it_assert_field(&r, "client ", "sndbuf", it_expected_sndbuf(MiB));
	it_assert_field(&r, "server ", "sndbuf", it_expected_sndbuf(MiB));
	it_run_free(&r);
}

Test(cli, command_without_options_applies_the_defaults)
{
	struct it_run r;
	it_socktune(&r, NULL, IT_LIST(it_target("probe"), "--family", "unix"));
	it_assert_ran(&r);
	it_assert_field(&r, "client ", "sndbuf", it_expected_sndbuf(2 * MiB));
	it_run_free(&r);
}

Test(cli, options_rcvbuf_nodelay_and_force)
{
	struct it_run r;
	it_socktune(&r, NULL,
		 IT_LIST("-o", "sndbuf=1M", "-o", "rcvbuf=512K", "-o", "nodelay=on", "-o", "force=on", "--",
			 it_target("probe"), "--family", "inet", "--user-sndbuf", "65536"));
	it_assert_ran(&r);
	it_assert_field(&r, "client ", "sndbuf", it_expected_sndbuf(MiB));
	it_assert_field(&r, "client ", "rcvbuf", it_expected_rcvbuf(512 * 1024L));
	it_assert_field(&r, "client ", "nodelay", 1);
	it_run_free(&r);
}

static const char *ld_preload_of(const struct it_run *r)
{
	const char *v = strstr(r->out, "env LD_PRELOAD=");
	cr_assert_not_null(v, "the program did not see LD_PRELOAD:\n%s%s", r->out, r->err);
	return v + strlen("env LD_PRELOAD=");
}

Test(cli, prepends_the_library_to_an_existing_ld_preload)
{
	struct it_run r;
	it_socktune(&r, IT_LIST("LD_PRELOAD=/nonexistent/old-preload.so"),
		 IT_LIST("--", it_target("probe"), "--print-env", "LD_PRELOAD"));
	it_assert_ran(&r);
	const char *v = ld_preload_of(&r);
	size_t first = strcspn(v, ": \n");
	char *lib = strndup(v, first);
	cr_assert_not_null(strstr(lib, "libsocktune.so"), "LD_PRELOAD does not start with the library: %s", v);
	const char *eol = strchr(v, '\n');
	size_t len = eol ? (size_t)(eol - v) : strlen(v);
	const char *old = ":/nonexistent/old-preload.so";
	size_t olen = strlen(old);
	cr_assert(len > olen && (v[len - olen] == ':' || v[len - olen] == ' ') &&
			  strncmp(v + len - olen + 1, old + 1, olen - 1) == 0,
		  "LD_PRELOAD does not end with the old value: %.*s", (int)len, v);
	/* And the program really is tuned. */
	it_assert_field(&r, "client ", "sndbuf", it_expected_sndbuf(2 * MiB));
	free(lib);
	it_run_free(&r);
}

Test(cli, sets_ld_preload_to_the_library_alone)
{
	struct it_run r;
	it_socktune(&r, NULL, IT_LIST("--", it_target("probe"), "--print-env", "LD_PRELOAD"));
	it_assert_ran(&r);
	const char *v = ld_preload_of(&r);
	size_t len = strcspn(v, "\n");
	cr_assert_eq(strcspn(v, ": \n"), len, "more than the library in LD_PRELOAD: %.*s", (int)len, v);
	cr_assert_not_null(strstr(v, "libsocktune.so"), "LD_PRELOAD: %.*s", (int)len, v);
	it_run_free(&r);
}

Test(cli, off_flag_leaves_the_program_alone)
{
	struct it_run base, r;
	it_probe(&base, 0, NULL, IT_EMPTY);
	it_assert_ran(&base);
	it_socktune(&r, NULL, IT_LIST("--off", "--", it_target("probe")));
	it_assert_ran(&r);
	it_assert_untouched(&r, &base, "client ", "sndbuf");
	it_run_free(&r);
	it_socktune(&r, NULL, IT_LIST("-o", "mode=off", "--", it_target("probe")));
	it_assert_ran(&r);
	it_assert_untouched(&r, &base, "client ", "sndbuf");
	it_run_free(&r);
	it_run_free(&base);
}

Test(cli, observe_and_stats_flags_write_an_observe_record)
{
	char *dest = it_path("cli.%p.json");
	struct it_run r;
	it_socktune(&r, NULL, IT_LIST("--observe", "--stats", dest, "--", it_target("probe")));
	it_assert_ran(&r);
	char *path, *why;
	cr_assert_geq(asprintf(&path, "%s/cli.%ld.json", it_tmpdir(), it_field(r.out, "pid", "pid")), 0);
	char *flat = it_stats_flat(path, &why);
	cr_assert_not_null(flat, "no observe record: %s", why);
	cr_assert_not_null(strstr(flat, "mode=observe\n"), "%s", flat);
	cr_assert_eq(it_stat(flat, "sockets.tuned"), 0, "%s", flat);
	free(flat);
	free(path);
	free(dest);
	it_run_free(&r);
}

Test(cli, log_flag_sets_the_level)
{
	struct it_run r;
	it_socktune(&r, NULL, IT_LIST("--log", "debug", "--", it_target("probe")));
	it_assert_ran(&r);
	cr_assert_not_null(strstr(r.err, "]: debug: "), "no debug line:\n%s", r.err);
	it_run_free(&r);
}

Test(cli, config_flag_reads_the_file)
{
	char *conf = it_write_file("cli.conf", "rules = ( { family = \"inet\"; sndbuf = \"1M\"; } );\n");
	struct it_run r;
	it_socktune(&r, NULL, IT_LIST("-c", conf, "--", it_target("probe"), "--family", "inet"));
	it_assert_ran(&r);
	it_assert_field(&r, "client ", "sndbuf", it_expected_sndbuf(MiB));
	it_run_free(&r);
	free(conf);
}

Test(cli, bad_option_value_exits_2_before_running)
{
	struct it_run r;
	char *marker = it_path("ran");
	it_socktune(&r, NULL, IT_LIST("-o", "sndbuf=bogus", "--", "touch", marker));
	cr_assert_eq(r.status, 2, "exit %d, stderr:\n%s", r.status, r.err);
	cr_assert_not_null(strstr(r.err, "sndbuf"), "message does not name the key:\n%s", r.err);
	struct stat st;
	cr_assert_neq(stat(marker, &st), 0, "the program ran despite the bad value");
	it_run_free(&r);
	free(marker);
}

Test(cli, usage_errors_exit_2)
{
	const char *const *const cases[] = {
		IT_LIST("-o", "colour=red", "--", "true"),
		IT_LIST("-o", "nodelay", "--", "true"),
		IT_LIST("-o", "nodelay=perhaps", "--", "true"),
		IT_LIST("--log", "loud", "--", "true"),
		IT_LIST("--no-such-flag", "--", "true"),
		IT_LIST("-o", "sndbuf=2G", "--", "true"),
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct it_run r;
		it_socktune(&r, NULL, cases[i]);
		cr_assert_eq(r.status, 2, "case %zu (%s %s): exit %d, stderr:\n%s", i, cases[i][0], cases[i][1],
			     r.status, r.err);
		cr_assert_str_not_empty(r.err, "case %zu gave no message", i);
		it_run_free(&r);
	}
}

Test(cli, exit_status_is_the_programs)
{
	struct it_run r;
	it_socktune(&r, NULL, IT_LIST("--", "sh", "-c", "exit 7"));
	cr_assert_eq(r.status, 7, "exit %d, stderr:\n%s", r.status, r.err);
	it_run_free(&r);
	it_socktune(&r, NULL, IT_LIST("true"));
	cr_assert_eq(r.status, 0, "exit %d, stderr:\n%s", r.status, r.err);
	it_run_free(&r);
}

Test(cli, missing_program_exits_127)
{
	struct it_run r;
	it_socktune(&r, NULL, IT_LIST("--", "socktune-no-such-program"));
	cr_assert_eq(r.status, 127, "exit %d, stderr:\n%s", r.status, r.err);
	it_run_free(&r);
	it_socktune(&r, NULL, IT_LIST("--", "/nonexistent/program"));
	cr_assert_eq(r.status, 127, "exit %d, stderr:\n%s", r.status, r.err);
	it_run_free(&r);
}

Test(cli, unexecutable_program_exits_126)
{
	char *path = it_write_file("not-executable", "#!/bin/sh\nexit 0\n");
	cr_assert_eq(chmod(path, 0644), 0);
	struct it_run r;
	it_socktune(&r, NULL, IT_LIST("--", path));
	cr_assert_eq(r.status, 126, "exit %d, stderr:\n%s", r.status, r.err);
	it_run_free(&r);
	free(path);
}

Test(cli, check_accepts_a_good_file_and_shows_its_rules)
{
	char *conf = it_write_file("good.conf", "rules = ( { name = \"nbd-fast\"; family = \"unix\"; sndbuf = \"2M\"; } );\n");
	struct it_run r;
	it_socktune(&r, NULL, IT_LIST("check", "-c", conf));
	cr_assert_eq(r.status, 0, "exit %d\n--- stdout:\n%s--- stderr:\n%s", r.status, r.out, r.err);
	cr_assert_not_null(strstr(r.out, "nbd-fast"), "the rule is not shown:\n%s", r.out);
	cr_assert_not_null(strstr(r.out, "wmem_max"), "kernel limits are not shown:\n%s", r.out);
	it_run_free(&r);
	free(conf);
}

Test(cli, check_rejects_a_bad_file)
{
	char *conf = it_write_file("bad.conf", "defaults = { sndbuf = \"lots\"; };\n");
	struct it_run r;
	it_socktune(&r, NULL, IT_LIST("check", "-c", conf));
	cr_assert_eq(r.status, 1, "exit %d\n--- stdout:\n%s--- stderr:\n%s", r.status, r.out, r.err);
	cr_assert(strstr(r.err, conf) || strstr(r.out, conf), "the file is not named:\n%s%s", r.out, r.err);
	it_run_free(&r);
	free(conf);
	conf = it_write_file("syntax.conf", "defaults = { sndbuf = ;\n");
	it_socktune(&r, NULL, IT_LIST("check", "-c", conf));
	cr_assert_eq(r.status, 1, "syntax error: exit %d\n%s%s", r.status, r.out, r.err);
	it_run_free(&r);
	free(conf);
}

Test(cli, help_exits_0_and_mentions_every_option)
{
	struct it_run r;
	it_socktune(&r, NULL, IT_LIST("--help"));
	cr_assert_eq(r.status, 0, "exit %d\n%s", r.status, r.err);
	static const char *const words[] = { "-c", "-o", "--off", "--observe", "--stats", "--log", "--help",
					     "--version", "check", "sndbuf", "rcvbuf", "nodelay", "force",
					     "mode", "log", "stats" };
	for (size_t i = 0; i < sizeof words / sizeof words[0]; i++)
		cr_assert_not_null(strstr(r.out, words[i]), "--help does not mention %s:\n%s", words[i], r.out);
	it_run_free(&r);
}

Test(cli, version_prints_the_version)
{
	struct it_run r;
	it_socktune(&r, NULL, IT_LIST("--version"));
	cr_assert_eq(r.status, 0, "exit %d\n%s", r.status, r.err);
	cr_assert_not_null(strstr(r.out, "0.1.0"), "--version printed: %s", r.out);
	it_run_free(&r);
}
