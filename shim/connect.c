/* The hooks where a socket gets its options: connect (the client side),
 * listen and accept (the server side).  Options go on before the real
 * connect, so a TCP receive buffer is in place before the SYN fixes the
 * window scale, and a non-blocking connect is tuned like a blocking one.  A
 * server's receive buffer goes on the listener for the same reason; the
 * sockets accept returns inherit it. */
#include "cork.h"
#include "fdtable.h"
#include "hold.h"
#include "live.h"
#include "log.h"
#include "platform.h"
#include "sockopt.h"
#include "state.h"
#include "stats.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

/* What the rules need to know about fd.  The kernel is asked for the peer
 * and the local port only when some rule looks at them, and for the peer
 * only when there is one (ask_peer: not on a listener). */
static void describe(struct st_sock *s, int fd, const struct fd_state *e, int role,
		     const struct sockaddr *peer, socklen_t peerlen, int ask_peer)
{
	struct sockaddr_storage ss;
	socklen_t len;

	memset(s, 0, sizeof(*s));
	s->family = e->family;
	s->type = e->type;
	s->role = role;
	/* prog stays NULL: program globs were matched once, at load. */
	if (socktune_cfg.needs_peer && ask_peer) {
		len = sizeof(ss);
		if (peer)
			sock_set_peer(s, peer, peerlen);
		else if (getpeername(fd, (struct sockaddr *)&ss, &len) == 0)
			sock_set_peer(s, (struct sockaddr *)&ss, len);
	}
	if (socktune_cfg.needs_local) {
		len = sizeof(ss);
		if (getsockname(fd, (struct sockaddr *)&ss, &len) == 0)
			sock_set_local(s, (struct sockaddr *)&ss, len);
	}
}

static void decide(struct st_opts *o, const struct st_sock *s, int fd)
{
	const struct st_rule *r = conf_decide(&socktune_cfg, s, o);
	platform_resolve(o, s->family, s->type);
	if (log_enabled(ST_LOG_DEBUG)) {
		char name[ST_SOURCE_MAX + 32];
		if (r && r->name[0])
			snprintf(name, sizeof(name), "rule \"%s\"", r->name);
		else if (r)
			snprintf(name, sizeof(name), "rule at %s:%d", r->source, r->line);
		else
			snprintf(name, sizeof(name), "defaults");
		log_debug("fd %d: %s %s %s: %s", fd, family_name(s->family), type_name(s->type),
			  role_name(s->role), name);
	}
}

/* The counters every connected socket adds to, tuned or not. */
static void count_seen(const struct fd_state *e, int role, unsigned set)
{
	live_touch();
	stat_inc(seen);
	if (set)
		stat_inc(tuned);
	if (e->family == ST_FAM_UNIX)
		stat_inc(fam_unix);
	else if (e->family == ST_FAM_INET)
		stat_inc(fam_inet);
	else
		stat_inc(fam_inet6);
	if (role == ST_ROLE_CLIENT)
		stat_inc(client);
	else
		stat_inc(server);
}

/* The write hooks read these fields: zero means pass through. */
static void set_merge(struct fd_state *e, const struct st_opts *o)
{
	int on = socktune_mode == ST_MODE_ON;
	e->merge = on && o->merge > 0 ? (uint32_t)o->merge : 0;
	/* Stream sockets only: DTLS records are datagrams, not a byte stream. */
	e->tls_merge = on && o->tls_merge > 0 && e->type == ST_TYPE_STREAM ? (uint32_t)o->tls_merge
									  : 0;
	e->cork = on && fd_state_is_tcp(e) ? (uint8_t)platform_cork(o->cork) : ST_CORK_OFF;
	/* The program corked it before connect: it is the program's. */
	if (e->cork && (e->flags & FD_USER_CORK))
		stat_inc(cork_yielded);
}

/* Whether the len bytes at p are mapped, so that reading them cannot fault:
 * the kernel answers a bad address with EFAULT, and socktune must not
 * answer it with SIGSEGV.  One msync(MS_ASYNC), which touches nothing; a
 * mapped page that may not be read (PROT_NONE) passes, and is the limit. */
static int mapped(const void *p, size_t len)
{
	uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
	uintptr_t lo = (uintptr_t)p & ~(page - 1), hi = (uintptr_t)p + len;
	if (hi < (uintptr_t)p)
		return 0;
	int saved = errno;
	int ok = msync((void *)lo, hi - lo, MS_ASYNC) == 0;
	errno = saved;
	return ok;
}

static void client_policy(int fd, const struct sockaddr *addr, socklen_t len)
{
	struct fd_state *e = sock_validate(fd);
	if (!e || !e->family || (e->flags & FD_DONE) || !addr || len < sizeof(addr->sa_family) ||
	    !mapped(addr, len) || addr->sa_family == AF_UNSPEC)
		return;
	__atomic_or_fetch(&e->flags, FD_DONE, __ATOMIC_RELAXED);
	e->role = ST_ROLE_CLIENT;
	e->owner = socktune_pid;

	struct st_sock s;
	struct st_opts o;
	describe(&s, fd, e, ST_ROLE_CLIENT, addr, len, 1);
	decide(&o, &s, fd);
	set_merge(e, &o);
	cork_for_life(fd, e);
	count_seen(e, ST_ROLE_CLIENT, sockopt_apply(fd, e, &o, OPT_SNDBUF | OPT_RCVBUF | OPT_NODELAY));
}

SOCKTUNE_HOOK int HOOK(connect)(int fd, const struct sockaddr *addr, socklen_t len)
{
	if (!st_mode())
		return libc.connect(fd, addr, len);
	/* A blocking connect waits for the handshake. */
	WAIT();

	int saved = errno;
	client_policy(fd, addr, len);
	errno = saved;
	int r = libc.connect(fd, addr, len);
	if (r == 0 || errno == EINPROGRESS) {
		struct fd_state *e = fd_state_get(fd);
		if (e && (e->flags & FD_DONE) && fd_state_is_tcp(e))
			__atomic_or_fetch(&e->flags, FD_TCP_COUNT, __ATOMIC_RELAXED);
	}
	return r;
}
INTERPOSE(connect);

SOCKTUNE_HOOK int HOOK(listen)(int fd, int backlog)
{
	if (!st_mode())
		return libc.listen(fd, backlog);

	int saved = errno;
	struct fd_state *e = sock_validate(fd);
	if (e && e->family && !(e->flags & FD_LISTENER) && fd_state_is_tcp(e)) {
		struct st_sock s;
		struct st_opts o;
		/* No peer yet: rules that ask for one cannot match here. */
		describe(&s, fd, e, ST_ROLE_SERVER, NULL, 0, 0);
		decide(&o, &s, fd);
		if (sockopt_apply(fd, e, &o, OPT_RCVBUF))
			e->listener_rcvbuf = o.rcvbuf;
	}
	if (e)
		__atomic_or_fetch(&e->flags, FD_LISTENER, __ATOMIC_RELAXED);
	errno = saved;
	return libc.listen(fd, backlog);
}
INTERPOSE(listen);

static void server_policy(int lfd, int fd)
{
	/* A listener went through listen(); its entry is trusted as it is. */
	struct fd_state *l = fd_state_get(lfd);
	if (!l || !(l->flags & FD_LISTENER))
		l = sock_validate(lfd);
	struct fd_state *e = fd_state_make(fd);
	if (!l || !e || !l->family)
		return;

	memset(e, 0, sizeof(*e));
	/* The kernel copies the listener's options, TCP_CORK included. */
	e->flags = FD_KNOWN | FD_DONE | (l->flags & (FD_USER_ALL | FD_USER_CORK)) |
		   (fd_state_is_tcp(l) ? FD_TCP_COUNT : 0);
	e->family = l->family;
	e->type = l->type;
	e->role = ST_ROLE_SERVER;
	e->owner = socktune_pid;
	e->notsent_lowat = l->notsent_lowat;

	struct st_sock s;
	struct st_opts o;
	/* The peer comes from getpeername, not from accept's buffer, which the
	 * caller may have made too small for the address. */
	describe(&s, fd, e, ST_ROLE_SERVER, NULL, 0, 1);
	decide(&o, &s, fd);
	set_merge(e, &o);
	unsigned which = OPT_SNDBUF | OPT_NODELAY;
	unsigned set = 0;
	/* Already inherited from the listener: set before the SYN, which is
	 * what counts for TCP, so count it here and do not set it again. */
	if (l->listener_rcvbuf > 0 && l->listener_rcvbuf == o.rcvbuf) {
		stat_inc(tuned_rcvbuf);
		set |= OPT_RCVBUF;
	} else {
		which |= OPT_RCVBUF;
	}
	set |= sockopt_apply(fd, e, &o, which);
	cork_for_life(fd, e);
	count_seen(e, ST_ROLE_SERVER, set);
}

static int accepted(int lfd, int fd)
{
	if (fd >= 0) {
		int saved = errno;
		server_policy(lfd, fd);
		errno = saved;
	}
	return fd;
}

SOCKTUNE_HOOK int HOOK(accept)(int lfd, struct sockaddr *addr, socklen_t *lenp)
{
	if (!st_mode())
		return libc.accept(lfd, addr, lenp);
	WAIT();
	return accepted(lfd, libc.accept(lfd, addr, lenp));
}
INTERPOSE(accept);

#if ST_HAVE_ACCEPT4
SOCKTUNE_HOOK int HOOK(accept4)(int lfd, struct sockaddr *addr, socklen_t *lenp, int flags)
{
	if (!st_mode())
		return libc.accept4(lfd, addr, lenp, flags);
	WAIT();
	return accepted(lfd, libc.accept4(lfd, addr, lenp, flags));
}
INTERPOSE(accept4);
#endif
