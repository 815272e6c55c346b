/* The configuration: sources in order, later wins, and one message per
 * problem naming the source, the line and the key. */
#include "config.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char dir[64];
static char msgs[8192];
static int nmsgs;

static void collect(void *ctx, const char *source, int line, const char *key, const char *msg)
{
	(void)ctx;
	size_t n = strlen(msgs);
	snprintf(msgs + n, sizeof(msgs) - n, "%s:%d: %s: %s\n", source, line, key ? key : "-", msg);
	nmsgs++;
}

/* A fake environment, so no test reads the real one. */
static const char *env_names[8], *env_values[8];
static int nenv;

static char *fake_getenv(const char *name)
{
	for (int i = 0; i < nenv; i++)
		if (!strcmp(env_names[i], name))
			return (char *)env_values[i];
	return NULL;
}

static void put_env(const char *name, const char *value)
{
	env_names[nenv] = name;
	env_values[nenv++] = value;
}

static const char *write_file(const char *name, const char *text)
{
	static char paths[4][256];
	static int next;
	char *path = paths[next++ % 4];
	snprintf(path, 256, "%s/%s", dir, name);
	for (char *p = path + strlen(dir) + 1; (p = strchr(p, '/')); p++) {
		*p = '\0';
		mkdir(path, 0755);
		*p = '/';
	}
	FILE *f = fopen(path, "w");
	cr_assert_not_null(f);
	fputs(text, f);
	fclose(f);
	return path;
}

static void setup(void)
{
	strcpy(dir, "/tmp/socktune-unit.XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
	msgs[0] = '\0';
	nmsgs = 0;
	nenv = 0;
}

static void teardown(void)
{
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	cr_assert_eq(system(cmd), 0);
}

static struct st_config cfg;

static void load(void)
{
	char sys[128];
	snprintf(sys, sizeof(sys), "%s/etc", dir);
	conf_load(&cfg, sys, 0, fake_getenv, collect, NULL, "prog", "/bin/prog");
}

TestSuite(config, .init = setup, .fini = teardown);

Test(config, builtin_defaults)
{
	load();
	cr_assert_eq(cfg.mode, ST_MODE_ON);
	cr_assert_eq(cfg.log, ST_LOG_WARN);
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
	cr_assert(strstr(msgs, "environment:0: SOCKTUNE_SNDBUF: \"lots\" is not valid; accepted: "),
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
	env_values[0] = extra;
	msgs[0] = '\0';
	nmsgs = 0;
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

	nenv = 0;
	put_env("SOCKTUNE_TLS_SPLIT", "sometimes");
	load();
	cr_assert_eq(cfg.tls_split, 1, "a bad value leaves the default");
	cr_assert(strstr(msgs, "SOCKTUNE_TLS_SPLIT: \"sometimes\" is not valid; accepted: on or off"),
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
		nenv = 0;
		put_env("SOCKTUNE_HOLD_MAX", bad[i]);
		load();
		cr_assert_eq(cfg.hold_max, 20, "\"%s\" leaves the default", bad[i]);
		cr_assert(strstr(msgs, "SOCKTUNE_HOLD_MAX: \"") &&
				  strstr(msgs, "accepted: a time from 1 to 200 milliseconds"),
			  "%s: %s", bad[i], msgs);
	}
}
