/* tlsclient.h: the TLS client that tlswriter and tlswait share (both run with the
 * library preloaded, against tlspeer): the options the connection and the writes
 * depend on, the connection and the TLS context (connect_tls, shutdown_tls), the
 * hashed writes (write_all) and their accounting, the "writer ..." summary line
 * (print_summary; its fields are described in tlswriter.c), and num_arg for the
 * flags.
 *
 * Each tests/targets program is built from its one .c file, so what they share is
 * here, as static functions and variables: each program that includes this header
 * has its own copy. The messages on stderr say "tlswriter:" in both programs, as
 * they did before the code was shared.
 */
#ifndef SOCKTUNE_TARGETS_TLSCLIENT_H
#define SOCKTUNE_TARGETS_TLSCLIENT_H

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/sockios.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAXW 20000
#define REC 16384

enum api { API_WRITE, API_WRITE_EX, API_MIX };

/* The flags the connection and the writes depend on, with tlswriter's defaults
 * (tlswriter's other flags are its own). */
static struct {
	int port;
	const char *tls;
	bool nonblock, partial, moving, nodelay;
	enum api api;
	uint64_t seed;
	long size, sndbuf;
} opt = { .tls = "1.3", .api = API_MIX, .seed = 1, .size = 1024 };

static SSL *ssl;
static int fd = -1;
static EVP_MD_CTX *md;
static FILE *dump;
static uint64_t rng;
static unsigned long long total;
static unsigned long writes, nonzero, small, big, big_records, plain_records;
static unsigned long want_write, want_read, partials, polls;

/* Zero-length writes: the first result of each call, and whether later ones agree. */
static struct zero {
	unsigned long n;
	int ret, err;
	size_t written;
	bool same;
} zero_w = { .same = true }, zero_ex = { .same = true };

static uint64_t next_rand(void)
{
	uint64_t z = (rng += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static void fill(unsigned char *b, size_t n)
{
	for (size_t i = 0; i < n; i += 8) {
		uint64_t v = next_rand();
		size_t k = n - i < 8 ? n - i : 8;
		memcpy(b + i, &v, k);
	}
}

static void fail(const char *what, int ret)
{
	int e = errno;
	fprintf(stderr, "tlswriter: %s failed: ret=%d SSL_get_error=%d errno=%d (%s)\n", what, ret,
		ssl ? SSL_get_error(ssl, ret) : -1, e, strerror(e));
	ERR_print_errors_fp(stderr);
	exit(1);
}

static void wait_fd(short events)
{
	struct pollfd p = { .fd = fd, .events = events };
	polls++;
	while (poll(&p, 1, 10000) < 0 && errno == EINTR)
		;
}

static bool use_ex(void)
{
	if (opt.api == API_MIX)
		return next_rand() & 1;
	return opt.api == API_WRITE_EX;
}

static void note_zero(struct zero *z, int ret, int err, size_t written)
{
	if (z->n++ == 0) {
		z->ret = ret, z->err = err, z->written = written;
	} else if (z->ret != ret || z->err != err || z->written != written) {
		z->same = false;
	}
}

/* Writes all N bytes of B (the caller's view of one "message"), retrying on WANT_*
 * with the same arguments, and adds them to the hash. */
static void write_all(const unsigned char *b, size_t n, bool ex)
{
	static unsigned char moved[2][MAXW];
	int flip = 0;
	size_t off = 0;
	bool retry = false;
	writes++;
	if (n == 0) {
		if (ex) {
			size_t w = 12345;
			int r = SSL_write_ex(ssl, b, 0, &w);
			note_zero(&zero_ex, r, SSL_get_error(ssl, r), w);
		} else {
			int r = SSL_write(ssl, b, 0);
			note_zero(&zero_w, r, SSL_get_error(ssl, r), 0);
		}
		ERR_clear_error();
		return;
	}
	nonzero++;
	while (off < n) {
		const unsigned char *p = b + off;
		size_t len = n - off;
		if (retry && opt.moving) {
			memcpy(moved[flip], p, len);
			p = moved[flip];
			flip ^= 1;
		}
		size_t w = 0;
		int r;
		errno = 0;
		if (ex) {
			r = SSL_write_ex(ssl, p, len, &w);
		} else {
			r = SSL_write(ssl, p, (int)len);
			if (r > 0)
				w = (size_t)r;
		}
		if (r > 0) {
			if (w == 0 || w > len) {
				fprintf(stderr, "tlswriter: write of %zu reported %zu written\n", len, w);
				exit(1);
			}
			if (w < len)
				partials++;
			off += w;
			retry = false;
			continue;
		}
		int err = SSL_get_error(ssl, r);
		if (opt.nonblock && err == SSL_ERROR_WANT_WRITE) {
			want_write++;
			wait_fd(POLLOUT);
		} else if (opt.nonblock && err == SSL_ERROR_WANT_READ) {
			want_read++;
			wait_fd(POLLIN);
		} else {
			fail(ex ? "SSL_write_ex" : "SSL_write", r);
		}
		retry = true;
	}
	EVP_DigestUpdate(md, b, n);
	total += n;
	if (dump && fwrite(b, 1, n, dump) != n)
		fail("--dump", 0);
}

static void account(size_t n)
{
	if (n == 0)
		return;
	unsigned long recs = (unsigned long)((n + REC - 1) / REC);
	plain_records += recs;
	if ((long)n <= opt.size) {
		small++;
	} else {
		big++;
		big_records += recs;
	}
}

static void print_summary(void)
{
	unsigned char digest[EVP_MAX_MD_SIZE];
	unsigned int dlen = 0;
	char hex[2 * EVP_MAX_MD_SIZE + 1] = "none";
	EVP_MD_CTX *copy = EVP_MD_CTX_new();
	if (copy && EVP_MD_CTX_copy_ex(copy, md) && EVP_DigestFinal_ex(copy, digest, &dlen))
		for (unsigned int i = 0; i < dlen; i++)
			snprintf(hex + 2 * i, 3, "%02x", digest[i]);
	EVP_MD_CTX_free(copy);
	printf("writer pid=%ld writes=%lu nonzero=%lu bytes=%llu sha256=%s small=%lu big=%lu "
	       "big_records=%lu plain_records=%lu want_write=%lu want_read=%lu partial=%lu polls=%lu\n",
	       (long)getpid(), writes, nonzero, total, hex, small, big, big_records, plain_records,
	       want_write, want_read, partials, polls);
	if (zero_w.n)
		printf("zero_write n=%lu ret=%d err=%d same=%d\n", zero_w.n, zero_w.ret, zero_w.err,
		       zero_w.same);
	if (zero_ex.n)
		printf("zero_write_ex n=%lu ret=%d written=%zu err=%d same=%d\n", zero_ex.n, zero_ex.ret,
		       zero_ex.written, zero_ex.err, zero_ex.same);
	if (dump)
		fflush(dump);
	fflush(stdout);
}

static long long now_us(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (long long)t.tv_sec * 1000000 + t.tv_nsec / 1000;
}

/* Until the kernel has nothing left to send: the writes that follow then fit in the
 * free send space, which socktune requires before it holds anything. */
static void settle(void)
{
	long long t0 = now_us();
	for (;;) {
		int q = 0;
		if (ioctl(fd, SIOCOUTQ, &q) < 0 || q == 0 || now_us() - t0 > 2000000)
			break;
		struct timespec ts = { 0, 1000000 };
		nanosleep(&ts, NULL);
	}
}

static long num_arg(const char *s)
{
	char *e;
	errno = 0;
	long v = strtol(s, &e, 0);
	if (errno || *e || v < 0) {
		fprintf(stderr, "tlswriter: bad number %s\n", s);
		exit(2);
	}
	return v;
}

static void connect_tls(void)
{
	fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0)
		fail("socket", -1);
	int one = 1;
	if (opt.sndbuf > 0) {
		int v = (int)opt.sndbuf;
		setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &v, sizeof v);
	}
	if (opt.nodelay)
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	struct sockaddr_in a = { .sin_family = AF_INET,
				 .sin_port = htons((uint16_t)opt.port),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	if (connect(fd, (struct sockaddr *)&a, sizeof a) < 0)
		fail("connect", -1);
	if (opt.nonblock)
		fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);

	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	if (!ctx)
		fail("SSL_CTX_new", 0);
	if (!strcmp(opt.tls, "1.2")) {
		SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
		SSL_CTX_set_max_proto_version(ctx, TLS1_2_VERSION);
	} else if (!strcmp(opt.tls, "1.3")) {
		SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION);
		SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION);
	}
	SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
	ssl = SSL_new(ctx);
	if (!ssl)
		fail("SSL_new", 0);
	long mode = 0;
	if (opt.partial)
		mode |= SSL_MODE_ENABLE_PARTIAL_WRITE;
	if (opt.moving)
		mode |= SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER;
	if (mode)
		SSL_set_mode(ssl, mode);
	SSL_set_fd(ssl, fd);
	for (;;) {
		int r = SSL_connect(ssl);
		if (r == 1)
			break;
		int err = SSL_get_error(ssl, r);
		if (opt.nonblock && err == SSL_ERROR_WANT_READ)
			wait_fd(POLLIN);
		else if (opt.nonblock && err == SSL_ERROR_WANT_WRITE)
			wait_fd(POLLOUT);
		else
			fail("SSL_connect", r);
	}
	polls = 0;
}

static void shutdown_tls(void)
{
	for (;;) {
		int r = SSL_shutdown(ssl);
		if (r >= 0)
			break;
		int err = SSL_get_error(ssl, r);
		if (opt.nonblock && err == SSL_ERROR_WANT_WRITE)
			wait_fd(POLLOUT);
		else if (opt.nonblock && err == SSL_ERROR_WANT_READ)
			wait_fd(POLLIN);
		else
			fail("SSL_shutdown", r);
	}
}

#endif
