/* The write family.  On a socket whose rule asks for it, writev and
 * sendmsg merge runs of small iovecs (iov.c), and every call of the family
 * goes out with MSG_MORE when the socket is auto-corked (cork.c).  On any
 * other descriptor, or when socktune is off, a hook is the mode test, the
 * fd-table lookup and the real call. */
#include "cork.h"
#include "fdtable.h"
#include "iov.h"
#include "state.h"
#include "stats.h"
#include "tls.h"

#include <errno.h>
#include <limits.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

/* Calls with more iovecs than this are not merged: the rewritten array
 * lives on the stack, like the merged bytes. */
#define MERGE_IOV_MAX 256

/* After a send socktune made of a write: the table said socket, but the
 * kernel says not, because the number was closed and reused behind
 * socktune's back (an fclose of an fdopen'd socket, say).  Nothing was
 * sent; the entry goes, errno comes back, and the caller's own call is
 * made as it was.  Returns whether that is the case. */
static int not_a_socket(int fd, ssize_t r, int saved_errno)
{
	if (r >= 0 || errno != ENOTSOCK)
		return 0;
	fd_state_forget(fd);
	errno = saved_errno;
	return 1;
}

/* fd's state when it asks socktune to act on its writes, else NULL. */
static struct fd_state *tuned(int fd)
{
	struct fd_state *e = fd_state_get(fd);
	return e && (e->merge || e->cork) ? e : NULL;
}

/* The same, when socktune is on.  Asked before anything the caller passed
 * is read. */
static struct fd_state *acting(int fd)
{
	return st_mode() == ST_MODE_ON ? tuned(fd) : NULL;
}

SOCKTUNE_HOOK ssize_t HOOK(write)(int fd, const void *buf, size_t len)
{
	if (st_mode() != ST_MODE_ON)
		return libc.write(fd, buf, len);
	/* OpenSSL writing the records of a TLS flush (ssl.c). */
	if (unlikely(fd == socktune_tls_wire_fd) && fd >= 0)
		return tls_wire_write(fd, buf, len);
	struct fd_state *e = tuned(fd);
	int more = e && e->cork ? cork_flags(fd, e) : 0;
	/* On a socket, write(2) is send(2) with no flags. */
	if (likely(!more))
		return libc.write(fd, buf, len);
	int saved = errno;
	ssize_t r = libc.send(fd, buf, len, more);
	return not_a_socket(fd, r, saved) ? libc.write(fd, buf, len) : r;
}
INTERPOSE(write);

/* The program's own MSG_MORE: it corks this socket itself from now on. */
static int send_flags(int fd, struct fd_state *e, int flags)
{
	if (!e || !e->cork)
		return flags;
#ifdef MSG_MORE
	if (flags & MSG_MORE) {
		cork_yield(e);
		return flags;
	}
#endif
	return flags | cork_flags(fd, e);
}

SOCKTUNE_HOOK ssize_t HOOK(send)(int fd, const void *buf, size_t len, int flags)
{
	return libc.send(fd, buf, len, send_flags(fd, acting(fd), flags));
}
INTERPOSE(send);

static void count_merge(int in, int out, size_t copied)
{
	stat_inc(merge_calls);
	stat_add(merge_iov_in, (unsigned long)in);
	stat_add(merge_iov_out, (unsigned long)out);
	stat_add(merge_bytes, copied);
}

/* Whether merging iov on e copies anything: only then is the frame that
 * holds the copy made (writev_merged, sendmsg_merged), so that a thread
 * with a small stack pays for it only when it asked for merging and has
 * small pieces to merge. */
static int merges(const struct fd_state *e, const struct iovec *iov, int n)
{
	return e->merge && n >= 2 && n <= MERGE_IOV_MAX &&
	       iov_first_run(iov, n, e->merge, ST_MERGE_MAX) < n;
}

/* What writev on a tuned socket sends once v is settled: MSG_MORE when the
 * socket is auto-corked. */
static ssize_t writev_send(int fd, struct fd_state *e, const struct iovec *iov,
			   const struct iovec *v, int n)
{
	int more = e->cork ? cork_flags(fd, e) : 0;
	if (more) {
		struct msghdr msg = {.msg_iov = (struct iovec *)v, .msg_iovlen = (size_t)n};
		int saved = errno;
		ssize_t r = libc.sendmsg(fd, &msg, more);
		if (!not_a_socket(fd, r, saved))
			return r;
	}
	/* One piece is one write(2), which on any descriptor means what a
	 * one-element writev(2) means, except for nothing at all: write(2) of 0
	 * bytes sends an empty datagram, writev(2) of empty iovecs does not. */
	if (n == 1 && v != iov && v[0].iov_len)
		return libc.write(fd, v[0].iov_base, v[0].iov_len);
	return libc.writev(fd, v, n);
}

/* The merge's copy and the array that replaces the caller's: 8 KiB of stack
 * at most, in this frame alone. */
static __attribute__((noinline)) ssize_t writev_merged(int fd, struct fd_state *e,
						       const struct iovec *iov, int iovcnt)
{
	char buf[ST_MERGE_MAX];
	struct iovec out[MERGE_IOV_MAX];
	size_t copied;
	int n = iov_coalesce(iov, iovcnt, e->merge, buf, sizeof(buf), out, &copied);
	if (n == iovcnt)
		return writev_send(fd, e, iov, iov, iovcnt);
	count_merge(iovcnt, n, copied);
	return writev_send(fd, e, iov, out, n);
}

SOCKTUNE_HOOK ssize_t HOOK(writev)(int fd, const struct iovec *iov, int iovcnt)
{
	struct fd_state *e = acting(fd);
	/* Out-of-range counts go to the kernel as they are, for its errno. */
	if (likely(!e) || iovcnt < 1 || iovcnt > IOV_MAX)
		return libc.writev(fd, iov, iovcnt);
	if (merges(e, iov, iovcnt))
		return writev_merged(fd, e, iov, iovcnt);
	return writev_send(fd, e, iov, iov, iovcnt);
}
INTERPOSE(writev);

/* sendmsg's merge, in a frame of its own for the same reason. */
static __attribute__((noinline)) ssize_t sendmsg_merged(int fd, const struct fd_state *e,
							const struct msghdr *msg, int flags)
{
	char buf[ST_MERGE_MAX];
	struct iovec out[MERGE_IOV_MAX];
	size_t copied;
	int n = (int)msg->msg_iovlen;
	int m = iov_coalesce(msg->msg_iov, n, e->merge, buf, sizeof(buf), out, &copied);
	if (m == n)
		return libc.sendmsg(fd, msg, flags);
	count_merge(n, m, copied);
	struct msghdr copy = *msg;
	copy.msg_iov = out;
	copy.msg_iovlen = (size_t)m;
	return libc.sendmsg(fd, &copy, flags);
}

SOCKTUNE_HOOK ssize_t HOOK(sendmsg)(int fd, const struct msghdr *msg, int flags)
{
	struct fd_state *e = acting(fd);
	/* MSG_ZEROCOPY pins the caller's pages until the kernel says it is done
	 * with them: a copy would change what that notification means. */
	if (likely(!e) || !msg || (flags & MSG_ZEROCOPY))
		return libc.sendmsg(fd, msg, flags);
	flags = send_flags(fd, e, flags);
	if (msg->msg_iovlen <= MERGE_IOV_MAX && merges(e, msg->msg_iov, (int)msg->msg_iovlen))
		return sendmsg_merged(fd, e, msg, flags);
	return libc.sendmsg(fd, msg, flags);
}
INTERPOSE(sendmsg);
