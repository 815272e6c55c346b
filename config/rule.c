/* Rule matching and the parsers for the match keys.  The first rule that
 * matches wins (config.c walks them); this file only answers "does it". */
#include "rule.h"

#include <arpa/inet.h>
#include <fnmatch.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

/* Splits a comma-separated list and hands each trimmed word to fn; an empty
 * word ("80,,443") is an error, not something to skip. */
static int each_word(const char *text, int (*fn)(const char *w, void *ctx), void *ctx)
{
	char buf[256];
	size_t n = strlen(text);
	if (n >= sizeof(buf))
		return -1;
	memcpy(buf, text, n + 1);
	char *w = buf;
	for (;;) {
		char *comma = strchr(w, ',');
		if (comma)
			*comma = '\0';
		while (*w == ' ' || *w == '\t')
			w++;
		char *e = w + strlen(w);
		while (e > w && (e[-1] == ' ' || e[-1] == '\t'))
			*--e = '\0';
		if (!*w || fn(w, ctx) < 0)
			return -1;
		if (!comma)
			return 0;
		w = comma + 1;
	}
}

struct word_bit {
	const char *word;
	unsigned bit;
};

static const struct word_bit families[] = {
	{"unix", ST_FAM_UNIX}, {"local", ST_FAM_UNIX}, {"inet", ST_FAM_INET}, {"inet6", ST_FAM_INET6},
};
static const struct word_bit types[] = {
	{"stream", ST_TYPE_STREAM}, {"dgram", ST_TYPE_DGRAM}, {"seqpacket", ST_TYPE_SEQPACKET},
};

struct bits_ctx {
	const struct word_bit *table;
	size_t n;
	unsigned mask;
};

static int add_bit(const char *w, void *p)
{
	struct bits_ctx *c = p;
	for (size_t i = 0; i < c->n; i++) {
		if (!strcasecmp(w, c->table[i].word)) {
			c->mask |= c->table[i].bit;
			return 0;
		}
	}
	return -1;
}

static int bits_parse(const char *text, const struct word_bit *t, size_t n, unsigned *mask)
{
	struct bits_ctx c = {t, n, 0};
	if (each_word(text, add_bit, &c) < 0)
		return -1;
	*mask = c.mask;
	return 0;
}

int family_parse(const char *text, unsigned *mask)
{
	return bits_parse(text, families, sizeof(families) / sizeof(families[0]), mask);
}

int type_parse(const char *text, unsigned *mask)
{
	return bits_parse(text, types, sizeof(types) / sizeof(types[0]), mask);
}

int cork_parse(const char *text, int *cork)
{
	for (int c = ST_CORK_OFF; c <= ST_CORK_ON; c++)
		if (!strcasecmp(text, cork_name(c)))
			return *cork = c, 0;
	return -1;
}

const char *cork_name(int cork)
{
	static const char *const names[] = {"off", "auto", "on"};
	return cork >= ST_CORK_OFF && cork <= ST_CORK_ON ? names[cork] : "?";
}

int role_parse(const char *text, int *role)
{
	if (!strcasecmp(text, "client"))
		*role = ST_ROLE_CLIENT;
	else if (!strcasecmp(text, "server"))
		*role = ST_ROLE_SERVER;
	else if (!strcasecmp(text, "any"))
		*role = ST_ROLE_ANY;
	else
		return -1;
	return 0;
}

static int port_number(const char *s, const char **end, uint16_t *out)
{
	char *e;
	if (*s < '0' || *s > '9')
		return -1;
	unsigned long v = strtoul(s, &e, 10);
	if (v < 1 || v > 65535)
		return -1;
	*out = (uint16_t)v;
	*end = e;
	return 0;
}

static int add_range(const char *w, void *p)
{
	struct st_portset *ps = p;
	const char *e;
	uint16_t lo, hi;
	if (ps->n == ST_MAX_PORT_RANGES || port_number(w, &e, &lo) < 0)
		return -1;
	hi = lo;
	if (*e == '-' && port_number(e + 1, &e, &hi) < 0)
		return -1;
	if (*e != '\0' || hi < lo)
		return -1;
	ps->r[ps->n].lo = lo;
	ps->r[ps->n].hi = hi;
	ps->n++;
	return 0;
}

int ports_parse(const char *text, struct st_portset *ps)
{
	struct st_portset tmp = {0};
	if (each_word(text, add_range, &tmp) < 0)
		return -1;
	*ps = tmp;
	return 0;
}

static void v4_mapped(uint8_t out[16], const void *v4)
{
	memset(out, 0, 10);
	out[10] = out[11] = 0xff;
	memcpy(out + 12, v4, 4);
}

int cidr_parse(const char *text, struct st_cidr *c)
{
	char buf[64];
	size_t n = strlen(text);
	if (n == 0 || n >= sizeof(buf))
		return -1;
	memcpy(buf, text, n + 1);

	long prefix = -1;
	char *slash = strchr(buf, '/');
	if (slash) {
		char *e;
		*slash = '\0';
		if (slash[1] < '0' || slash[1] > '9')
			return -1;
		prefix = strtol(slash + 1, &e, 10);
		if (*e != '\0')
			return -1;
	}

	struct in_addr a4;
	struct in6_addr a6;
	struct st_cidr tmp = {.set = 1};
	if (inet_pton(AF_INET, buf, &a4) == 1) {
		if (prefix > 32)
			return -1;
		v4_mapped(tmp.addr, &a4);
		tmp.prefix = (int)(prefix < 0 ? 128 : 96 + prefix);
	} else if (inet_pton(AF_INET6, buf, &a6) == 1) {
		if (prefix > 128)
			return -1;
		memcpy(tmp.addr, &a6, 16);
		tmp.prefix = (int)(prefix < 0 ? 128 : prefix);
	} else {
		return -1;
	}
	memcpy(tmp.text, text, n + 1);
	*c = tmp;
	return 0;
}

static int addr_port(const struct sockaddr *sa, unsigned len, uint8_t addr[16], uint16_t *port)
{
	if (!sa)
		return -1;
	if (sa->sa_family == AF_INET && len >= sizeof(struct sockaddr_in)) {
		const struct sockaddr_in *in = (const void *)sa;
		v4_mapped(addr, &in->sin_addr);
		*port = ntohs(in->sin_port);
		return 0;
	}
	if (sa->sa_family == AF_INET6 && len >= sizeof(struct sockaddr_in6)) {
		const struct sockaddr_in6 *in6 = (const void *)sa;
		memcpy(addr, &in6->sin6_addr, 16);
		*port = ntohs(in6->sin6_port);
		return 0;
	}
	return -1;
}

int sock_set_peer(struct st_sock *s, const struct sockaddr *sa, unsigned len)
{
	if (addr_port(sa, len, s->peer_addr, &s->peer_port) < 0)
		return -1;
	s->have_peer = 1;
	return 0;
}

int sock_set_local(struct st_sock *s, const struct sockaddr *sa, unsigned len)
{
	uint8_t unused[16];
	if (addr_port(sa, len, unused, &s->local_port) < 0 || s->local_port == 0)
		return -1;
	s->have_local_port = 1;
	return 0;
}

static int ports_match(const struct st_portset *ps, uint16_t port)
{
	for (int i = 0; i < ps->n; i++)
		if (port >= ps->r[i].lo && port <= ps->r[i].hi)
			return 1;
	return 0;
}

static int cidr_match(const struct st_cidr *c, const uint8_t addr[16])
{
	int bits = c->prefix;
	int whole = bits / 8;
	if (memcmp(c->addr, addr, (size_t)whole) != 0)
		return 0;
	if (bits % 8) {
		uint8_t mask = (uint8_t)(0xff << (8 - bits % 8));
		if ((c->addr[whole] & mask) != (addr[whole] & mask))
			return 0;
	}
	return 1;
}

static int program_match(const struct st_rule *r, const char *prog, const char *progpath)
{
	const char *name = strchr(r->program, '/') ? progpath : prog;
	return name && fnmatch(r->program, name, 0) == 0;
}

void rule_cache_program(struct st_rule *r, const char *prog, const char *progpath)
{
	if (r->program[0])
		r->program_cached = program_match(r, prog, progpath) ? 1 : 2;
}

int rule_match(const struct st_rule *r, const struct st_sock *s)
{
	if (r->families && !(r->families & s->family))
		return 0;
	if (r->types && !(r->types & s->type))
		return 0;
	if (r->role != ST_ROLE_ANY && r->role != s->role)
		return 0;
	if (r->program[0]) {
		int ok = r->program_cached ? r->program_cached == 1
					   : program_match(r, s->prog, s->progpath);
		if (!ok)
			return 0;
	}
	if (r->local_port.n && (!s->have_local_port || !ports_match(&r->local_port, s->local_port)))
		return 0;
	if (r->peer_port.n && (!s->have_peer || !ports_match(&r->peer_port, s->peer_port)))
		return 0;
	if (r->peer.set && (!s->have_peer || !cidr_match(&r->peer, s->peer_addr)))
		return 0;
	return 1;
}

int rule_needs_peer(const struct st_rule *r)
{
	return r->peer.set || r->peer_port.n;
}

int rule_needs_local(const struct st_rule *r)
{
	return r->local_port.n != 0;
}

const char *family_name(unsigned fam)
{
	switch (fam) {
	case ST_FAM_UNIX: return "unix";
	case ST_FAM_INET: return "inet";
	case ST_FAM_INET6: return "inet6";
	default: return "other";
	}
}

const char *type_name(unsigned type)
{
	switch (type) {
	case ST_TYPE_STREAM: return "stream";
	case ST_TYPE_DGRAM: return "dgram";
	case ST_TYPE_SEQPACKET: return "seqpacket";
	default: return "other";
	}
}

const char *role_name(int role)
{
	switch (role) {
	case ST_ROLE_CLIENT: return "client";
	case ST_ROLE_SERVER: return "server";
	default: return "any";
	}
}
