/*
 * tlspingpong: a request/response rate (issue 4). A client sends a request as 3 small
 * writes (an 8-byte header, a 24-byte sub-header, a 100-byte body: 132 bytes), the server
 * reads all of it and answers with 1 byte, and the client reads that byte before the next
 * request: one round trip at a time, over TCP on 127.0.0.1, plain or TLS. The file owns
 * the exchange, the check that every request arrived byte for byte, and the figures: round
 * trips per second, the round-trip times, both sides' segments (TCP_INFO) and the client's
 * CPU. It knows nothing of socktune: bench/run decides what is preloaded (both sides share
 * the environment, since the server is a fork of the client).
 *
 *   tlspingpong run [OPTIONS] tcp|tls
 *
 *   tcp  three write() calls per request, read() of the reply;
 *   tls  three SSL_write() calls per request, SSL_read() of the reply.
 *
 * OPTIONS:
 *   -t SECONDS  time the exchange for SECONDS after the warm-up (default 0.5), or
 *   -n COUNT    exactly COUNT timed round trips instead
 *   -w COUNT    untimed round trips first (default 200)
 *   -N          do not set TCP_NODELAY (by default both ends set it, as chatty
 *               request/response programs do: without it the second write of a request
 *               waits for the server's delayed ACK)
 *   -m          hand-merged: the client writes each request whole, one write() or
 *               SSL_write() of 132 bytes, as a program that merged its pieces itself
 *               would (the baseline a merging shim is held to)
 *
 * Both sides are blocking, one thread each. The timed phase of each side lies between two
 * getrusage() calls, its only ones: on the client right before the first timed request and
 * right after the last reply; on the server right after the warm-up requests and at EOF. A
 * syscall trace can count the calls of the timed phase between those two markers.
 *
 * Output: the server prints one line starting "server ", the client one starting
 * "client ", each of key=value pairs. Exit status 1 when a call fails or a byte is wrong,
 * 2 on a usage error.
 */
#include <errno.h>
#include <inttypes.h>
#include <linux/tcp.h>
#include <netinet/in.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "tlsbench.h"

#define NPIECES 3
static const size_t piece_len[NPIECES] = {8, 24, 100};
#define REQUEST 132 /* 8 + 24 + 100 */
#define MAX_TIMED 50000000L

struct opts {
	int tls;
	double seconds;
	long count; /* > 0: exactly this many timed round trips */
	long warmup;
	int nodelay;
	int merged; /* -m: the request as one piece */
};




static _Noreturn void usage(void)
{
	fputs("usage: tlspingpong run [-t SECONDS | -n COUNT] [-w COUNT] [-N] [-m] tcp|tls\n", stderr);
	exit(2);
}


static double cpu_seconds(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
	       (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}


/* The bytes of request r: the server checks every one. */
static void request_bytes(long r, unsigned char *out)
{
	uint64_t x = (uint64_t)r * 0x9e3779b97f4a7c15u;
	for (size_t i = 0; i < REQUEST; i++)
		out[i] = (unsigned char)((x >> ((i % 8) * 8)) + i);
}

/* --- the transport: plain fd or SSL ----------------------------------------------------- */

struct conn {
	int fd;
	SSL *ssl;
};

static void send_all(struct conn *c, const unsigned char *p, size_t len)
{
	if (c->ssl) {
		int n = SSL_write(c->ssl, p, (int)len);
		if (n != (int)len)
			die_ssl("SSL_write");
		return;
	}
	while (len > 0) {
		ssize_t n = write(c->fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			die("write");
		p += n;
		len -= (size_t)n;
	}
}

/* Reads exactly len bytes; returns 0 at a clean end of stream before the first byte. */
static int recv_all(struct conn *c, unsigned char *p, size_t len)
{
	size_t have = 0;
	while (have < len) {
		if (c->ssl) {
			size_t n = 0;
			if (SSL_read_ex(c->ssl, p + have, len - have, &n) != 1) {
				int e = SSL_get_error(c->ssl, 0);
				if (have == 0 && (e == SSL_ERROR_ZERO_RETURN || e == SSL_ERROR_SYSCALL))
					return 0;
				die_ssl("SSL_read_ex");
			}
			have += n;
		} else {
			ssize_t n = read(c->fd, p + have, len - have);
			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0)
				die("read");
			if (n == 0) {
				if (have == 0)
					return 0;
				fail("end of stream inside a message");
			}
			have += (size_t)n;
		}
	}
	return 1;
}


static void set_nodelay(int fd)
{
	int one = 1;
	if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) != 0)
		die("setsockopt TCP_NODELAY");
}

/* --- the server --------------------------------------------------------------------------- */

static int do_server(const struct opts *o, int ls)
{
	int s = accept(ls, NULL, NULL);
	if (s < 0)
		die("accept");
	close(ls);
	if (o->nodelay)
		set_nodelay(s);
	struct conn c = {.fd = s};
	SSL_CTX *ctx = NULL;
	if (o->tls) {
		ctx = SSL_CTX_new(TLS_server_method());
		if (ctx == NULL)
			die_ssl("SSL_CTX_new");
		server_identity(ctx);
		c.ssl = SSL_new(ctx);
		if (c.ssl == NULL || SSL_set_fd(c.ssl, s) != 1)
			die_ssl("SSL_new");
		if (SSL_accept(c.ssl) != 1)
			die_ssl("SSL_accept");
	}
	unsigned char got[REQUEST], want[REQUEST];
	long r = 0;
	struct tcp_info ti0;
	memset(&ti0, 0, sizeof ti0);
	double cpu0 = 0;
	for (;; r++) {
		if (r == o->warmup) { /* the start of the timed phase */
			ti0 = tcp_info_of(s);
			cpu0 = cpu_seconds();
		}
		if (!recv_all(&c, got, REQUEST))
			break;
		request_bytes(r, want);
		if (memcmp(got, want, REQUEST) != 0) {
			fprintf(stderr, "tlspingpong: server: request %ld is wrong\n", r);
			exit(1);
		}
		send_all(&c, (const unsigned char *)"k", 1);
	}
	double cpu = cpu_seconds() - cpu0;
	struct tcp_info ti1 = tcp_info_of(s);
	if (r <= o->warmup)
		fail("server: the client stopped inside the warm-up");
	printf("server proto=%s requests=%ld timed=%ld cpu=%.6f cpu_us_per_rt=%.4f segs=%" PRIu64
	       " bytes_sent=%" PRIu64 "\n",
	       o->tls ? "tls" : "tcp", r, r - o->warmup, cpu, cpu * 1e6 / (double)(r - o->warmup),
	       (uint64_t)(ti1.tcpi_segs_out - ti0.tcpi_segs_out),
	       (uint64_t)(ti1.tcpi_bytes_sent - ti0.tcpi_bytes_sent));
	fflush(stdout);
	if (c.ssl)
		SSL_free(c.ssl);
	SSL_CTX_free(ctx);
	close(s);
	return 0;
}

/* --- the client --------------------------------------------------------------------------- */

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static void round_trip(struct conn *c, long r, int merged)
{
	unsigned char req[REQUEST], ack;
	request_bytes(r, req);
	if (merged) {
		send_all(c, req, REQUEST);
	} else {
		size_t at = 0;
		for (int i = 0; i < NPIECES; i++) {
			send_all(c, req + at, piece_len[i]);
			at += piece_len[i];
		}
	}
	if (!recv_all(c, &ack, 1) || ack != 'k')
		fail("client: no reply");
}

static int do_client(const struct opts *o, int port, pid_t server)
{
	int s = socket(AF_INET, SOCK_STREAM, 0);
	if (s < 0)
		die("socket");
	struct sockaddr_in sa;
	memset(&sa, 0, sizeof sa);
	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t)port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (connect(s, (struct sockaddr *)&sa, sizeof sa) != 0)
		die("connect");
	if (o->nodelay)
		set_nodelay(s);
	int mss = 0;
	socklen_t mlen = sizeof mss;
	if (getsockopt(s, IPPROTO_TCP, TCP_MAXSEG, &mss, &mlen) != 0)
		die("getsockopt TCP_MAXSEG");
	struct conn c = {.fd = s};
	SSL_CTX *ctx = NULL;
	if (o->tls) {
		ctx = SSL_CTX_new(TLS_client_method());
		if (ctx == NULL)
			die_ssl("SSL_CTX_new");
		SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
		c.ssl = SSL_new(ctx);
		if (c.ssl == NULL || SSL_set_fd(c.ssl, s) != 1)
			die_ssl("SSL_new");
		if (SSL_connect(c.ssl) != 1)
			die_ssl("SSL_connect");
	}

	long r = 0;
	for (; r < o->warmup; r++)
		round_trip(&c, r, o->merged);

	long cap = o->count > 0 ? o->count : 1L << 20;
	double *rtt = malloc((size_t)cap * sizeof *rtt);
	if (rtt == NULL)
		die("malloc");
	struct tcp_info ti0 = tcp_info_of(s);
	double cpu0 = cpu_seconds();
	double t0 = now_seconds(), t = t0, end = t0 + o->seconds;
	long n = 0;
	while (o->count > 0 ? n < o->count : t < end) {
		round_trip(&c, r++, o->merged);
		double t1 = now_seconds();
		if (n == cap) {
			if (cap >= MAX_TIMED)
				fail("client: too many round trips");
			cap *= 2;
			double *more = realloc(rtt, (size_t)cap * sizeof *rtt);
			if (more == NULL)
				die("realloc");
			rtt = more;
		}
		rtt[n++] = t1 - t;
		t = t1;
	}
	double elapsed = t - t0;
	double cpu = cpu_seconds() - cpu0;
	struct tcp_info ti1 = tcp_info_of(s);

	if (c.ssl) {
		SSL_shutdown(c.ssl);
		SSL_free(c.ssl);
	}
	SSL_CTX_free(ctx);
	close(s);
	int status;
	while (waitpid(server, &status, 0) < 0)
		if (errno != EINTR)
			die("waitpid");
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		fail("the server failed");

	qsort(rtt, (size_t)n, sizeof *rtt, cmp_double);
	double p50 = rtt[n / 2], p99 = rtt[(size_t)((double)(n - 1) * 0.99)], max = rtt[n - 1];
	printf("client proto=%s round_trips=%ld seconds=%.6f rate=%.1f cpu=%.6f cpu_us_per_rt=%.4f "
	       "rtt_p50_us=%.1f rtt_p99_us=%.1f rtt_max_us=%.1f segs=%" PRIu64 " bytes_sent=%" PRIu64
	       " request=%d pieces=%d nodelay=%d mss=%d\n",
	       o->tls ? "tls" : "tcp", n, elapsed, (double)n / elapsed, cpu, cpu * 1e6 / (double)n,
	       p50 * 1e6, p99 * 1e6, max * 1e6, (uint64_t)(ti1.tcpi_segs_out - ti0.tcpi_segs_out),
	       (uint64_t)(ti1.tcpi_bytes_sent - ti0.tcpi_bytes_sent), REQUEST, o->merged ? 1 : NPIECES, o->nodelay,
	       mss);
	fflush(stdout);
	free(rtt);
	return 0;
}

/* --- run ---------------------------------------------------------------------------------- */

int main(int argc, char **argv)
{
	if (argc < 2 || strcmp(argv[1], "run") != 0)
		usage();
	struct opts o = {.seconds = 0.5, .warmup = 200, .nodelay = 1};
	int i = 2;
	for (; i < argc && argv[i][0] == '-' && argv[i][1] != '\0'; i++) {
		const char *f = argv[i];
		char *end;
		if (strcmp(f, "-N") == 0) {
			o.nodelay = 0;
		} else if (strcmp(f, "-m") == 0) {
			o.merged = 1;
		} else if (i + 1 < argc && strcmp(f, "-t") == 0) {
			errno = 0;
			o.seconds = strtod(argv[++i], &end);
			if (errno || *end || !(o.seconds > 0 && o.seconds <= 3600))
				usage();
		} else if (i + 1 < argc && (strcmp(f, "-n") == 0 || strcmp(f, "-w") == 0)) {
			errno = 0;
			long v = strtol(argv[++i], &end, 10);
			if (errno || *end || v < (f[1] == 'n' ? 1 : 0) || v > MAX_TIMED)
				usage();
			if (f[1] == 'n')
				o.count = v;
			else
				o.warmup = v;
		} else {
			usage();
		}
	}
	if (i + 1 != argc)
		usage();
	if (strcmp(argv[i], "tls") == 0)
		o.tls = 1;
	else if (strcmp(argv[i], "tcp") != 0)
		usage();
	signal(SIGPIPE, SIG_IGN);

	int ls = socket(AF_INET, SOCK_STREAM, 0);
	if (ls < 0)
		die("socket");
	struct sockaddr_in sa;
	memset(&sa, 0, sizeof sa);
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	socklen_t salen = sizeof sa;
	if (bind(ls, (struct sockaddr *)&sa, sizeof sa) != 0 || listen(ls, 1) != 0 ||
	    getsockname(ls, (struct sockaddr *)&sa, &salen) != 0)
		die("bind/listen 127.0.0.1");
	fflush(NULL);
	pid_t pid = fork();
	if (pid < 0)
		die("fork");
	if (pid == 0)
		return do_server(&o, ls);
	close(ls);
	return do_client(&o, ntohs(sa.sin_port), pid);
}
