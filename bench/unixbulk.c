/*
 * unixbulk: a one-way bulk transfer over a unix stream socket, the shape of an NBD read
 * (seed 000). The sender and the receiver are separate processes so that LD_PRELOAD reaches
 * each of them, and `run` starts both from one command so the bench runner only has to set
 * the environment once. This file owns the data pattern, the checksum that proves every
 * byte arrived in order, and the figures (elapsed seconds, CPU, the socket buffers the
 * kernel really gave us) that bench/run turns into ratios. It knows nothing of socktune.
 *
 *   unixbulk recv PATH [BYTES [READY_FD]]   listen on PATH, read one connection to EOF
 *   unixbulk send PATH BYTES [CHUNK]        connect to PATH, write BYTES in CHUNK writes
 *   unixbulk run BYTES [CHUNK]              both of the above, each in its own process
 *
 * Each role prints one line of key=value pairs on stdout (`run` adds a third line of its
 * own) and exits 1 when a byte count or the checksum is wrong or a call fails, 2 on a
 * usage error.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* 256 KiB is the size of a typical NBD request, so it is what a client's write looks like. */
#define DEFAULT_CHUNK ((size_t)256 * 1024)
#define READ_SIZE ((size_t)256 * 1024)
#define MAX_SIZE ((uint64_t)1 << 40)
#define MAX_CHUNK ((uint64_t)1 << 30)

/*
 * A prime period keeps the pattern from lining up with any power-of-two write or read
 * size, so a lost or repeated piece changes the checksum. The bytes stay far from zero
 * because zero regions are what NBD turns into holes; this bench must move real bytes.
 */
#define PATTERN_PERIOD 251u

static unsigned char pattern_byte(uint64_t offset)
{
	return (unsigned char)(0xffu - offset % PATTERN_PERIOD);
}

static void pattern_fill(unsigned char *buf, size_t len)
{
	for (size_t i = 0; i < len; i++)
		buf[i] = pattern_byte(i);
}

/*
 * Fletcher-style sums over little-endian 64-bit words at absolute stream offsets: the
 * result does not depend on how reads split the stream, and the second sum catches
 * reordering. Word i goes to lane i % 4 so that four dependency chains run side by side:
 * a single chain ran at about 6 GB/s on the 2-vCPU VM, no faster than the socket itself,
 * and made the receiver's arithmetic the bottleneck instead of the socket buffer.
 */
#define LANES 4 /* checksum_update() spells the four lanes out */

struct checksum {
	uint64_t sum1[LANES];
	uint64_t sum2[LANES];
	uint64_t word; /* the word being assembled when count is not a multiple of 8 */
	uint64_t count;
};

static inline uint64_t load_le64(const unsigned char *p)
{
	return (uint64_t)p[0] | (uint64_t)p[1] << 8 | (uint64_t)p[2] << 16 | (uint64_t)p[3] << 24 |
	       (uint64_t)p[4] << 32 | (uint64_t)p[5] << 40 | (uint64_t)p[6] << 48 |
	       (uint64_t)p[7] << 56;
}

static void checksum_add_word(struct checksum *c, uint64_t index, uint64_t w)
{
	size_t lane = (size_t)(index % LANES);
	c->sum1[lane] += w;
	c->sum2[lane] += c->sum1[lane];
}

/* One byte at a time: only for the few bytes on either side of a 32-byte boundary. */
static void checksum_bytes(struct checksum *c, const unsigned char *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		c->word |= (uint64_t)p[i] << (8 * (c->count % 8));
		if (++c->count % 8 == 0) {
			checksum_add_word(c, c->count / 8 - 1, c->word);
			c->word = 0;
		}
	}
}

static void checksum_update(struct checksum *c, const unsigned char *p, size_t n)
{
	const size_t stride = 8 * LANES;
	size_t head = (size_t)((stride - c->count % stride) % stride);
	if (head > n)
		head = n;
	checksum_bytes(c, p, head);
	p += head;
	n -= head;
	/*
	 * Named locals, not c->sum*[] or a local array: either way the compiler kept the sums
	 * in memory and every add became a store and a reload.
	 */
	uint64_t a0 = c->sum1[0], a1 = c->sum1[1], a2 = c->sum1[2], a3 = c->sum1[3];
	uint64_t b0 = c->sum2[0], b1 = c->sum2[1], b2 = c->sum2[2], b3 = c->sum2[3];
	size_t bulk = n - n % stride;
	for (const unsigned char *q = p; q < p + bulk; q += stride) {
		a0 += load_le64(q);
		a1 += load_le64(q + 8);
		a2 += load_le64(q + 16);
		a3 += load_le64(q + 24);
		b0 += a0;
		b1 += a1;
		b2 += a2;
		b3 += a3;
	}
	c->sum1[0] = a0, c->sum1[1] = a1, c->sum1[2] = a2, c->sum1[3] = a3;
	c->sum2[0] = b0, c->sum2[1] = b1, c->sum2[2] = b2, c->sum2[3] = b3;
	c->count += bulk;
	checksum_bytes(c, p + bulk, n - bulk);
}

/* Pads a partial last word with zeros, which the byte count already tells apart. */
static void checksum_final(struct checksum *c)
{
	if (c->count % 8 != 0)
		checksum_add_word(c, c->count / 8, c->word);
	c->word = 0;
}

static int checksum_equal(const struct checksum *a, const struct checksum *b)
{
	return a->count == b->count && memcmp(a->sum1, b->sum1, sizeof a->sum1) == 0 &&
	       memcmp(a->sum2, b->sum2, sizeof a->sum2) == 0;
}

/* What the receiver should have computed had it seen `count` bytes of the pattern. */
static struct checksum checksum_of_pattern(uint64_t count, unsigned char *scratch, size_t size)
{
	struct checksum c = {0};
	size_t step = size - size % PATTERN_PERIOD; /* each step starts at offset 0 of the period */
	pattern_fill(scratch, step);
	while (c.count < count) {
		uint64_t left = count - c.count;
		checksum_update(&c, scratch, left < step ? (size_t)left : step);
	}
	checksum_final(&c);
	return c;
}

static double now_seconds(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double timeval_seconds(struct timeval tv)
{
	return (double)tv.tv_sec + (double)tv.tv_usec / 1e6;
}

static void rusage_self(double *user, double *sys)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	*user = timeval_seconds(ru.ru_utime);
	*sys = timeval_seconds(ru.ru_stime);
}

static _Noreturn void die(const char *what)
{
	fprintf(stderr, "unixbulk[%ld]: %s: %s\n", (long)getpid(), what, strerror(errno));
	exit(1);
}

static _Noreturn void usage(void)
{
	fputs("usage: unixbulk recv PATH [BYTES [READY_FD]]\n"
	      "       unixbulk send PATH BYTES [CHUNK]\n"
	      "       unixbulk run BYTES [CHUNK]\n"
	      "BYTES and CHUNK take a K, M or G suffix (binary).\n",
	      stderr);
	exit(2);
}

static uint64_t parse_size(const char *s)
{
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno != 0 || end == s || *s == '-')
		usage();
	unsigned shift = 0;
	switch (toupper((unsigned char)*end)) {
	case 'K': shift = 10; end++; break;
	case 'M': shift = 20; end++; break;
	case 'G': shift = 30; end++; break;
	default: break;
	}
	if (*end != '\0' || v == 0 || v > MAX_SIZE >> shift)
		usage();
	return (uint64_t)v << shift;
}

static size_t parse_chunk(const char *s)
{
	uint64_t v = parse_size(s);
	if (v > MAX_CHUNK)
		usage();
	return (size_t)v;
}

static struct sockaddr_un unix_address(const char *path)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	if (strlen(path) >= sizeof sa.sun_path) {
		fprintf(stderr, "unixbulk: socket path too long: %s\n", path);
		exit(2);
	}
	strcpy(sa.sun_path, path);
	return sa;
}

static int sockopt_int(int fd, int name)
{
	int v = -1;
	socklen_t len = sizeof v;
	if (getsockopt(fd, SOL_SOCKET, name, &v, &len) != 0)
		return -1;
	return v;
}

static int do_recv(const char *path, uint64_t want, int ready_fd)
{
	struct sockaddr_un sa = unix_address(path);
	int ls = socket(AF_UNIX, SOCK_STREAM, 0);
	if (ls < 0)
		die("socket");
	if (bind(ls, (struct sockaddr *)&sa, sizeof sa) != 0)
		die(path);
	if (listen(ls, 1) != 0)
		die("listen");
	if (ready_fd >= 0) {
		if (write(ready_fd, "r", 1) != 1)
			die("ready pipe");
		close(ready_fd);
	}

	int s = accept(ls, NULL, NULL);
	if (s < 0)
		die("accept");
	double t0 = now_seconds();
	unsigned char *buf = malloc(READ_SIZE);
	if (buf == NULL)
		die("malloc");
	struct checksum got = {0};
	for (;;) {
		ssize_t n = read(s, buf, READ_SIZE);
		if (n == 0)
			break;
		if (n < 0) {
			if (errno == EINTR)
				continue;
			die("read");
		}
		checksum_update(&got, buf, (size_t)n);
	}
	double elapsed = now_seconds() - t0;
	/* CPU up to EOF only: the pattern check below is ours, not the transfer's. */
	double user, sys;
	rusage_self(&user, &sys);
	checksum_final(&got);
	int sndbuf = sockopt_int(s, SO_SNDBUF), rcvbuf = sockopt_int(s, SO_RCVBUF);
	close(s);
	close(ls);
	unlink(path);

	struct checksum expect = checksum_of_pattern(got.count, buf, READ_SIZE);
	free(buf);
	printf("recv bytes=%" PRIu64 " seconds=%.6f user=%.6f sys=%.6f sndbuf=%d rcvbuf=%d\n",
	       got.count, elapsed, user, sys, sndbuf, rcvbuf);
	fflush(stdout);
	if (want != 0 && got.count != want) {
		fprintf(stderr, "unixbulk: received %" PRIu64 " bytes, expected %" PRIu64 "\n",
			got.count, want);
		return 1;
	}
	if (!checksum_equal(&got, &expect)) {
		fprintf(stderr, "unixbulk: checksum mismatch over %" PRIu64 " bytes\n", got.count);
		return 1;
	}
	return 0;
}

static int do_send(const char *path, uint64_t total, size_t chunk)
{
	struct sockaddr_un sa = unix_address(path);
	/* One period of slack lets every write start at the pattern's phase without a copy. */
	unsigned char *buf = malloc(chunk + PATTERN_PERIOD);
	if (buf == NULL)
		die("malloc");
	pattern_fill(buf, chunk + PATTERN_PERIOD);

	int s = socket(AF_UNIX, SOCK_STREAM, 0);
	if (s < 0)
		die("socket");
	if (connect(s, (struct sockaddr *)&sa, sizeof sa) != 0)
		die(path);
	/* Read after connect: that is when socktune has applied its policy to a client. */
	int sndbuf = sockopt_int(s, SO_SNDBUF);

	double t0 = now_seconds();
	uint64_t sent = 0;
	while (sent < total) {
		uint64_t left = total - sent;
		size_t len = left < chunk ? (size_t)left : chunk;
		ssize_t n = write(s, buf + sent % PATTERN_PERIOD, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			die("write");
		}
		sent += (uint64_t)n;
	}
	if (close(s) != 0)
		die("close");
	double elapsed = now_seconds() - t0;
	free(buf);

	double user, sys;
	rusage_self(&user, &sys);
	printf("send bytes=%" PRIu64 " seconds=%.6f user=%.6f sys=%.6f sndbuf=%d chunk=%zu\n", sent,
	       elapsed, user, sys, sndbuf, chunk);
	return 0;
}

static pid_t spawn(const char *self, char *const argv[], int keep_fd)
{
	fflush(NULL); /* or the child would print our buffered output again */
	pid_t pid = fork();
	if (pid < 0)
		die("fork");
	if (pid == 0) {
		if (keep_fd >= 0 && fcntl(keep_fd, F_SETFD, 0) != 0)
			_exit(127);
		execv(self, argv);
		fprintf(stderr, "unixbulk: exec %s: %s\n", self, strerror(errno));
		_exit(127);
	}
	return pid;
}

/* Reaps `pid`, adds its CPU to the totals, and says whether it succeeded. */
static int reap(pid_t pid, const char *role, double *user, double *sys)
{
	int status;
	struct rusage ru;
	while (wait4(pid, &status, 0, &ru) < 0)
		if (errno != EINTR)
			die("wait4");
	*user += timeval_seconds(ru.ru_utime);
	*sys += timeval_seconds(ru.ru_stime);
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return 1;
	if (WIFSIGNALED(status))
		fprintf(stderr, "unixbulk: %s killed by signal %d\n", role, WTERMSIG(status));
	else
		fprintf(stderr, "unixbulk: %s exited with status %d\n", role, WEXITSTATUS(status));
	return 0;
}

static int do_run(const char *argv0, uint64_t total, size_t chunk)
{
	/* execv does not search PATH; fall back on /proc when we were found through it. */
	const char *self = strchr(argv0, '/') != NULL ? argv0 : "/proc/self/exe";
	const char *tmp = getenv("TMPDIR");
	char dir[PATH_MAX], path[PATH_MAX + 8];
	snprintf(dir, sizeof dir, "%s/unixbulk.XXXXXX", tmp != NULL && *tmp != '\0' ? tmp : "/tmp");
	if (mkdtemp(dir) == NULL)
		die("mkdtemp");
	snprintf(path, sizeof path, "%s/sock", dir);

	char total_arg[32], chunk_arg[32], fd_arg[16];
	snprintf(total_arg, sizeof total_arg, "%" PRIu64, total);
	snprintf(chunk_arg, sizeof chunk_arg, "%zu", chunk);

	/* The receiver says when it listens, so the sender never races its bind. */
	int ready[2];
	if (pipe(ready) != 0) /* not pipe2(): macOS has none */
		die("pipe");
	fcntl(ready[0], F_SETFD, FD_CLOEXEC);
	fcntl(ready[1], F_SETFD, FD_CLOEXEC);
	snprintf(fd_arg, sizeof fd_arg, "%d", ready[1]);
	char *recv_argv[] = {(char *)argv0, "recv", path, total_arg, fd_arg, NULL};
	pid_t receiver = spawn(self, recv_argv, ready[1]);
	close(ready[1]);
	char c;
	ssize_t r;
	while ((r = read(ready[0], &c, 1)) < 0 && errno == EINTR)
		;
	close(ready[0]);

	double user = 0, sys = 0;
	int ok = 1;
	double t0 = now_seconds();
	if (r == 1) {
		char *send_argv[] = {(char *)argv0, "send", path, total_arg, chunk_arg, NULL};
		pid_t sender = spawn(self, send_argv, -1);
		ok &= reap(sender, "sender", &user, &sys);
		if (!ok)
			kill(receiver, SIGTERM); /* or it waits in accept() forever */
	} else {
		fprintf(stderr, "unixbulk: the receiver never listened\n");
		ok = 0;
	}
	ok &= reap(receiver, "receiver", &user, &sys);
	double elapsed = now_seconds() - t0;
	unlink(path);
	rmdir(dir);
	if (!ok)
		return 1;
	printf("run bytes=%" PRIu64 " seconds=%.6f user=%.6f sys=%.6f\n", total, elapsed, user,
	       sys);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 2)
		usage();
	const char *mode = argv[1];
	if (strcmp(mode, "recv") == 0 && argc >= 3 && argc <= 5) {
		uint64_t want = argc >= 4 ? parse_size(argv[3]) : 0;
		int ready_fd = -1;
		if (argc == 5) {
			char *end;
			long v = strtol(argv[4], &end, 10);
			if (*end != '\0' || v < 0 || v > INT_MAX)
				usage();
			ready_fd = (int)v;
		}
		return do_recv(argv[2], want, ready_fd);
	}
	if (strcmp(mode, "send") == 0 && argc >= 4 && argc <= 5)
		return do_send(argv[2], parse_size(argv[3]),
			       argc == 5 ? parse_chunk(argv[4]) : DEFAULT_CHUNK);
	if (strcmp(mode, "run") == 0 && argc >= 3 && argc <= 4)
		return do_run(argv[0], parse_size(argv[2]),
			      argc == 4 ? parse_chunk(argv[3]) : DEFAULT_CHUNK);
	usage();
}
