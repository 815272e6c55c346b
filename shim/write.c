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

/* Merges iov into out/buf when e asks for it.  Returns the array to send
 * and its length in *n. */
static const struct iovec *merged(const struct fd_state *e, const struct iovec *iov, int *n,
				  char *buf, size_t cap, struct iovec *out)
{
	if (!e->merge || *n < 2 || *n > MERGE_IOV_MAX)
		return iov;
	size_t copied;
	int m = iov_coalesce(iov, *n, e->merge, buf, cap, out, &copied);
	if (m == *n)
		return iov;
	count_merge(*n, m, copied);
	*n = m;
	return out;
}

SOCKTUNE_HOOK ssize_t HOOK(writev)(int fd, const struct iovec *iov, int iovcnt)
{
	struct fd_state *e = acting(fd);
	/* Out-of-range counts go to the kernel as they are, for its errno. */
	if (likely(!e) || iovcnt < 1 || iovcnt > IOV_MAX)
		return libc.writev(fd, iov, iovcnt);

	char buf[ST_MERGE_MAX];
	struct iovec out[MERGE_IOV_MAX];
	int n = iovcnt;
	const struct iovec *v = merged(e, iov, &n, buf, sizeof(buf), out);
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
INTERPOSE(writev);

SOCKTUNE_HOOK ssize_t HOOK(sendmsg)(int fd, const struct msghdr *msg, int flags)
{
	struct fd_state *e = acting(fd);
	/* MSG_ZEROCOPY pins the caller's pages until the kernel says it is done
	 * with them: a copy would change what that notification means. */
	if (likely(!e) || !msg || (flags & MSG_ZEROCOPY))
		return libc.sendmsg(fd, msg, flags);
	flags = send_flags(fd, e, flags);

	char buf[ST_MERGE_MAX];
	struct iovec out[MERGE_IOV_MAX];
	int n = msg->msg_iovlen <= MERGE_IOV_MAX ? (int)msg->msg_iovlen : 0;
	const struct iovec *v = n ? merged(e, msg->msg_iov, &n, buf, sizeof(buf), out) : NULL;
	if (!v || v == msg->msg_iov)
		return libc.sendmsg(fd, msg, flags);
	struct msghdr copy = *msg;
	copy.msg_iov = (struct iovec *)v;
	copy.msg_iovlen = (size_t)n;
	return libc.sendmsg(fd, &copy, flags);
}
INTERPOSE(sendmsg);
