/* The write family.  writev and sendmsg merge runs of small iovecs on
 * sockets whose rule asks for it (iov.c); write and send only pass through
 * for now.  On any other descriptor, or when socktune is off, a hook is the
 * mode test, the fd-table lookup and the real call. */
#include "fdtable.h"
#include "iov.h"
#include "state.h"
#include "stats.h"

#include <sys/socket.h>

/* Calls with more iovecs than this pass through: the rewritten array lives
 * on the stack, like the merged bytes. */
#define MERGE_IOV_MAX 256

SOCKTUNE_HOOK ssize_t write(int fd, const void *buf, size_t len)
{
	st_mode();
	return real.write(fd, buf, len);
}

SOCKTUNE_HOOK ssize_t send(int fd, const void *buf, size_t len, int flags)
{
	st_mode();
	return real.send(fd, buf, len, flags);
}

/* The threshold for fd, or 0 when its writes pass through.  Asked before
 * anything the caller passed is read: when socktune is off or fd is not
 * merged, not even the msghdr is touched. */
static size_t merge_size(int fd)
{
	if (st_mode() != ST_MODE_ON)
		return 0;
	const struct fd_state *e = fd_state_get(fd);
	return e ? e->merge : 0;
}

static int mergeable(size_t iovcnt)
{
	return iovcnt >= 2 && iovcnt <= MERGE_IOV_MAX;
}

static void count_merge(int in, int out, size_t copied)
{
	stat_inc(merge_calls);
	stat_add(merge_iov_in, (unsigned long)in);
	stat_add(merge_iov_out, (unsigned long)out);
	stat_add(merge_bytes, copied);
}

SOCKTUNE_HOOK ssize_t writev(int fd, const struct iovec *iov, int iovcnt)
{
	size_t small = merge_size(fd);
	if (likely(!small) || iovcnt < 0 || !mergeable((size_t)iovcnt))
		return real.writev(fd, iov, iovcnt);

	char buf[ST_MERGE_MAX];
	struct iovec out[MERGE_IOV_MAX];
	size_t copied;
	int n = iov_coalesce(iov, iovcnt, small, buf, sizeof(buf), out, &copied);
	if (n == iovcnt)
		return real.writev(fd, iov, iovcnt);
	count_merge(iovcnt, n, copied);
	/* One piece is one write(2), which on any descriptor means what a
	 * one-element writev(2) means, except for nothing at all: write(2) of 0
	 * bytes sends an empty datagram, writev(2) of empty iovecs does not. */
	if (n == 1 && out[0].iov_len)
		return real.write(fd, out[0].iov_base, out[0].iov_len);
	return real.writev(fd, out, n);
}

SOCKTUNE_HOOK ssize_t sendmsg(int fd, const struct msghdr *msg, int flags)
{
	/* MSG_ZEROCOPY pins the caller's pages until the kernel says it is done
	 * with them: a copy would change what that notification means. */
	size_t small = merge_size(fd);
	if (likely(!small) || !msg || (flags & MSG_ZEROCOPY) || !mergeable(msg->msg_iovlen))
		return real.sendmsg(fd, msg, flags);

	char buf[ST_MERGE_MAX];
	struct iovec out[MERGE_IOV_MAX];
	size_t copied;
	int in = (int)msg->msg_iovlen;
	int n = iov_coalesce(msg->msg_iov, in, small, buf, sizeof(buf), out, &copied);
	if (n == in)
		return real.sendmsg(fd, msg, flags);
	count_merge(in, n, copied);
	struct msghdr copy = *msg;
	copy.msg_iov = out;
	copy.msg_iovlen = (size_t)n;
	return real.sendmsg(fd, &copy, flags);
}
