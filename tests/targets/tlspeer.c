/* tlspeer: the TLS server end of the socktune TLS tests.  It is never run with the
 * library preloaded: it is the independent witness of what the program under test
 * (tlswriter, openssl s_client, python) put on the wire.
 *
 * It accepts one connection, completes the handshake and reads everything until
 * close_notify or EOF, hashing the plaintext, and counts the application-data TLS
 * records it received (SSL_set_msg_callback: the record header's type 23 on TLS 1.2,
 * the inner content type 23 on TLS 1.3).
 *
 * Output, one line at the end (always flushed, also on timeout):
 *   peer bytes=N sha256=HEX records=N hdr23=N inner23=N inner=N replies=N
 *        version=TLSv1.x end=close_notify|eof|reset|timeout|error[:TEXT]
 * "end=eof" is a TCP EOF without close_notify (the writer freed its SSL, exited or
 * exec'd without SSL_shutdown).
 *
 * Flags:
 *   --listen-fd N       accept on this inherited listening socket (the test made it:
 *                       no race between the peer's listen and the writer's connect)
 *   --port N            or bind and listen on 127.0.0.1:N itself
 *   --cert FILE --key FILE   PEM certificate and key (required)
 *   --tls 1.2|1.3|any   the only protocol version accepted (default any)
 *   --reply-every N     request/response: after each N bytes received, write a
 *                       1-byte reply with SSL_write
 *   --reset-after N     after N bytes received, close the connection with
 *                       SO_LINGER {1, 0}: the kernel sends RST ("end=reset")
 *   --reset-delay-ms MS wait MS milliseconds (reading nothing) before that reset, so
 *                       the writer has made its next write first (default 200)
 *   --out FILE          also write the plaintext received to FILE
 *   --deadline-ms MS    give up after MS milliseconds in total: print "end=timeout",
 *                       close the connection and exit 3 (default 12000)
 * Exit status 0 on close_notify, EOF or reset; 3 on timeout; 1 on any error.
 */
#include <errno.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static unsigned long long total;
static unsigned long hdr23, inner23, inner_all, replies;
static EVP_MD_CTX *md;
static int conn_fd = -1;
static const char *version_name = "none";

static FILE *out_file;

static void report(const char *end)
{
	if (out_file)
		fflush(out_file);
	unsigned char digest[EVP_MAX_MD_SIZE];
	unsigned int dlen = 0;
	char hex[2 * EVP_MAX_MD_SIZE + 1];
	EVP_MD_CTX *copy = EVP_MD_CTX_new();
	if (copy && EVP_MD_CTX_copy_ex(copy, md) && EVP_DigestFinal_ex(copy, digest, &dlen)) {
		for (unsigned int i = 0; i < dlen; i++)
			snprintf(hex + 2 * i, 3, "%02x", digest[i]);
	} else {
		snprintf(hex, sizeof hex, "none");
	}
	EVP_MD_CTX_free(copy);
	unsigned long records = inner_all > 0 ? inner23 : hdr23;
	printf("peer bytes=%llu sha256=%s records=%lu hdr23=%lu inner23=%lu inner=%lu replies=%lu "
	       "version=%s end=%s\n",
	       total, hex, records, hdr23, inner23, inner_all, replies, version_name, end);
	fflush(stdout);
}

static void on_deadline(int sig)
{
	(void)sig;
	/* Not async-signal-safe, but the process ends here either way, and a report
	 * that says how far it got is worth more than strict safety in a test tool. */
	report("timeout");
	if (conn_fd >= 0)
		shutdown(conn_fd, SHUT_RDWR);
	_exit(3);
}

static void msg_cb(int write_p, int version, int content_type, const void *buf, size_t len, SSL *ssl,
		   void *arg)
{
	(void)version, (void)ssl, (void)arg;
	const unsigned char *p = buf;
	if (write_p || len < 1)
		return;
	if (content_type == SSL3_RT_HEADER && p[0] == SSL3_RT_APPLICATION_DATA)
		hdr23++;
	else if (content_type == SSL3_RT_INNER_CONTENT_TYPE) {
		inner_all++;
		if (p[0] == SSL3_RT_APPLICATION_DATA)
			inner23++;
	}
}

static void die_ssl(const char *what)
{
	char buf[256], end[300];
	unsigned long e = ERR_peek_last_error();
	ERR_error_string_n(e, buf, sizeof buf);
	snprintf(end, sizeof end, "error:%s:%s", what, buf);
	for (char *c = end; *c; c++)
		if (*c == ' ')
			*c = '_';
	report(end);
	ERR_print_errors_fp(stderr);
	exit(1);
}

static long num_arg(const char *s)
{
	char *end;
	errno = 0;
	long v = strtol(s, &end, 0);
	if (errno || *end || v < 0) {
		fprintf(stderr, "tlspeer: bad number %s\n", s);
		exit(2);
	}
	return v;
}

int main(int argc, char **argv)
{
	int listen_fd = -1, port = -1;
	const char *cert = NULL, *key = NULL, *tls = "any";
	long reply_every = 0, reset_after = -1, reset_delay_ms = 200, deadline_ms = 12000;
	const char *out_path = NULL;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (!v) {
			fprintf(stderr, "tlspeer: %s needs a value\n", a);
			return 2;
		}
		i++;
		if (!strcmp(a, "--listen-fd"))
			listen_fd = (int)num_arg(v);
		else if (!strcmp(a, "--port"))
			port = (int)num_arg(v);
		else if (!strcmp(a, "--cert"))
			cert = v;
		else if (!strcmp(a, "--key"))
			key = v;
		else if (!strcmp(a, "--tls"))
			tls = v;
		else if (!strcmp(a, "--reply-every"))
			reply_every = num_arg(v);
		else if (!strcmp(a, "--reset-after"))
			reset_after = num_arg(v);
		else if (!strcmp(a, "--reset-delay-ms"))
			reset_delay_ms = num_arg(v);
		else if (!strcmp(a, "--out"))
			out_path = v;
		else if (!strcmp(a, "--deadline-ms"))
			deadline_ms = num_arg(v);
		else {
			fprintf(stderr, "tlspeer: unknown flag %s\n", a);
			return 2;
		}
	}
	if (!cert || !key || (listen_fd < 0 && port < 0)) {
		fprintf(stderr, "tlspeer: --cert, --key and --listen-fd or --port are required\n");
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	FILE *out = NULL;
	if (out_path && !(out = fopen(out_path, "w"))) {
		perror(out_path);
		return 1;
	}
	out_file = out;
	md = EVP_MD_CTX_new();
	if (!md || !EVP_DigestInit_ex(md, EVP_sha256(), NULL))
		die_ssl("sha256");

	struct sigaction sa = { .sa_handler = on_deadline };
	sigaction(SIGALRM, &sa, NULL);
	struct itimerval it = { .it_value = { .tv_sec = deadline_ms / 1000,
					      .tv_usec = (deadline_ms % 1000) * 1000 } };
	setitimer(ITIMER_REAL, &it, NULL);

	if (listen_fd < 0) {
		listen_fd = socket(AF_INET, SOCK_STREAM, 0);
		int one = 1;
		setsockopt(listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
		struct sockaddr_in a = { .sin_family = AF_INET,
					 .sin_port = htons((uint16_t)port),
					 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
		if (bind(listen_fd, (struct sockaddr *)&a, sizeof a) < 0 || listen(listen_fd, 4) < 0) {
			perror("tlspeer: bind/listen");
			return 1;
		}
	}

	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
	if (!ctx)
		die_ssl("SSL_CTX_new");
	if (!strcmp(tls, "1.2")) {
		SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
		SSL_CTX_set_max_proto_version(ctx, TLS1_2_VERSION);
	} else if (!strcmp(tls, "1.3")) {
		SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION);
		SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION);
	}
	/* No TLS 1.3 session tickets: the writer never reads, and unread data in its
	 * receive buffer would make its close() send RST (and drop unsent data), with or
	 * without socktune. */
	SSL_CTX_set_num_tickets(ctx, 0);
	if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1 ||
	    SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1)
		die_ssl("certificate");

	do
		conn_fd = accept(listen_fd, NULL, NULL);
	while (conn_fd < 0 && errno == EINTR);
	if (conn_fd < 0) {
		perror("tlspeer: accept");
		return 1;
	}
	close(listen_fd);

	SSL *ssl = SSL_new(ctx);
	if (!ssl)
		die_ssl("SSL_new");
	SSL_set_msg_callback(ssl, msg_cb);
	SSL_set_fd(ssl, conn_fd);
	if (SSL_accept(ssl) != 1)
		die_ssl("SSL_accept");
	version_name = SSL_get_version(ssl);

	static unsigned char buf[1 << 16];
	long since_reply = 0;
	for (;;) {
		int n = SSL_read(ssl, buf, (int)sizeof buf);
		if (n > 0) {
			EVP_DigestUpdate(md, buf, (size_t)n);
			total += (unsigned long long)n;
			if (out && fwrite(buf, 1, (size_t)n, out) != (size_t)n) {
				perror("tlspeer: --out");
				return 1;
			}
			if (reset_after >= 0 && total >= (unsigned long long)reset_after) {
				struct timespec ts = { reset_delay_ms / 1000, (reset_delay_ms % 1000) * 1000000 };
				nanosleep(&ts, NULL);
				struct linger l = { .l_onoff = 1, .l_linger = 0 };
				setsockopt(conn_fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
				close(conn_fd);
				conn_fd = -1;
				report("reset");
				return 0;
			}
			if (reply_every > 0) {
				since_reply += n;
				while (since_reply >= reply_every) {
					since_reply -= reply_every;
					if (SSL_write(ssl, "R", 1) != 1)
						die_ssl("reply");
					replies++;
				}
			}
			continue;
		}
		int err = SSL_get_error(ssl, n);
		if (err == SSL_ERROR_ZERO_RETURN) {
			SSL_shutdown(ssl);
			report("close_notify");
			return 0;
		}
		unsigned long e = ERR_peek_error();
		if ((err == SSL_ERROR_SSL && ERR_GET_REASON(e) == SSL_R_UNEXPECTED_EOF_WHILE_READING) ||
		    (err == SSL_ERROR_SYSCALL && e == 0 && errno == 0)) {
			report("eof");
			return 0;
		}
		if (err == SSL_ERROR_SYSCALL && e == 0 && errno == ECONNRESET) {
			/* The writer died without closing cleanly, or closed with unread data. */
			report("eof_reset");
			return 0;
		}
		die_ssl("SSL_read");
	}
}
