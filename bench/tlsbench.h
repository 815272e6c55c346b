/* What the TLS benchmarks (tlsreplay, tlspingpong) share: dying with a
 * message, the clock, a connection's TCP_INFO, and a throw-away server
 * identity made in memory.  Static functions in a header, because each
 * benchmark is one program built from one file. */
#ifndef SOCKTUNE_BENCH_TLSBENCH_H
#define SOCKTUNE_BENCH_TLSBENCH_H

#include <errno.h>
#include <linux/tcp.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static _Noreturn void die(const char *what)
{
	fprintf(stderr, "%s[%ld]: %s: %s\n", program_invocation_short_name, (long)getpid(), what,
		strerror(errno));
	exit(1);
}

static _Noreturn void die_ssl(const char *what)
{
	fprintf(stderr, "%s[%ld]: %s failed:\n", program_invocation_short_name, (long)getpid(),
		what);
	ERR_print_errors_fp(stderr);
	exit(1);
}

static _Noreturn void fail(const char *msg)
{
	fprintf(stderr, "%s[%ld]: %s\n", program_invocation_short_name, (long)getpid(), msg);
	exit(1);
}

static double now_seconds(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static struct tcp_info tcp_info_of(int fd)
{
	struct tcp_info ti;
	memset(&ti, 0, sizeof ti);
	socklen_t len = sizeof ti;
	if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) != 0)
		die("getsockopt TCP_INFO");
	/* tcpi_bytes_sent and tcpi_segs_out came with Linux 4.19 and 4.2. */
	if (len < offsetof(struct tcp_info, tcpi_bytes_sent) + sizeof ti.tcpi_bytes_sent)
		fail("TCP_INFO has no tcpi_bytes_sent: kernel older than 4.19");
	return ti;
}

/* A throw-away P-256 key and a self-signed certificate, made in memory: no files. */
static void server_identity(SSL_CTX *ctx)
{
	EVP_PKEY *key = EVP_EC_gen("P-256");
	if (key == NULL)
		die_ssl("EVP_EC_gen");
	X509 *x = X509_new();
	if (x == NULL || X509_set_version(x, 2) != 1 ||
	    ASN1_INTEGER_set(X509_get_serialNumber(x), 1) != 1 ||
	    X509_gmtime_adj(X509_getm_notBefore(x), -3600) == NULL ||
	    X509_gmtime_adj(X509_getm_notAfter(x), 86400) == NULL || X509_set_pubkey(x, key) != 1)
		die_ssl("X509 setup");
	X509_NAME *name = X509_get_subject_name(x);
	if (X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)"localhost",
				       -1, -1, 0) != 1 ||
	    X509_set_issuer_name(x, name) != 1 || X509_sign(x, key, EVP_sha256()) <= 0)
		die_ssl("X509 sign");
	if (SSL_CTX_use_certificate(ctx, x) != 1 || SSL_CTX_use_PrivateKey(ctx, key) != 1)
		die_ssl("SSL_CTX_use_certificate");
	X509_free(x);
	EVP_PKEY_free(key);
}

#endif
