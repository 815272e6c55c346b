/* conform.h: what the parts of the conformance suite share: the scenario (its
 * connections and operations, made from a seed by scenario.c), the message
 * framing that the client and the peer speak, the hash and the random numbers.
 *
 * The framing.  The client sends messages: a 12-byte header, then the body.
 *   bytes 0-3   body length (big-endian)
 *   byte  4     flags: MSG_ECHO (answer on this connection), MSG_CROSS (answer on
 *               connection `target`)
 *   byte  5     target connection (MSG_CROSS)
 *   bytes 6-7   the answer's length
 *   bytes 8-11  the message's number on its connection, from 0
 * The peer answers a message only once it has read all of it; on a connection
 * with an ack window of W it also sends an 8-byte ACK after every W-th message
 * (after the answer, if any).  So the client always knows exactly how many bytes
 * it is owed on each connection, and in what order they come.
 */
#ifndef SOCKTUNE_CONFORM_H
#define SOCKTUNE_CONFORM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MAXCONN 3
#define MAXOPS 200
#define MAXPIECES 8
#define HDR 12
#define ACKLEN 8
#define MAXWRITE 20000
#define MAXREPLY 20000

#define MSG_ECHO 1
#define MSG_CROSS 2

/* How the peer reads a connection. */
enum peer_kind {
	PEER_NORMAL,  /* reads whatever is there, asks SSL_pending before it waits */
	PEER_POLL1,   /* poll on the socket, then exactly one message */
	PEER_EPOLLET, /* edge-triggered epoll; drains the socket, never SSL's buffer */
	PEER_KINDS
};

/* How a connection ends (op END, or at the end of the scenario). */
enum end_kind {
	END_SHUTDOWN,      /* SSL_shutdown once, SSL_free, close */
	END_SHUTDOWN2,     /* SSL_shutdown until it says 1 (waits for the peer's), ... */
	END_SHUT_WRITE,    /* SSL_shutdown, then SSL_write (which fails), ... */
	END_SET_SHUTDOWN,  /* SSL_set_shutdown(SENT|RECEIVED), SSL_shutdown, SSL_free, close */
	END_SET_FREE,      /* SSL_set_shutdown(SENT|RECEIVED), SSL_free, close */
	END_FREE,          /* SSL_free without shutdown, close */
	END_CLOSE,         /* close, then SSL_free */
	END_DUP2,          /* dup2 of /dev/null over the fd, SSL_free, close */
	END_CLOSE_RANGE,   /* close_range(fd, fd), SSL_free */
	END_OPEN,          /* left open: the process exit closes it */
	END_KINDS
};

enum op_kind {
	OP_MSG,       /* a message on c, written as several pieces */
	OP_ZERO,      /* a zero-length SSL_write (arg 0) or SSL_write_ex (arg 1) */
	OP_READ,      /* read n of the bytes owed on c, in a loop (arg: the call) */
	OP_READ1,     /* one SSL_read/SSL_read_ex of up to n owed bytes */
	OP_PEEK,      /* SSL_peek of up to n owed bytes, then SSL_pending */
	OP_PENDING,   /* SSL_pending */
	OP_MODE,      /* arg: bit 0 O_NONBLOCK, bit 1 PARTIAL_WRITE, bit 2 MOVING_BUFFER */
	OP_KEYUPDATE, /* SSL_key_update(arg & 1 ? REQUESTED : NOT), then (arg & 2) a handshake */
	OP_RENEG,     /* SSL_renegotiate (arg & 4: _abbreviated), then (arg & 1) a handshake */
	OP_CROSS,     /* a message on c asking for an answer on c2, then read c2 (arg: how) */
	OP_SLEEP,     /* arg: which wait; n: microseconds */
	OP_POLL,      /* wait for c's fd (arg: poll, ppoll, select, epoll) */
	OP_THREAD,    /* the next n ops run in a new thread; joined */
	OP_FORK,      /* a child runs the next n ops on c (c < 0: none), then exits */
	OP_END,       /* c ends (arg: enum end_kind) */
	OP_KINDS
};

/* The APIs of a written piece. */
enum wapi { W_WRITE, W_WRITE_EX, W_BIO };

struct op {
	uint8_t kind;
	int8_t c, c2;
	uint8_t arg;
	uint32_t n;      /* a length, a count or a time */
	uint16_t reply;  /* OP_MSG, OP_CROSS: the answer's length */
	uint8_t npieces; /* OP_MSG, OP_CROSS: the pieces' sizes (the last takes the rest) */
	uint8_t api[MAXPIECES];
	uint16_t piece[MAXPIECES];
};

struct conn_cfg {
	bool tls12, unix_sock, nagle, small_sndbuf;
	uint8_t mode; /* the initial OP_MODE bits */
	uint8_t peer; /* enum peer_kind */
	uint8_t window; /* the ack window; 0: none */
	uint8_t end;    /* enum end_kind, when still open at the end */
};

enum exit_kind { EXIT_RETURN, EXIT_EXIT, EXIT__EXIT, EXIT_CLOSE_RANGE, EXIT_KINDS };

struct scenario {
	uint64_t seed;
	int nconn, nops;
	struct conn_cfg conn[MAXCONN];
	struct op op[MAXOPS];
	uint8_t exit_kind, exit_code;
};

/* scenario.c */
void scenario_make(struct scenario *s, uint64_t seed);
/* One line per connection and per operation, for `conform show`. */
void scenario_print(const struct scenario *s, int fd);
const char *peer_kind_name(int k);
const char *end_kind_name(int k);
const char *op_kind_name(int k);

/* peer.c: serves the scenario's connections on the listeners LFD (one per
 * connection, accepted in order) and writes its report to OUT_FD.  Returns the
 * exit status. */
struct ssl_ctx_st;
int peer_main(const struct scenario *s, const int *lfd, int out_fd, struct ssl_ctx_st *ctx, long deadline_ms);
/* Makes the peer's context (a P-256 key and a self-signed certificate, in memory). */
struct ssl_ctx_st *peer_ctx_new(void);

/* client.c: the program under test.  ADDR[i] is "tcp:PORT" or "unix:PATH". */
int client_main(uint64_t seed, int naddr, char **addr);

/* The peer's answer to a message, byte by byte: both sides can compute it. */
static inline uint8_t reply_byte(uint32_t conn, uint32_t seq, uint64_t body_fnv, uint32_t i)
{
	uint64_t z = body_fnv ^ ((uint64_t)conn << 56) ^ ((uint64_t)seq << 32) ^ (i / 8);
	z = (z ^ (z >> 31)) * 0x7fb5d329728ea185ULL;
	z = (z ^ (z >> 27)) * 0x81dadef4bc2dd44dULL;
	return (uint8_t)((z ^ (z >> 33)) >> (8 * (i % 8)));
}

#define FNV_INIT 0xcbf29ce484222325ULL

static inline uint64_t fnv_add(uint64_t h, const void *buf, size_t n)
{
	const unsigned char *p = buf;
	for (size_t i = 0; i < n; i++)
		h = (h ^ p[i]) * 0x100000001b3ULL;
	return h;
}

/* splitmix64: the one generator, for the scenario and the bytes. */
static inline uint64_t rng_next(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static inline uint32_t rng_below(uint64_t *state, uint32_t n)
{
	return n ? (uint32_t)(rng_next(state) % n) : 0;
}

static inline void put32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)(v >> 24), p[1] = (unsigned char)(v >> 16);
	p[2] = (unsigned char)(v >> 8), p[3] = (unsigned char)v;
}

static inline uint32_t get32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

#endif
