/* scenario.c: the scenario generator.  A seed gives the connections (TLS 1.2 or
 * 1.3, TCP or unix, how the peer reads each, its ack window, how each ends) and
 * 20 to 200 operations.  Pure and reproducible: the driver, the client and the
 * peer each make the same scenario from the same seed.  The operations are
 * wishes: the client skips or adapts any that its state forbids (see client.c),
 * so the generator need not model that state.
 */
#include "conform.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

static const char *const peer_names[] = { "normal", "poll1", "epollet" };
static const char *const end_names[] = { "shutdown",  "shutdown2", "shutdown-write", "set-shutdown",
					  "set-free",  "free",      "close",          "dup2",
					  "close-range", "open" };
static const char *const op_names[] = { "msg",   "zero",  "read",  "read1", "peek", "pending",
					 "mode",  "keyupdate", "reneg", "cross", "sleep", "poll",
					 "thread", "fork", "end" };
static const char *const exit_names[] = { "return", "exit", "_exit", "close-range" };

const char *peer_kind_name(int k)
{
	return k >= 0 && k < PEER_KINDS ? peer_names[k] : "?";
}

const char *end_kind_name(int k)
{
	return k >= 0 && k < END_KINDS ? end_names[k] : "?";
}

const char *op_kind_name(int k)
{
	return k >= 0 && k < OP_KINDS ? op_names[k] : "?";
}

static uint32_t between(uint64_t *r, uint32_t lo, uint32_t hi)
{
	return lo + rng_below(r, hi - lo + 1);
}

/* A write's size: mostly small enough to be held (under 200 bytes), sometimes
 * around the 1024-byte limit, sometimes more than a record. */
static uint32_t write_size(uint64_t *r)
{
	uint32_t p = rng_below(r, 100);
	if (p < 70)
		return between(r, 1, 200);
	if (p < 85)
		return between(r, 1, 1100);
	if (p < 95)
		return between(r, 1024, 4096);
	return between(r, 4096, MAXWRITE);
}

static uint16_t reply_size(uint64_t *r)
{
	uint32_t p = rng_below(r, 100);
	if (p < 70)
		return (uint16_t)between(r, 1, 200);
	if (p < 90)
		return (uint16_t)between(r, 200, 2000);
	return (uint16_t)between(r, 2000, MAXREPLY);
}

static void make_pieces(struct op *o, uint64_t *r, bool bio)
{
	o->npieces = (uint8_t)between(r, 1, 6);
	for (int i = 0; i < o->npieces; i++) {
		o->piece[i] = (uint16_t)write_size(r);
		uint32_t a = rng_below(r, 100);
		o->api[i] = bio && a < 10 ? W_BIO : a < 55 ? W_WRITE : W_WRITE_EX;
	}
}

static int other_conn(const struct scenario *s, uint64_t *r, int c)
{
	int d = (int)rng_below(r, (uint32_t)s->nconn - 1);
	return d >= c ? d + 1 : d;
}

void scenario_make(struct scenario *s, uint64_t seed)
{
	uint64_t r = seed * 0x2545f4914f6cdd1dULL + 1;
	memset(s, 0, sizeof *s);
	s->seed = seed;
	s->nconn = (int)between(&r, 1, MAXCONN);
	s->nops = (int)between(&r, 20, MAXOPS);
	/* BIO_f_ssl turns socktune's holding off for the rest of the process, so
	 * only some scenarios use it. */
	bool bio = rng_below(&r, 10) == 0;
	for (int i = 0; i < s->nconn; i++) {
		struct conn_cfg *c = &s->conn[i];
		c->tls12 = rng_below(&r, 2);
		c->unix_sock = rng_below(&r, 10) < 3;
		/* Nagle's algorithm against the peer's delayed ACK costs 40 ms a
		 * round: rare, or the suite would not fit its time. */
		c->nagle = rng_below(&r, 100) < 2;
		c->small_sndbuf = rng_below(&r, 10) == 0;
		c->mode = (uint8_t)((rng_below(&r, 4) == 0) | (rng_below(&r, 4) == 0) << 1 |
				    (rng_below(&r, 4) == 0) << 2);
		c->peer = (uint8_t)rng_below(&r, PEER_KINDS);
		c->window = rng_below(&r, 2) ? 0 : (uint8_t)between(&r, 1, 4);
		c->end = (uint8_t)rng_below(&r, END_KINDS);
	}
	s->exit_kind = (uint8_t)rng_below(&r, EXIT_KINDS);
	s->exit_code = rng_below(&r, 4) ? 0 : (uint8_t)between(&r, 1, 3);

	static const struct {
		uint8_t kind, weight;
	} table[] = { { OP_MSG, 38 },    { OP_ZERO, 3 },  { OP_READ, 10 },     { OP_READ1, 4 },
		      { OP_PEEK, 4 },    { OP_PENDING, 2 }, { OP_MODE, 4 },    { OP_KEYUPDATE, 3 },
		      { OP_RENEG, 3 },   { OP_CROSS, 6 }, { OP_SLEEP, 4 },     { OP_POLL, 4 },
		      { OP_THREAD, 3 },  { OP_FORK, 3 },  { OP_END, 1 } };
	uint32_t total = 0;
	for (size_t i = 0; i < sizeof table / sizeof table[0]; i++)
		total += table[i].weight;
	for (int i = 0; i < s->nops; i++) {
		struct op *o = &s->op[i];
		uint32_t p = rng_below(&r, total);
		size_t k = 0;
		while (p >= table[k].weight)
			p -= table[k++].weight;
		o->kind = table[k].kind;
		/* What ends a connection comes late, so that most operations find
		 * their connection open. */
		bool late = i >= s->nops * 3 / 4;
		if (o->kind == OP_END && !late)
			o->kind = OP_MSG;
		o->c = (int8_t)rng_below(&r, (uint32_t)s->nconn);
		o->c2 = -1;
		switch (o->kind) {
		case OP_MSG:
			make_pieces(o, &r, bio);
			o->reply = rng_below(&r, 2) ? reply_size(&r) : 0;
			break;
		case OP_ZERO:
			o->arg = (uint8_t)rng_below(&r, 2);
			break;
		case OP_READ:
		case OP_READ1:
		case OP_PEEK:
			o->arg = (uint8_t)rng_below(&r, o->kind == OP_READ ? 3 : 2);
			o->n = rng_below(&r, 3) ? between(&r, 1, 300) : rng_below(&r, 2) ? between(&r, 1, 30000) : UINT32_MAX;
			break;
		case OP_MODE:
		case OP_KEYUPDATE:
		case OP_RENEG:
			o->arg = (uint8_t)rng_below(&r, 8);
			break;
		case OP_CROSS:
			if (s->nconn < 2) {
				o->kind = OP_MSG;
				make_pieces(o, &r, bio);
				o->reply = reply_size(&r);
				break;
			}
			o->c2 = (int8_t)other_conn(s, &r, o->c);
			make_pieces(o, &r, bio);
			o->reply = reply_size(&r);
			o->arg = (uint8_t)rng_below(&r, 5);
			break;
		case OP_SLEEP:
			o->arg = (uint8_t)rng_below(&r, 8);
			o->n = rng_below(&r, 4) ? rng_below(&r, 300) : between(&r, 300, 1500);
			break;
		case OP_POLL:
			o->arg = (uint8_t)rng_below(&r, 4);
			break;
		case OP_THREAD:
			o->n = between(&r, 1, 6);
			break;
		case OP_FORK:
			if (!late || rng_below(&r, 3) == 0)
				o->c = -1;
			o->n = o->c < 0 ? 0 : between(&r, 1, 5);
			o->arg = (uint8_t)rng_below(&r, 8);
			break;
		case OP_END:
			o->arg = (uint8_t)rng_below(&r, END_KINDS - 1);
			break;
		}
	}
}

void scenario_print(const struct scenario *s, int fd)
{
	dprintf(fd, "scenario seed=%llu conns=%d ops=%d exit=%s code=%d\n", (unsigned long long)s->seed, s->nconn,
		s->nops, exit_names[s->exit_kind], s->exit_code);
	for (int i = 0; i < s->nconn; i++) {
		const struct conn_cfg *c = &s->conn[i];
		dprintf(fd, "  conn %d: tls%s %s%s%s mode=%d peer=%s window=%d end=%s\n", i, c->tls12 ? "1.2" : "1.3",
			c->unix_sock ? "unix" : "tcp", c->nagle && !c->unix_sock ? " nagle" : "",
			c->small_sndbuf ? " small-sndbuf" : "", c->mode, peer_names[c->peer], c->window,
			end_names[c->end]);
	}
	for (int i = 0; i < s->nops; i++) {
		const struct op *o = &s->op[i];
		dprintf(fd, "  op %d: %s c=%d", i, op_names[o->kind], o->c);
		if (o->c2 >= 0)
			dprintf(fd, " c2=%d", o->c2);
		dprintf(fd, " arg=%d n=%u", o->arg, o->n);
		if (o->kind == OP_MSG || o->kind == OP_CROSS) {
			dprintf(fd, " reply=%u pieces=", o->reply);
			for (int k = 0; k < o->npieces; k++)
				dprintf(fd, "%s%u%s", k ? "," : "", o->piece[k],
					o->api[k] == W_BIO ? "b" : o->api[k] == W_WRITE_EX ? "x" : "");
		}
		dprintf(fd, "\n");
	}
}
