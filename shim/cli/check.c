/* `socktune check`: reads the configuration exactly as the library would,
 * reports every problem, and shows what will happen: the rules in the order
 * they are tried, the platform table, and the kernel limits that will cap
 * what the rules ask. */
#include "cli.h"
#include "platform.h"
#include "probed.h"
#include "reach.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>


/* The keys of one kind that base sets, as " key=value", in the table's
 * order; skip names a key the caller shows itself.  Returns how many. */
static int print_keys(unsigned kind, const void *base, const char *skip)
{
	int n = 0;
	for (const struct st_key *k = socktune_keys; k->name; k++) {
		char buf[128];
		const char *v = NULL;
		if (k->kind == kind && !(skip && !strcmp(k->name, skip)))
			v = conf_key_format(k, base, buf, sizeof(buf));
		if (v)
			printf(" %s=%s", k->name, v), n++;
	}
	return n;
}

static void print_opts(const struct st_opts *o)
{
	printf("%s\n", print_keys(ST_KEY_OPTION, o, NULL) ? "" : " (nothing: the defaults apply)");
}

static void print_rule(int i, const struct st_rule *r)
{
	printf("  %d. %s%s(%s:%d)\n     match:", i + 1, r->name, r->name[0] ? " " : "", r->source,
	       r->line);
	/* The name is in the heading. */
	int any = print_keys(ST_KEY_MATCH, r, "name");
	printf("%s\n     set:  ", any ? "" : " every socket");
	print_opts(&r->opts);
}

static long read_sysctl(const char *name)
{
	char path[128], buf[64];
	snprintf(path, sizeof(path), "/proc/sys/net/core/%s", name);
	FILE *f = fopen(path, "r");
	if (!f)
		return -1;
	long v = fgets(buf, sizeof(buf), f) ? atol(buf) : -1;
	fclose(f);
	return v;
}

/* A size that the kernel will cap: say so, with the sysctl that allows it. */
static void check_limit(const char *what, long asked, long max, const char *sysctl)
{
	char a[32], m[32];
	if (asked <= 0 || max <= 0 || asked <= max)
		return;
	size_format(asked, a, sizeof(a));
	size_format(max, m, sizeof(m));
	printf("  warning: %s asks for %s but %s is %ld (%s): it will be clamped; "
	       "to allow it: sysctl -w %s=%ld\n",
	       what, a, sysctl, max, m, sysctl, asked);
}

/* The send buffer a unix stream socket really gets, read back from the
 * kernel rather than worked out from the sysctl: the cap is where the main
 * gain of the defaults (seed 000) is silently lost, and only the kernel
 * knows its own rule (Linux doubles what it keeps; others do not).  What is
 * asked is what the defaults and the environment ask; a rule for a program
 * or a socket may ask otherwise, and its own warning is above. */
static void print_unix_sndbuf(const struct st_config *c, long wmem)
{
	struct st_opts o = c->defaults;
	if (c->env.sndbuf != ST_UNSET)
		o.sndbuf = c->env.sndbuf;
	platform_resolve(&o, ST_FAM_UNIX, ST_TYPE_STREAM);
	printf("  unix stream send buffer (the defaults and environment; a rule may ask otherwise):\n");
	if (c->mode != ST_MODE_ON) {
		printf("    none asked: mode is %s\n", mode_name(c->mode));
		return;
	}
	if (o.sndbuf <= 0) {
		printf("    none asked: the kernel's default is left alone\n");
		return;
	}
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0) {
		printf("    asked %ld, effective unknown: socketpair: %s\n", o.sndbuf, strerror(errno));
		return;
	}
	int want = o.sndbuf > INT_MAX ? INT_MAX : (int)o.sndbuf, got = -1;
	socklen_t len = sizeof(got);
	int set_err = setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &want, sizeof(want)) < 0 ? errno : 0;
	if (getsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &got, &len) < 0)
		got = -1;
	close(sv[0]);
	close(sv[1]);
#ifdef __linux__
	const long full = 2 * o.sndbuf; /* what Linux keeps when nothing caps it */
#else
	const long full = o.sndbuf;
#endif
	char a[32];
	size_format(o.sndbuf, a, sizeof(a));
	printf("    asked %ld (%s), effective %d", o.sndbuf, a, got);
	if (set_err)
		printf(" (setsockopt SO_SNDBUF failed: %s)", strerror(set_err));
	if (!set_err && got >= full) {
		printf(": not capped\n");
		return;
	}
	printf(": capped");
	if (wmem > 0)
		printf(" by net.core.wmem_max = %ld", wmem);
	/* Name a value at least what is asked, so the fix is never itself a cap. */
	printf("\n    to lift the cap now: sysctl -w net.core.wmem_max=%ld\n"
	       "    and at every boot: echo 'net.core.wmem_max = %ld' > /etc/sysctl.d/60-socktune.conf\n",
	       o.sndbuf, o.sndbuf);
}

static void print_limits(const struct st_config *c)
{
	long wmem = read_sysctl("wmem_max"), rmem = read_sysctl("rmem_max");
	printf("\nkernel limits:\n");
	if (wmem < 0 || rmem < 0) {
		printf("  (not readable here: /proc/sys/net/core)\n");
		print_unix_sndbuf(c, -1);
		return;
	}
	printf("  net.core.wmem_max = %ld (caps sndbuf)\n  net.core.rmem_max = %ld (caps rcvbuf)\n",
	       wmem, rmem);
	check_limit("the defaults' sndbuf", c->defaults.sndbuf, wmem, "net.core.wmem_max");
	check_limit("the defaults' rcvbuf", c->defaults.rcvbuf, rmem, "net.core.rmem_max");
	check_limit("SOCKTUNE_SNDBUF", c->env.sndbuf, wmem, "net.core.wmem_max");
	check_limit("SOCKTUNE_RCVBUF", c->env.rcvbuf, rmem, "net.core.rmem_max");
	for (int i = 0; i < c->nrules; i++) {
		char what[64];
		snprintf(what, sizeof(what), "rule %d's sndbuf", i + 1);
		check_limit(what, c->rules[i].opts.sndbuf, wmem, "net.core.wmem_max");
		snprintf(what, sizeof(what), "rule %d's rcvbuf", i + 1);
		check_limit(what, c->rules[i].opts.rcvbuf, rmem, "net.core.rmem_max");
	}
	print_unix_sndbuf(c, wmem);
}
/* The calls socktune hooks where the C library has them (shim/probe.sh):
 * those this build found missing are not hooked. */
static void print_unhooked(void)
{
	static const struct {
		const char *name;
		int have;
	} calls[] = {
#define CALL(name, ret, params, probe, role) {#name, probe},
#include "hooks.def"
	};
	int n = 0;
	for (size_t i = 0; i < sizeof(calls) / sizeof(calls[0]); i++)
		if (!calls[i].have)
			printf("%s %s", n++ ? "" : "  not hooked, as the C library lacks them:",
			       calls[i].name);
	printf("%s\n", n ? "" : "  hooked: every call socktune hooks is in the C library");
}


int cli_check(int argc, char **argv)
{
	int c;
	optind = 1;
	/* "+": the options end at PROGRAM, whose own options are its. */
	while ((c = getopt(argc, argv, "+c:p:h")) != -1) {
		switch (c) {
		case 'c':
			setenv("SOCKTUNE_CONFIG", optarg, 1);
			break;
		case 'p':
			/* As socktune -p: the profile a run would get. */
			if (cli_profile_valid(optarg, "-p") < 0)
				return 2;
			setenv("SOCKTUNE_PROFILE", optarg, 1);
			break;
		case 'h':
			printf("usage: socktune check [-c FILE] [-p PROFILE] [PROGRAM [ARG]...]\n");
			return 0;
		default:
			fputs("usage: socktune check [-c FILE] [-p PROFILE] [PROGRAM [ARG]...]\n", stderr);
			return 2;
		}
	}

	static struct st_config cfg;
	conf_load(&cfg, SOCKTUNE_SYSCONFDIR, 0, getenv, cli_diag, NULL, "socktune", "socktune");

	printf("socktune %s on %s\n", SOCKTUNE_VERSION, platform_name());
	const char *sep = "";
	for (const struct st_key *k = socktune_keys; k->name; k++) {
		char buf[64];
		if (k->kind != ST_KEY_GLOBAL || !k->size || k->type == ST_VALUE_PROFILE)
			continue; /* defaults, rules and the profile come below */
		const char *v = conf_key_format(k, &cfg, buf, sizeof(buf));
		printf("%s%s: %s", sep, k->name, v ? v : "(none)");
		sep = "   ";
	}
	printf("\n");
	if (cfg.profile[0])
		printf("profile: %s (from %s)\n", cfg.profile, cfg.profile_from);
	else
		printf("profile: none\n");
	printf("files read, in order:");
	for (int i = 0; i < cfg.nsources; i++)
		printf("\n  %s", cfg.sources[i]);
	printf("%s\n", cfg.nsources ? "" : " none (built-in defaults only)");
	printf("\nrules, first match wins (%d):\n", cfg.nrules);
	for (int i = 0; i < cfg.nrules; i++)
		print_rule(i, &cfg.rules[i]);
	printf("  then the defaults:");
	print_opts(&cfg.defaults);
	printf("  environment overrides, over every rule:");
	print_opts(&cfg.env);

	printf("\nplatform table (%s), what \"auto\" means:\n", platform_name());
	printf("  %-20s %-8s %-8s %s\n", "socket", "sndbuf", "rcvbuf", "why");
	for (int i = 0; i < platform_nrows; i++)
		printf("  %-20s %-8s %-8s %s\n", platform_rows[i].socket, platform_rows[i].sndbuf,
		       platform_rows[i].rcvbuf, platform_rows[i].why);
	printf("  %s\n", platform_cork_note);
	print_unhooked();
	print_limits(&cfg);
	/* ARGs are ignored: a command line can be pasted as it is. */
	int reach = optind < argc ? reach_show(argv[optind], cli_library_path()) : 0;

	if (cfg.errors) {
		printf("\n%d problem(s) in the configuration; see above\n", cfg.errors);
		return 1;
	}
	printf("\nconfiguration OK\n");
	return reach;
}
