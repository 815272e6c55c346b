/* tlscork/tlscork.h: what the roles of tlscork share (main.c says what the
 * program is): the options main.c parses, one connection and how it writes,
 * reads and hashes (conn.c), where a connection comes from (sock.c), and the
 * helpers every role uses (common.c). */
#ifndef TLSCORK_H
#define TLSCORK_H

#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define MAXCONN 16
#define MINBODY 20
#define MAXBODY 200
#define MAXPIECE 4096
#define INBUF 65536

/* The command line, set once by main before the role runs. */
struct options {
	const char *role, *kind, *port_file, *unix_path, *cert, *key, *api, *wait, *manage, *end;
	int port, listen_fd;
	bool tls, nodelay, serial;
	long conns, rounds, think_ms, stop_us, bursts, writes, min, max, wait_us, extra_waits, spin_ms, expect,
		deadline_ms;
	uint64_t seed;
};
extern struct options o;

/* common.c */
__attribute__((format(printf, 1, 2), noreturn)) void die(const char *fmt, ...);
long long mono_ns(void);
void sleep_us(long us);
void spin_ms(long ms);
void fill(unsigned char *b, size_t n, uint64_t *s);
long between(uint64_t *s, long lo, long hi);
void hex(char out[65], const unsigned char d[32]);

/* conn.c */
struct conn {
	int fd;
	SSL *ssl;
	bool nonblock, ready; /* ready: the TLS handshake is done (always, without TLS) */
	EVP_MD_CTX *tx, *rx;
	unsigned long long txn, rxn;
	unsigned long writes, requests;
	uint64_t rng;
	long early, done;
	long long *dt; /* client: each round trip, ns (done of them) */
	size_t len;    /* server: received bytes not yet answered */
	unsigned char in[INBUF];
};

/* What end_conn folds in, under its lock: a role reads them once every
 * connection has ended. */
extern unsigned char tx_fold[32], rx_fold[32];
extern unsigned long long tx_total, rx_total;
extern unsigned long writes_total, requests_total;

void tls_context(bool server);
struct conn *new_conn(int fd, long idx, bool server);
void end_conn(struct conn *c);
void await_fd(int fd, short events);
void await_ssl(struct conn *c, int r, const char *what);
void put(struct conn *c, const unsigned char *p, size_t n, int flags);
ssize_t get(struct conn *c, unsigned char *b, size_t cap);
void get_exact(struct conn *c, unsigned char *b, size_t n);
bool handshake(struct conn *c);
void send_message(struct conn *c);
uint32_t body_len(const unsigned char *p);

/* sock.c */
int listener(void);
int accept_fd(int lfd, bool nonblock);
int connect_tcp(void);
void set_nodelay(int fd);

/* The roles, each in its own file; spin is spin_ms(o.spin_ms). */
void run_serve(void);
void run_client(void);
void run_burst(void);
void run_sink(void);

#endif
