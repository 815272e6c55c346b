/* profile.c: profiles end to end. Each way of naming one (SOCKTUNE_PROFILE, -p,
 * --profile, -o profile=, a file's profile key) tunes a real socket; the files and the
 * variables win over it; `socktune check` names it and where it was named; a bad or
 * unknown name gets exactly one message, and the rest of the configuration applies.
 * The witness is the unix stream client's SO_SNDBUF: a test profile asks for 64K,
 * below any kernel cap and far from the platform table's 2M, so a 64K read back came
 * from the profile. The shipped profiles are loaded too, from the library's own place:
 * beside a build tree's library (where make copies them), else the installed ones. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "run.h"

#define KiB 1024L
#define MiB (1024L * 1024L)

/* SOCKTUNE_PROFILE_DIR=<temp>/profiles, holding small.conf (64K), other.conf (32K) and
 * mixed.conf (both buffers 64K, in defaults). */
static const char *test_profiles(void)
{
	static char *env;
	if (!env) {
		free(it_write_file("profiles/small.conf",
				   "rules = ( { name = \"small\"; family = \"unix\"; sndbuf = \"64K\"; } );\n"));
		free(it_write_file("profiles/other.conf",
				   "rules = ( { name = \"other\"; family = \"unix\"; sndbuf = \"32K\"; } );\n"));
		free(it_write_file("profiles/mixed.conf",
				   "defaults = { sndbuf = \"64K\"; rcvbuf = \"64K\"; };\n"));
		char *dir = it_path("profiles");
		cr_assert_geq(asprintf(&env, "SOCKTUNE_PROFILE_DIR=%s", dir), 0);
		free(dir);
	}
	return env;
}

static char *env_of(const char *name, const char *value)
{
	char *e;
	cr_assert_geq(asprintf(&e, "%s=%s", name, value), 0);
	return e;
}

static void assert_unix_sndbuf(struct it_run *r, long bytes)
{
	it_assert_ran(r);
	it_assert_field(r, "client ", "sndbuf", it_expected_sndbuf(bytes));
}

Test(profile, the_variable_names_one)
{
	struct it_run r;
	it_probe(&r, IT_PRELOAD, IT_LIST(test_profiles(), "SOCKTUNE_PROFILE=small"),
		 IT_LIST("--family", "unix"));
	assert_unix_sndbuf(&r, 64 * KiB);
	it_run_free(&r);
}

Test(profile, option_p_and_profile_name_one)
{
	static const char *const ways[][2] = { { "-p", "small" }, { "--profile", "small" },
					       { "-o", "profile=small" } };
	for (size_t i = 0; i < sizeof(ways) / sizeof(ways[0]); i++) {
		struct it_run r;
		it_socktune(&r, IT_LIST(test_profiles()),
			 IT_LIST(ways[i][0], ways[i][1], "--", it_target("probe"), "--family", "unix"));
		assert_unix_sndbuf(&r, 64 * KiB);
		it_run_free(&r);
	}
}

Test(profile, a_file_names_one)
{
	struct it_run r;
	char *conf = it_write_file("names.conf", "profile = \"small\";\n");
	char *extra = env_of("SOCKTUNE_CONFIG", conf);
	it_probe(&r, IT_PRELOAD, IT_LIST(test_profiles(), extra), IT_LIST("--family", "unix"));
	assert_unix_sndbuf(&r, 64 * KiB);
	it_run_free(&r);
	free(extra);
	free(conf);
}

/* Key by key: the file's sndbuf wins, the profile's rcvbuf is left, then the
 * variable wins over both. */
Test(profile, the_files_and_the_variables_win_over_it)
{
	struct it_run r;
	char *conf = it_write_file("over.conf",
				   "profile = \"mixed\";\n"
				   "defaults = { sndbuf = \"96K\"; };\n");
	char *extra = env_of("SOCKTUNE_CONFIG", conf);
	it_probe(&r, IT_PRELOAD, IT_LIST(test_profiles(), extra), IT_LIST("--family", "unix"));
	assert_unix_sndbuf(&r, 96 * KiB);
	it_assert_field(&r, "client ", "rcvbuf", it_expected_rcvbuf(64 * KiB));
	it_run_free(&r);
	it_probe(&r, IT_PRELOAD, IT_LIST(test_profiles(), extra, "SOCKTUNE_SNDBUF=128K"),
		 IT_LIST("--family", "unix"));
	assert_unix_sndbuf(&r, 128 * KiB);
	it_assert_field(&r, "client ", "rcvbuf", it_expected_rcvbuf(64 * KiB));
	it_run_free(&r);
	free(extra);
	free(conf);
}

Test(profile, the_variable_wins_over_a_files_profile)
{
	struct it_run r;
	char *conf = it_write_file("names.conf", "profile = \"small\";\n");
	char *extra = env_of("SOCKTUNE_CONFIG", conf);
	it_probe(&r, IT_PRELOAD, IT_LIST(test_profiles(), extra, "SOCKTUNE_PROFILE=other"),
		 IT_LIST("--family", "unix"));
	assert_unix_sndbuf(&r, 32 * KiB);
	it_run_free(&r);
	free(extra);
	free(conf);
}

Test(profile, check_names_it_and_where_it_was_named)
{
	struct it_run r;
	it_socktune(&r, IT_LIST(test_profiles(), "SOCKTUNE_PROFILE=small"), IT_LIST("check"));
	it_assert_ran(&r);
	cr_assert(strstr(r.out, "\nprofile: small (from SOCKTUNE_PROFILE)\n"), "%s", r.out);
	cr_assert(strstr(r.out, "/profiles/small.conf\n"), "not among the files read:\n%s", r.out);
	it_run_free(&r);

	char *conf = it_write_file("names.conf", "\nprofile = \"other\";\n");
	it_socktune(&r, IT_LIST(test_profiles()), IT_LIST("check", "-c", conf));
	it_assert_ran(&r);
	char want[4200];
	snprintf(want, sizeof(want), "\nprofile: other (from %s:2)\n", conf);
	cr_assert(strstr(r.out, want), "want %s in\n%s", want, r.out);
	it_run_free(&r);
	free(conf);
}

/* One socktune line on stderr, naming the source and listing what there is; the
 * variable beside it still applies. */
Test(profile, a_bad_name_gets_one_message_and_the_rest_applies)
{
	static const char *const names[] = { "nosuch", "../profiles/small" };
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		struct it_run r;
		char *name = env_of("SOCKTUNE_PROFILE", names[i]);
		it_probe(&r, IT_PRELOAD,
			 IT_LIST(test_profiles(), name, "SOCKTUNE_LOG=warn", "SOCKTUNE_SNDBUF=128K"),
			 IT_LIST("--family", "unix"));
		assert_unix_sndbuf(&r, 128 * KiB);
		cr_assert_eq(it_count_lines(r.err, "socktune["), 1, "%s", r.err);
		cr_assert(strstr(r.err, "environment: SOCKTUNE_PROFILE: "), "%s", r.err);
		cr_assert(strstr(r.err, names[i]), "%s", r.err);
		cr_assert(strstr(r.err, ": mixed, other, small; no profile is read from here\n"), "%s",
			  r.err);
		it_run_free(&r);
		free(name);
	}

	struct it_run r;
	char *conf = it_write_file("bad.conf", "profile = \"nosuch\";\n"
					       "rules = ( { family = \"unix\"; sndbuf = \"96K\"; } );\n");
	char *extra = env_of("SOCKTUNE_CONFIG", conf);
	it_probe(&r, IT_PRELOAD, IT_LIST(test_profiles(), extra, "SOCKTUNE_LOG=warn"),
		 IT_LIST("--family", "unix"));
	assert_unix_sndbuf(&r, 96 * KiB);
	cr_assert_eq(it_count_lines(r.err, "socktune["), 1, "%s", r.err);
	char where[4200];
	snprintf(where, sizeof(where), "%s:1: profile: no profile \"nosuch\"", conf);
	cr_assert(strstr(r.err, where), "want %s in\n%s", where, r.err);
	it_run_free(&r);
	free(extra);
	free(conf);
}

/* The command checks the name before the run, as it checks -o values. */
Test(profile, the_command_stops_at_a_bad_name_with_one_message)
{
	struct it_run r;
	char *marker = it_path("ran");
	it_socktune(&r, IT_LIST(test_profiles()), IT_LIST("-p", "nosuch", "--", "touch", marker));
	cr_assert_eq(r.status, 2, "%s", r.err);
	cr_assert_eq(it_count_lines(r.err, "socktune"), 1, "%s", r.err);
	cr_assert(strstr(r.err, "socktune: -p: no profile \"nosuch\" in "), "%s", r.err);
	cr_assert(strstr(r.err, "the profiles there: mixed, other, small\n"), "%s", r.err);
	cr_assert_neq(access(marker, F_OK), 0, "the program ran");
	it_run_free(&r);
	free(marker);
}

/* The shipped profiles, where the library under test finds them: the command sets
 * nothing but -p, so it finds them itself, beside a build tree's copy or installed. */
Test(profile, the_shipped_profiles_load_clean)
{
	static const char *const shipped[] = { "bulk-unix", "tls-small-writes", "latency" };
	for (size_t i = 0; i < sizeof(shipped) / sizeof(shipped[0]); i++) {
		struct it_run r;
		char *name = env_of("SOCKTUNE_PROFILE", shipped[i]);
		char want[128];
		it_socktune(&r, IT_LIST(name), IT_LIST("check"));
		it_assert_ran(&r);
		snprintf(want, sizeof(want), "\nprofile: %s (from SOCKTUNE_PROFILE)\n", shipped[i]);
		cr_assert(strstr(r.out, want), "want %s in\n%s%s", want, r.out, r.err);
		it_run_free(&r);
		free(name);
	}
}

Test(profile, bulk_unix_sets_4m_on_unix_stream_and_leaves_tcp_alone)
{
	struct it_run r, base;
	it_socktune(&r, NULL, IT_LIST("-p", "bulk-unix", "--", it_target("probe"), "--family", "unix"));
	assert_unix_sndbuf(&r, 4 * MiB);
	it_run_free(&r);
	it_probe(&base, 0, NULL, IT_LIST("--family", "inet"));
	it_assert_ran(&base);
	it_socktune(&r, NULL, IT_LIST("-p", "bulk-unix", "--", it_target("probe"), "--family", "inet"));
	it_assert_ran(&r);
	it_assert_untouched(&r, &base, "client ", "sndbuf");
	it_run_free(&r);
	it_run_free(&base);
}

Test(profile, help_lists_p_and_the_profiles)
{
	struct it_run r;
	it_socktune(&r, NULL, IT_LIST("--help"));
	it_assert_ran(&r);
	cr_assert(strstr(r.out, "  -p, --profile NAME "), "%s", r.out);
	cr_assert(strstr(r.out, "bulk-unix, latency, tls-small-writes\n"), "%s", r.out);
	it_run_free(&r);
}

/* check -p shows what socktune -p would run with, and refuses what it refuses. */
Test(profile, check_takes_p_as_a_run_does)
{
	struct it_run r;
	it_socktune(&r, IT_LIST(test_profiles()), IT_LIST("check", "-p", "small"));
	it_assert_ran(&r);
	cr_assert(strstr(r.out, "\nprofile: small (from SOCKTUNE_PROFILE)\n"), "%s", r.out);
	it_run_free(&r);
	it_socktune(&r, IT_LIST(test_profiles()), IT_LIST("check", "-p", "nosuch"));
	cr_assert_eq(r.status, 2, "%s", r.err);
	cr_assert_eq(it_count_lines(r.err, "socktune"), 1, "%s", r.err);
	cr_assert(strstr(r.err, "the profiles there: mixed, other, small\n"), "%s", r.err);
	cr_assert_str_empty(r.out, "check ran on:\n%s", r.out);
	it_run_free(&r);
}
