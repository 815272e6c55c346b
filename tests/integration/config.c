/* config.c: configuration files end to end: messages for bad input (naming the file,
 * the line and the key) with the valid rest still applied, a syntax error ignoring the
 * file, rule matching on role, family, type, ports, peer and program, and the order of
 * the sources (user file, SOCKTUNE_CONFIG, environment). TCP sndbuf is the witness:
 * left alone by default, so any 1M/512K value read back came from the configuration. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "run.h"

/* The library prints nothing by default; these runs ask for the messages
 * whose wording they check (live.c checks where they go otherwise). */
#define LOUD "SOCKTUNE_LOG=warn"

#define MiB (1024L * 1024L)
#define KiB 1024L

/* Writes TEXT as NAME in the temp dir and runs the probe with SOCKTUNE_CONFIG on it. */
static char *run_config(struct it_run *r, const char *name, const char *text, const char *extra_env,
			const char *const args[])
{
	char *conf = it_write_file(name, text);
	char *env;
	cr_assert_geq(asprintf(&env, "SOCKTUNE_CONFIG=%s", conf), 0);
	it_probe(r, IT_PRELOAD, extra_env ? IT_LIST(env, LOUD, extra_env) : IT_LIST(env, LOUD), args);
	free(env);
	return conf;
}

static struct it_run baseline(const char *const args[])
{
	struct it_run base;
	it_probe(&base, 0, NULL, args);
	it_assert_ran(&base);
	return base;
}

/* "FILE:LINE:" and the key appear on one socktune line of stderr. */
static void assert_message(const struct it_run *r, const char *file, int line, const char *key)
{
	char where[4200];
	snprintf(where, sizeof where, "%s:%d:", file, line);
	const char *hit = strstr(r->err, where);
	cr_assert_not_null(hit, "no message naming %s\n--- stderr:\n%s", where, r->err);
	const char *bol = hit;
	while (bol > r->err && bol[-1] != '\n')
		bol--;
	const char *eol = strchr(hit, '\n');
	size_t len = eol ? (size_t)(eol - bol) : strlen(bol);
	char *msg = strndup(bol, len);
	cr_assert(strncmp(msg, "socktune[probe:", 15) == 0, "message lacks the prefix: %s", msg);
	cr_assert_not_null(strstr(msg, key), "message does not name the key %s: %s", key, msg);
	free(msg);
}

Test(config, unknown_key_warns_and_the_valid_rule_applies)
{
	struct it_run r;
	char *conf = run_config(&r, "bad.conf",
				"# socktune test\n"
				"bogus_key = 1;\n"
				"rules = ( { family = \"inet\"; sndbuf = \"1M\"; } );\n",
				NULL, IT_LIST("--family", "inet"));
	it_assert_ran(&r);
	assert_message(&r, conf, 2, "bogus_key");
	it_assert_field(&r, "client ", "sndbuf", it_expected_sndbuf(MiB));
	it_assert_field(&r, "server ", "sndbuf", it_expected_sndbuf(MiB));
	it_run_free(&r);
	free(conf);
}

Test(config, bad_value_warns_with_accepted_values_and_the_rest_applies)
{
	struct it_run r;
	char *conf = run_config(&r, "bad.conf",
				"defaults = {\n"
				"  sndbuf = \"lots\";\n"
				"};\n"
				"rules = ( { family = \"inet\"; role = \"client\"; sndbuf = \"1M\"; } );\n",
				NULL, IT_LIST("--family", "inet"));
	it_assert_ran(&r);
	assert_message(&r, conf, 2, "sndbuf");
	cr_assert_not_null(strstr(r.err, "accepted"), "message lacks what is accepted:\n%s", r.err);
	it_assert_field(&r, "client ", "sndbuf", it_expected_sndbuf(MiB));
	it_run_free(&r);
	free(conf);
}

Test(config, bad_key_inside_a_rule_is_named_with_its_line)
{
	struct it_run r;
	char *conf = run_config(&r, "bad.conf",
				"rules = (\n"
				"  { family = \"inet\";\n"
				"    colour = \"red\";\n"
				"    sndbuf = \"1M\"; }\n"
				");\n",
				NULL, IT_LIST("--family", "inet"));
	it_assert_ran(&r);
	assert_message(&r, conf, 3, "colour");
	it_run_free(&r);
	free(conf);
}

Test(config, one_message_per_problem)
{
	struct it_run r;
	char *conf = run_config(&r, "bad.conf",
				"first_bad = 1;\n"
				"second_bad = 2;\n"
				"defaults = { nodelay = \"maybe\"; };\n",
				NULL, IT_LIST("--family", "inet"));
	it_assert_ran(&r);
	assert_message(&r, conf, 1, "first_bad");
	assert_message(&r, conf, 2, "second_bad");
	assert_message(&r, conf, 3, "nodelay");
	cr_assert_eq(it_count_lines(r.err, conf), 3, "expected 3 messages naming the file:\n%s", r.err);
	it_run_free(&r);
	free(conf);
}

Test(config, syntax_error_ignores_the_whole_file)
{
	struct it_run base = baseline(IT_LIST("--family", "inet")), r;
	char *conf = run_config(&r, "syntax.conf",
				"defaults = { sndbuf = \"1M\"; };\n"
				"rules = ( { family = \"inet\" sndbuf = } );\n",
				NULL, IT_LIST("--family", "inet"));
	it_assert_ran(&r);
	cr_assert_not_null(strstr(r.err, conf), "no message naming the file:\n%s", r.err);
	cr_assert_not_null(strstr(r.err, "ignor"), "message does not say the file is ignored:\n%s", r.err);
	it_assert_untouched(&r, &base, "client ", "sndbuf");
	it_run_free(&r);
	it_run_free(&base);
	free(conf);
	/* The built-in defaults still apply. */
	conf = run_config(&r, "syntax.conf", "defaults = { sndbuf = \"1M\"; \n", NULL, IT_EMPTY);
	it_assert_ran(&r);
	it_assert_field(&r, "client ", "sndbuf", it_expected_sndbuf(2 * MiB));
	it_run_free(&r);
	free(conf);
}

Test(config, valid_file_prints_nothing)
{
	struct it_run r;
	char *conf = run_config(&r, "good.conf",
				"mode = \"on\";\n"
				"log = \"warn\";\n"
				"defaults = { sndbuf = \"auto\"; rcvbuf = \"auto\"; nodelay = \"default\"; force = false; };\n"
				"rules = ( { name = \"tcp\"; family = \"inet,inet6\"; type = \"stream\"; role = \"any\";\n"
				"            program = \"*\"; sndbuf = \"1M\"; rcvbuf = \"default\"; nodelay = true; } );\n",
				NULL, IT_LIST("--family", "inet"));
	it_assert_ran(&r);
	cr_assert_str_empty(r.err, "a valid file gave messages:\n%s", r.err);
	it_assert_field(&r, "client ", "sndbuf", it_expected_sndbuf(MiB));
	it_assert_field(&r, "client ", "nodelay", 1);
	it_run_free(&r);
	free(conf);
}

Test(config, rule_role_client_tunes_only_the_client)
{
	struct it_run base = baseline(IT_LIST("--family", "inet")), r;
	char *conf = run_config(&r, "c.conf", "rules = ( { family = \"inet\"; role = \"client\"; sndbuf = \"1M\"; } );\n",
				NULL, IT_LIST("--family", "inet"));
	it_assert_ran(&r);
	it_assert_field(&r, "client ", "sndbuf", it_expected_sndbuf(MiB));
	it_assert_untouched(&r, &base, "server ", "sndbuf");
	it_run_free(&r);
	it_run_free(&base);
	free(conf);
}

Test(config, rule_role_server_tunes_only_the_server)
{
	struct it_run base = baseline(IT_LIST("--family", "inet")), r;
	char *conf = run_config(&r, "c.conf", "rules = ( { family = \"inet\"; role = \"server\"; sndbuf = \"1M\"; } );\n",
				NULL, IT_LIST("--family", "inet"));
	it_assert_ran(&r);
	it_assert_field(&r, "server ", "sndbuf", it_expected_sndbuf(MiB));
	it_assert_untouched(&r, &base, "client ", "sndbuf");
	it_run_free(&r);
	it_run_free(&base);
	free(conf);
}

Test(config, rule_family_matches_only_that_family)
{
	struct it_run base = baseline(IT_LIST("--family", "inet")), r;
	const char *text = "rules = ( { family = \"unix\"; sndbuf = \"1M\"; } );\n";
	char *conf = run_config(&r, "f.conf", text, NULL, IT_LIST("--family", "inet"));
	it_assert_ran(&r);
	it_assert_untouched(&r, &base, "client ", "sndbuf");
	it_run_free(&r);
	free(conf);
	conf = run_config(&r, "f.conf", text, NULL, IT_LIST("--family", "unix"));
	it_assert_ran(&r);
	it_assert_field(&r, "client ", "sndbuf", it_expected_sndbuf(MiB));
	it_run_free(&r);
	free(conf);
	it_run_free(&base);
}

Test(config, rule_family_list_matches_each_member)
{
	const char *text = "rules = ( { family = \"inet6, inet\"; sndbuf = \"1M\"; } );\n";
	struct it_run r;
	char *conf = run_config(&r, "f.conf", text, NULL, IT_LIST("--family", "inet"));
	it_assert_ran(&r);
	it_assert_field(&r, "client ", "sndbuf", it_expected_sndbuf(MiB));
	it_run_free(&r);
	free(conf);
	if (!it_have_ipv6())
		return;
	conf = run_config(&r, "f.conf", text, NULL, IT_LIST("--family", "inet6"));
	it_assert_ran(&r);
	it_assert_field(&r, "client ", "sndbuf", it_expected_sndbuf(MiB));
	it_run_free(&r);
	free(conf);
}

Test(config, rule_type_seqpacket_matches_seqpacket_only)
{
	const char *text = "rules = ( { family = \"unix\"; type = \"seqpacket\"; sndbuf = \"1M\"; } );\n";
	struct it_run r;
	char *conf = run_config(&r, "t.conf", text, NULL, IT_LIST("--type", "seqpacket"));
	it_assert_ran(&r);
	it_assert_field(&r, "client ", "sndbuf", it_expected_sndbuf(MiB));
	it_assert_field(&r, "server ", "sndbuf", it_expected_sndbuf(MiB));
	it_run_free(&r);
	free(conf);
	conf = run_config(&r, "t.conf", text, NULL, IT_LIST("--type", "stream"));
	it_assert_ran(&r);
	it_assert_field(&r, "client ", "sndbuf", it_expected_sndbuf(2 * MiB));
	it_run_free(&r);
	free(conf);
}

Test(config, rule_peer_port_matches_the_client)
{
	int port = it_free_port();
	char portarg[16], text[256];
	snprintf(portarg, sizeof portarg, "%d", port);
	struct it_run base = baseline(IT_LIST("--family", "inet")), r;
	snprintf(text, sizeof text, "rules = ( { role = \"client\"; peer_port = %d; sndbuf = \"1M\"; } );\n", port);
	char *conf = run_config(&r, "p.conf", text, NULL, IT_LIST("--family", "inet", "--port", portarg));
	it_assert_ran(&r);
	it_assert_field(&r, "client ", "sndbuf", it_expected_sndbuf(MiB));
	it_assert_untouched(&r, &base, "server ", "sndbuf");
	it_run_free(&r);
	free(conf);
	snprintf(text, sizeof text, "rules = ( { role = \"client\"; peer_port = %d; sndbuf = \"1M\"; } );\n",
		 port == 65535 ? 1 : port + 1);
	conf = run_config(&r, "p.conf", text, NULL, IT_LIST("--family", "inet", "--port", portarg));
	it_assert_ran(&r);
	it_assert_untouched(&r, &base, "client ", "sndbuf");
	it_run_free(&r);
	free(conf);
	it_run_free(&base);
}

Test(config, rule_local_port_range_matches_the_server)
{
	int port = it_free_port();
	char portarg[16], text[256];
	snprintf(portarg, sizeof portarg, "%d", port);
	struct it_run base = baseline(IT_LIST("--family", "inet")), r;
	snprintf(text, sizeof text,
		 "rules = ( { role = \"server\"; local_port = \"1-2,%d-%d\"; sndbuf = \"1M\"; } );\n", port - 1, port);
	char *conf = run_config(&r, "p.conf", text, NULL, IT_LIST("--family", "inet", "--port", portarg));
	it_assert_ran(&r);
	it_assert_field(&r, "server ", "sndbuf", it_expected_sndbuf(MiB));
	it_assert_untouched(&r, &base, "client ", "sndbuf");
	it_run_free(&r);
	free(conf);
	snprintf(text, sizeof text, "rules = ( { role = \"server\"; local_port = \"1-2\"; sndbuf = \"1M\"; } );\n");
	conf = run_config(&r, "p.conf", text, NULL, IT_LIST("--family", "inet", "--port", portarg));
	it_assert_ran(&r);
	it_assert_untouched(&r, &base, "server ", "sndbuf");
	it_run_free(&r);
	free(conf);
	it_run_free(&base);
}

Test(config, rule_peer_cidr_matches_loopback_only)
{
	struct it_run r;
	char *conf = run_config(&r, "n.conf",
				"rules = ( { role = \"client\"; peer = \"10.0.0.0/8\"; sndbuf = \"512K\"; },\n"
				"          { role = \"client\"; peer = \"127.0.0.0/8\"; sndbuf = \"1M\"; } );\n",
				NULL, IT_LIST("--family", "inet"));
	it_assert_ran(&r);
	it_assert_field(&r, "client ", "sndbuf", it_expected_sndbuf(MiB));
	it_run_free(&r);
	free(conf);
}

Test(config, rule_ipv4_cidr_matches_v4_mapped_peer)
{
	if (!it_have_ipv6())
		cr_skip_test("IPv6 is not available");
	struct it_run r;
	char *conf = run_config(&r, "n.conf", "rules = ( { role = \"client\"; peer = \"127.0.0.0/8\"; sndbuf = \"1M\"; } );\n",
				NULL, IT_LIST("--family", "inet6", "--v4mapped"));
	it_assert_ran(&r);
	it_assert_field(&r, "client ", "sndbuf", it_expected_sndbuf(MiB));
	it_run_free(&r);
	free(conf);
}

Test(config, rule_program_glob_on_short_name)
{
	struct it_run base = baseline(IT_LIST("--family", "inet")), r;
	char *conf = run_config(&r, "g.conf", "rules = ( { program = \"pro?e*\"; sndbuf = \"1M\"; } );\n", NULL,
				IT_LIST("--family", "inet"));
	it_assert_ran(&r);
	it_assert_field(&r, "client ", "sndbuf", it_expected_sndbuf(MiB));
	it_run_free(&r);
	free(conf);
	conf = run_config(&r, "g.conf", "rules = ( { program = \"qemu-*\"; sndbuf = \"1M\"; } );\n", NULL,
			  IT_LIST("--family", "inet"));
	it_assert_ran(&r);
	it_assert_untouched(&r, &base, "client ", "sndbuf");
	it_run_free(&r);
	free(conf);
	it_run_free(&base);
}

Test(config, rule_program_glob_with_slash_matches_full_path)
{
	struct it_run r;
	char *conf = run_config(&r, "g.conf", "rules = ( { program = \"/*/probe\"; sndbuf = \"1M\"; } );\n", NULL,
				IT_LIST("--family", "inet"));
	it_assert_ran(&r);
	it_assert_field(&r, "client ", "sndbuf", it_expected_sndbuf(MiB));
	it_run_free(&r);
	free(conf);
}

Test(config, first_matching_rule_wins)
{
	struct it_run r;
	char *conf = run_config(&r, "o.conf",
				"rules = ( { family = \"inet\"; sndbuf = \"512K\"; },\n"
				"          { family = \"inet\"; sndbuf = \"1M\"; } );\n",
				NULL, IT_LIST("--family", "inet"));
	it_assert_ran(&r);
	it_assert_field(&r, "client ", "sndbuf", it_expected_sndbuf(512 * KiB));
	it_run_free(&r);
	free(conf);
}

Test(config, rule_without_option_falls_back_to_defaults)
{
	struct it_run r;
	char *conf = run_config(&r, "d.conf",
				"defaults = { sndbuf = \"512K\"; };\n"
				"rules = ( { family = \"inet\"; nodelay = true; } );\n",
				NULL, IT_LIST("--family", "inet"));
	it_assert_ran(&r);
	it_assert_field(&r, "client ", "nodelay", 1);
	it_assert_field(&r, "client ", "sndbuf", it_expected_sndbuf(512 * KiB));
	it_run_free(&r);
	free(conf);
}

Test(config, defaults_apply_to_every_socket)
{
	const char *text = "defaults = { sndbuf = \"1M\"; };\n";
	struct it_run r;
	char *conf = run_config(&r, "d.conf", text, NULL, IT_LIST("--family", "inet"));
	it_assert_ran(&r);
	it_assert_field(&r, "server ", "sndbuf", it_expected_sndbuf(MiB));
	it_run_free(&r);
	free(conf);
	conf = run_config(&r, "d.conf", text, NULL, IT_LIST("--family", "unix"));
	it_assert_ran(&r);
	it_assert_field(&r, "client ", "sndbuf", it_expected_sndbuf(MiB));
	it_run_free(&r);
	free(conf);
}

Test(config, user_file_in_xdg_config_home_is_read)
{
	char *conf = it_write_file("xdg/socktune/socktune.conf", "rules = ( { family = \"inet\"; sndbuf = \"1M\"; } );\n");
	struct it_run r;
	it_probe(&r, IT_PRELOAD, NULL, IT_LIST("--family", "inet"));
	it_assert_ran(&r);
	it_assert_field(&r, "client ", "sndbuf", it_expected_sndbuf(MiB));
	it_run_free(&r);
	free(conf);
}

Test(config, user_file_under_home_is_read_without_xdg)
{
	char *conf = it_write_file("home/.config/socktune/socktune.conf",
				   "rules = ( { family = \"inet\"; sndbuf = \"1M\"; } );\n");
	struct it_run r;
	it_probe(&r, IT_PRELOAD, IT_LIST("XDG_CONFIG_HOME"), IT_LIST("--family", "inet"));
	it_assert_ran(&r);
	it_assert_field(&r, "client ", "sndbuf", it_expected_sndbuf(MiB));
	it_run_free(&r);
	free(conf);
}

Test(config, socktune_config_rules_are_tried_before_user_file_rules)
{
	char *user = it_write_file("xdg/socktune/socktune.conf",
				   "defaults = { nodelay = true; };\n"
				   "rules = ( { family = \"inet\"; sndbuf = \"1M\"; } );\n");
	struct it_run r;
	char *conf = run_config(&r, "later.conf", "rules = ( { family = \"inet\"; sndbuf = \"512K\"; } );\n", NULL,
				IT_LIST("--family", "inet"));
	it_assert_ran(&r);
	it_assert_field(&r, "client ", "sndbuf", it_expected_sndbuf(512 * KiB));
	/* The earlier file's defaults still apply where the later one says nothing. */
	it_assert_field(&r, "client ", "nodelay", 1);
	it_run_free(&r);
	free(conf);
	free(user);
}

Test(config, later_file_defaults_override_key_by_key)
{
	char *user = it_write_file("xdg/socktune/socktune.conf", "defaults = { sndbuf = \"1M\"; nodelay = true; };\n");
	struct it_run r;
	char *conf = run_config(&r, "later.conf", "defaults = { sndbuf = \"512K\"; };\n", NULL,
				IT_LIST("--family", "inet"));
	it_assert_ran(&r);
	it_assert_field(&r, "client ", "sndbuf", it_expected_sndbuf(512 * KiB));
	it_assert_field(&r, "client ", "nodelay", 1);
	it_run_free(&r);
	free(conf);
	free(user);
}

Test(config, env_sndbuf_overrides_a_matching_rule)
{
	struct it_run r;
	char *conf = run_config(&r, "e.conf", "rules = ( { family = \"inet\"; sndbuf = \"1M\"; } );\n",
				"SOCKTUNE_SNDBUF=512K", IT_LIST("--family", "inet"));
	it_assert_ran(&r);
	it_assert_field(&r, "client ", "sndbuf", it_expected_sndbuf(512 * KiB));
	it_run_free(&r);
	free(conf);
}

Test(config, mode_off_in_file_leaves_everything_alone)
{
	struct it_run base = baseline(IT_EMPTY), r;
	char *conf = run_config(&r, "m.conf", "mode = \"off\";\n", NULL, IT_EMPTY);
	it_assert_ran(&r);
	it_assert_untouched(&r, &base, "client ", "sndbuf");
	it_assert_untouched(&r, &base, "server ", "sndbuf");
	it_run_free(&r);
	it_run_free(&base);
	free(conf);
}

Test(config, env_mode_overrides_file_mode)
{
	struct it_run r;
	char *conf = run_config(&r, "m.conf", "mode = \"off\";\n", "SOCKTUNE=on", IT_EMPTY);
	it_assert_ran(&r);
	it_assert_field(&r, "client ", "sndbuf", it_expected_sndbuf(2 * MiB));
	it_run_free(&r);
	free(conf);
}

/* ---- paths that are not configuration files (issue 13, case H) ----
 * libconfig's scanner calls exit(2) when a read fails (a directory, /proc/self/mem)
 * and a FIFO blocks any open for reading until a writer comes: each of these ended or
 * hung every preloaded program. Now each gets one message, and the program runs with
 * the built-in defaults (a 2 MiB unix send buffer is the witness). */
static void not_a_file_case(const char *path, const char *why)
{
	struct it_run r;
	char *env;
	cr_assert_geq(asprintf(&env, "SOCKTUNE_CONFIG=%s", path), 0);
	it_probe(&r, IT_PRELOAD, IT_LIST(env, LOUD), IT_EMPTY);
	it_assert_ran(&r);
	cr_assert_eq(it_count_lines(r.err, path), 1, "expected one message naming %s:\n%s", path, r.err);
	cr_assert_not_null(strstr(r.err, why), "the message does not say \"%s\":\n%s", why, r.err);
	it_assert_field(&r, "client ", "sndbuf", it_expected_sndbuf(2 * MiB));
	it_run_free(&r);
	free(env);
}

Test(config, a_directory_is_refused_and_the_program_runs)
{
	char *dir = it_path("conf.d");
	cr_assert_eq(mkdir(dir, 0700), 0);
	not_a_file_case(dir, "not a regular file");
	free(dir);
}

Test(config, a_fifo_is_refused_without_blocking)
{
	char *fifo = it_path("conf.fifo");
	cr_assert_eq(mkfifo(fifo, 0600), 0);
	not_a_file_case(fifo, "not a regular file");
	free(fifo);
}

Test(config, proc_self_mem_is_refused_and_the_program_runs)
{
	not_a_file_case("/proc/self/mem", "cannot read");
}

Test(config, include_is_ignored_with_a_message_and_the_rest_applies)
{
	struct it_run r;
	char *dir = it_path("inc.d");
	cr_assert_eq(mkdir(dir, 0700), 0);
	char *text;
	cr_assert_geq(asprintf(&text, "rules = ( { family = \"inet\"; sndbuf = \"1M\"; } );\n"
				      "  @include \"%s\"\n", dir), 0);
	char *conf = run_config(&r, "inc.conf", text, NULL, IT_LIST("--family", "inet"));
	it_assert_ran(&r);
	assert_message(&r, conf, 2, "@include");
	it_assert_field(&r, "client ", "sndbuf", it_expected_sndbuf(MiB));
	it_run_free(&r);
	free(conf);
	free(text);
	free(dir);
}

Test(config, stats_to_a_fifo_without_reader_does_not_hang_the_exit)
{
	struct it_run r;
	char *fifo = it_path("stats.fifo");
	cr_assert_eq(mkfifo(fifo, 0600), 0);
	char *env;
	cr_assert_geq(asprintf(&env, "SOCKTUNE_STATS=%s", fifo), 0);
	it_probe(&r, IT_PRELOAD, IT_LIST(env, LOUD), IT_EMPTY);
	it_assert_ran(&r);
	cr_assert_not_null(strstr(r.err, "stats: cannot open"), "no message about the stats FIFO:\n%s", r.err);
	it_run_free(&r);
	free(env);
	free(fifo);
}
