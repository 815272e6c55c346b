/* userwins.c: the program's own SO_SNDBUF / SO_RCVBUF / TCP_NODELAY, on the socket or
 * on the listener of an accepted socket, wins over socktune unless force is on
 * (SOCKTUNE_FORCE or a rule's force = true). The probe's user values are chosen to
 * differ from both the kernel default and what socktune would set. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>

#include "run.h"

#define MiB (1024L * 1024L)
#define KiB 1024L
#define USER "65536"
#define USER_READ (2 * 65536L)

Test(userwins, user_sndbuf_kept_over_unix_auto)
{
	struct it_run r;
	it_probe(&r, IT_PRELOAD, NULL, IT_LIST("--family", "unix", "--user-sndbuf", USER));
	it_assert_ran(&r);
	it_assert_field(&r, "client ", "sndbuf", USER_READ);
	it_assert_field(&r, "server ", "sndbuf", it_expected_sndbuf(2 * MiB));
	it_run_free(&r);
}

Test(userwins, user_sndbuf_kept_over_env_sndbuf)
{
	struct it_run r;
	it_probe(&r, IT_PRELOAD, IT_LIST("SOCKTUNE_SNDBUF=1M"), IT_LIST("--family", "inet", "--user-sndbuf", USER));
	it_assert_ran(&r);
	it_assert_field(&r, "client ", "sndbuf", USER_READ);
	it_assert_field(&r, "server ", "sndbuf", it_expected_sndbuf(MiB));
	it_run_free(&r);
}

Test(userwins, env_force_overrides_user_sndbuf)
{
	static const char *const spellings[] = { "SOCKTUNE_FORCE=on", "SOCKTUNE_FORCE=true" };
	for (size_t i = 0; i < 2; i++) {
		struct it_run r;
		it_probe(&r, IT_PRELOAD, IT_LIST("SOCKTUNE_SNDBUF=1M", spellings[i]),
			 IT_LIST("--family", "inet", "--user-sndbuf", USER));
		it_assert_ran(&r);
		it_assert_field(&r, "client ", "sndbuf", it_expected_sndbuf(MiB));
		it_run_free(&r);
	}
}

Test(userwins, env_force_overrides_user_sndbuf_on_unix_auto)
{
	struct it_run r;
	it_probe(&r, IT_PRELOAD, IT_LIST("SOCKTUNE_FORCE=on"), IT_LIST("--family", "unix", "--user-sndbuf", USER));
	it_assert_ran(&r);
	it_assert_field(&r, "client ", "sndbuf", it_expected_sndbuf(2 * MiB));
	it_run_free(&r);
}

Test(userwins, env_force_off_keeps_user_sndbuf)
{
	struct it_run r;
	it_probe(&r, IT_PRELOAD, IT_LIST("SOCKTUNE_SNDBUF=1M", "SOCKTUNE_FORCE=off"),
		 IT_LIST("--family", "inet", "--user-sndbuf", USER));
	it_assert_ran(&r);
	it_assert_field(&r, "client ", "sndbuf", USER_READ);
	it_run_free(&r);
}

static void run_with_rule(struct it_run *r, const char *rule, const char *const args[])
{
	char *text;
	cr_assert_geq(asprintf(&text, "rules = ( { %s } );\n", rule), 0);
	char *conf = it_write_file("rule.conf", text);
	char *env;
	cr_assert_geq(asprintf(&env, "SOCKTUNE_CONFIG=%s", conf), 0);
	it_probe(r, IT_PRELOAD, IT_LIST(env), args);
	it_assert_ran(r);
	free(text);
	free(conf);
	free(env);
}

Test(userwins, rule_without_force_keeps_user_sndbuf)
{
	struct it_run r;
	run_with_rule(&r, "family = \"inet\"; sndbuf = \"1M\";", IT_LIST("--family", "inet", "--user-sndbuf", USER));
	it_assert_field(&r, "client ", "sndbuf", USER_READ);
	it_assert_field(&r, "server ", "sndbuf", it_expected_sndbuf(MiB));
	it_run_free(&r);
}

Test(userwins, rule_force_true_overrides_user_sndbuf)
{
	struct it_run r;
	run_with_rule(&r, "family = \"inet\"; sndbuf = \"1M\"; force = true;",
		      IT_LIST("--family", "inet", "--user-sndbuf", USER));
	it_assert_field(&r, "client ", "sndbuf", it_expected_sndbuf(MiB));
	it_run_free(&r);
}

Test(userwins, user_rcvbuf_kept_over_env_rcvbuf)
{
	struct it_run r;
	it_probe(&r, IT_PRELOAD, IT_LIST("SOCKTUNE_RCVBUF=512K"), IT_LIST("--family", "inet", "--user-rcvbuf", USER));
	it_assert_ran(&r);
	it_assert_field(&r, "client ", "rcvbuf", USER_READ);
	it_assert_field(&r, "server ", "rcvbuf", it_expected_rcvbuf(512 * KiB));
	it_run_free(&r);
}

Test(userwins, user_listener_rcvbuf_kept_on_listener_and_accepted)
{
	struct it_run r;
	it_probe(&r, IT_PRELOAD, IT_LIST("SOCKTUNE_RCVBUF=512K"),
		 IT_LIST("--family", "inet", "--user-listener-rcvbuf", USER));
	it_assert_ran(&r);
	it_assert_field(&r, "listener ", "rcvbuf", USER_READ);
	it_assert_field(&r, "server ", "rcvbuf", USER_READ);
	it_assert_field(&r, "client ", "rcvbuf", it_expected_rcvbuf(512 * KiB));
	it_run_free(&r);
}

Test(userwins, user_listener_sndbuf_kept_on_tcp_accepted)
{
	/* TCP accepted sockets inherit the listener's buffers. */
	struct it_run r;
	it_probe(&r, IT_PRELOAD, IT_LIST("SOCKTUNE_SNDBUF=1M"),
		 IT_LIST("--family", "inet", "--user-listener-sndbuf", USER));
	it_assert_ran(&r);
	it_assert_field(&r, "listener ", "sndbuf", USER_READ);
	it_assert_field(&r, "server ", "sndbuf", USER_READ);
	it_assert_field(&r, "client ", "sndbuf", it_expected_sndbuf(MiB));
	it_run_free(&r);
}

Test(userwins, user_listener_sndbuf_leaves_unix_accepted_alone)
{
	/* A unix accepted socket does not inherit the listener's sndbuf, but the program
	 * said what it wants on the listener, so socktune leaves the kernel's value. */
	struct it_run base, r;
	const char *const *args = IT_LIST("--family", "unix", "--user-listener-sndbuf", USER);
	it_probe(&base, 0, NULL, args);
	it_assert_ran(&base);
	it_probe(&r, IT_PRELOAD, NULL, args);
	it_assert_ran(&r);
	it_assert_untouched(&r, &base, "server ", "sndbuf");
	it_assert_field(&r, "client ", "sndbuf", it_expected_sndbuf(2 * MiB));
	it_run_free(&base);
	it_run_free(&r);
}

Test(userwins, force_overrides_user_listener_sndbuf)
{
	struct it_run r;
	it_probe(&r, IT_PRELOAD, IT_LIST("SOCKTUNE_FORCE=on"),
		 IT_LIST("--family", "unix", "--user-listener-sndbuf", USER));
	it_assert_ran(&r);
	it_assert_field(&r, "server ", "sndbuf", it_expected_sndbuf(2 * MiB));
	it_run_free(&r);
}

Test(userwins, user_nodelay_off_kept_over_env_nodelay)
{
	struct it_run r;
	it_probe(&r, IT_PRELOAD, IT_LIST("SOCKTUNE_NODELAY=on"), IT_LIST("--family", "inet", "--user-nodelay", "0"));
	it_assert_ran(&r);
	it_assert_field(&r, "client ", "nodelay", 0);
	it_assert_field(&r, "server ", "nodelay", 1);
	it_run_free(&r);
}

Test(userwins, env_force_overrides_user_nodelay)
{
	struct it_run r;
	it_probe(&r, IT_PRELOAD, IT_LIST("SOCKTUNE_NODELAY=on", "SOCKTUNE_FORCE=yes"),
		 IT_LIST("--family", "inet", "--user-nodelay", "0"));
	it_assert_ran(&r);
	it_assert_field(&r, "client ", "nodelay", 1);
	it_run_free(&r);
}
