/* smallstack: the target of the small-stack tests (tests/integration/merge.c, suite
 * small_stack).  A thread with a small stack (16 KiB, the kind a coroutine library or
 * musl's default gives) uses all of it but MARGIN bytes, as deep recursion would, and
 * from there writes on a connected TCP socket with writev() and sendmsg().  Without
 * socktune that takes a few hundred bytes of stack, so the program works; a hook that
 * puts a large frame on the stack of every such call runs into the guard below the
 * stack, and the process dies of SIGSEGV.  The guard is made 64 KiB so that the
 * overflow is caught rather than landing in whatever is mapped below.
 *
 *   smallstack
 *
 * Each call writes PIECES iovecs of PIECE bytes: large enough that merge = 256 does not
 * merge them, so with merging on as well the calls are no merge candidates.  The main
 * thread makes one writev and one sendmsg first, so that the program's lazy binding of
 * those two symbols (which takes more stack than the calls themselves) happens on its
 * own large stack.
 *
 * Output: "writev ret=N", "sendmsg ret=N", "received bytes=N", then "ok".  Exit status:
 * 0 when every byte arrived, 1 on an error; killed by SIGSEGV when the stack overflowed.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#define STACK (16 * 1024)
#define GUARD (64 * 1024)
/* What the thread leaves of its stack for the calls: a page, several times what
 * glibc's writev and sendmsg take, and less than the 8 KiB frame the hooks once had. */
#define MARGIN 4096
#define PIECE 1000
#define PIECES 3

static int wfd;
static char data[PIECE * PIECES];
static ssize_t ret_writev, ret_sendmsg;

static _Noreturn void die(const char *what)
{
	fprintf(stderr, "smallstack: %s: %s\n", what, strerror(errno));
	exit(1);
}

static void layout(struct iovec *iov)
{
	for (int i = 0; i < PIECES; i++)
		iov[i] = (struct iovec){data + i * PIECE, PIECE};
}

static ssize_t write_both(void)
{
	struct iovec iov[PIECES];
	layout(iov);
	ret_writev = writev(wfd, iov, PIECES);
	struct msghdr msg = {.msg_iov = iov, .msg_iovlen = PIECES};
	ret_sendmsg = sendmsg(wfd, &msg, 0);
	return ret_writev + ret_sendmsg;
}

/* Takes all of the stack below here but MARGIN bytes, then writes. */
static __attribute__((noinline)) ssize_t deep(size_t take)
{
	volatile char *p = __builtin_alloca(take);
	/* Touched from the top down, a page at a time, as a real frame would be. */
	for (size_t at = take; at >= 4096; at -= 4096)
		p[at - 1] = 1;
	p[0] = 1;
	return write_both() + p[0] - 1;
}

static void *thread(void *arg)
{
	(void)arg;
	pthread_attr_t a;
	void *low;
	size_t size;
	if (pthread_getattr_np(pthread_self(), &a) || pthread_attr_getstack(&a, &low, &size))
		die("pthread_getattr_np");
	pthread_attr_destroy(&a);
	uintptr_t here = (uintptr_t)__builtin_frame_address(0);
	/* A little for deep()'s own frame and the alloca's rounding. */
	size_t avail = here - (uintptr_t)low, slack = 256;
	if (avail < MARGIN + slack) {
		fprintf(stderr, "smallstack: only %zu bytes of stack to begin with\n", avail);
		exit(1);
	}
	return (void *)(intptr_t)deep(avail - MARGIN - slack);
}

int main(void)
{
	memset(data, 'x', sizeof data);
	int lfd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof sa;
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&sa, sizeof sa) || listen(lfd, 1) ||
	    getsockname(lfd, (struct sockaddr *)&sa, &len))
		die("listen");
	wfd = socket(AF_INET, SOCK_STREAM, 0);
	if (wfd < 0 || connect(wfd, (struct sockaddr *)&sa, sizeof sa))
		die("connect");
	int rfd = accept(lfd, NULL, NULL);
	if (rfd < 0)
		die("accept");

	ssize_t want = write_both(); /* binds writev and sendmsg on this stack */
	if (ret_writev != sizeof data || ret_sendmsg != sizeof data)
		die("the first writes");

	pthread_attr_t a;
	pthread_t t;
	void *got;
	if (pthread_attr_init(&a) || pthread_attr_setstacksize(&a, STACK) ||
	    pthread_attr_setguardsize(&a, GUARD))
		die("pthread_attr");
	int err = pthread_create(&t, &a, thread, NULL);
	if (err) {
		errno = err;
		die("pthread_create");
	}
	pthread_join(t, &got);
	printf("writev ret=%zd\nsendmsg ret=%zd\n", ret_writev, ret_sendmsg);
	if ((intptr_t)got != 2 * (intptr_t)sizeof data)
		return 1;
	want += (ssize_t)(intptr_t)got;
	if (close(wfd))
		die("close");

	static char buf[65536];
	ssize_t total = 0, n;
	while ((n = read(rfd, buf, sizeof buf)) > 0)
		for (ssize_t i = 0; i < n; i++, total++)
			if (buf[i] != 'x')
				return fprintf(stderr, "smallstack: wrong byte at %zd\n", total), 1;
	if (n < 0)
		die("read");
	printf("received bytes=%zd\n", total);
	if (total != want)
		return 1;
	puts("ok");
	return 0;
}
