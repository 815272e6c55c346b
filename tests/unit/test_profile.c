/* Profiles: a preset read beneath every file and variable, named by
 * SOCKTUNE_PROFILE over a file's profile key; a name that is bad or names no
 * file costs one message listing the profiles there, and nothing else; a
 * setuid program takes neither the variable nor SOCKTUNE_PROFILE_DIR. */
#include "config.h"
#include "conffix.h"
#include "profile.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char profiles[96], sys[96];

static void setup(void)
{
	fixture_setup("/tmp/socktune-profile.XXXXXX");
	snprintf(profiles, sizeof(profiles), "%s/profiles", dir);
	snprintf(sys, sizeof(sys), "%s/etc", dir);
	mkdir(profiles, 0755);
	mkdir(sys, 0755);
	put_env("SOCKTUNE_PROFILE_DIR", profiles);
	write_file("profiles/alpha.conf",
		   "log = \"info\";\nhold_max = 50;\n"
		   "defaults = { sndbuf = \"1M\"; rcvbuf = \"1M\"; merge = \"1K\"; cork = \"auto\"; };\n"
		   "rules = ( { name = \"from-alpha\"; family = \"unix\"; sndbuf = \"3M\"; } );\n");
	write_file("profiles/beta.conf", "defaults = { tls_merge = \"2K\"; };\n");
}

static struct st_config cfg;

static void load(int secure)
{
	conf_load(&cfg, sys, secure, fake_getenv, collect, NULL, "prog", "/bin/prog");
}

TestSuite(profile, .init = setup, .fini = fixture_teardown);

Test(profile, sits_beneath_every_file_and_variable)
{
	write_file("etc/socktune.conf", "profile = \"alpha\";\n"
					"defaults = { rcvbuf = \"2M\"; };\n"
					"rules = ( { name = \"sys\"; family = \"inet\"; nodelay = true; } );\n");
	put_env("SOCKTUNE_CONFIG", write_file("extra.conf", "defaults = { merge = \"2K\"; };\n"));
	put_env("SOCKTUNE_CORK", "on");
	load(0);
	cr_assert_eq(nmsgs, 0, "%s", msgs);
	cr_assert_str_eq(cfg.profile, "alpha");
	cr_assert(strstr(cfg.profile_from, "/etc/socktune.conf:1"), "%s", cfg.profile_from);
	cr_assert_eq(cfg.nsources, 3);
	cr_assert(strstr(cfg.sources[0], "/profiles/alpha.conf"), "read first: %s", cfg.sources[0]);
	cr_assert_eq(cfg.defaults.sndbuf, 1L << 20, "only the profile sets it");
	cr_assert_eq(cfg.defaults.rcvbuf, 2L << 20, "the system file wins over the profile");
	cr_assert_eq(cfg.defaults.merge, 2048, "SOCKTUNE_CONFIG wins over the profile");
	cr_assert_eq(cfg.defaults.cork, ST_CORK_AUTO, "the profile's, under the override");
	cr_assert_eq(cfg.env.cork, ST_CORK_ON, "the variable wins over every file");
	cr_assert_eq(cfg.log, ST_LOG_INFO);
	cr_assert_eq(cfg.hold_max, 50);
	cr_assert_eq(cfg.nrules, 2);
	cr_assert_str_eq(cfg.rules[0].name, "sys", "a file's rules are tried first");
	cr_assert_str_eq(cfg.rules[1].name, "from-alpha");
}

Test(profile, a_file_wins_over_the_profile_on_a_top_level_key)
{
	write_file("etc/socktune.conf", "profile = \"alpha\";\nlog = \"error\";\nhold_max = 5;\n");
	load(0);
	cr_assert_eq(nmsgs, 0, "%s", msgs);
	cr_assert_eq(cfg.log, ST_LOG_ERROR);
	cr_assert_eq(cfg.hold_max, 5);
}

Test(profile, the_variable_wins_over_a_files_profile)
{
	write_file("etc/socktune.conf", "profile = \"alpha\";\n");
	put_env("SOCKTUNE_PROFILE", "beta");
	load(0);
	cr_assert_eq(nmsgs, 0, "%s", msgs);
	cr_assert_str_eq(cfg.profile, "beta");
	cr_assert_str_eq(cfg.profile_from, "SOCKTUNE_PROFILE");
	cr_assert_eq(cfg.defaults.tls_merge, 2048);
	cr_assert_eq(cfg.defaults.sndbuf, ST_AUTO, "alpha is not read as well");
	cr_assert_eq(cfg.nsources, 2);
}

Test(profile, the_last_file_to_name_one_wins)
{
	write_file("etc/socktune.conf", "profile = \"alpha\";\n");
	put_env("SOCKTUNE_CONFIG", write_file("extra.conf", "\n\nprofile = \"beta\";\n"));
	load(0);
	cr_assert_eq(nmsgs, 0, "%s", msgs);
	cr_assert_str_eq(cfg.profile, "beta");
	cr_assert(strstr(cfg.profile_from, "/extra.conf:3"), "%s", cfg.profile_from);
	cr_assert_eq(cfg.defaults.sndbuf, ST_AUTO);
}

Test(profile, none_named_none_read)
{
	load(0);
	cr_assert_eq(nmsgs, 0, "%s", msgs);
	cr_assert_str_eq(cfg.profile, "");
	cr_assert_eq(cfg.nsources, 0);
}

/* The one message, whole: where, which key, what is wrong, what there is. */
Test(profile, an_unknown_name_gets_one_message_and_the_rest_applies)
{
	write_file("etc/socktune.conf", "defaults = { rcvbuf = \"2M\"; };\n"
					"profile = \"gamma\";\n");
	put_env("SOCKTUNE_NODELAY", "on");
	load(0);
	char want[1024];
	snprintf(want, sizeof(want),
		 "%s/socktune.conf:2: profile: no profile \"gamma\" in %s; the profiles there: "
		 "alpha, beta; no profile is read from here\n",
		 sys, profiles);
	cr_assert_eq(nmsgs, 1, "%s", msgs);
	cr_assert_str_eq(msgs, want);
	cr_assert_eq(cfg.errors, 1);
	cr_assert_str_eq(cfg.profile, "");
	cr_assert_eq(cfg.defaults.rcvbuf, 2L << 20, "the file's other settings apply");
	cr_assert_eq(cfg.env.nodelay, 1, "and the variables");
}

Test(profile, a_bad_name_in_the_variable_gets_one_message_and_the_files_profile_applies)
{
	write_file("etc/socktune.conf", "profile = \"beta\";\n");
	put_env("SOCKTUNE_PROFILE", "../profiles/alpha");
	load(0);
	char want[1024];
	snprintf(want, sizeof(want),
		 "environment:0: SOCKTUNE_PROFILE: \"../profiles/alpha\" is not a profile's name (1 to "
		 "63 of a-z, 0-9, _ and -); the profiles in %s: alpha, beta; no profile is read "
		 "from here\n",
		 profiles);
	cr_assert_eq(nmsgs, 1, "%s", msgs);
	cr_assert_str_eq(msgs, want);
	cr_assert_str_eq(cfg.profile, "beta", "the next source down is asked");
	cr_assert_eq(cfg.defaults.tls_merge, 2048);
}

Test(profile, a_name_is_never_a_path)
{
	static const char *const bad[] = {"", "../alpha", "alpha/", "/alpha", "alpha.conf", "Alpha",
					  "al pha", "."};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		cr_assert_not(profile_name_valid(bad[i]), "\"%s\"", bad[i]);
	char longest[ST_PROFILE_NAME_MAX + 2];
	memset(longest, 'a', ST_PROFILE_NAME_MAX);
	longest[ST_PROFILE_NAME_MAX] = '\0';
	cr_assert(profile_name_valid(longest));
	longest[ST_PROFILE_NAME_MAX] = 'a';
	longest[ST_PROFILE_NAME_MAX + 1] = '\0';
	cr_assert_not(profile_name_valid(longest), "64 characters");
	cr_assert(profile_name_valid("tls-small_writes2"));

	/* A file beside the directory, which "../" would reach. */
	write_file("outside.conf", "defaults = { sndbuf = \"8M\"; };\n");
	write_file("etc/socktune.conf", "profile = \"../outside\";\n");
	load(0);
	cr_assert_eq(nmsgs, 1, "%s", msgs);
	cr_assert(strstr(msgs, "is not a profile's name"), "%s", msgs);
	cr_assert_eq(cfg.defaults.sndbuf, ST_AUTO);
	cr_assert_eq(cfg.nsources, 1);
}

Test(profile, a_profile_cannot_name_another)
{
	write_file("profiles/gamma.conf", "profile = \"alpha\";\ndefaults = { merge = 64; };\n");
	put_env("SOCKTUNE_PROFILE", "gamma");
	load(0);
	cr_assert_eq(nmsgs, 1, "%s", msgs);
	cr_assert(strstr(msgs, "/profiles/gamma.conf:1: profile: a profile cannot name another "
			       "profile; ignored"),
		  "%s", msgs);
	cr_assert_eq(cfg.defaults.merge, 64);
	cr_assert_eq(cfg.defaults.sndbuf, ST_AUTO, "alpha is not read");
}

Test(profile, setuid_takes_neither_the_variable_nor_the_directory_variable)
{
	write_file("etc/socktune.conf", "profile = \"alpha\";\n");
	put_env("SOCKTUNE_PROFILE", "beta");
	load(1);
	cr_assert_str_eq(cfg.profile, "");
	cr_assert_eq(cfg.defaults.tls_merge, 1024, "beta is not read");
	cr_assert_eq(cfg.defaults.sndbuf, ST_AUTO, "alpha is not read from SOCKTUNE_PROFILE_DIR");
	if (geteuid() == 0) {
		/* The system file was read, so its profile was looked up, in the
		 * compiled-in directory only. */
		cr_assert_eq(nmsgs, 1, "%s", msgs);
		cr_assert(strstr(msgs, "no profile \"alpha\" in " SOCKTUNE_PROFILEDIR ";"), "%s", msgs);
	}
	cr_assert_str_eq(profile_dir(1, fake_getenv), SOCKTUNE_PROFILEDIR);
	cr_assert_str_eq(profile_dir(0, fake_getenv), profiles);
}

Test(profile, the_directory_variable_must_be_absolute)
{
	env_clear();
	put_env("SOCKTUNE_PROFILE_DIR", "profiles");
	cr_assert_str_eq(profile_dir(0, fake_getenv), SOCKTUNE_PROFILEDIR);
}

Test(profile, the_list_is_sorted_and_only_what_a_name_can_reach)
{
	write_file("profiles/Upper.conf", "");
	write_file("profiles/notes.txt", "");
	write_file("profiles/0-first.conf", "");
	char list[256];
	cr_assert_eq(profile_list(profiles, list, sizeof(list)), 3);
	cr_assert_str_eq(list, "0-first, alpha, beta");
	cr_assert_eq(profile_list("/nonexistent", list, sizeof(list)), 0);
	cr_assert_str_eq(list, "none");
}

Test(profile, o_and_the_variable_take_a_name_only)
{
	struct st_config c;
	conf_defaults(&c);
	cr_assert_eq(conf_set(&c, "profile", "bulk-unix", "-o", "profile", collect, NULL), 0);
	cr_assert_str_eq(c.profile, "bulk-unix");
	cr_assert_eq(conf_set(&c, "profile", "../bulk-unix", "-o", "profile", collect, NULL), -1);
	cr_assert_str_eq(c.profile, "bulk-unix");
	cr_assert_str_eq(conf_env_name("profile"), "SOCKTUNE_PROFILE");
}
