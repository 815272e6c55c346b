/*
 * iovmerge: the price of one writev() message, the figure that decides whether socktune's
 * iovec merging (merge = SIZE) pays, and so its default. It owns only the message shapes,
 * the transfer and its clocks; bench/run decides which sockets merge and compares.
 *
 *   iovmerge one SHAPE unix|tcp [MESSAGES]
 *   iovmerge ab  SHAPE unix|tcp [MESSAGES_PER_SLICE [PAIRS]]
 *
 * Shapes:
 * spice  the shape of a Spice display channel: each message is one writev() of 3 to 5
 *        pieces, an 8-byte header and then pieces of 8, 24, 100 or 600 bytes, from a
 *        fixed table of 4096 layouts drawn with a fixed seed (every run writes the same
 *        messages), the pieces at varying offsets in a 64 KiB pool. TCP_NODELAY is set
 *        on the writers, as Spice sets it.
 * pages  the seed 003 shape: each message is one writev() of 16 pages of 4 KiB with an
 *        8-byte delimiter before each (32 iovecs, 65664 bytes), the pages taken in turn
 *        from a 1 MiB pool.
 *
 * Connections are made with socket/bind/listen/connect/accept (a unix stream socket, or
 * TCP on 127.0.0.1), so the library decides its policy for every socket. One thread
 * writes and, whenever 32 KiB are pending (or the non-blocking writer says EAGAIN),
 * reads the bytes back from the other end: the clocks cover one send path and the same
 * reads, on one CPU, with no second thread for the scheduler to move about.
 *
 * one: one connection, the connecting end writes; for SOCKTUNE_MERGE=SIZE against
 *      SOCKTUNE_MERGE=0 in separate runs. The run is cut into 21 slices, and the
 *      figures are the median slice's.
 * ab:  two connections side by side; on the first the connecting end writes (role
 *      client), on the second the accepted end writes (role server), so a configuration
 *      rule on role merges one writer and not the other. Slices of MESSAGES_PER_SLICE
 *      messages alternate between the two writers (client, server, server, client, ...)
 *      and each adjacent pair gives a ratio. On the 2-vCPU VM the time per message swings
 *      by up to 1.6x in spells of 10 to 100 ms, within one process as much as between
 *      processes: only slices a few milliseconds apart see the same machine.
 *
 * Output, one line of key=value pairs. one: ns_per_msg and cpu_ns_per_msg (median
 * slice; CPU is user+sys from CLOCK_PROCESS_CPUTIME_ID). ab: client_ns, server_ns,
 * client_cpu_ns, server_cpu_ns (medians over slices) and ratio_ns, ratio_cpu (medians
 * over pairs of client over server). Exits 1 if a call fails or a byte is missing, 2 on
 * a usage error.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define LAYOUTS 4096
#define PAGE 4096
#define PAGES_PER_MSG 16
#define MAX_IOV (2 * PAGES_PER_MSG)
#define POOL_PAGES 256
#define DELIM 8
#define READ_SIZE (256 * 1024)
#define DRAIN_AT (32 * 1024)
#define ONE_SLICES 21
#define MAX_PAIRS 1000

static _Noreturn void die(const char *what)
{
	fprintf(stderr, "iovmerge: %s: %s\n", what, strerror(errno));
	exit(1);
}

static _Noreturn void usage(void)
{
	fputs("usage: iovmerge one spice|pages unix|tcp [MESSAGES]\n"
	      "       iovmerge ab spice|pages unix|tcp [MESSAGES_PER_SLICE [PAIRS]]\n",
	      stderr);
	exit(2);
}

static double now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

/* user + sys of the process, to the nanosecond */
static double cpu_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

/* The median of V[0..N) (V is sorted in place). */
static double median_of(double *v, int n)
{
	qsort(v, (size_t)n, sizeof *v, cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static uint64_t splitmix(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15u);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
	return z ^ (z >> 31);
}

/* ---- the shapes ----------------------------------------------------------------------- */

struct layout {
	int n;
	struct iovec iov[MAX_IOV];
	size_t bytes;
};

static struct layout *layouts;
static int nlayouts;

static void make_spice(void)
{
	static const size_t sizes[] = { 8, 24, 100, 600 };
	static unsigned char pool[64 * 1024];
	uint64_t s = 3;
	for (size_t i = 0; i < sizeof pool; i++)
		pool[i] = (unsigned char)splitmix(&s);
	nlayouts = LAYOUTS;
	layouts = calloc(LAYOUTS, sizeof *layouts);
	if (!layouts)
		die("calloc");
	for (int m = 0; m < LAYOUTS; m++) {
		struct layout *l = &layouts[m];
		l->n = 3 + (int)(splitmix(&s) % 3);
		for (int i = 0; i < l->n; i++) {
			size_t len = i == 0 ? 8 : sizes[splitmix(&s) % 4];
			size_t off = (size_t)(splitmix(&s) % (sizeof pool - len));
			l->iov[i] = (struct iovec){ pool + off, len };
			l->bytes += len;
		}
	}
}

static void make_pages(void)
{
	unsigned char *pool = aligned_alloc(PAGE, (size_t)POOL_PAGES * PAGE);
	static unsigned char delims[POOL_PAGES][DELIM];
	if (!pool)
		die("aligned_alloc");
	memset(pool, 0x5a, (size_t)POOL_PAGES * PAGE); /* touch every page before the clock */
	memset(delims, '\n', sizeof delims);
	nlayouts = POOL_PAGES / PAGES_PER_MSG;
	layouts = calloc((size_t)nlayouts, sizeof *layouts);
	if (!layouts)
		die("calloc");
	for (int m = 0; m < nlayouts; m++) {
		struct layout *l = &layouts[m];
		for (int p = 0; p < PAGES_PER_MSG; p++) {
			int page = m * PAGES_PER_MSG + p;
			l->iov[l->n++] = (struct iovec){ delims[page], DELIM };
			l->iov[l->n++] = (struct iovec){ pool + (size_t)page * PAGE, PAGE };
			l->bytes += DELIM + PAGE;
		}
	}
}

/* iovecs per message, over the table */
static double layouts_iovs(void)
{
	long sum = 0;
	for (int i = 0; i < nlayouts; i++)
		sum += layouts[i].n;
	return (double)sum / (double)nlayouts;
}

/* ---- a connection and its transfer ---------------------------------------------------- */

struct conn {
	int w, r; /* the writing end and the reading end */
	uint64_t sent, got, expect;
	long next; /* the next message's index in the layout table */
};

static char *rbuf;

static int listener(int tcp, struct sockaddr_storage *ss, socklen_t *len)
{
	static unsigned seq;
	memset(ss, 0, sizeof *ss);
	if (tcp) {
		struct sockaddr_in *in = (struct sockaddr_in *)ss;
		in->sin_family = AF_INET;
		in->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		*len = sizeof *in;
	} else {
		struct sockaddr_un *un = (struct sockaddr_un *)ss;
		un->sun_family = AF_UNIX;
		int n = snprintf(un->sun_path + 1, sizeof un->sun_path - 1, "socktune-iovmerge.%ld.%u",
				 (long)getpid(), seq++);
		*len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + (size_t)n);
	}
	int l = socket(tcp ? AF_INET : AF_UNIX, SOCK_STREAM, 0);
	if (l < 0)
		die("socket");
	if (bind(l, (struct sockaddr *)ss, *len) != 0)
		die("bind");
	*len = sizeof *ss;
	if (getsockname(l, (struct sockaddr *)ss, len) != 0)
		die("getsockname");
	if (listen(l, 1) != 0)
		die("listen");
	return l;
}

static void nodelay(int fd)
{
	int one = 1;
	if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) != 0)
		die("TCP_NODELAY");
}

/* A connection whose writer is the connecting end, or with SERVER_WRITES the accepted
 * one. The writer is non-blocking: when the socket is full, the other end is read. */
static void connect_conn(struct conn *c, int tcp, int server_writes)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int l = listener(tcp, &ss, &len);
	int cl = socket(tcp ? AF_INET : AF_UNIX, SOCK_STREAM, 0);
	if (cl < 0)
		die("socket");
	if (tcp && !server_writes)
		nodelay(cl);
	if (connect(cl, (struct sockaddr *)&ss, len) != 0)
		die("connect");
	int a = accept(l, NULL, NULL);
	if (a < 0)
		die("accept");
	close(l);
	if (tcp && server_writes)
		nodelay(a);
	memset(c, 0, sizeof *c);
	c->w = server_writes ? a : cl;
	c->r = server_writes ? cl : a;
	int fl = fcntl(c->w, F_GETFL);
	if (fl < 0 || fcntl(c->w, F_SETFL, fl | O_NONBLOCK) != 0)
		die("O_NONBLOCK");
}

/* Reads until every byte written so far is in. */
static void drain(struct conn *c)
{
	while (c->got < c->sent) {
		ssize_t n = read(c->r, rbuf, READ_SIZE);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			die("read");
		if (n == 0) {
			errno = EPIPE;
			die("read: early EOF");
		}
		c->got += (uint64_t)n;
	}
}

/* Writes the whole message, continuing after a short write. */
static void write_message(struct conn *c, const struct layout *l)
{
	ssize_t w = writev(c->w, l->iov, l->n);
	c->expect += l->bytes;
	if (w == (ssize_t)l->bytes) {
		c->sent += (uint64_t)w;
		return;
	}
	size_t done = 0;
	for (;;) {
		if (w < 0 && errno != EINTR && errno != EAGAIN)
			die("writev");
		if (w > 0) {
			done += (size_t)w;
			c->sent += (uint64_t)w;
		}
		if (done == l->bytes)
			return;
		if (w < 0 && errno == EAGAIN)
			drain(c);
		struct iovec rest[MAX_IOV];
		int k = 0, m = 0;
		size_t skip = done;
		while (skip >= l->iov[k].iov_len) {
			skip -= l->iov[k].iov_len;
			k++;
		}
		for (int i = k; i < l->n; i++)
			rest[m++] = l->iov[i];
		rest[0].iov_base = (char *)rest[0].iov_base + skip;
		rest[0].iov_len -= skip;
		w = writev(c->w, rest, m);
	}
}

/* One slice: COUNT messages and the reads that empty the socket; the wall and CPU
 * nanoseconds per message. */
static void slice(struct conn *c, long count, double *ns, double *cpu)
{
	double t0 = now_ns(), c0 = cpu_ns();
	for (long i = 0; i < count; i++) {
		write_message(c, &layouts[c->next++ % nlayouts]);
		if (c->sent - c->got >= DRAIN_AT)
			drain(c);
	}
	drain(c);
	*ns = (now_ns() - t0) / (double)count;
	*cpu = (cpu_ns() - c0) / (double)count;
}

static void finish(struct conn *c)
{
	if (c->got != c->expect || c->sent != c->expect) {
		fprintf(stderr, "iovmerge: wrote %" PRIu64 " and read %" PRIu64 " bytes of %" PRIu64 "\n", c->sent,
			c->got, c->expect);
		exit(1);
	}
	close(c->w);
	close(c->r);
}

static long parse_count(const char *s)
{
	char *end;
	long v = strtol(s, &end, 10);
	if (*end || v <= 0 || v > 100000000)
		usage();
	return v;
}

int main(int argc, char **argv)
{
	if (argc < 4)
		usage();
	const char *mode = argv[1], *shape = argv[2], *transport = argv[3];
	int ab = !strcmp(mode, "ab");
	if (!ab && strcmp(mode, "one"))
		usage();
	int tcp = !strcmp(transport, "tcp");
	if (!tcp && strcmp(transport, "unix"))
		usage();
	long count; /* one: messages; ab: messages per slice */
	if (!strcmp(shape, "spice")) {
		make_spice();
		count = ab ? 2000 : 30000;
	} else if (!strcmp(shape, "pages")) {
		make_pages();
		count = ab ? 200 : 3000;
	} else {
		usage();
	}
	long pairs = 30;
	if (argc > (ab ? 6 : 5))
		usage();
	if (argc >= 5)
		count = parse_count(argv[4]);
	if (argc == 6)
		pairs = parse_count(argv[5]);
	if (pairs > MAX_PAIRS)
		usage();
	rbuf = malloc(READ_SIZE);
	if (!rbuf)
		die("malloc");

	if (!ab) {
		struct conn c;
		connect_conn(&c, tcp, 0);
		static double ns[ONE_SLICES], cpu[ONE_SLICES];
		int slices = count >= ONE_SLICES ? ONE_SLICES : 1;
		long done = 0;
		double t0 = now_ns();
		for (int s = 0; s < slices; s++) {
			long n = s == slices - 1 ? count - done : count / slices;
			slice(&c, n, &ns[s], &cpu[s]);
			done += n;
		}
		double seconds = (now_ns() - t0) / 1e9;
		uint64_t bytes = c.got;
		finish(&c);
		printf("iovmerge mode=one shape=%s transport=%s messages=%ld bytes=%" PRIu64 " iov_per_msg=%.2f "
		       "seconds=%.6f slices=%d ns_per_msg=%.1f cpu_ns_per_msg=%.1f\n",
		       shape, transport, count, bytes, layouts_iovs(), seconds, slices,
		       median_of(ns, slices), median_of(cpu, slices));
		return 0;
	}

	struct conn cw, sw; /* the client writes on the first, the server on the second */
	connect_conn(&cw, tcp, 0);
	connect_conn(&sw, tcp, 1);
	static double cns[MAX_PAIRS], sns[MAX_PAIRS], ccpu[MAX_PAIRS], scpu[MAX_PAIRS];
	static double rns[MAX_PAIRS], rcpu[MAX_PAIRS];
	double t0 = now_ns();
	for (long p = 0; p < pairs; p++) {
		/* client, server, server, client, ...: neither always goes first */
		if (p % 2 == 0) {
			slice(&cw, count, &cns[p], &ccpu[p]);
			slice(&sw, count, &sns[p], &scpu[p]);
		} else {
			slice(&sw, count, &sns[p], &scpu[p]);
			slice(&cw, count, &cns[p], &ccpu[p]);
		}
		rns[p] = cns[p] / sns[p];
		rcpu[p] = ccpu[p] / scpu[p];
	}
	double seconds = (now_ns() - t0) / 1e9;
	uint64_t bytes = cw.got + sw.got;
	finish(&cw);
	finish(&sw);
	int n = (int)pairs;
	printf("iovmerge mode=ab shape=%s transport=%s messages_per_slice=%ld pairs=%d bytes=%" PRIu64
	       " iov_per_msg=%.2f seconds=%.6f client_ns=%.1f server_ns=%.1f client_cpu_ns=%.1f "
	       "server_cpu_ns=%.1f ratio_ns=%.5f ratio_cpu=%.5f\n",
	       shape, transport, count, n, bytes, layouts_iovs(), seconds, median_of(cns, n), median_of(sns, n),
	       median_of(ccpu, n), median_of(scpu, n), median_of(rns, n), median_of(rcpu, n));
	return 0;
}
