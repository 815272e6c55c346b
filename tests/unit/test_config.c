/* The configuration: sources in order, later wins, and one message per
 * problem naming the source, the line and the key. */
#include "config.h"
#include "conffix.h"

#include <criterion/criterion.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void setup(void)
{
	fixture_setup("/tmp/socktune-unit.XXXXXX");
}

static struct st_config cfg;

static void load(void)
{
	char sys[128];
	snprintf(sys, sizeof(sys), "%s/etc", dir);
	conf_load(&cfg, sys, 0, fake_getenv, collect, NULL, "prog", "/bin/prog");
}

TestSuite(config, .init = setup, .fini = fixture_teardown);

Test(config, builtin_defaults)
{
	load();
	cr_assert_eq(cfg.mode, ST_MODE_ON);
	cr_assert_eq(cfg.log, ST_LOG_QUIET);
	cr_assert_eq(cfg.defaults.sndbuf, ST_AUTO);
	cr_assert_eq(cfg.defaults.rcvbuf, ST_AUTO);
	cr_assert_eq(cfg.defaults.nodelay, ST_DEFAULT);
	cr_assert_eq(cfg.defaults.force, 0);
	cr_assert_eq(cfg.nrules, 0);
	cr_assert_eq(nmsgs, 0, "%s", msgs);
}

Test(config, later_sources_win_key_by_key)
{
	write_file("etc/socktune.conf", "log = \"info\";\n"
					"defaults = { sndbuf = \"1M\"; rcvbuf = \"64K\"; };\n");
	write_file("xdg/socktune/socktune.conf", "defaults = { sndbuf = \"2M\"; };\n");
	const char *extra = write_file("extra.conf", "defaults = { rcvbuf = 131072; };\n");
	char xdg[128];
	snprintf(xdg, sizeof(xdg), "%s/xdg", dir);
	put_env("XDG_CONFIG_HOME", xdg);
	put_env("SOCKTUNE_CONFIG", extra);
	load();
	cr_assert_eq(nmsgs, 0, "%s", msgs);
	cr_assert_eq(cfg.nsources, 3);
	cr_assert_eq(cfg.log, ST_LOG_INFO, "the system file's log stays: nobody overrode it");
	cr_assert_eq(cfg.defaults.sndbuf, 2L << 20, "the user file wins over the system file");
	cr_assert_eq(cfg.defaults.rcvbuf, 131072, "SOCKTUNE_CONFIG wins over both");
}

Test(config, user_file_defaults_to_home_dot_config)
{
	write_file("home/.config/socktune/socktune.conf", "mode = \"observe\";\n");
	char home[128];
	snprintf(home, sizeof(home), "%s/home", dir);
	put_env("HOME", home);
	load();
	cr_assert_eq(cfg.mode, ST_MODE_OBSERVE);
}

Test(config, environment_wins_over_every_file)
{
	const char *extra = write_file("extra.conf", "mode = \"observe\";\n"
						     "defaults = { sndbuf = \"1M\"; };\n"
						     "rules = ( { family = \"inet\"; sndbuf = \"4M\"; } );\n");
	put_env("SOCKTUNE_CONFIG", extra);
	put_env("SOCKTUNE", "on");
	put_env("SOCKTUNE_SNDBUF", "256K");
	put_env("SOCKTUNE_NODELAY", "on");
	load();
	cr_assert_eq(nmsgs, 0, "%s", msgs);
	cr_assert_eq(cfg.mode, ST_MODE_ON);
	struct st_sock s = {.family = ST_FAM_INET, .type = ST_TYPE_STREAM, .role = ST_ROLE_CLIENT};
	struct st_opts o;
	cr_assert_not_null(conf_decide(&cfg, &s, &o), "the rule matches");
	cr_assert_eq(o.sndbuf, 256L << 10, "SOCKTUNE_SNDBUF overrides the matching rule");
	cr_assert_eq(o.nodelay, 1);
	cr_assert_eq(o.rcvbuf, ST_AUTO, "what nobody overrode comes from the defaults");
}

Test(config, first_matching_rule_wins_and_later_files_go_first)
{
	write_file("etc/socktune.conf",
		   "rules = ( { family = \"unix\"; sndbuf = \"1M\"; },\n"
		   "          { sndbuf = \"64K\"; } );\n");
	const char *extra = write_file("extra.conf", "rules = ( { family = \"unix\"; role = "
						     "\"server\"; sndbuf = \"4M\"; } );\n");
	put_env("SOCKTUNE_CONFIG", extra);
	load();
	cr_assert_eq(nmsgs, 0, "%s", msgs);
	cr_assert_eq(cfg.nrules, 3);
	struct st_opts o;
	struct st_sock server = {.family = ST_FAM_UNIX, .type = ST_TYPE_STREAM,
				 .role = ST_ROLE_SERVER};
	struct st_sock client = server;
	client.role = ST_ROLE_CLIENT;
	struct st_sock tcp = {.family = ST_FAM_INET, .type = ST_TYPE_STREAM};
	conf_decide(&cfg, &server, &o);
	cr_assert_eq(o.sndbuf, 4L << 20, "the later file's rule is tried first");
	conf_decide(&cfg, &client, &o);
	cr_assert_eq(o.sndbuf, 1L << 20);
	conf_decide(&cfg, &tcp, &o);
	cr_assert_eq(o.sndbuf, 64L << 10, "the catch-all comes last");
}

Test(config, rule_falls_back_to_defaults_per_key)
{
	const char *extra = write_file("extra.conf", "defaults = { rcvbuf = \"128K\"; nodelay = true; };\n"
						     "rules = ( { sndbuf = \"1M\"; force = true; } );\n");
	put_env("SOCKTUNE_CONFIG", extra);
	load();
	struct st_opts o;
	struct st_sock s = {.family = ST_FAM_INET, .type = ST_TYPE_STREAM};
	conf_decide(&cfg, &s, &o);
	cr_assert_eq(o.sndbuf, 1L << 20);
	cr_assert_eq(o.rcvbuf, 128L << 10);
	cr_assert_eq(o.nodelay, 1);
	cr_assert_eq(o.force, 1);
}

Test(config, bad_value_names_file_line_key_and_what_is_accepted)
{
	const char *extra = write_file("extra.conf", "defaults = {\n"
						     "  sndbuf = \"2Q\";\n"
						     "  rcvbuf = \"64K\";\n"
						     "};\n");
	put_env("SOCKTUNE_CONFIG", extra);
	load();
	cr_assert_eq(nmsgs, 1, "exactly one message: %s", msgs);
	char want[300];
	snprintf(want, sizeof(want), "%s:2: defaults.sndbuf: \"2Q\" is not a size; accepted: ", extra);
	cr_assert(strstr(msgs, want), "got: %s", msgs);
	cr_assert(strstr(msgs, "512K"), "says what is accepted: %s", msgs);
	cr_assert_eq(cfg.defaults.sndbuf, ST_AUTO, "the bad value is dropped");
	cr_assert_eq(cfg.defaults.rcvbuf, 64L << 10, "the valid rest applies");
}

Test(config, bad_match_key_drops_the_whole_rule_only)
{
	const char *extra = write_file("extra.conf", "rules = (\n"
						     "  { peer = \"10.0.0.0/33\"; sndbuf = \"4M\"; },\n"
						     "  { family = \"inet\"; sndbuf = \"1M\"; }\n"
						     ");\n");
	put_env("SOCKTUNE_CONFIG", extra);
	load();
	cr_assert_eq(nmsgs, 1, "%s", msgs);
	cr_assert(strstr(msgs, ":2: rules[0].peer: \"10.0.0.0/33\" is not valid; accepted: "),
		  "got: %s", msgs);
	cr_assert(strstr(msgs, "this rule is ignored"), "got: %s", msgs);
	cr_assert_eq(cfg.nrules, 1, "the good rule stays");
	cr_assert_eq(cfg.rules[0].opts.sndbuf, 1L << 20);
}

/* A program glob longer than the rule keeps would, cut short, match programs it was
 * not written for: the rule is dropped, with a message (found by the config fuzzer's
 * author reading match_setting). */
Test(config, program_glob_too_long_drops_the_rule)
{
	char conf[512];
	snprintf(conf, sizeof conf, "rules = ( { program = \"%0127dNEVER\"; sndbuf = \"8M\"; } );\n", 0);
	put_env("SOCKTUNE_CONFIG", write_file("long.conf", conf));
	load();
	cr_assert_eq(cfg.nrules, 0, "the rule with the cut glob was kept");
	cr_assert(strstr(msgs, "rules[0].program: ") && strstr(msgs, "at most 127 bytes"), "%s", msgs);
}

Test(config, unknown_keys_are_named)
{
	const char *extra = write_file("extra.conf", "sndbfu = \"2M\";\n"
						     "rules = ( { famly = \"unix\"; sndbuf = \"1M\"; } );\n");
	put_env("SOCKTUNE_CONFIG", extra);
	load();
	cr_assert_eq(nmsgs, 2, "%s", msgs);
	cr_assert(strstr(msgs, ":1: sndbfu: unknown key; accepted: mode, log, stats"), "%s", msgs);
	cr_assert(strstr(msgs, ":2: rules[0].famly: unknown key; accepted: name, family"), "%s",
		  msgs);
	cr_assert_eq(cfg.nrules, 0, "a rule with a misspelt criterion would match too much");
}

Test(config, syntax_error_drops_only_that_file)
{
	write_file("etc/socktune.conf", "defaults = { sndbuf = \"1M\"; };\n");
	const char *extra = write_file("extra.conf", "defaults = { rcvbuf = \"1M\"; \nmode = \"on\";\n");
	put_env("SOCKTUNE_CONFIG", extra);
	load();
	cr_assert_eq(nmsgs, 1, "n=%d: %s", nmsgs, msgs);
	cr_assert(strstr(msgs, "syntax error"), "%s", msgs);
	cr_assert(strstr(msgs, "this file is ignored"), "%s", msgs);
	cr_assert(strstr(msgs, extra), "names the file: %s", msgs);
	cr_assert_eq(cfg.defaults.sndbuf, 1L << 20, "the system file still applies");
	cr_assert_eq(cfg.defaults.rcvbuf, ST_AUTO);
}

Test(config, missing_explicit_file_is_reported_missing_default_files_are_not)
{
	char missing[128];
	snprintf(missing, sizeof(missing), "%s/nope.conf", dir);
	put_env("SOCKTUNE_CONFIG", missing);
	put_env("HOME", dir);
	load();
	cr_assert_eq(nmsgs, 1, "only $SOCKTUNE_CONFIG is expected to exist: %s", msgs);
	cr_assert(strstr(msgs, "nope.conf:0: -: cannot read: No such file"), "%s", msgs);
}

Test(config, bad_environment_value)
{
	put_env("SOCKTUNE_SNDBUF", "lots");
	put_env("SOCKTUNE_RCVBUF", "1M");
	put_env("SOCKTUNE", "sometimes");
	load();
	cr_assert_eq(nmsgs, 2, "%s", msgs);
	cr_assert(strstr(msgs, "environment:0: SOCKTUNE_SNDBUF: \"lots\" is not a size; accepted: "),
		  "%s", msgs);
	cr_assert(strstr(msgs, "environment:0: SOCKTUNE: \"sometimes\" is not valid; accepted: "
			       "\"on\", \"observe\" or \"off\""),
		  "%s", msgs);
	cr_assert_eq(cfg.env.sndbuf, ST_UNSET);
	cr_assert_eq(cfg.env.rcvbuf, 1L << 20, "the valid variable still applies");
	cr_assert_eq(cfg.mode, ST_MODE_ON);
}

Test(config, secure_mode_reads_only_a_root_owned_system_file)
{
	write_file("etc/socktune.conf", "defaults = { sndbuf = \"1M\"; };\n");
	const char *extra = write_file("extra.conf", "defaults = { rcvbuf = \"1M\"; };\n");
	put_env("SOCKTUNE_CONFIG", extra);
	put_env("SOCKTUNE_NODELAY", "on");
	char sys[128];
	snprintf(sys, sizeof(sys), "%s/etc", dir);
	conf_load(&cfg, sys, 1, fake_getenv, collect, NULL, "prog", "/bin/prog");
	cr_assert_eq(cfg.defaults.rcvbuf, ST_AUTO, "no user file under AT_SECURE");
	cr_assert_eq(cfg.env.nodelay, ST_UNSET, "no variables under AT_SECURE");
	if (geteuid() == 0)
		cr_assert_eq(cfg.defaults.sndbuf, 1L << 20, "root-owned, not writable by others");
	else
		cr_assert_eq(cfg.defaults.sndbuf, ST_AUTO, "not owned by root");

	/* Writable by others: refused even when root owns it. */
	char path[160];
	snprintf(path, sizeof(path), "%s/socktune.conf", sys);
	cr_assert_eq(chmod(path, 0666), 0);
	msgs[0] = '\0';
	nmsgs = 0;
	conf_load(&cfg, sys, 1, fake_getenv, collect, NULL, "prog", "/bin/prog");
	cr_assert_eq(cfg.defaults.sndbuf, ST_AUTO);
	cr_assert(strstr(msgs, "not owned by root or writable by others"), "%s", msgs);
}

Test(config, needs_peer_and_local_are_derived)
{
	const char *extra = write_file("extra.conf", "rules = ( { local_port = 80; sndbuf = 1M; } );\n");
	put_env("SOCKTUNE_CONFIG", extra);
	load();
	cr_assert_eq(nmsgs, 1, "1M unquoted is a libconfig syntax error: %s", msgs);
	extra = write_file("extra2.conf", "rules = ( { local_port = 80; sndbuf = \"1M\"; },\n"
					  "          { peer = \"::1\"; } );\n");
	fixture_reset();
	put_env("SOCKTUNE_CONFIG", extra);
	load();
	cr_assert_eq(nmsgs, 0, "%s", msgs);
	cr_assert(cfg.needs_local);
	cr_assert(cfg.needs_peer);
}

Test(config, set_validates_like_the_environment)
{
	struct st_config c;
	conf_defaults(&c);
	cr_assert_eq(conf_set(&c, "sndbuf", "1M", "-o", "sndbuf", collect, NULL), 0);
	cr_assert_eq(c.env.sndbuf, 1L << 20);
	cr_assert_eq(conf_set(&c, "nodelay", "perhaps", "-o", "nodelay", collect, NULL), -1);
	cr_assert_eq(conf_set(&c, "colour", "blue", "-o", "colour", collect, NULL), -1);
	cr_assert(strstr(msgs, "-o:0: colour: unknown key"), "%s", msgs);
	cr_assert_str_eq(conf_env_name("sndbuf"), "SOCKTUNE_SNDBUF");
	cr_assert_str_eq(conf_env_name("mode"), "SOCKTUNE");
	cr_assert_null(conf_env_name("colour"));
}

Test(config, merge_in_rules_defaults_and_environment)
{
	const char *extra = write_file("extra.conf", "defaults = { merge = \"512\"; };\n"
						     "rules = ( { family = \"unix\"; merge = 0; },\n"
						     "          { family = \"inet\"; merge = \"8K\"; } );\n");
	put_env("SOCKTUNE_CONFIG", extra);
	load();
	cr_assert_eq(nmsgs, 1, "%s", msgs);
	cr_assert(strstr(msgs, ":3: rules[1].merge: \"8K\" is not valid; accepted: 0 or \"off\""),
		  "%s", msgs);
	struct st_opts o;
	struct st_sock unix_s = {.family = ST_FAM_UNIX, .type = ST_TYPE_STREAM};
	struct st_sock inet_s = {.family = ST_FAM_INET, .type = ST_TYPE_STREAM};
	conf_decide(&cfg, &unix_s, &o);
	cr_assert_eq(o.merge, 0, "the rule turns merging off");
	conf_decide(&cfg, &inet_s, &o);
	cr_assert_eq(o.merge, 512, "the bad option fell back to the defaults");

	put_env("SOCKTUNE_MERGE", "1K");
	msgs[0] = '\0';
	nmsgs = 0;
	load();
	conf_decide(&cfg, &unix_s, &o);
	cr_assert_eq(o.merge, 1024, "SOCKTUNE_MERGE overrides every rule");
}

Test(config, cork_in_rules_defaults_and_environment)
{
	const char *extra = write_file("extra.conf", "defaults = { cork = \"auto\"; };\n"
						     "rules = ( { role = \"server\"; cork = \"on\"; },\n"
						     "          { role = \"client\"; cork = \"sometimes\"; } );\n");
	put_env("SOCKTUNE_CONFIG", extra);
	load();
	cr_assert_eq(nmsgs, 1, "%s", msgs);
	cr_assert(strstr(msgs, ":3: rules[1].cork: \"sometimes\" is not valid; accepted: \"off\", "
			       "\"auto\" or \"on\""),
		  "%s", msgs);
	struct st_opts o;
	struct st_sock server = {.family = ST_FAM_INET, .type = ST_TYPE_STREAM,
				 .role = ST_ROLE_SERVER};
	struct st_sock client = server;
	client.role = ST_ROLE_CLIENT;
	conf_decide(&cfg, &server, &o);
	cr_assert_eq(o.cork, ST_CORK_ON);
	conf_decide(&cfg, &client, &o);
	cr_assert_eq(o.cork, ST_CORK_AUTO, "the bad option fell back to the defaults");

	put_env("SOCKTUNE_CORK", "off");
	msgs[0] = '\0';
	nmsgs = 0;
	load();
	conf_decide(&cfg, &server, &o);
	cr_assert_eq(o.cork, ST_CORK_OFF, "SOCKTUNE_CORK overrides every rule");
}

Test(config, cork_is_off_by_default)
{
	load();
	cr_assert_eq(cfg.defaults.cork, ST_CORK_OFF);
}

Test(config, tls_split_is_on_by_default_and_set_by_file_then_environment)
{
	load();
	cr_assert_eq(cfg.tls_split, 1);

	const char *extra = write_file("split.conf", "tls_split = false;\n");
	put_env("SOCKTUNE_CONFIG", extra);
	load();
	cr_assert_eq(nmsgs, 0, "%s", msgs);
	cr_assert_eq(cfg.tls_split, 0, "the file turns it off");

	put_env("SOCKTUNE_TLS_SPLIT", "on");
	load();
	cr_assert_eq(cfg.tls_split, 1, "the environment wins over the file");

	env_clear();
	put_env("SOCKTUNE_TLS_SPLIT", "sometimes");
	load();
	cr_assert_eq(cfg.tls_split, 1, "a bad value leaves the default");
	cr_assert(strstr(msgs, "SOCKTUNE_TLS_SPLIT: \"sometimes\" is not valid; accepted: \"on\" or "
			       "\"off\""),
		  "%s", msgs);
}

Test(config, a_file_over_one_mib_is_refused_whole)
{
	size_t n = (1u << 20) + 2;
	char *big = malloc(n);
	cr_assert_not_null(big);
	memset(big, '\n', n - 1);
	memcpy(big, "mode = \"off\";", 13);
	big[n - 1] = '\0';
	put_env("SOCKTUNE_CONFIG", write_file("big.conf", big));
	free(big);
	load();
	cr_assert_eq(cfg.mode, ST_MODE_ON, "a file too large was read");
	cr_assert_eq(nmsgs, 1, "%s", msgs);
	cr_assert(strstr(msgs, "big.conf:0: -: larger than 1048576 bytes"), "%s", msgs);
}

Test(config, hold_max_is_20ms_by_default_and_bounded_by_the_kernels_200ms)
{
	load();
	cr_assert_eq(cfg.hold_max, 20);

	const char *extra = write_file("hold.conf", "hold_max = 50;\n");
	put_env("SOCKTUNE_CONFIG", extra);
	load();
	cr_assert_eq(nmsgs, 0, "%s", msgs);
	cr_assert_eq(cfg.hold_max, 50, "the file sets it");

	put_env("SOCKTUNE_HOLD_MAX", "200ms");
	load();
	cr_assert_eq(cfg.hold_max, 200, "the environment wins over the file, with \"ms\"");

	const char *bad[] = {"0", "201", "-5", "10s", "ms", "", "5 ms"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		env_clear();
		put_env("SOCKTUNE_HOLD_MAX", bad[i]);
		load();
		cr_assert_eq(cfg.hold_max, 20, "\"%s\" leaves the default", bad[i]);
		cr_assert(strstr(msgs, "SOCKTUNE_HOLD_MAX: \"") &&
				  strstr(msgs, "accepted: a time from 1 to 200 milliseconds"),
			  "%s: %s", bad[i], msgs);
	}
}

/* ---- one table of keys ---------------------------------------------------------------- */

/* The words after the key: what a bad value gets, wherever it was written. */
static void bad_value_words(const char *source, const char *key, const char *bad, char *out,
			    size_t len)
{
	cr_assert_eq(nmsgs, 1, "%s %s=%s: one message: %s", source, key, bad, msgs);
	snprintf(out, len, "%s", last_msg);
}

/* nodelay and force said "true, false or \"default\"" and "true or false" in a file
 * but "on, off or default" and "on or off" in a variable, and sndbuf and rcvbuf were
 * "not a size" in a file but "not valid" in a variable: now one key, one message.
 * (Against the old two parsers: fails for sndbuf, rcvbuf, nodelay and force.) */
Test(config, a_bad_value_gets_the_same_words_from_a_file_and_from_a_variable)
{
	static const struct {
		const char *key;
		int option; /* in defaults, else at the top */
	} keys[] = {
		{"sndbuf", 1},  {"rcvbuf", 1},	 {"nodelay", 1}, {"force", 1},
		{"merge", 1},	{"tls_merge", 1}, {"cork", 1},	  {"mode", 0},
		{"log", 0},	{"tls_split", 0}, {"hold_max", 0}, {"live", 0},
		{"live_dir", 0},
	};
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		char text[128], from_file[512], from_set[512];
		fixture_reset();
		snprintf(text, sizeof(text), keys[i].option ? "defaults = { %s = \"bogus\"; };\n"
							    : "%s = \"bogus\";\n",
			 keys[i].key);
		put_env("SOCKTUNE_CONFIG", write_file("same.conf", text));
		load();
		bad_value_words("file", keys[i].key, "bogus", from_file, sizeof(from_file));
		fixture_reset();
		struct st_config c;
		conf_defaults(&c);
		cr_assert_eq(conf_set(&c, keys[i].key, "bogus", "-o", keys[i].key, collect, NULL), -1);
		bad_value_words("-o", keys[i].key, "bogus", from_set, sizeof(from_set));
		cr_assert_str_eq(from_file, from_set, "%s: a file and -o disagree", keys[i].key);
	}
}

/* A value of each type that its parser takes, and one it refuses.  A string is
 * refused when it does not fit its field: bad is NULL there, and made to measure. */
static const struct {
	const char *good, *bad;
} samples[] = {
	[ST_VALUE_SIZE] = {"512K", "2Q"},
	[ST_VALUE_SWITCH] = {"yes", "maybe"},
	[ST_VALUE_SWITCH_OR_DEFAULT] = {"default", "maybe"},
	[ST_VALUE_MERGE] = {"1K", "8K"},
	[ST_VALUE_TLS_MERGE] = {"16K", "32K"},
	[ST_VALUE_CORK] = {"auto", "sometimes"},
	[ST_VALUE_MODE] = {"observe", "sometimes"},
	[ST_VALUE_LOG] = {"debug", "loud"},
	[ST_VALUE_HOLD] = {"50ms", "0"},
	[ST_VALUE_STRING] = {"qemu-*", NULL},
	[ST_VALUE_PROFILE] = {"bulk-unix", "../bulk-unix"},
	[ST_VALUE_DIR] = {"/run/socktune", "run/socktune"},
	[ST_VALUE_FAMILY] = {"inet,unix", "ipx"},
	[ST_VALUE_TYPE] = {"dgram", "raw"},
	[ST_VALUE_ROLE] = {"client", "both"},
	[ST_VALUE_PORTS] = {"80,8000-8100", "0"},
	[ST_VALUE_CIDR] = {"10.0.0.0/8", "10.0.0.0/33"},
};

static int is_group(const struct st_key *k)
{
	return k->type == ST_VALUE_DEFAULTS || k->type == ST_VALUE_RULES;
}

static const char *bad_sample(const struct st_key *k)
{
	static char too_long[1024];
	if (samples[k->type].bad)
		return samples[k->type].bad;
	cr_assert_lt(k->size, sizeof(too_long));
	memset(too_long, 'a', k->size);
	too_long[k->size] = '\0';
	return too_long;
}

/* A file with key = "value" where the key belongs: at the top, in defaults, in a rule. */
static void load_one(const struct st_key *k, const char *value, int in_rule)
{
	char text[1200];
	if (k->kind == ST_KEY_GLOBAL)
		snprintf(text, sizeof(text), "%s = \"%s\";\n", k->name, value);
	else if (k->kind == ST_KEY_OPTION && !in_rule)
		snprintf(text, sizeof(text), "defaults = { %s = \"%s\"; };\n", k->name, value);
	else
		snprintf(text, sizeof(text), "rules = ( { %s = \"%s\"; } );\n", k->name, value);
	fixture_reset();
	put_env("SOCKTUNE_CONFIG", write_file("one.conf", text));
	load();
}

/* Where a file put k's value. */
static const void *file_base(const struct st_key *k, int in_rule)
{
	if (k->kind == ST_KEY_GLOBAL)
		return &cfg;
	if (k->kind == ST_KEY_MATCH)
		return &cfg.rules[0];
	return in_rule ? (const void *)&cfg.rules[0].opts : (const void *)&cfg.defaults;
}

/* good as k's parser reads it and k's printer writes it back. */
static const char *good_shown(const struct st_key *k, char *buf, size_t len)
{
	static struct st_rule scratch; /* large enough for any kind's struct */
	static struct st_config scratch_cfg;
	void *base = k->kind == ST_KEY_GLOBAL ? (void *)&scratch_cfg : (void *)&scratch;
	cr_assert_eq(conf_key_parse(k, samples[k->type].good, base), 0, "%s: the sample", k->name);
	const char *shown = conf_key_format(k, base, buf, len);
	cr_assert_not_null(shown, "%s: %s prints as nothing", k->name, samples[k->type].good);
	return shown;
}

Test(config, every_key_takes_a_good_value_and_refuses_a_bad_one_in_the_same_words_everywhere)
{
	int tried = 0;
	for (const struct st_key *k = socktune_keys; k->name; k++) {
		/* A profile's name means a file, and its one message lists the
		 * files: test_profile.c. */
		if (is_group(k) || k->type == ST_VALUE_PROFILE)
			continue;
		cr_assert_not_null(samples[k->type].good, "%s: no sample for its type", k->name);
		char want[128], got[128], from_file[1024];
		const char *bad = bad_sample(k);
		const char *shown = good_shown(k, want, sizeof(want));
		/* A rule's option falls back to defaults and keeps the rule; a bad
		 * criterion drops it. */
		const char *then = k->kind == ST_KEY_MATCH ? "; this rule is ignored" : "";
		char words[1200];
		snprintf(words, sizeof(words), "\"%s\" is not %s; accepted: %s%s", bad,
			 k->type == ST_VALUE_SIZE ? "a size" : "valid", k->accepted, then);

		for (int in_rule = 0; in_rule <= (k->kind == ST_KEY_OPTION); in_rule++) {
			load_one(k, samples[k->type].good, in_rule);
			cr_assert_eq(nmsgs, 0, "%s: %s", k->name, msgs);
			const char *landed = conf_key_format(k, file_base(k, in_rule), got, sizeof(got));
			cr_assert(landed && !strcmp(landed, shown), "%s from a file: %s, not %s",
				  k->name, landed ? landed : "(unset)", shown);
			load_one(k, bad, in_rule);
			bad_value_words("file", k->name, bad, from_file, sizeof(from_file));
			cr_assert_str_eq(from_file, words, "%s in a file", k->name);
			cr_assert_eq(cfg.nrules, k->kind == ST_KEY_MATCH ? 0 : in_rule, "%s", k->name);
		}

		struct st_config c;
		conf_defaults(&c);
		fixture_reset();
		cr_assert_eq(conf_env_name(k->name), k->env, "%s", k->name);
		if (!k->env) {
			cr_assert_eq(conf_set(&c, k->name, samples[k->type].good, "-o", k->name, collect,
					      NULL),
				     -1, "%s has no variable, so -o does not take it", k->name);
			cr_assert(strstr(last_msg, "unknown key; accepted: "), "%s: %s", k->name, msgs);
			continue;
		}
		void *base = k->kind == ST_KEY_OPTION ? (void *)&c.env : (void *)&c;
		cr_assert_eq(conf_set(&c, k->name, samples[k->type].good, "-o", k->name, collect, NULL),
			     0, "%s: %s", k->name, msgs);
		const char *landed = conf_key_format(k, base, got, sizeof(got));
		cr_assert(landed && !strcmp(landed, shown), "%s from -o: %s, not %s", k->name,
			  landed ? landed : "(unset)", shown);
		cr_assert_eq(conf_set(&c, k->name, bad, "-o", k->name, collect, NULL), -1, "%s", k->name);
		cr_assert_str_eq(last_msg, words, "%s from -o", k->name);
		tried++;
	}
	cr_assert_gt(tried, 0, "no key with a variable was tried");
}

Test(config, every_value_prints_as_text_its_parser_takes_back)
{
	for (const struct st_key *k = socktune_keys; k->name; k++) {
		if (is_group(k))
			continue;
		char once[128], twice[128];
		const char *shown = good_shown(k, once, sizeof(once));
		static struct st_rule back;
		static struct st_config back_cfg;
		memset(&back, 0, sizeof(back));
		memset(&back_cfg, 0, sizeof(back_cfg));
		void *base = k->kind == ST_KEY_GLOBAL ? (void *)&back_cfg : (void *)&back;
		cr_assert_eq(conf_key_parse(k, shown, base), 0, "%s: \"%s\"", k->name, shown);
		const char *again = conf_key_format(k, base, twice, sizeof(twice));
		cr_assert(again && !strcmp(again, shown), "%s: %s then %s", k->name, shown, again);
	}
}

Test(config, the_built_in_defaults_are_the_tables)
{
	struct st_config c;
	conf_defaults(&c);
	for (const struct st_key *k = socktune_keys; k->name; k++) {
		char buf[64], want[64];
		static struct st_config scratch;
		if (!k->def)
			continue;
		cr_assert(k->kind != ST_KEY_MATCH, "%s: a criterion has no default", k->name);
		void *base = k->kind == ST_KEY_OPTION ? (void *)&scratch.defaults : (void *)&scratch;
		cr_assert_eq(conf_key_parse(k, k->def, base), 0, "%s: default \"%s\"", k->name, k->def);
		const char *have = conf_key_format(
			k, k->kind == ST_KEY_OPTION ? (void *)&c.defaults : (void *)&c, buf, sizeof(buf));
		const char *meant = conf_key_format(k, base, want, sizeof(want));
		cr_assert(have == meant || (have && meant && !strcmp(have, meant)), "%s: %s, not %s",
			  k->name, have ? have : "(unset)", meant ? meant : "(unset)");
		if (k->kind == ST_KEY_OPTION)
			cr_assert_null(conf_key_format(k, &c.env, buf, sizeof(buf)),
				       "%s: no override before the environment", k->name);
	}
	cr_assert_eq(c.defaults.tls_merge, 1024);
	cr_assert_eq(c.defaults.merge, 0);
	cr_assert_eq(c.hold_max, 20);
	cr_assert_eq(c.tls_split, 1);
	cr_assert_eq(c.defaults.cork, ST_CORK_OFF);
}

/* stats = 5; was the path "5"; name and program already took only a string. */
Test(config, a_name_or_a_path_is_taken_only_as_a_string_in_a_file)
{
	put_env("SOCKTUNE_CONFIG", write_file("strings.conf", "stats = 5;\n"
							      "rules = ( { name = true; sndbuf = \"1M\"; } );\n"));
	load();
	cr_assert_eq(nmsgs, 2, "%s", msgs);
	cr_assert(strstr(msgs, ":1: stats: \"5\" is not valid; accepted: \"stderr\""), "%s", msgs);
	cr_assert(strstr(msgs, ":2: rules[0].name: \"true\" is not valid; accepted: a string"),
		  "%s", msgs);
	cr_assert_str_eq(cfg.stats, "");
	cr_assert_eq(cfg.nrules, 0);
}

/* The table's fields, named once more by hand: the generic tests above go through
 * the table both ways and would not see a row pointing at its neighbour's field. */
Test(config, every_key_fills_its_own_field)
{
	static const struct {
		const char *name;
		size_t offset;
	} fields[] = {
		{"mode", offsetof(struct st_config, mode)},
		{"log", offsetof(struct st_config, log)},
		{"stats", offsetof(struct st_config, stats)},
		{"tls_split", offsetof(struct st_config, tls_split)},
		{"hold_max", offsetof(struct st_config, hold_max)},
		{"profile", offsetof(struct st_config, profile)},
		{"live", offsetof(struct st_config, live)},
		{"live_dir", offsetof(struct st_config, live_dir)},
		{"name", offsetof(struct st_rule, name)},
		{"family", offsetof(struct st_rule, families)},
		{"type", offsetof(struct st_rule, types)},
		{"role", offsetof(struct st_rule, role)},
		{"program", offsetof(struct st_rule, program)},
		{"local_port", offsetof(struct st_rule, local_port)},
		{"peer_port", offsetof(struct st_rule, peer_port)},
		{"peer", offsetof(struct st_rule, peer)},
		{"sndbuf", offsetof(struct st_opts, sndbuf)},
		{"rcvbuf", offsetof(struct st_opts, rcvbuf)},
		{"nodelay", offsetof(struct st_opts, nodelay)},
		{"force", offsetof(struct st_opts, force)},
		{"merge", offsetof(struct st_opts, merge)},
		{"tls_merge", offsetof(struct st_opts, tls_merge)},
		{"cork", offsetof(struct st_opts, cork)},
	};
	size_t n = 0;
	for (const struct st_key *k = socktune_keys; k->name; k++) {
		if (is_group(k))
			continue;
		size_t i = 0;
		while (i < sizeof(fields) / sizeof(fields[0]) && strcmp(fields[i].name, k->name))
			i++;
		cr_assert_lt(i, sizeof(fields) / sizeof(fields[0]), "%s: a new key? name its field",
			     k->name);
		cr_assert_eq(k->offset, fields[i].offset, "%s", k->name);
		n++;
	}
	cr_assert_eq(n, sizeof(fields) / sizeof(fields[0]), "a key is gone from the table");
}

/* What the man pages, --help and the messages rely on. */
Test(config, the_table_holds_together)
{
	for (const struct st_key *k = socktune_keys; k->name; k++) {
		cr_assert(k->accepted && k->accepted[0] && k->help && k->help[0], "%s", k->name);
		for (const struct st_key *o = socktune_keys; o < k; o++) {
			cr_assert_str_neq(o->name, k->name, "twice in the table");
			/* One wording per type; strings differ in their room. */
			if (o->type == k->type && k->type != ST_VALUE_STRING)
				cr_assert_str_eq(o->accepted, k->accepted, "%s and %s", o->name, k->name);
		}
		char env[64] = "SOCKTUNE";
		if (strcmp(k->name, "mode")) {
			size_t n = strlen(env);
			env[n++] = '_';
			for (const char *p = k->name; *p; p++)
				env[n++] = (char)(*p >= 'a' && *p <= 'z' ? *p - 'a' + 'A' : *p);
			env[n] = '\0';
		}
		if (k->kind == ST_KEY_MATCH || is_group(k))
			cr_assert_null(k->env, "%s: only a file has it", k->name);
		else
			cr_assert_str_eq(k->env, env, "%s", k->name);
		if (k->type == ST_VALUE_STRING)
			cr_assert(k->size > 1, "%s", k->name);
	}
}

/* The keys of those kinds (with a variable only, for -o), as the messages list them. */
static void key_list(char *out, size_t len, unsigned kinds, int with_env)
{
	size_t n = 0;
	out[0] = '\0';
	for (const struct st_key *k = socktune_keys; k->name; k++)
		if ((k->kind & kinds) && (!with_env || k->env))
			n += (size_t)snprintf(out + n, len - n, "%s%s%s", n ? ", " : "", k->name,
					      k->type == ST_VALUE_DEFAULTS ? " = { ... }"
					      : k->type == ST_VALUE_RULES  ? " = ( ... )"
									   : "");
}

Test(config, unknown_key_messages_list_the_tables_keys)
{
	put_env("SOCKTUNE_CONFIG", write_file("unknown.conf", "colour = 1;\n"
							      "defaults = { colour = 1; };\n"
							      "rules = ( { colour = 1; } );\n"));
	load();
	struct st_config c;
	conf_defaults(&c);
	conf_set(&c, "colour", "red", "-o", "colour", collect, NULL);
	cr_assert_eq(nmsgs, 4, "%s", msgs);
	static const struct {
		const char *where;
		unsigned kinds;
		int with_env;
		const char *then;
	} lists[] = {
		{"unknown.conf:1: colour", ST_KEY_GLOBAL, 0, ""},
		{"unknown.conf:2: defaults.colour", ST_KEY_OPTION, 0, ""},
		{"unknown.conf:3: rules[0].colour", ST_KEY_MATCH | ST_KEY_OPTION, 0,
		 "; this rule is ignored"},
		{"-o:0: colour", ST_KEY_GLOBAL | ST_KEY_OPTION, 1, ""},
	};
	for (size_t i = 0; i < sizeof(lists) / sizeof(lists[0]); i++) {
		char keys[512], want[700];
		key_list(keys, sizeof(keys), lists[i].kinds, lists[i].with_env);
		snprintf(want, sizeof(want), "%s: unknown key; accepted: %s%s\n", lists[i].where, keys,
			 lists[i].then);
		cr_assert(strstr(msgs, want), "want %s in\n%s", want, msgs);
	}
	cr_assert(strstr(msgs, "accepted: mode, log, stats, tls_split, hold_max, profile, live, live_dir, "
			       "defaults = { ... }, "
			       "rules = ( ... )\n"),
		  "%s", msgs);
	cr_assert(strstr(msgs, "accepted: name, family, type, role, program, local_port, peer_port, "
			       "peer, sndbuf, rcvbuf, nodelay, force, merge, tls_merge, cork; this "
			       "rule is ignored\n"),
		  "%s", msgs);
}
