/* probe: the target program of the socktune integration tests.
 *
 * It opens a listener and a client in one process, connects, accepts, and prints
 * what getsockopt reads back, so that a test can run it with and without the
 * library preloaded and compare. Everything it does goes through the ordinary libc
 * calls that the library hooks; it never links against the library.
 *
 * Output, one fact per line (values are raw getsockopt results; Linux doubles
 * SO_SNDBUF/SO_RCVBUF; nodelay=-1 when the socket has no TCP_NODELAY):
 *   pid=N                                     the process that runs the scenario
 *   connect einprogress=0|1                   only with --nonblock
 *   stale samefd=0|1                          with a stale-state scenario that reuses a number
 *   listener sndbuf=N rcvbuf=N
 *   client sndbuf=N rcvbuf=N nodelay=N fd=N
 *   server sndbuf=N rcvbuf=N nodelay=N fd=N nonblock=0|1 cloexec=0|1
 *   sent bytes=N                              with --send
 *   env NAME=VALUE | env NAME unset           with --print-env
 *   threads sndbuf_min=N sndbuf_max=N connections=N   with --threads (instead of the rest)
 *
 * Flags:
 *   --family unix|inet|inet6   address family (default unix; abstract unix address,
 *                              127.0.0.1 or ::1)
 *   --type stream|seqpacket|dgram   socket type (default stream; dgram has no
 *                              listen/accept: the "server" is the bound socket)
 *   --port N                   bind the listener to port N (inet/inet6; default 0)
 *   --v4mapped                 with inet6: the listener binds :: (dual stack) and the
 *                              client connects to ::ffff:127.0.0.1
 *   --nonblock                 client socket made with SOCK_NONBLOCK; connect may
 *                              return EINPROGRESS, then poll for completion
 *   --accept4 FLAGS            accept with accept4; FLAGS is a comma list of
 *                              nonblock, cloexec, or 0 (default: plain accept)
 *   --user-sndbuf N            the program sets SO_SNDBUF on the client before connect
 *   --user-rcvbuf N            the program sets SO_RCVBUF on the client before connect
 *   --user-nodelay 0|1         the program sets TCP_NODELAY on the client before connect
 *   --user-listener-sndbuf N   the program sets SO_SNDBUF on the listener before listen
 *   --user-listener-rcvbuf N   the program sets SO_RCVBUF on the listener before listen
 *   --send N                   send N bytes client -> server with write(2) after accept
 *   --fork                     the parent makes and closes one socket (so the library
 *                              has started), then a fork child runs the scenario and
 *                              prints; the parent exits with the child's status
 *   --close-by close|close-range|closefrom|none   how the client and server sockets
 *                              are closed at the end (default close; none: left open
 *                              for exit)
 *   --threads N                instead of the scenario: N threads each make ROUNDS unix
 *                              stream connections (listen, connect, accept) while the
 *                              main thread forks ROUNDS children that make one each;
 *                              prints "threads sndbuf_min=N sndbuf_max=N connections=N"
 *                              over every client and server socket, children included
 *   --rounds N                 rounds for --threads (default 20)
 *   --no-read                  do not read the options back (no getsockopt at all)
 *   --print-env NAME           print that environment variable (repeatable)
 * Stale-state scenarios for the client socket (a "user" SO_SNDBUF of 65536 is set on
 * a socket that then goes away or is duplicated; the printed client line tells
 * whether the library tuned the connected socket):
 *   --reuse          set, close(), new socket() gets the same number, connect
 *   --raw-close      like --reuse but closed with syscall(SYS_close), bypassing libc
 *   --dup2           set on A, fresh socket B, dup2(B, A), close(B), connect A
 *   --dup3           the same with dup3(B, A, O_CLOEXEC)
 *   --close-range    set on two sockets, close_range() over both, new socket, connect
 *   --closefrom      set on a socket, closefrom() it, new socket, connect
 *   --dup            set on A, B = dup(A), close(A), connect B (user value must stay)
 *   --fcntl-dupfd    the same with fcntl(F_DUPFD_CLOEXEC)
 *   --raw-socket     the client's socket (the new one, in the scenarios above) is made
 *                    with syscall(SYS_socket), so the library never sees it created
 *   --stale-accept   a socket with the user value is closed with syscall(SYS_close)
 *                    just before accept, which then returns the same number
 * Exit status 0 on success; errors go to stderr with status 1.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#if !defined(__GLIBC__) && defined(SYS_close_range)
/* musl has no close_range(): the raw call, which no preload can see. */
static int close_range(unsigned lo, unsigned hi, int flags)
{
	return (int)syscall(SYS_close_range, lo, hi, flags);
}
#endif
#if !defined(__GLIBC__)
/* Nor closefrom(): close one by one, as far as the table goes. */
static void closefrom(int lo)
{
	for (int fd = lo; fd < 1024; fd++)
		close(fd);
}
#endif

#define STALE_SNDBUF 65536

enum stale {
	STALE_NONE,
	STALE_REUSE,
	STALE_RAW_CLOSE,
	STALE_DUP2,
	STALE_DUP3,
	STALE_CLOSE_RANGE,
	STALE_CLOSEFROM,
	STALE_DUP,
	STALE_FCNTL_DUPFD,
	STALE_ACCEPT,
};

struct opts {
	int family;
	int type;
	int port;
	bool nonblock;
	bool v4mapped;
	bool use_accept4;
	int accept4_flags;
	int user_sndbuf, user_rcvbuf, user_nodelay;
	int user_listener_sndbuf, user_listener_rcvbuf;
	long send_bytes;
	bool do_fork;
	int threads, rounds;
	bool no_read;
	bool raw_socket;
	int close_by; /* 0 close, 1 close_range, 2 closefrom, 3 left open */
	enum stale stale;
	const char *print_env[16];
	int n_print_env;
};

static const struct {
	const char *flag;
	enum stale stale;
} stale_flags[] = {
	{ "--reuse", STALE_REUSE },
	{ "--raw-close", STALE_RAW_CLOSE },
	{ "--dup2", STALE_DUP2 },
	{ "--dup3", STALE_DUP3 },
	{ "--close-range", STALE_CLOSE_RANGE },
	{ "--closefrom", STALE_CLOSEFROM },
	{ "--dup", STALE_DUP },
	{ "--fcntl-dupfd", STALE_FCNTL_DUPFD },
	{ "--stale-accept", STALE_ACCEPT },
};

static _Noreturn void die(const char *what)
{
	fprintf(stderr, "probe: %s: %s\n", what, strerror(errno));
	exit(1);
}

static void usage(const char *msg)
{
	fprintf(stderr, "probe: %s (see the comment at the top of probe.c)\n", msg);
	exit(1);
}

static long parse_long(const char *s, long lo, long hi)
{
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < lo || v > hi)
		usage("bad number");
	return v;
}

static int parse_accept4_flags(const char *s)
{
	int flags = 0;
	char buf[64];
	if (strlen(s) >= sizeof buf)
		usage("bad --accept4 flags");
	strcpy(buf, s);
	for (char *save, *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		if (!strcmp(tok, "nonblock"))
			flags |= SOCK_NONBLOCK;
		else if (!strcmp(tok, "cloexec"))
			flags |= SOCK_CLOEXEC;
		else if (strcmp(tok, "0"))
			usage("bad --accept4 flag");
	}
	return flags;
}

static void parse_args(int argc, char **argv, struct opts *o)
{
	*o = (struct opts){ .family = AF_UNIX, .type = SOCK_STREAM, .rounds = 20, .user_sndbuf = -1,
			    .user_rcvbuf = -1, .user_nodelay = -1, .user_listener_sndbuf = -1,
			    .user_listener_rcvbuf = -1 };
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
		bool takes = true;
		if (!strcmp(a, "--family") && v) {
			if (!strcmp(v, "unix"))
				o->family = AF_UNIX;
			else if (!strcmp(v, "inet"))
				o->family = AF_INET;
			else if (!strcmp(v, "inet6"))
				o->family = AF_INET6;
			else
				usage("bad --family");
		} else if (!strcmp(a, "--type") && v) {
			if (!strcmp(v, "stream"))
				o->type = SOCK_STREAM;
			else if (!strcmp(v, "seqpacket"))
				o->type = SOCK_SEQPACKET;
			else if (!strcmp(v, "dgram"))
				o->type = SOCK_DGRAM;
			else
				usage("bad --type");
		} else if (!strcmp(a, "--port") && v) {
			o->port = (int)parse_long(v, 0, 65535);
		} else if (!strcmp(a, "--accept4") && v) {
			o->use_accept4 = true;
			o->accept4_flags = parse_accept4_flags(v);
		} else if (!strcmp(a, "--user-sndbuf") && v) {
			o->user_sndbuf = (int)parse_long(v, 0, 1 << 30);
		} else if (!strcmp(a, "--user-rcvbuf") && v) {
			o->user_rcvbuf = (int)parse_long(v, 0, 1 << 30);
		} else if (!strcmp(a, "--user-nodelay") && v) {
			o->user_nodelay = (int)parse_long(v, 0, 1);
		} else if (!strcmp(a, "--user-listener-sndbuf") && v) {
			o->user_listener_sndbuf = (int)parse_long(v, 0, 1 << 30);
		} else if (!strcmp(a, "--user-listener-rcvbuf") && v) {
			o->user_listener_rcvbuf = (int)parse_long(v, 0, 1 << 30);
		} else if (!strcmp(a, "--send") && v) {
			o->send_bytes = parse_long(v, 0, 1L << 30);
		} else if (!strcmp(a, "--threads") && v) {
			o->threads = (int)parse_long(v, 1, 64);
		} else if (!strcmp(a, "--rounds") && v) {
			o->rounds = (int)parse_long(v, 1, 10000);
		} else if (!strcmp(a, "--close-by") && v) {
			if (!strcmp(v, "close"))
				o->close_by = 0;
			else if (!strcmp(v, "close-range"))
				o->close_by = 1;
			else if (!strcmp(v, "closefrom"))
				o->close_by = 2;
			else if (!strcmp(v, "none"))
				o->close_by = 3;
			else
				usage("bad --close-by");
		} else if (!strcmp(a, "--print-env") && v) {
			if (o->n_print_env == (int)(sizeof o->print_env / sizeof o->print_env[0]))
				usage("too many --print-env");
			o->print_env[o->n_print_env++] = v;
		} else {
			takes = false;
			if (!strcmp(a, "--nonblock"))
				o->nonblock = true;
			else if (!strcmp(a, "--v4mapped"))
				o->v4mapped = true;
			else if (!strcmp(a, "--fork"))
				o->do_fork = true;
			else if (!strcmp(a, "--no-read"))
				o->no_read = true;
			else if (!strcmp(a, "--raw-socket"))
				o->raw_socket = true;
			else {
				size_t n = sizeof stale_flags / sizeof stale_flags[0];
				size_t k = 0;
				while (k < n && strcmp(a, stale_flags[k].flag))
					k++;
				if (k == n)
					usage("unknown flag or missing value");
				o->stale = stale_flags[k].stale;
			}
		}
		if (takes)
			i++;
	}
	if (o->family == AF_UNIX && o->port)
		usage("--port needs inet or inet6");
	if (o->v4mapped && o->family != AF_INET6)
		usage("--v4mapped needs inet6");
}

static void set_int(int fd, int level, int name, int value, const char *what)
{
	if (setsockopt(fd, level, name, &value, sizeof value) < 0)
		die(what);
}

static int get_int(int fd, int level, int name)
{
	int v = 0;
	socklen_t len = sizeof v;
	if (getsockopt(fd, level, name, &v, &len) < 0)
		return -1;
	return v;
}

static int new_socket(const struct opts *o, int extra_type)
{
	int fd = socket(o->family, o->type | extra_type, 0);
	if (fd < 0)
		die("socket");
	return fd;
}

/* The client's own socket: made behind libc's back with --raw-socket. */
static int client_socket(const struct opts *o, int extra_type)
{
	if (!o->raw_socket)
		return new_socket(o, extra_type);
	int fd = (int)syscall(SYS_socket, o->family, o->type | extra_type, 0);
	if (fd < 0)
		die("syscall socket");
	return fd;
}

/* The listener's address, filled in by make_listener and used by the client. */
static struct sockaddr_storage listen_addr;
static socklen_t listen_addr_len;

static int make_listener(const struct opts *o)
{
	int fd = new_socket(o, 0);
	if (o->user_listener_sndbuf >= 0)
		set_int(fd, SOL_SOCKET, SO_SNDBUF, o->user_listener_sndbuf, "setsockopt listener SO_SNDBUF");
	if (o->user_listener_rcvbuf >= 0)
		set_int(fd, SOL_SOCKET, SO_RCVBUF, o->user_listener_rcvbuf, "setsockopt listener SO_RCVBUF");
	if (o->family != AF_UNIX)
		set_int(fd, SOL_SOCKET, SO_REUSEADDR, 1, "setsockopt SO_REUSEADDR");

	struct sockaddr_storage ss;
	memset(&ss, 0, sizeof ss);
	socklen_t len;
	if (o->family == AF_UNIX) {
		struct sockaddr_un *sun = (struct sockaddr_un *)&ss;
		static unsigned counter;
		sun->sun_family = AF_UNIX;
		/* Abstract namespace: nothing to clean up in the file system. */
		int n = snprintf(sun->sun_path + 1, sizeof sun->sun_path - 1, "socktune-probe-%d-%u",
				 (int)getpid(), counter++);
		len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + (size_t)n);
	} else if (o->family == AF_INET) {
		struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
		sin->sin_family = AF_INET;
		sin->sin_port = htons((uint16_t)o->port);
		sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		len = sizeof *sin;
	} else {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((uint16_t)o->port);
		sin6->sin6_addr = o->v4mapped ? in6addr_any : in6addr_loopback;
		len = sizeof *sin6;
		if (o->v4mapped)
			set_int(fd, IPPROTO_IPV6, IPV6_V6ONLY, 0, "setsockopt IPV6_V6ONLY");
	}
	if (bind(fd, (struct sockaddr *)&ss, len) < 0)
		die("bind");
	if (o->type != SOCK_DGRAM && listen(fd, 16) < 0)
		die("listen");
	listen_addr_len = sizeof listen_addr;
	if (getsockname(fd, (struct sockaddr *)&listen_addr, &listen_addr_len) < 0)
		die("getsockname");
	if (o->v4mapped) {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&listen_addr;
		static const unsigned char mapped[16] = { [10] = 0xff, [11] = 0xff, 127, 0, 0, 1 };
		memcpy(&sin6->sin6_addr, mapped, sizeof mapped);
	}
	return fd;
}

static void print_samefd(int want, int got)
{
	printf("stale samefd=%d\n", want == got);
	if (want != got) {
		fprintf(stderr, "probe: expected fd %d to be reused, got %d\n", want, got);
		exit(1);
	}
}

/* A socket that carries a user SO_SNDBUF, as a program that tunes its own sockets
 * would leave behind. */
static int user_set_socket(const struct opts *o)
{
	int fd = new_socket(o, 0);
	set_int(fd, SOL_SOCKET, SO_SNDBUF, STALE_SNDBUF, "setsockopt stale SO_SNDBUF");
	return fd;
}

/* Makes the client socket, going through the stale-state scenario if one was asked. */
static int make_client(const struct opts *o)
{
	int extra = o->nonblock ? SOCK_NONBLOCK : 0;
	int fd, a, b;
	switch (o->stale) {
	case STALE_REUSE:
	case STALE_RAW_CLOSE:
		a = user_set_socket(o);
		if (o->stale == STALE_REUSE ? close(a) : (int)syscall(SYS_close, a))
			die("close");
		fd = client_socket(o, extra);
		print_samefd(a, fd);
		break;
	case STALE_DUP2:
	case STALE_DUP3:
		a = user_set_socket(o);
		b = client_socket(o, extra);
		if ((o->stale == STALE_DUP2 ? dup2(b, a) : dup3(b, a, O_CLOEXEC)) != a)
			die("dup2/dup3");
		if (close(b) < 0)
			die("close");
		fd = a;
		break;
	case STALE_CLOSE_RANGE:
		a = user_set_socket(o);
		b = user_set_socket(o);
		if (close_range((unsigned)(a < b ? a : b), (unsigned)(a < b ? b : a), 0) < 0)
			die("close_range");
		fd = client_socket(o, extra);
		print_samefd(a < b ? a : b, fd);
		break;
	case STALE_CLOSEFROM:
		a = user_set_socket(o);
		closefrom(a);
		fd = client_socket(o, extra);
		print_samefd(a, fd);
		break;
	case STALE_DUP:
	case STALE_FCNTL_DUPFD:
		a = user_set_socket(o);
		fd = o->stale == STALE_DUP ? dup(a) : fcntl(a, F_DUPFD_CLOEXEC, 0);
		if (fd < 0)
			die("dup");
		if (close(a) < 0)
			die("close");
		if (extra && fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) < 0)
			die("fcntl");
		break;
	default:
		fd = client_socket(o, extra);
		break;
	}
	if (o->user_sndbuf >= 0)
		set_int(fd, SOL_SOCKET, SO_SNDBUF, o->user_sndbuf, "setsockopt SO_SNDBUF");
	if (o->user_rcvbuf >= 0)
		set_int(fd, SOL_SOCKET, SO_RCVBUF, o->user_rcvbuf, "setsockopt SO_RCVBUF");
	if (o->user_nodelay >= 0)
		set_int(fd, IPPROTO_TCP, TCP_NODELAY, o->user_nodelay, "setsockopt TCP_NODELAY");
	return fd;
}

static void wait_ready(int fd, short events, const char *what)
{
	struct pollfd p = { .fd = fd, .events = events };
	int n;
	do
		n = poll(&p, 1, 5000);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		die(what);
	if (n == 0) {
		fprintf(stderr, "probe: %s: timed out\n", what);
		exit(1);
	}
}

static void do_connect(const struct opts *o, int fd)
{
	int rc = connect(fd, (struct sockaddr *)&listen_addr, listen_addr_len);
	bool inprogress = rc < 0 && errno == EINPROGRESS;
	if (rc < 0 && !inprogress)
		die("connect");
	if (o->nonblock)
		printf("connect einprogress=%d\n", inprogress);
	if (inprogress) {
		wait_ready(fd, POLLOUT, "poll connect");
		int err = get_int(fd, SOL_SOCKET, SO_ERROR);
		if (err != 0) {
			errno = err;
			die("non-blocking connect");
		}
	}
}

static int do_accept(const struct opts *o, int lfd)
{
	if (o->stale == STALE_ACCEPT) {
		int a = user_set_socket(o);
		if (syscall(SYS_close, a))
			die("close");
		int fd = o->use_accept4 ? accept4(lfd, NULL, NULL, o->accept4_flags) : accept(lfd, NULL, NULL);
		if (fd < 0)
			die("accept");
		print_samefd(a, fd);
		return fd;
	}
	int fd = o->use_accept4 ? accept4(lfd, NULL, NULL, o->accept4_flags) : accept(lfd, NULL, NULL);
	if (fd < 0)
		die("accept");
	return fd;
}

struct reader {
	int fd;
	long want;
	long got;
};

static void *reader_main(void *arg)
{
	struct reader *r = arg;
	char buf[65536];
	while (r->got < r->want) {
		ssize_t n = read(r->fd, buf, sizeof buf);
		if (n < 0 && (errno == EINTR || errno == EAGAIN)) {
			if (errno == EAGAIN)
				wait_ready(r->fd, POLLIN, "poll read");
			continue;
		}
		if (n <= 0)
			break;
		r->got += n;
	}
	return NULL;
}

/* Sends N bytes from client to server with write(2), a thread draining the server. */
static void transfer(int cfd, int sfd, long nbytes)
{
	struct reader r = { .fd = sfd, .want = nbytes };
	pthread_t t;
	if (pthread_create(&t, NULL, reader_main, &r) != 0) {
		fprintf(stderr, "probe: pthread_create failed\n");
		exit(1);
	}
	static char buf[65536];
	memset(buf, 0xff, sizeof buf);
	long sent = 0;
	while (sent < nbytes) {
		size_t chunk = (size_t)(nbytes - sent < (long)sizeof buf ? nbytes - sent : (long)sizeof buf);
		ssize_t n = write(cfd, buf, chunk);
		if (n < 0 && errno == EAGAIN) {
			wait_ready(cfd, POLLOUT, "poll write");
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			die("write");
		sent += n;
	}
	pthread_join(t, NULL);
	if (r.got != nbytes) {
		fprintf(stderr, "probe: sent %ld bytes, the server read %ld\n", nbytes, r.got);
		exit(1);
	}
	printf("sent bytes=%ld\n", sent);
}

static int fd_flag(int fd, int cmd, int bit)
{
	int v = fcntl(fd, cmd);
	return v < 0 ? -1 : (v & bit) != 0;
}

static void print_values(const char *role, int fd, bool with_flags)
{
	printf("%s sndbuf=%d rcvbuf=%d nodelay=%d fd=%d", role, get_int(fd, SOL_SOCKET, SO_SNDBUF),
	       get_int(fd, SOL_SOCKET, SO_RCVBUF), get_int(fd, IPPROTO_TCP, TCP_NODELAY), fd);
	if (with_flags)
		printf(" nonblock=%d cloexec=%d", fd_flag(fd, F_GETFL, O_NONBLOCK),
		       fd_flag(fd, F_GETFD, FD_CLOEXEC));
	printf("\n");
}

static int run_scenario(const struct opts *o)
{
	printf("pid=%d\n", (int)getpid());
	int lfd = make_listener(o);
	int cfd = make_client(o);
	do_connect(o, cfd);
	int sfd = o->type == SOCK_DGRAM ? lfd : do_accept(o, lfd);
	if (o->send_bytes > 0)
		transfer(cfd, sfd, o->send_bytes);
	if (!o->no_read) {
		if (o->type != SOCK_DGRAM)
			printf("listener sndbuf=%d rcvbuf=%d\n", get_int(lfd, SOL_SOCKET, SO_SNDBUF),
			       get_int(lfd, SOL_SOCKET, SO_RCVBUF));
		print_values("client", cfd, false);
		print_values("server", sfd, true);
	}
	int lo = cfd < sfd ? cfd : sfd, hi = cfd < sfd ? sfd : cfd;
	if (o->close_by == 3)
		return 0;
	if (o->close_by == 2) {
		closefrom(lo);
	} else if (o->close_by == 1) {
		if (close_range((unsigned)lo, (unsigned)hi, 0) < 0)
			die("close_range");
	} else {
		if (close(cfd) < 0)
			die("close client");
		if (sfd != lfd && close(sfd) < 0)
			die("close server");
		lo = lfd + 1;
	}
	/* The ranges close the listener too when it lies inside them. */
	if (lfd < lo && close(lfd) < 0)
		die("close listener");
	return 0;
}

/* --threads: many connections at once, and forks among them, so that a lock the
 * library holds across fork or between threads shows up as a hang or a wrong value. */
static unsigned stress_counter;
static int stress_min = 1 << 30, stress_max = -1, stress_count;

static void stress_record(int v)
{
	int cur = __atomic_load_n(&stress_min, __ATOMIC_RELAXED);
	while (v < cur && !__atomic_compare_exchange_n(&stress_min, &cur, v, false, __ATOMIC_RELAXED, __ATOMIC_RELAXED))
		;
	cur = __atomic_load_n(&stress_max, __ATOMIC_RELAXED);
	while (v > cur && !__atomic_compare_exchange_n(&stress_max, &cur, v, false, __ATOMIC_RELAXED, __ATOMIC_RELAXED))
		;
	__atomic_add_fetch(&stress_count, 1, __ATOMIC_RELAXED);
}

/* One unix stream connection; returns the smaller and the larger sndbuf of its ends. */
static int stress_round(int *lo, int *hi)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	unsigned n = __atomic_fetch_add(&stress_counter, 1, __ATOMIC_RELAXED);
	int len = snprintf(sun.sun_path + 1, sizeof sun.sun_path - 1, "socktune-stress-%d-%u", (int)getpid(), n);
	socklen_t alen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + (size_t)len);
	int lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int cfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (lfd < 0 || cfd < 0 || bind(lfd, (struct sockaddr *)&sun, alen) < 0 || listen(lfd, 4) < 0 ||
	    connect(cfd, (struct sockaddr *)&sun, alen) < 0)
		return -1;
	int sfd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	if (sfd < 0)
		return -1;
	int a = get_int(cfd, SOL_SOCKET, SO_SNDBUF), b = get_int(sfd, SOL_SOCKET, SO_SNDBUF);
	*lo = a < b ? a : b;
	*hi = a < b ? b : a;
	return close(sfd) | close(cfd) | close(lfd);
}

static void *stress_thread(void *arg)
{
	int rounds = *(const int *)arg;
	for (int i = 0; i < rounds; i++) {
		int lo, hi;
		if (stress_round(&lo, &hi) < 0) {
			perror("probe: stress round");
			exit(1);
		}
		stress_record(lo);
		stress_record(hi);
	}
	return NULL;
}

static int run_stress(const struct opts *o)
{
	printf("pid=%d\n", (int)getpid());
	fflush(stdout);
	pthread_t t[64];
	for (int i = 0; i < o->threads; i++)
		if (pthread_create(&t[i], NULL, stress_thread, (void *)&o->rounds) != 0) {
			fprintf(stderr, "probe: pthread_create failed\n");
			return 1;
		}
	/* A child reports its two values through its exit status: 0 when both equal the
	 * parent's first value, which it learns by making a connection first itself. */
	int lo0, hi0;
	if (stress_round(&lo0, &hi0) < 0)
		die("stress round");
	stress_record(lo0);
	stress_record(hi0);
	for (int i = 0; i < o->rounds; i++) {
		pid_t pid = fork();
		if (pid < 0)
			die("fork");
		if (pid == 0) {
			int lo, hi;
			if (stress_round(&lo, &hi) < 0)
				_exit(2);
			exit(lo == lo0 && hi == hi0 ? 0 : 3);
		}
		int status;
		while (waitpid(pid, &status, 0) < 0)
			if (errno != EINTR)
				die("waitpid");
		if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
			fprintf(stderr, "probe: fork child %d: status %d (3: other sndbuf than the parent's)\n", i,
				status);
			return 1;
		}
		__atomic_add_fetch(&stress_count, 2, __ATOMIC_RELAXED);
	}
	for (int i = 0; i < o->threads; i++)
		pthread_join(t[i], NULL);
	printf("threads sndbuf_min=%d sndbuf_max=%d connections=%d\n", stress_min, stress_max, stress_count / 2);
	return 0;
}

int main(int argc, char **argv)
{
	struct opts o;
	parse_args(argc, argv, &o);
	for (int i = 0; i < o.n_print_env; i++) {
		const char *v = getenv(o.print_env[i]);
		if (v)
			printf("env %s=%s\n", o.print_env[i], v);
		else
			printf("env %s unset\n", o.print_env[i]);
	}
	if (o.threads)
		return run_stress(&o);
	if (!o.do_fork)
		return run_scenario(&o);

	printf("parent pid=%d\n", (int)getpid());
	int s = socket(AF_UNIX, SOCK_STREAM, 0);
	if (s < 0 || close(s) < 0)
		die("socket before fork");
	fflush(stdout);
	pid_t pid = fork();
	if (pid < 0)
		die("fork");
	if (pid == 0) {
		int rc = run_scenario(&o);
		fflush(stdout);
		exit(rc);
	}
	int status;
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			die("waitpid");
	if (!WIFEXITED(status)) {
		fprintf(stderr, "probe: fork child died\n");
		return 1;
	}
	return WEXITSTATUS(status);
}
