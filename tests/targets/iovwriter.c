/* iovwriter: the target program of the iovec-merging tests (tests/integration/merge.c).
 *
 * It makes a connected pair through socket/bind/listen/connect/accept (or, for a unix
 * datagram socket, bind on both ends and connect on both), so that the library decides
 * its policy for both ends, and then writes random iovec layouts from a seeded PRNG with
 * writev() or sendmsg(), chosen per call. The other end is read by a thread, which
 * checks every byte. It never links against the library: everything goes through the
 * ordinary libc calls that the library hooks.
 *
 * The bytes of the stream are a function of their offset in it (a hash of the offset),
 * so a piece sent twice, lost, cut or put in another order changes the bytes the reader
 * sees at that offset. Whatever a call returns, the next byte written is the next byte
 * of that stream: "the expected stream" is the concatenation of the prefixes actually
 * written, and the reader checks that it got exactly that.
 *
 * Layouts: 1 to 64 iovecs (a quarter of the calls 2 to 5, like a protocol message),
 * each 0 to 2000 bytes with a bias towards tiny ones (0, 1, 8, 24) and towards the
 * merge thresholds (255, 256, 257, 1024, 1025); one call in 32 is all empty pieces.
 * Half of the empty pieces have a NULL base. sendmsg is called with flags 0,
 * MSG_DONTWAIT, MSG_NOSIGNAL or both, and on a unix stream socket one sendmsg in six
 * with a byte in it carries an SCM_RIGHTS message with a dup of stdin, which the reader
 * counts and closes. After every call the program checks that the call left its iovec
 * array, its msghdr and its data alone.
 *
 * With blocking sockets every call's outcome is deterministic: a MSG_DONTWAIT call is
 * only made for at most 4096 bytes and only once the socket's send queue is empty
 * (SIOCOUTQ), so it can neither block nor come up short. Two runs with the same
 * options print the same stdout.
 *
 * Output (stdout; deterministic, no pid or fd numbers):
 *   iovwriter family=F type=T writer=client|server seed=N calls=N mode=blocking|nonblock-small|...
 *   call I METHOD iov=N len=BYTES [flags=F] [rights=1] ret=R [errno=ENAME]   one per call
 *       (with --nonblock-small, I is CALL.ATTEMPT: one line per system call made)
 *   written bytes=N records=N fds=N          what the writer's return values say went out
 *   received bytes=N hash=HEX                FNV-1a of every byte the reader got
 *   records count=N hash=HEX                 dgram/seqpacket: hash of the record lengths
 *   fds received=N
 *   verify ok | verify FAILED: WHY          (then exit 1)
 * stderr: "iovwriter: writer fd=N" (for strace) and diagnostics.
 *
 * Options:
 *   --family unix|inet        unix: abstract address; inet: 127.0.0.1 (stream only)
 *   --type stream|seqpacket|dgram
 *   --writer client|server    which end writes (default client; dgram: always the
 *                             socket that connected first)
 *   --seed N                  PRNG seed (default 1)
 *   --calls N                 number of calls (default 200)
 *   --method any|writev|sendmsg   (default any: chosen per call)
 *   --layout A,B,C            every call writes iovecs of exactly these sizes, with
 *                             flags 0 and no SCM_RIGHTS (for the strace test); SxN
 *                             is N pieces of S bytes (up to 1100 pieces in all)
 *   --zerocopy                every sendmsg has MSG_ZEROCOPY (inet: SO_ZEROCOPY is set
 *                             on the writer); the pieces are kept until the send queue
 *                             is empty, since the kernel may read them after the call
 *   --bad-pointer             the middle piece of the --layout (default 8,8,24) points
 *                             at an unmapped address: the kernel answers EFAULT (or,
 *                             on TCP, a short count)
 *   --sink socket|file|pipe   write to a temporary file or a pipe instead (sendmsg
 *                             there fails with ENOTSOCK, printed like any result)
 *   --nonblock-small          the writer is non-blocking with SO_SNDBUF set to the
 *                             minimum before connect; the reader thread starts only
 *                             after the writer has seen EAGAIN 3 times; after a short
 *                             write the writer continues from where it stopped, after
 *                             EAGAIN it polls and tries again, like a real program
 *   --sigpipe                 instead of the random calls: the reader's end is closed,
 *                             then writev and sendmsg (with and without MSG_NOSIGNAL)
 *                             are made with a SIGPIPE handler that counts; one line
 *                             "sigpipe call K ... ret=R errno=E signals=N" each
 *   --sigpipe-kill            the same with SIGPIPE at its default: the first writev
 *                             kills the process (exit status 141 from a shell)
 * Exit status: 0 when verified, 1 on a mismatch or an unexpected error, 2 on a usage
 * error.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <linux/sockios.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define MAX_IOV 64       /* random layouts */
#define LAYOUT_MAX 1100  /* --layout: past the kernel's 1024 */
#define BAD_ADDR ((void *)16) /* --bad-pointer: never mapped */
#define MAX_PIECE 2000
#define READ_BUF (256 * 1024) /* larger than any message: a datagram is never cut */
#define DONTWAIT_MAX 4096     /* blocking mode: MSG_DONTWAIT only for calls this small */
#define EAGAINS_BEFORE_READER 3
#define MAX_FDS_PER_READ 16

enum method { M_WRITEV, M_SENDMSG };
enum sink { SINK_SOCKET, SINK_FILE, SINK_PIPE };

static struct {
	int family, type;
	bool writer_server;
	uint64_t seed;
	long calls;
	int method; /* -1 any */
	size_t layout[LAYOUT_MAX];
	int layout_n; /* 0: random */
	bool zerocopy, bad_pointer;
	enum sink sink;
	bool nonblock_small;
	int sigpipe; /* 0, 1 (handler), 2 (default: killed) */
} opt = { .family = AF_UNIX, .type = SOCK_STREAM, .seed = 1, .calls = 200, .method = -1 };

static _Noreturn void usage(void)
{
	fputs("usage: iovwriter [--family unix|inet] [--type stream|seqpacket|dgram]\n"
	      "                 [--writer client|server] [--seed N] [--calls N]\n"
	      "                 [--method any|writev|sendmsg] [--layout A,B,...]\n"
	      "                 [--sink socket|file|pipe] [--nonblock-small]\n"
	      "                 [--sigpipe | --sigpipe-kill] [--zerocopy] [--bad-pointer]\n",
	      stderr);
	exit(2);
}

static _Noreturn void die(const char *what)
{
	fprintf(stderr, "iovwriter: %s: %s\n", what, strerror(errno));
	exit(1);
}

static const char *errname(int e)
{
	switch (e) {
	case EAGAIN: return "EAGAIN";
	case EPIPE: return "EPIPE";
	case EMSGSIZE: return "EMSGSIZE";
	case ENOTSOCK: return "ENOTSOCK";
	case ECONNREFUSED: return "ECONNREFUSED";
	case ECONNRESET: return "ECONNRESET";
	case ENOTCONN: return "ENOTCONN";
	case EINVAL: return "EINVAL";
	case EINTR: return "EINTR";
	case ENOBUFS: return "ENOBUFS";
	case EFAULT: return "EFAULT";
	case EBADF: return "EBADF";
	default: {
		static char buf[32];
		snprintf(buf, sizeof buf, "E%d", e);
		return buf;
	}
	}
}

/* ---- the PRNG, the stream's bytes, the hashes ----------------------------------- */

static uint64_t splitmix(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15u);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
	return z ^ (z >> 31);
}

static uint64_t rng;

static uint32_t rnd(uint32_t n)
{
	return (uint32_t)(splitmix(&rng) % n);
}

static uint64_t content_key;

/* Byte OFF of the stream: a hash of the offset's 8-byte word, so no two nearby pieces
 * look alike. */
static unsigned char stream_byte(uint64_t off)
{
	uint64_t s = content_key ^ (off >> 3);
	return (unsigned char)(splitmix(&s) >> (8 * (off & 7)));
}

static void fill(unsigned char *p, size_t len, uint64_t off)
{
	for (size_t i = 0; i < len; i++)
		p[i] = stream_byte(off + i);
}

/* Offset of the first byte of P[0..LEN) that is not the stream's at OFF, or LEN. */
static size_t first_mismatch(const unsigned char *p, size_t len, uint64_t off)
{
	for (size_t i = 0; i < len; i++)
		if (p[i] != stream_byte(off + i))
			return i;
	return len;
}

#define FNV_BASIS 0xcbf29ce484222325u
#define FNV_PRIME 0x100000001b3u

static uint64_t fnv(uint64_t h, const unsigned char *p, size_t len)
{
	for (size_t i = 0; i < len; i++)
		h = (h ^ p[i]) * FNV_PRIME;
	return h;
}

static uint64_t fnv_len(uint64_t h, uint64_t len)
{
	unsigned char b[8];
	for (int i = 0; i < 8; i++)
		b[i] = (unsigned char)(len >> (8 * i));
	return fnv(h, b, sizeof b);
}

/* ---- what was received: the reader thread, or the file read back ------------------ */

struct received {
	uint64_t bytes, hash;
	uint64_t records, rhash;
	long fds;
	bool bad;
	char why[256];
};

static struct received got = { .hash = FNV_BASIS, .rhash = FNV_BASIS };

/* Record lengths, to say which record differs: those received, those the writer's
 * return values promise (with the call that sent each). */
struct lengths {
	uint64_t *len;
	long *call;
	size_t n, cap;
};
static struct lengths got_lengths, sent_lengths;

static void push_length(struct lengths *l, uint64_t len, long call)
{
	if (l->n == l->cap) {
		l->cap = l->cap ? 2 * l->cap : 256;
		l->len = realloc(l->len, l->cap * sizeof *l->len);
		l->call = realloc(l->call, l->cap * sizeof *l->call);
		if (!l->len || !l->call)
			abort();
	}
	l->len[l->n] = len;
	l->call[l->n++] = call;
}

static void take(const unsigned char *p, size_t n, bool record)
{
	if (!got.bad) {
		size_t at = first_mismatch(p, n, got.bytes);
		if (at < n) {
			got.bad = true;
			snprintf(got.why, sizeof got.why,
				 "byte %" PRIu64 " of the stream is 0x%02x, expected 0x%02x",
				 got.bytes + at, p[at], stream_byte(got.bytes + at));
		}
	}
	got.hash = fnv(got.hash, p, n);
	got.bytes += n;
	if (record) {
		got.records++;
		got.rhash = fnv_len(got.rhash, n);
		push_length(&got_lengths, n, 0);
	}
}

static void fail_read(const char *what)
{
	if (!got.bad) {
		got.bad = true;
		snprintf(got.why, sizeof got.why, "reader: %s: %s", what, strerror(errno));
	}
}

static atomic_bool writer_done;
static int read_fd = -1;

static void *reader(void *arg)
{
	(void)arg;
	static unsigned char buf[READ_BUF];
	bool records = opt.sink == SINK_SOCKET && opt.type != SOCK_STREAM;
	for (;;) {
		if (opt.sink == SINK_PIPE) {
			ssize_t n = read(read_fd, buf, sizeof buf);
			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0)
				fail_read("read");
			if (n <= 0)
				break;
			take(buf, (size_t)n, false);
			continue;
		}
		union {
			char b[CMSG_SPACE(sizeof(int) * MAX_FDS_PER_READ)];
			struct cmsghdr align;
		} ctl;
		struct iovec iov = { buf, sizeof buf };
		struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.b,
				      .msg_controllen = sizeof ctl.b };
		/* Datagrams and records: the writer's calls have all queued their data by the
		 * time it says it is done (a unix socket queues inside sendmsg), so once it is
		 * done, EAGAIN means everything was read. A zero-length record reads as 0,
		 * which is why EOF cannot be the end marker here. */
		bool done = atomic_load(&writer_done);
		ssize_t n = recvmsg(read_fd, &msg, records ? MSG_DONTWAIT : 0);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (records && (errno == EAGAIN || errno == EWOULDBLOCK)) {
				if (done)
					break;
				struct pollfd p = { .fd = read_fd, .events = POLLIN };
				poll(&p, 1, 100);
				continue;
			}
			fail_read("recvmsg");
			break;
		}
		if (msg.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) {
			errno = EMSGSIZE;
			fail_read(msg.msg_flags & MSG_TRUNC ? "a datagram was cut" : "control data was cut");
		}
		/* musl's CMSG_NXTHDR mixes signed and unsigned arithmetic. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wsign-conversion"
		for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
#pragma GCC diagnostic pop
			if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
				continue;
			size_t nfds = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
			for (size_t i = 0; i < nfds; i++) {
				int fd;
				memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof fd);
				close(fd);
				got.fds++;
			}
		}
		if (n == 0 && !records)
			break;
		take(buf, (size_t)n, records);
	}
	return NULL;
}

static pthread_t reader_thread;
static bool reader_started;

static void start_reader(void)
{
	if (reader_started)
		return;
	int err = pthread_create(&reader_thread, NULL, reader, NULL);
	if (err != 0) {
		errno = err;
		die("pthread_create");
	}
	reader_started = true;
}

/* ---- making the pair --------------------------------------------------------------- */

static socklen_t unix_addr(struct sockaddr_un *a, const char *tag)
{
	static unsigned seq;
	memset(a, 0, sizeof *a);
	a->sun_family = AF_UNIX;
	/* Abstract: nothing to clean up, nothing left behind by a crash. */
	int n = snprintf(a->sun_path + 1, sizeof a->sun_path - 1, "socktune-iovwriter.%ld.%s.%u",
			 (long)getpid(), tag, seq++);
	return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + (size_t)n);
}

static void set_min_sndbuf(int fd)
{
	int one = 1;
	if (setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &one, sizeof one) != 0)
		die("setsockopt SO_SNDBUF");
}

/* Makes the pair; returns the writer, puts the reader's end in *rfd. */
static int make_pair(int *rfd)
{
	struct sockaddr_storage ss;
	socklen_t len;
	if (opt.type == SOCK_DGRAM) {
		struct sockaddr_un aw, ar;
		socklen_t lw = unix_addr(&aw, "w"), lr = unix_addr(&ar, "r");
		int w = socket(AF_UNIX, SOCK_DGRAM, 0), r = socket(AF_UNIX, SOCK_DGRAM, 0);
		if (w < 0 || r < 0)
			die("socket");
		if (opt.nonblock_small)
			set_min_sndbuf(w); /* before connect: the program's own value wins */
		if (bind(w, (struct sockaddr *)&aw, lw) != 0 || bind(r, (struct sockaddr *)&ar, lr) != 0)
			die("bind");
		if (connect(w, (struct sockaddr *)&ar, lr) != 0 || connect(r, (struct sockaddr *)&aw, lw) != 0)
			die("connect");
		*rfd = r;
		return w;
	}
	int l = socket(opt.family, opt.type, 0);
	if (l < 0)
		die("socket");
	if (opt.family == AF_UNIX) {
		len = unix_addr((struct sockaddr_un *)&ss, "l");
	} else {
		struct sockaddr_in *in = (struct sockaddr_in *)&ss;
		memset(&ss, 0, sizeof ss);
		in->sin_family = AF_INET;
		in->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		len = sizeof *in;
	}
	if (bind(l, (struct sockaddr *)&ss, len) != 0)
		die("bind");
	len = sizeof ss;
	if (getsockname(l, (struct sockaddr *)&ss, &len) != 0)
		die("getsockname");
	if (listen(l, 1) != 0)
		die("listen");
	int c = socket(opt.family, opt.type, 0);
	if (c < 0)
		die("socket");
	if (opt.nonblock_small && !opt.writer_server)
		set_min_sndbuf(c);
	if (connect(c, (struct sockaddr *)&ss, len) != 0)
		die("connect");
	int a = accept(l, NULL, NULL);
	if (a < 0)
		die("accept");
	close(l);
	if (opt.nonblock_small && opt.writer_server)
		set_min_sndbuf(a); /* accepted sockets are tuned inside accept(): set it after */
	*rfd = opt.writer_server ? c : a;
	return opt.writer_server ? a : c;
}

/* ---- one call ------------------------------------------------------------------------ */

struct call {
	int n;
	size_t len[LAYOUT_MAX];
	bool null_base[LAYOUT_MAX], bad_base[LAYOUT_MAX];
	size_t total;
	enum method method;
	int flags;
	bool rights;
};

static size_t piece_size(void)
{
	static const size_t tiny[] = { 0, 1, 8, 24 };
	static const size_t edge[] = { 255, 256, 257, 1024, 1025 };
	uint32_t r = rnd(100);
	if (r < 40)
		return tiny[rnd(4)];
	if (r < 46)
		return edge[rnd(5)];
	return rnd(MAX_PIECE + 1);
}

static void make_call(struct call *c)
{
	memset(c, 0, sizeof *c);
	if (opt.layout_n) {
		c->n = opt.layout_n;
		for (int i = 0; i < c->n; i++)
			c->len[i] = opt.layout[i];
		if (opt.bad_pointer)
			c->bad_base[c->n / 2] = true;
	} else {
		c->n = rnd(4) == 0 ? 2 + (int)rnd(4) : 1 + (int)rnd(MAX_IOV);
		bool empty = rnd(32) == 0;
		for (int i = 0; i < c->n; i++) {
			c->len[i] = empty ? 0 : piece_size();
			c->null_base[i] = c->len[i] == 0 && rnd(2) == 0;
		}
	}
	for (int i = 0; i < c->n; i++)
		c->total += c->len[i];
	c->method = opt.method >= 0 ? (enum method)opt.method : rnd(2) ? M_SENDMSG : M_WRITEV;
	if (c->method == M_SENDMSG && opt.zerocopy)
		c->flags = MSG_ZEROCOPY;
	if (c->method != M_SENDMSG || opt.layout_n)
		return;
	switch (rnd(8)) {
	case 0:
	case 1: c->flags |= MSG_DONTWAIT; break;
	case 2:
	case 3: c->flags |= MSG_NOSIGNAL; break;
	case 4: c->flags |= MSG_DONTWAIT | MSG_NOSIGNAL; break;
	default: break;
	}
	/* A blocking socket: MSG_DONTWAIT only where it can neither fail nor come up short. */
	if (!opt.nonblock_small && c->total > DONTWAIT_MAX)
		c->flags &= ~MSG_DONTWAIT;
	if (opt.sink == SINK_SOCKET && opt.family == AF_UNIX && opt.type == SOCK_STREAM && c->total > 0)
		c->rights = rnd(6) == 0;
}

static const char *flags_name(int flags)
{
	static char buf[64];
	snprintf(buf, sizeof buf, "%s%s%s", flags & MSG_DONTWAIT ? "|dontwait" : "",
		 flags & MSG_NOSIGNAL ? "|nosignal" : "", flags & MSG_ZEROCOPY ? "|zerocopy" : "");
	return buf[0] ? buf + 1 : "0";
}

static bool wrong; /* a call changed the caller's iovec array, msghdr or data, or made no sense */
static char wrong_why[256];

static void went_wrong(const char *fmt, ...)
{
	if (wrong)
		return;
	wrong = true;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(wrong_why, sizeof wrong_why, fmt, ap);
	va_end(ap);
}

/* Makes the system call for IOV[0..N) and checks that it left its arguments alone. */
static ssize_t syscall_once(int fd, struct iovec *iov, int n, enum method m, int flags, bool rights,
			    long index)
{
	struct iovec saved[LAYOUT_MAX];
	memcpy(saved, iov, (size_t)n * sizeof *iov);
	ssize_t r;
	int e;
	if (m == M_WRITEV) {
		r = writev(fd, iov, n);
		e = errno;
	} else {
		union {
			char b[CMSG_SPACE(sizeof(int))];
			struct cmsghdr align;
		} ctl = { { 0 } }, ctl_saved = { { 0 } };
		struct msghdr msg = { .msg_iov = iov, .msg_iovlen = (size_t)n };
		int dupfd = -1;
		if (rights) {
			dupfd = dup(0);
			if (dupfd < 0)
				die("dup");
			memset(&ctl, 0, sizeof ctl);
			msg.msg_control = ctl.b;
			msg.msg_controllen = sizeof ctl.b;
			struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
			c->cmsg_level = SOL_SOCKET;
			c->cmsg_type = SCM_RIGHTS;
			c->cmsg_len = CMSG_LEN(sizeof(int));
			memcpy(CMSG_DATA(c), &dupfd, sizeof dupfd);
			ctl_saved = ctl;
		}
		struct msghdr msg_saved = msg;
		r = sendmsg(fd, &msg, flags);
		e = errno;
		if (memcmp(&msg, &msg_saved, sizeof msg) != 0)
			went_wrong("call %ld: sendmsg changed the msghdr", index);
		if (rights && memcmp(&ctl, &ctl_saved, sizeof ctl) != 0)
			went_wrong("call %ld: sendmsg changed the control data", index);
		if (dupfd >= 0)
			close(dupfd); /* the one in flight is the kernel's now */
	}
	if (memcmp(saved, iov, (size_t)n * sizeof *iov) != 0)
		went_wrong("call %ld: the iovec array was changed", index);
	errno = e;
	return r;
}

static void print_call(long index, int attempt, const struct call *c, int n, size_t len, bool rights,
		       ssize_t r, int e)
{
	printf("call %ld", index);
	if (attempt)
		printf(".%d", attempt);
	printf(" %s iov=%d len=%zu", c->method == M_WRITEV ? "writev" : "sendmsg", n, len);
	if (c->method == M_SENDMSG)
		printf(" flags=%s", flags_name(c->flags));
	if (rights)
		printf(" rights=1");
	if (r < 0)
		printf(" ret=-1 errno=%s\n", errname(e));
	else
		printf(" ret=%zd\n", r);
}

/* Waits until the socket's send queue is empty: all sent and, for unix sockets, read. */
static void wait_send_queue_empty(int fd)
{
	struct timespec tick = { 0, 200 * 1000 };
	for (int i = 0; i < 50000; i++) {
		int q = 0;
		if (ioctl(fd, SIOCOUTQ, &q) != 0 || q == 0)
			return;
		nanosleep(&tick, NULL);
	}
	fprintf(stderr, "iovwriter: the send queue did not drain in 10 s\n");
}

/* What the writer knows went out, from the return values alone. */
static struct {
	uint64_t bytes, records, rhash;
	long fds;
} sent = { .rhash = FNV_BASIS };

static void account(const struct call *c, ssize_t r, bool rights, long index)
{
	if (r < 0)
		return;
	sent.bytes += (uint64_t)r;
	if (rights && r > 0)
		sent.fds++;
	if (opt.sink != SINK_SOCKET || opt.type == SOCK_STREAM)
		return;
	/* A record per successful call, except that writev() of zero bytes returns 0
	 * without reaching the socket (the VFS stops it), while sendmsg() of zero bytes
	 * sends an empty datagram. */
	if (c->total == 0 && c->method == M_WRITEV)
		return;
	sent.records++;
	sent.rhash = fnv_len(sent.rhash, (uint64_t)r);
	push_length(&sent_lengths, (uint64_t)r, index);
}

/* Allocates the pieces, one malloc each, filled with the stream's bytes from OFF. */
static void build(const struct call *c, struct iovec *iov, uint64_t off)
{
	for (int i = 0; i < c->n; i++) {
		if (c->null_base[i] || c->bad_base[i]) {
			iov[i].iov_base = c->bad_base[i] ? BAD_ADDR : NULL;
		} else {
			unsigned char *p = malloc(c->len[i] ? c->len[i] : 1);
			if (!p)
				die("malloc");
			fill(p, c->len[i], off);
			iov[i].iov_base = p;
		}
		iov[i].iov_len = c->len[i];
		off += c->len[i];
	}
}

static void release(const struct call *c, struct iovec *iov, uint64_t off, long index)
{
	for (int i = 0; i < c->n; i++) {
		if (c->bad_base[i]) {
			off += iov[i].iov_len;
			continue;
		}
		if (iov[i].iov_base && first_mismatch(iov[i].iov_base, iov[i].iov_len, off) != iov[i].iov_len)
			went_wrong("call %ld: the data of iovec %d was changed", index, i);
		off += iov[i].iov_len;
		free(iov[i].iov_base);
	}
}

static void blocking_call(int fd, long index)
{
	struct call c;
	make_call(&c);
	static struct iovec iov[LAYOUT_MAX];
	uint64_t off = sent.bytes;
	build(&c, iov, off);
	if ((c.flags & MSG_DONTWAIT) && opt.sink == SINK_SOCKET)
		wait_send_queue_empty(fd);
	ssize_t r = syscall_once(fd, iov, c.n, c.method, c.flags, c.rights, index);
	int e = errno;
	print_call(index, 0, &c, c.n, c.total, c.rights, r, e);
	account(&c, r, c.rights, index);
	if (c.flags & MSG_ZEROCOPY)
		wait_send_queue_empty(fd); /* the kernel may still read the pages: keep them */
	release(&c, iov, off, index);
}

static long eagains;

/* Non-blocking: repeats until the whole message is out (stream) or has gone or failed
 * for good (records), continuing from where a short write stopped. */
static void nonblocking_call(int fd, long index)
{
	struct call c;
	make_call(&c);
	static struct iovec iov[LAYOUT_MAX], view[LAYOUT_MAX];
	uint64_t off = sent.bytes;
	build(&c, iov, off);
	size_t done = 0;
	bool rights = c.rights;
	for (int attempt = 1;; attempt++) {
		/* The iovecs still to write: skip what is out, trim the piece cut in two. */
		int k = 0, n = 0;
		size_t skip = done;
		while (k < c.n && skip > 0 && skip >= iov[k].iov_len) {
			skip -= iov[k].iov_len;
			k++;
		}
		for (int i = k; i < c.n; i++, n++) {
			view[n] = iov[i];
			if (i == k && skip) {
				view[n].iov_base = (char *)view[n].iov_base + skip;
				view[n].iov_len -= skip;
			}
		}
		if (n == 0) /* cannot happen: the loop ends when all is out */
			break;
		ssize_t r = syscall_once(fd, view, n, c.method, c.flags, rights, index);
		int e = errno;
		print_call(index, attempt, &c, n, c.total - done, rights, r, e);
		if (r < 0 && (e == EAGAIN || e == EWOULDBLOCK)) {
			if (++eagains >= EAGAINS_BEFORE_READER)
				start_reader();
			struct pollfd p = { .fd = fd, .events = POLLOUT };
			poll(&p, 1, reader_started ? 1000 : 10);
			continue;
		}
		if (r < 0) {
			break; /* EMSGSIZE and the like: this message never goes */
		}
		account(&c, r, rights, index);
		if (r > 0)
			rights = false; /* the descriptor went with the first byte */
		done += (size_t)r;
		if (opt.type != SOCK_STREAM || done == c.total)
			break;
		if (r == 0) {
			went_wrong("call %ld: a stream write of %zu bytes returned 0", index, c.total - done);
			break;
		}
	}
	release(&c, iov, off, index);
}

/* ---- SIGPIPE -------------------------------------------------------------------------- */

static volatile sig_atomic_t signals;

static void on_sigpipe(int sig)
{
	(void)sig;
	signals++;
}

static int sigpipe_run(int wfd, int rfd)
{
	if (opt.sigpipe == 1) {
		struct sigaction sa = { .sa_handler = on_sigpipe };
		sigemptyset(&sa.sa_mask);
		sigaction(SIGPIPE, &sa, NULL);
	} else {
		signal(SIGPIPE, SIG_DFL);
	}
	close(rfd);
	if (opt.type != SOCK_DGRAM) { /* wait until the writer has seen the peer go */
		struct pollfd p = { .fd = wfd, .events = POLLIN | POLLRDHUP };
		poll(&p, 1, 2000);
	}
	static const struct {
		enum method m;
		int flags;
		int n;
		size_t len[3];
	} steps[] = {
		{ M_WRITEV, 0, 3, { 8, 24, 100 } },
		{ M_SENDMSG, 0, 3, { 8, 24, 100 } },
		{ M_SENDMSG, MSG_NOSIGNAL, 3, { 8, 24, 100 } },
		{ M_SENDMSG, MSG_NOSIGNAL | MSG_DONTWAIT, 3, { 8, 24, 100 } },
		{ M_WRITEV, 0, 2, { 600, 8 } },
		{ M_WRITEV, 0, 3, { 8, 24, 100 } },
	};
	for (size_t s = 0; s < sizeof steps / sizeof steps[0]; s++) {
		struct call c = { .n = steps[s].n, .method = steps[s].m, .flags = steps[s].flags };
		for (int i = 0; i < c.n; i++)
			c.total += c.len[i] = steps[s].len[i];
		struct iovec iov[3];
		build(&c, iov, sent.bytes);
		fflush(stdout); /* the default disposition ends the process inside the call */
		ssize_t r = syscall_once(wfd, iov, c.n, c.method, c.flags, false, (long)s + 1);
		int e = errno;
		printf("sigpipe call %zu %s iov=%d len=%zu flags=%s ret=%zd", s + 1,
		       c.method == M_WRITEV ? "writev" : "sendmsg", c.n, c.total, flags_name(c.flags), r);
		if (r < 0)
			printf(" errno=%s", errname(e));
		printf(" signals=%d\n", (int)signals);
		release(&c, iov, sent.bytes, (long)s + 1);
		if (r > 0)
			sent.bytes += (uint64_t)r;
	}
	close(wfd);
	if (wrong) {
		printf("verify FAILED: %s\n", wrong_why);
		return 1;
	}
	printf("verify ok\n");
	return 0;
}

/* ---- main ----------------------------------------------------------------------------- */

static long parse_long(const char *s, long lo, long hi)
{
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < lo || v > hi)
		usage();
	return v;
}

static void parse_layout(const char *s)
{
	char *copy = strdup(s), *save = NULL;
	if (!copy)
		die("strdup");
	for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		char *x = strchr(t, 'x');
		long count = 1;
		if (x) {
			*x = 0;
			count = parse_long(x + 1, 1, LAYOUT_MAX);
		}
		size_t len = (size_t)parse_long(t, 0, MAX_PIECE);
		for (long k = 0; k < count; k++) {
			if (opt.layout_n == LAYOUT_MAX)
				usage();
			opt.layout[opt.layout_n++] = len;
		}
	}
	free(copy);
	if (!opt.layout_n)
		usage();
}

static void parse_args(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
#define ARG(name) (!strcmp(a, name) && (v ? (i++, 1) : (usage(), 0)))
		if (ARG("--family")) {
			if (!strcmp(v, "unix"))
				opt.family = AF_UNIX;
			else if (!strcmp(v, "inet"))
				opt.family = AF_INET;
			else
				usage();
		} else if (ARG("--type")) {
			if (!strcmp(v, "stream"))
				opt.type = SOCK_STREAM;
			else if (!strcmp(v, "seqpacket"))
				opt.type = SOCK_SEQPACKET;
			else if (!strcmp(v, "dgram"))
				opt.type = SOCK_DGRAM;
			else
				usage();
		} else if (ARG("--writer")) {
			if (strcmp(v, "client") && strcmp(v, "server"))
				usage();
			opt.writer_server = !strcmp(v, "server");
		} else if (ARG("--seed")) {
			opt.seed = (uint64_t)parse_long(v, 0, LONG_MAX);
		} else if (ARG("--calls")) {
			opt.calls = parse_long(v, 1, 1000000);
		} else if (ARG("--method")) {
			if (!strcmp(v, "any"))
				opt.method = -1;
			else if (!strcmp(v, "writev"))
				opt.method = M_WRITEV;
			else if (!strcmp(v, "sendmsg"))
				opt.method = M_SENDMSG;
			else
				usage();
		} else if (ARG("--layout")) {
			parse_layout(v);
		} else if (ARG("--sink")) {
			if (!strcmp(v, "socket"))
				opt.sink = SINK_SOCKET;
			else if (!strcmp(v, "file"))
				opt.sink = SINK_FILE;
			else if (!strcmp(v, "pipe"))
				opt.sink = SINK_PIPE;
			else
				usage();
		} else if (!strcmp(a, "--nonblock-small")) {
			opt.nonblock_small = true;
		} else if (!strcmp(a, "--sigpipe")) {
			opt.sigpipe = 1;
		} else if (!strcmp(a, "--sigpipe-kill")) {
			opt.sigpipe = 2;
		} else if (!strcmp(a, "--zerocopy")) {
			opt.zerocopy = true;
		} else if (!strcmp(a, "--bad-pointer")) {
			opt.bad_pointer = true;
		} else {
			usage();
		}
#undef ARG
	}
	if (opt.family == AF_INET && opt.type != SOCK_STREAM)
		usage();
	if (opt.sink != SINK_SOCKET && (opt.nonblock_small || opt.sigpipe))
		usage();
	if (opt.nonblock_small && opt.sigpipe)
		usage();
	if (opt.bad_pointer && !opt.layout_n) {
		opt.layout[0] = 8, opt.layout[1] = 8, opt.layout[2] = 24;
		opt.layout_n = 3;
	}
	if ((opt.zerocopy || opt.bad_pointer) && (opt.nonblock_small || opt.sigpipe))
		usage();
}

static const char *type_name(void)
{
	return opt.type == SOCK_STREAM ? "stream" : opt.type == SOCK_SEQPACKET ? "seqpacket" : "dgram";
}

int main(int argc, char **argv)
{
	parse_args(argc, argv);
	/* A line at a time: if a call crashes the process, the lines before it are out. */
	setvbuf(stdout, NULL, _IOLBF, 0);
	rng = opt.seed;
	content_key = splitmix(&rng);

	const char *sink = opt.sink == SINK_FILE ? "file" : opt.sink == SINK_PIPE ? "pipe" : NULL;
	if (sink)
		printf("iovwriter sink=%s seed=%" PRIu64 " calls=%ld\n", sink, opt.seed, opt.calls);
	else
		printf("iovwriter family=%s type=%s writer=%s seed=%" PRIu64 " calls=%ld mode=%s\n",
		       opt.family == AF_UNIX ? "unix" : "inet", type_name(),
		       opt.writer_server ? "server" : "client", opt.seed, opt.calls,
		       opt.sigpipe == 1 ? "sigpipe" : opt.sigpipe == 2 ? "sigpipe-kill"
		       : opt.nonblock_small ? "nonblock-small" : "blocking");

	int wfd;
	char file_path[4200] = "";
	if (opt.sink == SINK_FILE) {
		const char *tmp = getenv("TMPDIR");
		snprintf(file_path, sizeof file_path, "%s/iovwriter.XXXXXX", tmp && *tmp ? tmp : "/tmp");
		wfd = mkstemp(file_path);
		if (wfd < 0)
			die("mkstemp");
	} else if (opt.sink == SINK_PIPE) {
		int p[2];
		if (pipe(p) != 0)
			die("pipe");
		read_fd = p[0];
		wfd = p[1];
	} else {
		wfd = make_pair(&read_fd);
	}
	fprintf(stderr, "iovwriter: writer fd=%d\n", wfd);
	if (opt.zerocopy && opt.family == AF_INET) {
		int one = 1;
		if (setsockopt(wfd, SOL_SOCKET, SO_ZEROCOPY, &one, sizeof one) != 0)
			die("setsockopt SO_ZEROCOPY");
	}

	if (opt.sigpipe)
		return sigpipe_run(wfd, read_fd);

	if (opt.nonblock_small) {
		int fl = fcntl(wfd, F_GETFL);
		if (fl < 0 || fcntl(wfd, F_SETFL, fl | O_NONBLOCK) != 0)
			die("fcntl O_NONBLOCK");
	} else if (opt.sink != SINK_FILE) {
		start_reader();
	}

	for (long i = 1; i <= opt.calls; i++) {
		if (opt.nonblock_small)
			nonblocking_call(wfd, i);
		else
			blocking_call(wfd, i);
	}

	if (opt.sink == SINK_FILE) {
		/* Read the file back through a descriptor of its own. */
		int rfd = open(file_path, O_RDONLY);
		if (rfd < 0)
			die(file_path);
		static unsigned char buf[READ_BUF];
		ssize_t n;
		while ((n = read(rfd, buf, sizeof buf)) > 0)
			take(buf, (size_t)n, false);
		if (n < 0)
			fail_read("read");
		close(rfd);
		unlink(file_path);
		close(wfd);
	} else {
		start_reader(); /* --nonblock-small without a single EAGAIN: it drains now */
		atomic_store(&writer_done, true);
		if (opt.sink == SINK_PIPE)
			close(wfd);
		else if (opt.type == SOCK_STREAM && shutdown(wfd, SHUT_WR) != 0)
			die("shutdown");
		pthread_join(reader_thread, NULL);
		close(read_fd);
		if (opt.sink != SINK_PIPE)
			close(wfd);
	}

	bool records = opt.sink == SINK_SOCKET && opt.type != SOCK_STREAM;
	printf("written bytes=%" PRIu64 " records=%" PRIu64 " fds=%ld\n", sent.bytes, sent.records, sent.fds);
	printf("received bytes=%" PRIu64 " hash=%016" PRIx64 "\n", got.bytes, got.hash);
	if (records)
		printf("records count=%" PRIu64 " hash=%016" PRIx64 "\n", got.records, got.rhash);
	printf("fds received=%ld\n", got.fds);

	char why[600] = "";
	if (got.bad)
		snprintf(why, sizeof why, "%s", got.why);
	else if (wrong)
		snprintf(why, sizeof why, "%s", wrong_why);
	else if (got.bytes != sent.bytes)
		snprintf(why, sizeof why, "received %" PRIu64 " bytes, the writer's return values add up to %" PRIu64,
			 got.bytes, sent.bytes);
	else if (records && (got.records != sent.records || got.rhash != sent.rhash)) {
		size_t k = 0;
		while (k < got_lengths.n && k < sent_lengths.n && got_lengths.len[k] == sent_lengths.len[k])
			k++;
		char first[200];
		if (k < got_lengths.n && k < sent_lengths.n)
			snprintf(first, sizeof first,
				 "record %zu is %" PRIu64 " bytes where call %ld sent %" PRIu64 " (the record before: call %ld)",
				 k + 1, got_lengths.len[k], sent_lengths.call[k], sent_lengths.len[k],
				 k ? sent_lengths.call[k - 1] : 0L);
		else if (k < got_lengths.n)
			snprintf(first, sizeof first, "an extra record %zu of %" PRIu64 " bytes after call %ld", k + 1,
				 got_lengths.len[k], k ? sent_lengths.call[k - 1] : 0L);
		else
			snprintf(first, sizeof first, "record %zu (%" PRIu64 " bytes from call %ld) never came", k + 1,
				 sent_lengths.len[k], sent_lengths.call[k]);
		snprintf(why, sizeof why, "received %" PRIu64 " records, the writer's return values say %" PRIu64
			 "; first difference: %s", got.records, sent.records, first);
	}
	else if (got.fds != sent.fds)
		snprintf(why, sizeof why, "received %ld descriptors, sent %ld", got.fds, sent.fds);
	if (*why) {
		printf("verify FAILED: %s\n", why);
		return 1;
	}
	printf("verify ok\n");
	return 0;
}
