/* tlswriter: the TLS client that the socktune TLS tests run with the library
 * preloaded.  It connects with connect() (so the library tunes the socket and decides
 * its tls_merge), completes the handshake and then does one of three things:
 *
 *   the random pattern (default): COUNT writes of seeded random sizes 0..20000, most of
 *     them small (8, 24, 100, 600 bytes), with SSL_write or SSL_write_ex, then ends
 *     the way --end says;
 *   --rr ROUNDS: request/response: 3 writes of 8, 24 and 100 bytes, then SSL_read of
 *     the 1-byte reply, ROUNDS times, timing each round trip;
 *   --reset CALL,...: the flush-failure scenario (see below).
 *
 * On a non-blocking socket (--nonblock) it is a small event loop: it waits with poll
 * for POLLOUT before each batch of 1..16 writes, and on SSL_ERROR_WANT_WRITE or
 * SSL_ERROR_WANT_READ polls and retries with the same arguments (with --moving, the
 * same bytes from another buffer).
 *
 * Output (stdout, flushed before any ending):
 *   writer pid=P writes=N nonzero=N bytes=N sha256=HEX small=N big=N big_records=N
 *          plain_records=N want_write=N want_read=N partial=N polls=N
 *     small: writes of 1..SIZE bytes (--size); big: longer ones; big_records: the
 *     records the big ones need (16384 bytes each); plain_records: the records every
 *     non-empty write needs when nothing is merged
 *   zero_write n=N ret=R err=E same=0|1       the first SSL_write(ssl, b, 0); same=1
 *   zero_write_ex n=N ret=R written=W err=E same=0|1   when every later one matched
 *   rr rounds=N median_us=N p90_us=N max_us=N total_us=N          with --rr
 *   reset pid=P seen=0|1 spin_ms=N state=N                         with --reset
 *   stepK call=NAME ret=R err=E errno=N errq=HEX,... shut=S        with --reset
 *     (err: SSL_get_error; errq: every ERR_get_error code; shut: SSL_get_shutdown)
 *   fork child=PID status=N                                        with --fork-at
 *
 * Flags:
 *   --port N            connect to 127.0.0.1:N (required)
 *   --tls 1.2|1.3|any   protocol version (default 1.3)
 *   --nonblock          non-blocking socket and event loop
 *   --api write|write_ex|mix   which call writes (default mix: chosen per write)
 *   --seed S --count N  the pattern (defaults 1 and 2000)
 *   --size S            the tls_merge size, for the small/big accounting (default 1024)
 *   --end shutdown|free|exec|execvp|exec-self|exit|_exit|_Exit   (default shutdown)
 *       shutdown: SSL_shutdown, SSL_free, close, return from main
 *       free: SSL_free without SSL_shutdown, close, return from main
 *       exec: execl("/bin/true") right after the last write; execvp: execvp("true");
 *       exec-self: execv of this program with --exec-child (which exits 0)
 *       exit / _exit / _Exit: that call right after the last write, nothing freed
 *   --tail N            after the pattern, wait until the kernel has sent everything
 *                       (SIOCOUTQ 0, nanosleep between looks), then N more writes of
 *                       24 bytes, so that bytes are held when the ending comes
 *                       (default 3)
 *   --dump FILE         also write every byte written, in order, to FILE
 *   --sndbuf N          SO_SNDBUF before connect (forces WANT_WRITE when small)
 *   --nodelay           TCP_NODELAY before connect (default: Nagle on)
 *   --partial           SSL_MODE_ENABLE_PARTIAL_WRITE
 *   --moving            SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER, and retries really move
 *   --rr ROUNDS         request/response mode (against tlspeer --reply-every 132)
 *   --reset CALL,...    flush-failure scenario: write 17000 bytes (the peer resets the
 *                       connection after reading them: tlspeer --reset-after 17000),
 *                       wait until they are sent, write 100 bytes (held under
 *                       socktune), spin without any wait point until TCP_INFO shows
 *                       the connection closed, do the --reset-wait, then make each
 *                       CALL in turn (write and write_ex: 24 bytes, write_big: 17000,
 *                       read, peek, shutdown) as step1, step2, ...
 *   --sizes N,N,...     instead of random sizes, these sizes in turn (COUNT writes)
 *   --rr-wait KIND      with --rr: before SSL_read, wait until the socket is readable
 *                       with KIND (poll, ppoll, select, pselect, epoll_wait,
 *                       epoll_pwait, recv_peek), 10 s at most, as an event loop does
 *   --fork-at N         after N writes of the pattern, fork; the child exits with
 *                       exit(0) at once, the parent waits for it and goes on
 *   --reset-wait none|nanosleep|poll   a wait point between the reset and step1
 *   --sigpipe ignore|default   SIGPIPE disposition (default ignore)
 * Exit status 0 on success, 1 on a TLS or socket failure (with a line on stderr).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/sockios.h>
#include <sys/ioctl.h>
#include <sys/epoll.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAXW 20000
#define REC 16384

enum api { API_WRITE, API_WRITE_EX, API_MIX };

static struct {
	int port;
	const char *tls;
	bool nonblock, partial, moving, nodelay;
	enum api api;
	uint64_t seed;
	long count, size, sndbuf, rr, tail;
	const char *end, *reset, *reset_wait, *sigpipe, *dump, *sizes, *rr_wait;
	long fork_at;
} opt = { .fork_at = -1, .tls = "1.3", .api = API_MIX, .seed = 1, .count = 2000, .size = 1024, .tail = 3, .end = "shutdown",
	  .reset_wait = "none", .sigpipe = "ignore" };

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

static size_t pick_size(void)
{
	if (opt.sizes) {
		static const char *at;
		if (!at || !*at)
			at = opt.sizes;
		char *end;
		size_t n = (size_t)strtoul(at, &end, 10);
		at = *end == ',' ? end + 1 : end;
		return n > MAXW ? MAXW : n;
	}
	static const size_t common[] = { 8, 24, 100, 600 };
	static const size_t edges[] = { 1023, 1024, 1025, 16383, 16384, 16385 };
	uint64_t r = next_rand() % 1000;
	if (r < 30)
		return 0;
	if (r < 630)
		return common[next_rand() % 4];
	if (r < 800)
		return 1 + next_rand() % 1100;
	if (r < 850)
		return edges[next_rand() % 6];
	return 1 + next_rand() % MAXW;
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

static long long now_us(void);

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

static void pattern(void)
{
	static unsigned char buf[MAXW];
	long batch = 0;
	for (long i = 0; i < opt.count; i++) {
		if (opt.nonblock && batch-- <= 0) {
			/* The event loop waits for the socket before each batch. */
			wait_fd(POLLOUT);
			batch = (long)(next_rand() % 16);
		}
		if (i == opt.fork_at) {
			fflush(NULL);
			pid_t child = fork();
			if (child < 0)
				fail("fork", -1);
			if (child == 0)
				exit(0);
			int st;
			waitpid(child, &st, 0);
			printf("fork child=%ld status=%d\n", (long)child, st);
		}
		size_t n = pick_size();
		bool ex = use_ex();
		fill(buf, n);
		account(n);
		write_all(buf, n, ex);
	}
	if (opt.tail > 0)
		settle();
	for (long i = 0; i < opt.tail; i++) {
		fill(buf, 24);
		account(24);
		write_all(buf, 24, use_ex());
	}
}

static long long now_us(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (long long)t.tv_sec * 1000000 + t.tv_nsec / 1000;
}

static int cmp_ll(const void *a, const void *b)
{
	long long x = *(const long long *)a, y = *(const long long *)b;
	return x < y ? -1 : x > y;
}

/* Waits until fd is readable with the call KIND names, 10 s at most. */
static void wait_readable(const char *kind)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	struct timespec ts = { 10, 0 };
	struct timeval tv = { 10, 0 };
	fd_set rd;
	FD_ZERO(&rd);
	FD_SET(fd, &rd);
	int r;
	if (!strcmp(kind, "poll"))
		r = poll(&p, 1, 10000);
	else if (!strcmp(kind, "ppoll"))
		r = ppoll(&p, 1, &ts, NULL);
	else if (!strcmp(kind, "select"))
		r = select(fd + 1, &rd, NULL, NULL, &tv);
	else if (!strcmp(kind, "pselect"))
		r = pselect(fd + 1, &rd, NULL, NULL, &ts, NULL);
	else if (!strcmp(kind, "epoll_wait") || !strcmp(kind, "epoll_pwait")) {
		static int ep = -1;
		if (ep < 0) {
			ep = epoll_create1(EPOLL_CLOEXEC);
			struct epoll_event ev = { .events = EPOLLIN, .data.fd = fd };
			if (ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0)
				fail("epoll", -1);
		}
		struct epoll_event out;
		r = !strcmp(kind, "epoll_wait") ? epoll_wait(ep, &out, 1, 10000)
						: epoll_pwait(ep, &out, 1, 10000, NULL);
	} else if (!strcmp(kind, "recv_peek")) {
		char c;
		struct timeval rt = { 10, 0 };
		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &rt, sizeof rt);
		r = (int)recv(fd, &c, 1, MSG_PEEK);
	} else {
		fprintf(stderr, "tlswriter: unknown --rr-wait %s\n", kind);
		exit(2);
	}
	if (r <= 0) {
		fprintf(stderr, "tlswriter: %s: the reply did not come (r=%d errno=%d)\n", kind, r, errno);
		print_summary();
		exit(1);
	}
}

static void request_response(void)
{
	static const size_t piece[] = { 8, 24, 100 };
	unsigned char buf[128];
	long long *dt = calloc((size_t)opt.rr, sizeof *dt);
	if (!dt)
		exit(1);
	long long start = now_us();
	for (long i = 0; i < opt.rr; i++) {
		long long t0 = now_us();
		for (int k = 0; k < 3; k++) {
			fill(buf, piece[k]);
			account(piece[k]);
			write_all(buf, piece[k], use_ex());
		}
		if (opt.rr_wait && !SSL_pending(ssl))
			wait_readable(opt.rr_wait);
		for (;;) {
			unsigned char c;
			int r = SSL_read(ssl, &c, 1);
			if (r == 1)
				break;
			int err = SSL_get_error(ssl, r);
			if (opt.nonblock && err == SSL_ERROR_WANT_READ) {
				wait_fd(POLLIN);
				continue;
			}
			if (opt.nonblock && err == SSL_ERROR_WANT_WRITE) {
				wait_fd(POLLOUT);
				continue;
			}
			fprintf(stderr, "tlswriter: round %ld: no reply after %lld us\n", i, now_us() - t0);
			print_summary();
			fail("SSL_read (reply)", r);
		}
		dt[i] = now_us() - t0;
	}
	long long all = now_us() - start;
	qsort(dt, (size_t)opt.rr, sizeof *dt, cmp_ll);
	printf("rr rounds=%ld median_us=%lld p90_us=%lld max_us=%lld total_us=%lld\n", opt.rr,
	       dt[opt.rr / 2], dt[opt.rr * 9 / 10], dt[opt.rr - 1], all);
	free(dt);
}

/* One SSL call of the flush-failure scenario, and what it reported. */
static void reset_step(int k, const char *call)
{
	unsigned char buf[17000];
	memset(buf, 'x', sizeof buf);
	int r;
	size_t w = 0;
	errno = 0;
	if (!strcmp(call, "write"))
		r = SSL_write(ssl, buf, 24);
	else if (!strcmp(call, "write_ex"))
		r = SSL_write_ex(ssl, buf, 24, &w);
	else if (!strcmp(call, "write_big"))
		r = SSL_write(ssl, buf, (int)sizeof buf);
	else if (!strcmp(call, "read"))
		r = SSL_read(ssl, buf, 1);
	else if (!strcmp(call, "peek"))
		r = SSL_peek(ssl, buf, 1);
	else if (!strcmp(call, "shutdown"))
		r = SSL_shutdown(ssl);
	else {
		fprintf(stderr, "tlswriter: unknown --reset call %s\n", call);
		exit(2);
	}
	int e = errno;
	int err = SSL_get_error(ssl, r);
	char q[512] = "";
	size_t o = 0;
	for (unsigned long c; (c = ERR_get_error()) != 0 && o + 20 < sizeof q;)
		o += (size_t)snprintf(q + o, sizeof q - o, "%s%08lx", o ? "," : "", c);
	printf("step%d call=%s ret=%d err=%d errno=%d errq=%s shut=%d\n", k, call, r, err, e,
	       o ? q : "none", SSL_get_shutdown(ssl));
	fflush(stdout);
}

static void reset_scenario(void)
{
	static unsigned char hello[17000];
	unsigned char piece[100];
	memset(hello, 'h', sizeof hello);
	memset(piece, 'p', sizeof piece);
	write_all(hello, sizeof hello, false);
	settle();
	write_all(piece, sizeof piece, false);
	/* Wait for the RST without a single wait point: TCP_INFO is not one. */
	long long t0 = now_us();
	struct tcp_info ti;
	int seen = 0;
	do {
		socklen_t len = sizeof ti;
		memset(&ti, 0, sizeof ti);
		if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) < 0)
			fail("getsockopt(TCP_INFO)", 0);
		if (ti.tcpi_state == TCP_CLOSE) {
			seen = 1;
			break;
		}
	} while (now_us() - t0 < 5000000);
	printf("reset pid=%ld seen=%d spin_ms=%lld state=%u\n", (long)getpid(), seen, (now_us() - t0) / 1000,
	       ti.tcpi_state);
	fflush(stdout);
	if (!strcmp(opt.reset_wait, "nanosleep")) {
		struct timespec ts = { 0, 1000000 };
		nanosleep(&ts, NULL);
	} else if (!strcmp(opt.reset_wait, "poll")) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		poll(&p, 1, 10);
	}
	char calls[256];
	snprintf(calls, sizeof calls, "%s", opt.reset);
	int k = 1;
	for (char *save, *c = strtok_r(calls, ",", &save); c; c = strtok_r(NULL, ",", &save))
		reset_step(k++, c);
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

static void parse(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (!strcmp(a, "--nonblock")) {
			opt.nonblock = true;
			continue;
		}
		if (!strcmp(a, "--partial")) {
			opt.partial = true;
			continue;
		}
		if (!strcmp(a, "--moving")) {
			opt.moving = true;
			continue;
		}
		if (!strcmp(a, "--nodelay")) {
			opt.nodelay = true;
			continue;
		}
		if (i + 1 >= argc) {
			fprintf(stderr, "tlswriter: %s needs a value\n", a);
			exit(2);
		}
		const char *v = argv[++i];
		if (!strcmp(a, "--port"))
			opt.port = (int)num_arg(v);
		else if (!strcmp(a, "--tls"))
			opt.tls = v;
		else if (!strcmp(a, "--api"))
			opt.api = !strcmp(v, "write") ? API_WRITE : !strcmp(v, "write_ex") ? API_WRITE_EX : API_MIX;
		else if (!strcmp(a, "--seed"))
			opt.seed = (uint64_t)num_arg(v);
		else if (!strcmp(a, "--count"))
			opt.count = num_arg(v);
		else if (!strcmp(a, "--size"))
			opt.size = num_arg(v);
		else if (!strcmp(a, "--end"))
			opt.end = v;
		else if (!strcmp(a, "--rr-wait"))
			opt.rr_wait = v;
		else if (!strcmp(a, "--fork-at"))
			opt.fork_at = num_arg(v);
		else if (!strcmp(a, "--sizes"))
			opt.sizes = v;
		else if (!strcmp(a, "--tail"))
			opt.tail = num_arg(v);
		else if (!strcmp(a, "--dump"))
			opt.dump = v;
		else if (!strcmp(a, "--sndbuf"))
			opt.sndbuf = num_arg(v);
		else if (!strcmp(a, "--rr"))
			opt.rr = num_arg(v);
		else if (!strcmp(a, "--reset"))
			opt.reset = v;
		else if (!strcmp(a, "--reset-wait"))
			opt.reset_wait = v;
		else if (!strcmp(a, "--sigpipe"))
			opt.sigpipe = v;
		else {
			fprintf(stderr, "tlswriter: unknown flag %s\n", a);
			exit(2);
		}
	}
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

int main(int argc, char **argv)
{
	if (argc == 2 && !strcmp(argv[1], "--exec-child"))
		return 0;
	parse(argc, argv);
	if (!opt.port) {
		fprintf(stderr, "tlswriter: --port is required\n");
		return 2;
	}
	if (!strcmp(opt.sigpipe, "ignore"))
		signal(SIGPIPE, SIG_IGN);
	rng = opt.seed;
	if (opt.dump && !(dump = fopen(opt.dump, "w")))
		fail(opt.dump, 0);
	md = EVP_MD_CTX_new();
	if (!md || !EVP_DigestInit_ex(md, EVP_sha256(), NULL))
		fail("sha256", 0);
	connect_tls();

	if (opt.reset) {
		reset_scenario();
		return 0;
	}
	if (opt.rr > 0)
		request_response();
	else
		pattern();
	print_summary();

	const char *end = opt.end;
	if (!strcmp(end, "shutdown")) {
		shutdown_tls();
		SSL_free(ssl);
		close(fd);
		return 0;
	}
	if (!strcmp(end, "free")) {
		SSL_free(ssl);
		close(fd);
		return 0;
	}
	if (!strcmp(end, "exec")) {
		execl("/bin/true", "true", (char *)NULL);
		fail("execl", -1);
	}
	if (!strcmp(end, "execvp")) {
		char *const args[] = { "true", NULL };
		execvp("true", args);
		fail("execvp", -1);
	}
	if (!strcmp(end, "exec-self")) {
		char *const args[] = { argv[0], "--exec-child", NULL };
		execv("/proc/self/exe", args);
		fail("execv", -1);
	}
	if (!strcmp(end, "exit"))
		exit(0);
	if (!strcmp(end, "_exit"))
		_exit(0);
	if (!strcmp(end, "_Exit"))
		_Exit(0);
	fprintf(stderr, "tlswriter: unknown --end %s\n", end);
	return 2;
}
