/* `socktune check`: reads the configuration exactly as the library would,
 * reports every problem, and shows what will happen: the rules in the order
 * they are tried, the platform table, and the kernel limits that will cap
 * what the rules ask. */
#include "cli.h"
#include "platform.h"
#include "probed.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifndef SOCKTUNE_SYSCONFDIR
#define SOCKTUNE_SYSCONFDIR "/etc"
#endif

static void print_opts(const struct st_opts *o)
{
	char buf[32];
	const char *sep = "";
	if (o->sndbuf != ST_UNSET) {
		size_format(o->sndbuf, buf, sizeof(buf));
		printf("%ssndbuf=%s", sep, buf);
		sep = " ";
	}
	if (o->rcvbuf != ST_UNSET) {
		size_format(o->rcvbuf, buf, sizeof(buf));
		printf("%srcvbuf=%s", sep, buf);
		sep = " ";
	}
	if (o->nodelay != ST_UNSET) {
		printf("%snodelay=%s", sep, o->nodelay == ST_DEFAULT ? "default" : o->nodelay ? "on" : "off");
		sep = " ";
	}
	if (o->force != ST_UNSET) {
		printf("%sforce=%s", sep, o->force ? "on" : "off");
		sep = " ";
	}
	if (o->merge != ST_UNSET) {
		size_format(o->merge, buf, sizeof(buf));
		printf("%smerge=%s", sep, o->merge ? buf : "off");
		sep = " ";
	}
	if (o->tls_merge != ST_UNSET) {
		size_format(o->tls_merge, buf, sizeof(buf));
		printf("%stls_merge=%s", sep, o->tls_merge ? buf : "off");
		sep = " ";
	}
	if (o->cork != ST_UNSET) {
		printf("%scork=%s", sep, cork_name(o->cork));
		sep = " ";
	}
	printf("%s\n", *sep ? "" : "(nothing: the defaults apply)");
}

static void print_bits(const char *key, unsigned mask, const char *(*name)(unsigned))
{
	printf(" %s=", key);
	const char *sep = "";
	for (unsigned bit = 1; bit <= 4; bit <<= 1)
		if (mask & bit)
			printf("%s%s", sep, name(bit)), sep = ",";
}

static void print_ports(const char *key, const struct st_portset *ps)
{
	printf(" %s=", key);
	for (int i = 0; i < ps->n; i++) {
		printf("%s%u", i ? "," : "", ps->r[i].lo);
		if (ps->r[i].hi != ps->r[i].lo)
			printf("-%u", ps->r[i].hi);
	}
}

static void print_rule(int i, const struct st_rule *r)
{
	printf("  %d. %s%s(%s:%d)\n     match:", i + 1, r->name, r->name[0] ? " " : "", r->source,
	       r->line);
	int any = 0;
	if (r->families)
		print_bits("family", r->families, family_name), any = 1;
	if (r->types)
		print_bits("type", r->types, type_name), any = 1;
	if (r->role)
		printf(" role=%s", role_name(r->role)), any = 1;
	if (r->program[0])
		printf(" program=%s", r->program), any = 1;
	if (r->local_port.n)
		print_ports("local_port", &r->local_port), any = 1;
	if (r->peer_port.n)
		print_ports("peer_port", &r->peer_port), any = 1;
	if (r->peer.set)
		printf(" peer=%s", r->peer.text), any = 1;
	printf("%s\n     set:   ", any ? "" : " every socket");
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

static void print_limits(const struct st_config *c)
{
	long wmem = read_sysctl("wmem_max"), rmem = read_sysctl("rmem_max");
	printf("\nkernel limits:\n");
	if (wmem < 0 || rmem < 0) {
		printf("  (not readable here: /proc/sys/net/core)\n");
		return;
	}
	printf("  net.core.wmem_max = %ld (caps sndbuf)\n  net.core.rmem_max = %ld (caps rcvbuf)\n",
	       wmem, rmem);
	check_limit("the platform table (unix stream sndbuf)", ST_UNIX_STREAM_BUF, wmem,
		    "net.core.wmem_max");
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
	while ((c = getopt(argc, argv, "c:h")) != -1) {
		switch (c) {
		case 'c':
			setenv("SOCKTUNE_CONFIG", optarg, 1);
			break;
		case 'h':
			printf("usage: socktune check [-c FILE]\n");
			return 0;
		default:
			fputs("usage: socktune check [-c FILE]\n", stderr);
			return 2;
		}
	}
	if (optind < argc) {
		fputs("usage: socktune check [-c FILE]\n", stderr);
		return 2;
	}

	static struct st_config cfg;
	conf_load(&cfg, SOCKTUNE_SYSCONFDIR, 0, getenv, cli_diag, NULL, "socktune", "socktune");

	printf("socktune %s on %s\n", SOCKTUNE_VERSION, platform_name());
	printf("mode: %s   log: %s   stats: %s   tls_split: %s   hold_max: %d ms\n",
	       mode_name(cfg.mode), log_name(cfg.log), cfg.stats[0] ? cfg.stats : "(none)",
	       cfg.tls_split ? "on" : "off", cfg.hold_max);
	printf("files read, in order:");
	for (int i = 0; i < cfg.nsources; i++)
		printf("\n  %s", cfg.sources[i]);
	printf("%s\n", cfg.nsources ? "" : " none (built-in defaults only)");
	printf("\nrules, first match wins (%d):\n", cfg.nrules);
	for (int i = 0; i < cfg.nrules; i++)
		print_rule(i, &cfg.rules[i]);
	printf("  then the defaults: ");
	print_opts(&cfg.defaults);
	printf("  environment overrides, over every rule: ");
	print_opts(&cfg.env);

	printf("\nplatform table (%s), what \"auto\" means:\n", platform_name());
	printf("  %-20s %-8s %-8s %s\n", "socket", "sndbuf", "rcvbuf", "why");
	for (int i = 0; i < platform_nrows; i++)
		printf("  %-20s %-8s %-8s %s\n", platform_rows[i].socket, platform_rows[i].sndbuf,
		       platform_rows[i].rcvbuf, platform_rows[i].why);
	printf("  %s\n", platform_cork_note);
	print_unhooked();
	print_limits(&cfg);

	if (cfg.errors) {
		printf("\n%d problem(s) in the configuration; see above\n", cfg.errors);
		return 1;
	}
	printf("\nconfiguration OK\n");
	return 0;
}
