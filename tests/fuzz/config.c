/* The configuration fuzzer: bytes in, through conf_load as the library calls
 * it (files read whole, libconfig, the SOCKTUNE_* variables), then
 * conf_finish and conf_decide for a few programs and sockets.  It owns the
 * input format and the checks that a loaded configuration must pass; a
 * failed check aborts, which libFuzzer reports like a crash.
 *
 * The input is up to four sections separated by lines of "%%":
 *   0  the system file, SYSCONFDIR/socktune.conf
 *   1  the environment: NAME=VALUE lines.  SOCKTUNE and SOCKTUNE_* are the
 *      variables conf_load asks for, but SOCKTUNE_CONFIG, set to the path
 *      of section 3 when there is one or this line is (a missing file
 *      then), whatever its value; AT_SECURE=1 runs conf_load as in a
 *      setuid program; any other NAME is a key set with conf_set
 *      afterwards, as `socktune -o NAME=VALUE` checks it
 *   2  the user's file, $XDG_CONFIG_HOME/socktune/socktune.conf, or with a
 *      relative or empty XDG_CONFIG_HOME in section 1 (which conf_load
 *      ignores), $HOME/.config/socktune/socktune.conf: the same file here
 *   3  the file named by $SOCKTUNE_CONFIG
 * A missing section is a missing file (or an empty environment), so a plain
 * configuration file is an input as it stands.  The paths are the fuzzer's
 * own, under a directory it makes: no input names a file to read. */
#include "config.h"

#include <arpa/inet.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#define SECTION_SEP "\n%%\n"
#define MAX_SECTIONS 4
#define MAX_ENV 64

static char dir[PATH_MAX - 64];
static char sys_dir[PATH_MAX], sys_file[PATH_MAX];
static char home_dir[PATH_MAX], xdg_dir[PATH_MAX], user_dir[PATH_MAX], user_file[PATH_MAX];
static char extra_file[PATH_MAX];

/* The fake environment conf_load reads through. */
static const char *env_names[MAX_ENV + 3], *env_values[MAX_ENV + 3];
static int nenv, secure, want_extra;

static char *fake_getenv(const char *name)
{
	if (secure)
		return NULL; /* secure_getenv's answer */
	for (int i = 0; i < nenv; i++)
		if (!strcmp(env_names[i], name))
			return (char *)env_values[i];
	return NULL;
}

static void check_failed(const char *what, const char *file, int line)
{
	fprintf(stderr, "config fuzzer: check failed at %s:%d: %s\n", file, line, what);
	abort();
}
#define CHECK(cond) ((cond) ? (void)0 : check_failed(#cond, __FILE__, __LINE__))

/* The messages: counted against c->errors, and each written out as the
 * library's logger does, so that every byte of every pointer is read. */
static int ndiags;
static size_t max_line; /* a bound on any line a message may name */

static void diag(void *ctx, const char *source, int line, const char *key, const char *msg)
{
	char where[ST_SOURCE_MAX + 16];
	char out[ST_SOURCE_MAX + 16 + 1024];
	(void)ctx;
	CHECK(source && source[0]);
	CHECK(msg && msg[0]);
	CHECK(strlen(msg) < 512);
	CHECK(line >= 0 && (size_t)line <= max_line);
	if (line > 0)
		snprintf(where, sizeof(where), "%s:%d", source, line);
	else
		snprintf(where, sizeof(where), "%s", source);
	if (key)
		snprintf(out, sizeof(out), "%s: %s: %s", where, key, msg);
	else
		snprintf(out, sizeof(out), "%s: %s", where, msg);
	ndiags++;
	if (getenv("FUZZ_CONFIG_VERBOSE"))
		fprintf(stderr, "%s\n", out);
}

/* Writes a section as a file; a missing section leaves no file (each run
 * ends by removing them). */
static void put_file(const char *path, const char *text, size_t len, int present)
{
	if (!present)
		return;
	FILE *f = fopen(path, "w");
	if (!f || fwrite(text, 1, len, f) != len || fclose(f) != 0) {
		perror("config fuzzer: writing a section");
		abort();
	}
	chmod(path, 0644);
}

/* The environment section, split in place into NAME=VALUE lines. */
static void split_env(char *text, char *keys_out[MAX_ENV], char *vals_out[MAX_ENV], int *nkeys)
{
	*nkeys = 0;
	for (char *p = text; p && *p;) {
		char *end = strchr(p, '\n');
		if (end)
			*end = '\0';
		char *eq = strchr(p, '=');
		if (eq) {
			*eq = '\0';
			if (!strcmp(p, "AT_SECURE"))
				secure = !strcmp(eq + 1, "1");
			else if (!strcmp(p, "SOCKTUNE_CONFIG"))
				want_extra = 1;
			else if (!strcmp(p, "HOME") ||
				 (!strcmp(p, "XDG_CONFIG_HOME") && eq[1] == '/'))
				; /* the fuzzer's own paths, always */
			else if (!strncmp(p, "SOCKTUNE", 8) || !strcmp(p, "XDG_CONFIG_HOME")) {
				if (nenv < MAX_ENV) {
					env_names[nenv] = p;
					env_values[nenv++] = eq + 1;
				}
			} else if (*nkeys < MAX_ENV) {
				keys_out[*nkeys] = p;
				vals_out[(*nkeys)++] = eq + 1;
			}
		}
		p = end ? end + 1 : NULL;
	}
}

static int size_ok(long v)
{
	return v == ST_AUTO || v == ST_DEFAULT || (v >= 1 && v <= ST_SIZE_MAX);
}

/* A size as size_format writes it parses back to the same size. */
static void check_size_round_trip(long v)
{
	char buf[32];
	long back;
	size_format(v, buf, sizeof(buf));
	CHECK(size_parse(buf, &back) == 0);
	CHECK(back == v);
}

/* Options as a file or the environment may leave them: each a valid value
 * or, when unset_ok, ST_UNSET. */
static void check_opts(const struct st_opts *o, int unset_ok)
{
#define OK_OR_UNSET(f, cond) CHECK((unset_ok && (f) == ST_UNSET) || (cond))
	OK_OR_UNSET(o->sndbuf, size_ok(o->sndbuf));
	OK_OR_UNSET(o->rcvbuf, size_ok(o->rcvbuf));
	OK_OR_UNSET(o->nodelay, o->nodelay == ST_DEFAULT || o->nodelay == 0 || o->nodelay == 1);
	OK_OR_UNSET(o->force, o->force == 0 || o->force == 1);
	OK_OR_UNSET(o->merge, o->merge >= 0 && o->merge <= ST_MERGE_MAX);
	OK_OR_UNSET(o->tls_merge, o->tls_merge >= 0 && o->tls_merge <= ST_TLS_MERGE_MAX);
	OK_OR_UNSET(o->cork, o->cork >= ST_CORK_OFF && o->cork <= ST_CORK_ON);
#undef OK_OR_UNSET
	if (o->sndbuf != ST_UNSET)
		check_size_round_trip(o->sndbuf);
	if (o->rcvbuf != ST_UNSET)
		check_size_round_trip(o->rcvbuf);
}

static void check_portset(const struct st_portset *ps)
{
	CHECK(ps->n >= 0 && ps->n <= ST_MAX_PORT_RANGES);
	for (int i = 0; i < ps->n; i++)
		CHECK(ps->r[i].lo >= 1 && ps->r[i].lo <= ps->r[i].hi);
}

static void check_config(const struct st_config *c)
{
	CHECK(c->mode >= ST_MODE_OFF && c->mode <= ST_MODE_ON);
	CHECK(c->log >= ST_LOG_QUIET && c->log <= ST_LOG_DEBUG);
	CHECK(c->tls_split == 0 || c->tls_split == 1);
#ifdef ST_HOLD_MAX_LIMIT
	CHECK(c->hold_max >= 1 && c->hold_max <= ST_HOLD_MAX_LIMIT);
#endif
	CHECK(memchr(c->stats, '\0', sizeof(c->stats)));
	CHECK(c->nrules >= 0 && c->nrules <= ST_MAX_RULES);
	CHECK(c->nsources >= 0 && c->nsources <= ST_MAX_SOURCES);
	CHECK(c->errors == ndiags);
	check_opts(&c->defaults, 0);
	check_opts(&c->env, 1);
	for (int i = 0; i < c->nrules; i++) {
		const struct st_rule *r = &c->rules[i];
		CHECK(memchr(r->name, '\0', sizeof(r->name)));
		CHECK(memchr(r->program, '\0', sizeof(r->program)));
		CHECK(memchr(r->source, '\0', sizeof(r->source)) && r->source[0]);
		CHECK(r->line > 0 && (size_t)r->line <= max_line);
		CHECK(!(r->families & ~(unsigned)(ST_FAM_UNIX | ST_FAM_INET | ST_FAM_INET6)));
		CHECK(!(r->types & ~(unsigned)(ST_TYPE_STREAM | ST_TYPE_DGRAM | ST_TYPE_SEQPACKET)));
		CHECK(r->role >= ST_ROLE_ANY && r->role <= ST_ROLE_SERVER);
		check_portset(&r->local_port);
		check_portset(&r->peer_port);
		CHECK(!r->peer.set || (r->peer.prefix >= 0 && r->peer.prefix <= 128));
		CHECK(memchr(r->peer.text, '\0', sizeof(r->peer.text)));
		check_opts(&r->opts, 1);
	}
}

/* The programs and sockets each configuration is asked about. */
static const struct {
	const char *prog, *path;
} programs[] = {
	{"qemu-img", "/usr/bin/qemu-img"},
	{"qemu-system-x86_64", "qemu-system-x86_64"},
	{"backup-push", "/usr/local/bin/backup-push"},
	{"java", "./java"},
	{"?", "?"},
};

struct sock_desc {
	unsigned family, type;
	int role;
	const char *local; /* "addr port", or NULL */
	const char *peer;
};

static const struct sock_desc sockets[] = {
	{ST_FAM_UNIX, ST_TYPE_STREAM, ST_ROLE_CLIENT, NULL, NULL},
	{ST_FAM_UNIX, ST_TYPE_STREAM, ST_ROLE_SERVER, NULL, NULL},
	{ST_FAM_UNIX, ST_TYPE_DGRAM, ST_ROLE_ANY, NULL, NULL},
	{ST_FAM_UNIX, ST_TYPE_SEQPACKET, ST_ROLE_SERVER, NULL, NULL},
	{ST_FAM_INET, ST_TYPE_STREAM, ST_ROLE_CLIENT, "192.168.1.2 40000", "10.1.2.3 873"},
	{ST_FAM_INET, ST_TYPE_STREAM, ST_ROLE_SERVER, "0.0.0.0 8050", NULL},
	{ST_FAM_INET, ST_TYPE_STREAM, ST_ROLE_SERVER, "10.0.0.1 9000", "10.200.3.4 51000"},
	{ST_FAM_INET, ST_TYPE_DGRAM, ST_ROLE_CLIENT, NULL, "8.8.8.8 53"},
	{ST_FAM_INET6, ST_TYPE_STREAM, ST_ROLE_CLIENT, "fd00::2 50000", "fd00::1 443"},
	{ST_FAM_INET6, ST_TYPE_STREAM, ST_ROLE_SERVER, ":: 8100", "::ffff:10.9.8.7 60000"},
	{ST_FAM_INET6, 0, ST_ROLE_ANY, NULL, "2001:db8::1 65535"},
};

/* "addr port" as the sockaddr the hooks would see. */
static void set_addr(struct st_sock *s, const char *text, int peer)
{
	char addr[64];
	unsigned port;
	union {
		struct sockaddr sa;
		struct sockaddr_in in;
		struct sockaddr_in6 in6;
	} u;
	memset(&u, 0, sizeof(u));
	if (sscanf(text, "%63s %u", addr, &port) != 2)
		abort();
	unsigned len;
	if (inet_pton(AF_INET, addr, &u.in.sin_addr) == 1) {
		u.in.sin_family = AF_INET;
		u.in.sin_port = htons((uint16_t)port);
		len = sizeof(u.in);
	} else if (inet_pton(AF_INET6, addr, &u.in6.sin6_addr) == 1) {
		u.in6.sin6_family = AF_INET6;
		u.in6.sin6_port = htons((uint16_t)port);
		len = sizeof(u.in6);
	} else {
		abort();
	}
	CHECK((peer ? sock_set_peer(s, &u.sa, len) : sock_set_local(s, &u.sa, len)) == 0);
}

/* The sockets as the hooks describe them, made once. */
#define NSOCKETS (sizeof(sockets) / sizeof(sockets[0]))
static struct st_sock socks[NSOCKETS];

static void make_sockets(void)
{
	for (size_t i = 0; i < NSOCKETS; i++) {
		const struct sock_desc *d = &sockets[i];
		socks[i] = (struct st_sock){.family = d->family, .type = d->type, .role = d->role};
		if (d->local)
			set_addr(&socks[i], d->local, 0);
		if (d->peer)
			set_addr(&socks[i], d->peer, 1);
	}
}

static void decide_all(const struct st_config *c, const char *prog, const char *path)
{
	for (size_t i = 0; i < NSOCKETS; i++) {
		struct st_sock s = socks[i];
		struct st_opts o;
		s.prog = prog;
		s.progpath = path;
		const struct st_rule *r = conf_decide(c, &s, &o);
		CHECK(!r || (r >= c->rules && r < c->rules + c->nrules));
		CHECK(!r || rule_match(r, &s));
		check_opts(&o, 0);
		/* The hooks' log line names the socket, the rule and its file:
		 * all must be strings. */
		CHECK(family_name(s.family)[0] && type_name(s.type)[0] && role_name(s.role)[0]);
		if (r)
			CHECK(strlen(r->name) + strlen(r->source) < sizeof(r->name) + sizeof(r->source));
	}
}

/* The fuzzer's files live in a directory of its own, in $TMPDIR, else in
 * memory where the system offers it; removed at exit.  (After a crash it
 * stays, empty but for the crashing input's files.) */
static void remove_dir(void)
{
	unlink(sys_file);
	unlink(user_file);
	unlink(extra_file);
	rmdir(sys_dir);
	rmdir(user_dir);
	rmdir(xdg_dir);
	rmdir(home_dir);
	rmdir(dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *tmp = getenv("TMPDIR");
	(void)argc;
	(void)argv;
	if (!tmp || !tmp[0])
		tmp = access("/dev/shm", W_OK | X_OK) == 0 ? "/dev/shm" : "/tmp";
	snprintf(dir, sizeof(dir), "%s/socktune-fuzz.XXXXXX", tmp);
	if (!mkdtemp(dir)) {
		perror("config fuzzer: mkdtemp");
		abort();
	}
	snprintf(sys_dir, sizeof(sys_dir), "%s/etc", dir);
	snprintf(sys_file, sizeof(sys_file), "%s/socktune.conf", sys_dir);
	snprintf(home_dir, sizeof(home_dir), "%s/home", dir);
	snprintf(xdg_dir, sizeof(xdg_dir), "%s/.config", home_dir);
	snprintf(user_dir, sizeof(user_dir), "%s/socktune", xdg_dir);
	snprintf(user_file, sizeof(user_file), "%s/socktune.conf", user_dir);
	snprintf(extra_file, sizeof(extra_file), "%s/extra.conf", dir);
	if (mkdir(sys_dir, 0755) < 0 || mkdir(home_dir, 0755) < 0 || mkdir(xdg_dir, 0755) < 0 ||
	    mkdir(user_dir, 0755) < 0) {
		perror("config fuzzer: mkdir");
		abort();
	}
	atexit(remove_dir);
	make_sockets();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* The input between two newlines, so that a "%%" line is found the
	 * same way at the start, in the middle and at the end. */
	char *buf = malloc(size + 3);
	if (!buf)
		return 0;
	buf[0] = '\n';
	memcpy(buf + 1, data, size);
	buf[size + 1] = '\n';
	buf[size + 2] = '\0';
	char *end = buf + 1 + size;

	const char *sec[MAX_SECTIONS] = {0};
	size_t len[MAX_SECTIONS] = {0};
	int nsec = 0;
	for (char *p = buf + 1; nsec < MAX_SECTIONS;) {
		/* From the newline before p, so that an empty section is seen. */
		char *sep = nsec < MAX_SECTIONS - 1
				    ? memmem(p - 1, (size_t)(buf + size + 2 - (p - 1)), SECTION_SEP,
					     strlen(SECTION_SEP))
				    : NULL;
		sec[nsec] = p;
		if (!sep) {
			len[nsec++] = (size_t)(end - p);
			break;
		}
		len[nsec++] = sep >= p ? (size_t)(sep - p) : 0;
		p = sep + strlen(SECTION_SEP);
		if (p > end)
			p = end;
	}
	max_line = 2;
	for (size_t i = 0; i < size; i++)
		max_line += data[i] == '\n';

	put_file(sys_file, sec[0], len[0], nsec > 0);
	put_file(user_file, sec[2], len[2], nsec > 2);
	put_file(extra_file, sec[3], len[3], nsec > 3);

	char *keys[MAX_ENV], *vals[MAX_ENV];
	int nkeys = 0;
	nenv = 0;
	secure = want_extra = 0;
	char *env_text = strndup(nsec > 1 ? sec[1] : "", nsec > 1 ? len[1] : 0);
	if (env_text)
		split_env(env_text, keys, vals, &nkeys);
	/* After the input's: the first of a name is the one asked for. */
	env_names[nenv] = "XDG_CONFIG_HOME";
	env_values[nenv++] = xdg_dir;
	env_names[nenv] = "HOME";
	env_values[nenv++] = home_dir;
	if (nsec > 3 || want_extra) {
		env_names[nenv] = "SOCKTUNE_CONFIG";
		env_values[nenv++] = extra_file;
	}

	static struct st_config c;
	ndiags = 0;
	/* The library's own start (shim/init.c), with the first program. */
	conf_load(&c, sys_dir, secure, fake_getenv, diag, NULL, programs[0].prog, programs[0].path);
	check_config(&c);
	for (int i = 0; i < nkeys; i++) {
		int before = ndiags;
		int rv = conf_set(&c, keys[i], vals[i], "-o", keys[i], diag, NULL);
		CHECK(rv == 0 || rv == -1);
		CHECK(rv == 0 ? ndiags == before : ndiags == before + 1);
		CHECK(conf_env_name(keys[i]) || rv == -1);
	}
	check_config(&c);

	for (size_t p = 0; p < sizeof(programs) / sizeof(programs[0]); p++) {
		conf_finish(&c, programs[p].prog, programs[p].path);
		CHECK(c.needs_peer == 0 || c.needs_peer == 1);
		CHECK(c.needs_local == 0 || c.needs_local == 1);
		for (int i = 0; i < c.nrules; i++)
			CHECK(!c.rules[i].program[0] || c.rules[i].program_cached == 1 ||
			      c.rules[i].program_cached == 2);
		decide_all(&c, programs[p].prog, programs[p].path);
	}
	check_config(&c);
	free(env_text);
	free(buf);
	/* Nothing stays behind if the next input crashes. */
	unlink(sys_file);
	unlink(user_file);
	unlink(extra_file);
	return 0;
}
