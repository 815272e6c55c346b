/* The write family.  On a socket whose rule asks for it, writev and
 * sendmsg merge runs of small iovecs (iov.c), and every call of the family
 * goes out with MSG_MORE when the socket is auto-corked (cork.c).  When
 * socktune is off, write is a jump to the real call and the other hooks
 * are the mode test and the real call; on any other descriptor, a hook is
 * the mode test, the fd-table lookup and the real call. */
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
static inline __attribute__((always_inline)) struct fd_state *tuned(int fd)
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

/* A write socktune sends with MSG_MORE.  Out of line, so that what it keeps
 * across its calls costs write_on nothing. */
static __attribute__((noinline)) ssize_t write_corked(int fd, const void *buf, size_t len,
						      int more)
{
	int saved = errno;
	ssize_t r = libc.send(fd, buf, len, more);
	return not_a_socket(fd, r, saved) ? libc.write(fd, buf, len) : r;
}

/* write on a descriptor socktune acts on: a TLS flush's, or a corked one. */
static __attribute__((noinline)) ssize_t write_acting(int fd, const void *buf, size_t len)
{
	/* OpenSSL writing the records of a TLS flush (tlshold.c). */
	if (fd == socktune_tls_wire_fd && fd >= 0)
		return tls_wire_write(fd, buf, len);
	struct fd_state *e = fd_state_get(fd);
	int more = e && e->cork ? cork_flags(fd, e) : 0;
	/* On a socket, write(2) is send(2) with no flags. */
	if (likely(!more))
		return libc.write(fd, buf, len);
	return write_corked(fd, buf, len, more);
}

/* write when socktune is on.  Every way out is a jump (to the real write
 * or to write_acting), so it keeps nothing across a call and needs no
 * frame. */
static __attribute__((noinline)) ssize_t write_on(int fd, const void *buf, size_t len)
{
	if (likely(fd != socktune_tls_wire_fd)) {
		struct fd_state *e = fd_state_get(fd);
		if (likely(!e || !e->cork))
			return libc.write(fd, buf, len);
	}
	return write_acting(fd, buf, len);
}

static ssize_t write_starting(int fd, const void *buf, size_t len);

/* Where the write hook goes: write_starting until the mode is settled, then
 * libc.write when socktune is off or observing, write_on when it is on.
 * Every write of the program comes here, socket or not, so this is the hook
 * whose cost a program that never asked for socktune pays in full; the mode
 * never changes once stored, so the test of it is made once, here, and not
 * on every call.  The hook is then one load and one jump, the least any
 * LD_PRELOAD hook can be, and with no frame of its own the real write
 * returns straight to the program.  As GCC 12 and clang 14 emit it at -O2
 * (objdump -d libsocktune.so.1), the whole hook is:
 *
 *	mov    write_next(%rip),%rax
 *	jmp    *%rax
 *
 * With socktune off or observing, that is all: 2 instructions, no
 * conditional branch, the indirect jump always to the same place.  On, for
 * a descriptor no rule tunes (not a socket, or a socket left alone),
 * write_on adds 13 instructions, or 18 where the descriptor's chunk of the
 * table is mapped, with no frame, since every way out is a jump:
 *
 *	mov    TLS offset of socktune_tls_wire_fd,%rax
 *	cmp    %edi,%fs:(%rax)          ; a TLS flush's socket?
 *	je     write_acting
 *	cmp    $0xfffff,%edi            ; fd_state_get, inline: in the table?
 *	ja     real
 *	mov/lea/sar/cltq                ; the chunk's slot (hidden: no GOT)
 *	mov    (%rcx,%rax,8),%rcx       ; the chunk
 *	test   %rcx,%rcx                ; not yet mapped: no socket there
 *	je     real
 *	mov/and/shl                     ; the entry
 *	cmpb   $0x0,cork(%rcx,%rax,1)   ; corked by socktune?
 *	jne    write_acting
 * real:
 *	jmp    *libc.write
 *
 * (GCC 12, -O2.)  Each branch goes the same way on every call. */
static ssize_t (*write_next)(int, const void *, size_t) = write_starting;

/* The first write of the process, and any made while the library starts. */
static __attribute__((noinline, cold)) ssize_t write_starting(int fd, const void *buf,
							      size_t len)
{
	int m = st_mode();
	/* The mode as stored, not as returned: a call made while the library
	 * reads its configuration passes through as off, but the mode is only
	 * settled once stored, and the next write asks again until then. */
	int settled = __atomic_load_n(&socktune_mode, __ATOMIC_ACQUIRE);
	if (settled != ST_MODE_UNSTARTED)
		__atomic_store_n(&write_next, settled == ST_MODE_ON ? write_on : libc.write,
				 __ATOMIC_RELEASE);
	return m == ST_MODE_ON ? write_on(fd, buf, len) : libc.write(fd, buf, len);
}

SOCKTUNE_HOOK ssize_t HOOK(write)(int fd, const void *buf, size_t len)
{
	return __atomic_load_n(&write_next, __ATOMIC_ACQUIRE)(fd, buf, len);
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
