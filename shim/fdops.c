/* Bookkeeping hooks: they keep the fd table true as descriptors are made,
 * copied and closed, and record the options the program sets itself.  None
 * of them changes what the real call does or returns. */
#include "cork.h"
#include "fdtable.h"
#include "hold.h"
#include "state.h"
#include "stats.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdint.h>
#include <unistd.h>

#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

/* Linux's variants for CAP_NET_ADMIN; elsewhere only the plain ones. */
#ifndef SO_SNDBUFFORCE
#define SO_SNDBUFFORCE SO_SNDBUF
#define SO_RCVBUFFORCE SO_RCVBUF
#endif

/* A descriptor is going away: its connection's figures go into the stats
 * if this process made the connection. */
static void retire(int fd)
{
	struct fd_state *e = fd_state_get(fd);
	if (!e || !e->flags)
		return;
	/* TLS bytes held for this socket go out while it still exists, and
	 * what the kernel holds for it is pushed: a dup may keep the
	 * connection open after this close. */
	hold_fd(fd);
	if ((e->flags & FD_TCP_COUNT) && e->owner == socktune_pid)
		stats_tcp_collect(fd);
	fd_state_forget(fd);
}

#if ST_HAVE_CLOSE_RANGE || ST_HAVE_CLOSEFROM
static void retire_range(unsigned lo, unsigned hi)
{
	int limit = fd_state_limit();
	for (unsigned fd = lo; fd <= hi && fd < (unsigned)limit; fd++)
		retire((int)fd);
}
#endif

SOCKTUNE_HOOK int HOOK(socket)(int domain, int type, int protocol)
{
	int on = st_mode();
	int fd = libc.socket(domain, type, protocol);
	if (fd >= 0 && on)
		sock_note_created(fd, domain, type);
	return fd;
}
INTERPOSE(socket);

SOCKTUNE_HOOK int HOOK(socketpair)(int domain, int type, int protocol, int sv[2])
{
	int on = st_mode();
	int r = libc.socketpair(domain, type, protocol, sv);
	if (r == 0 && on) {
		sock_note_created(sv[0], domain, type);
		sock_note_created(sv[1], domain, type);
	}
	return r;
}
INTERPOSE(socketpair);

SOCKTUNE_HOOK int HOOK(close)(int fd)
{
	if (st_mode()) {
		int saved = errno;
		retire(fd);
		errno = saved;
	}
	return libc.close(fd);
}
INTERPOSE(close);

/* A copy made by dup and friends names the same socket. */
static int copied(int newfd, int oldfd)
{
	if (newfd >= 0 && newfd != oldfd) {
		int saved = errno;
		fd_state_copy(newfd, oldfd);
		errno = saved;
	}
	return newfd;
}

SOCKTUNE_HOOK int HOOK(dup)(int oldfd)
{
	if (!st_mode())
		return libc.dup(oldfd);
	return copied(libc.dup(oldfd), oldfd);
}
INTERPOSE(dup);

/* dup2 and dup3 close their target only when the source is open. */
static void retire_target(int oldfd, int newfd)
{
	struct fd_state *e = fd_state_get(newfd);
	if (oldfd == newfd || !e || !e->flags)
		return;
	int saved = errno;
	if (libc.fcntl(oldfd, F_GETFD) >= 0)
		retire(newfd);
	errno = saved;
}

SOCKTUNE_HOOK int HOOK(dup2)(int oldfd, int newfd)
{
	if (!st_mode())
		return libc.dup2(oldfd, newfd);
	retire_target(oldfd, newfd);
	return copied(libc.dup2(oldfd, newfd), oldfd);
}
INTERPOSE(dup2);

#if ST_HAVE_DUP3
SOCKTUNE_HOOK int HOOK(dup3)(int oldfd, int newfd, int flags)
{
	if (!st_mode())
		return libc.dup3(oldfd, newfd, flags);
	retire_target(oldfd, newfd);
	return copied(libc.dup3(oldfd, newfd, flags), oldfd);
}
INTERPOSE(dup3);
#endif

/* fcntl's third argument is an int or a pointer depending on cmd; passing
 * it on as a pointer-sized word is what every libc's own wrappers do. */
static int fcntl_common(int (*fn)(int, int, ...), int fd, int cmd, void *arg)
{
	int r = fn(fd, cmd, arg);
	if ((cmd == F_DUPFD || cmd == F_DUPFD_CLOEXEC) && st_mode())
		copied(r, fd);
	return r;
}

SOCKTUNE_HOOK int HOOK(fcntl)(int fd, int cmd, ...)
{
	va_list ap;
	va_start(ap, cmd);
	void *arg = va_arg(ap, void *);
	va_end(ap);
	if (unlikely(!libc.fcntl))
		real_bind();
	return fcntl_common(libc.fcntl, fd, cmd, arg);
}
INTERPOSE(fcntl);

#if ST_HAVE_FCNTL64
SOCKTUNE_HOOK int HOOK(fcntl64)(int fd, int cmd, ...)
{
	va_list ap;
	va_start(ap, cmd);
	void *arg = va_arg(ap, void *);
	va_end(ap);
	if (unlikely(!libc.fcntl64))
		real_bind();
	return fcntl_common(libc.fcntl64, fd, cmd, arg);
}
INTERPOSE(fcntl64);
#endif

#if ST_HAVE_CLOSE_RANGE
SOCKTUNE_HOOK int HOOK(close_range)(unsigned lo, unsigned hi, int flags)
{
	if (!st_mode())
		return libc.close_range(lo, hi, flags);
	/* With CLOSE_RANGE_CLOEXEC nothing is closed now; exec will do it,
	 * and exec starts a fresh table anyway. */
	if ((unsigned)flags & CLOSE_RANGE_CLOEXEC)
		return libc.close_range(lo, hi, flags);
	int saved = errno;
	retire_range(lo, hi);
	errno = saved;
	return libc.close_range(lo, hi, flags);
}
INTERPOSE(close_range);
#endif

#if ST_HAVE_CLOSEFROM
SOCKTUNE_HOOK void HOOK(closefrom)(int lo)
{
	if (st_mode() && lo >= 0) {
		int saved = errno;
		retire_range((unsigned)lo, ~0U);
		errno = saved;
	}
	libc.closefrom(lo);
}
INTERPOSE(closefrom);
#endif

static uint32_t user_flag(int level, int name)
{
#ifdef TCP_CORK
	if (level == IPPROTO_TCP && name == TCP_CORK)
		return FD_USER_CORK;
#endif
	if (level == SOL_SOCKET && (name == SO_SNDBUF || name == SO_SNDBUFFORCE))
		return FD_USER_SNDBUF;
	if (level == SOL_SOCKET && (name == SO_RCVBUF || name == SO_RCVBUFFORCE))
		return FD_USER_RCVBUF;
	if (level == IPPROTO_TCP && name == TCP_NODELAY)
		return FD_USER_NODELAY;
	return 0;
}

/* Options whose setting can push what the kernel holds: TCP_CORK and
 * TCP_NOPUSH cleared, TCP_NODELAY set.  The value is not read (a bad
 * pointer is the kernel's to report), so setting them either way counts. */
static int pushes(int level, int name)
{
	if (level != IPPROTO_TCP)
		return 0;
#ifdef TCP_CORK
	if (name == TCP_CORK)
		return 1;
#endif
#ifdef TCP_NOPUSH
	if (name == TCP_NOPUSH)
		return 1;
#endif
	return name == TCP_NODELAY;
}

SOCKTUNE_HOOK int HOOK(setsockopt)(int fd, int level, int name, const void *val, socklen_t len)
{
	if (!st_mode())
		return libc.setsockopt(fd, level, name, val, len);
	/* A program that corks its socket itself ends a burst by uncorking it:
	 * TLS bytes held for it go out first, to leave with the push, not
	 * after it into a socket corked again for the kernel's 200 ms. */
	if (pushes(level, name))
		hold_fd(fd);
	int r = libc.setsockopt(fd, level, name, val, len);
#ifdef TCP_NOTSENT_LOWAT
	/* Read only now that the kernel has read it: a bad pointer is its to
	 * report.  A held TLS flush must fit under this mark (ssl.c). */
	if (r == 0 && level == IPPROTO_TCP && name == TCP_NOTSENT_LOWAT && len >= sizeof(int)) {
		struct fd_state *e = fd_state_get(fd);
		if (e)
			e->notsent_lowat = (uint32_t)*(const int *)val;
	}
#endif
	uint32_t flag = user_flag(level, name);
	if (r == 0 && flag == FD_USER_SNDBUF) {
		struct fd_state *e = fd_state_get(fd);
		if (e)
			__atomic_store_n(&e->sndbuf_seen, 0, __ATOMIC_RELAXED);
	}
	if (r == 0 && flag) {
		int saved = errno;
		struct fd_state *e = sock_validate(fd);
		if (e && flag == FD_USER_CORK)
			cork_yield(e);
		else if (e)
			__atomic_or_fetch(&e->flags, flag, __ATOMIC_RELAXED);
		errno = saved;
	}
	return r;
}
INTERPOSE(setsockopt);
