/* Setting options, best effort: a failed setsockopt means "not tuned", never
 * an error the program sees.  Buffer sizes are read back, because Linux
 * clamps them to net.core.[wr]mem_max silently and setsockopt still returns
 * 0. */
#include "sockopt.h"

#include "log.h"
#include "size.h"
#include "state.h"
#include "stats.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>
#include <sys/stat.h>

unsigned fam_bit(int domain)
{
	switch (domain) {
	case AF_UNIX: return ST_FAM_UNIX;
	case AF_INET: return ST_FAM_INET;
	case AF_INET6: return ST_FAM_INET6;
	default: return 0;
	}
}

/* socket(2)'s type flags, Linux's and FreeBSD's; macOS has none. */
#ifndef SOCK_NONBLOCK
#define SOCK_NONBLOCK 0
#endif
#ifndef SOCK_CLOEXEC
#define SOCK_CLOEXEC 0
#endif

unsigned type_bit(int type)
{
	switch (type & ~(SOCK_NONBLOCK | SOCK_CLOEXEC)) {
	case SOCK_STREAM: return ST_TYPE_STREAM;
	case SOCK_DGRAM: return ST_TYPE_DGRAM;
	case SOCK_SEQPACKET: return ST_TYPE_SEQPACKET;
	default: return 0;
	}
}

void sock_note_created(int fd, int domain, int type)
{
	struct fd_state *e = fd_state_make(fd);
	if (!e)
		return;
	memset(e, 0, sizeof(*e));
	e->family = (uint8_t)fam_bit(domain);
	e->type = (uint8_t)type_bit(type);
	e->flags = FD_KNOWN;
}

int fd_state_is(struct fd_state *e, uint64_t ino)
{
	if (!(e->flags & FD_KNOWN))
		return 0;
	if (e->ino == 0)
		e->ino = ino;
	return e->ino == ino;
}

struct fd_state *sock_validate(int fd)
{
	struct stat st;
	if (fstat(fd, &st) < 0 || !S_ISSOCK(st.st_mode))
		return NULL;
	struct fd_state *e = fd_state_make(fd);
	if (!e || fd_state_is(e, (uint64_t)st.st_ino))
		return e;

	int domain = 0, type = 0;
	socklen_t len = sizeof(int);
	libc.getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &len);
	len = sizeof(int);
	libc.getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len);
	log_debug("fd %d: not seen created or reused; the kernel says %s %s", fd,
		  family_name(fam_bit(domain)), type_name(type_bit(type)));
	sock_note_created(fd, domain, type);
	e->ino = (uint64_t)st.st_ino;
	return e;
}

static int warned[2];

void sockopt_reset_warnings(void)
{
	memset(warned, 0, sizeof(warned));
}

static void check_clamp(int fd, int name, int asked)
{
#ifdef __linux__
	int got = 0;
	socklen_t len = sizeof(got);
	if (libc.getsockopt(fd, SOL_SOCKET, name, &got, &len) < 0)
		return;
	/* Linux stores twice what was asked, for its own bookkeeping. */
	if (got / 2 >= asked)
		return;
	stat_inc(clamps);
	int snd = name == SO_SNDBUF;
	if (__atomic_exchange_n(&warned[!snd], 1, __ATOMIC_RELAXED))
		return;
	const char *sysctl = snd ? "net.core.wmem_max" : "net.core.rmem_max";
	log_warn("%s: asked for %d bytes, got %d: %s caps it; to allow it: sysctl -w %s=%d",
		 snd ? "SO_SNDBUF" : "SO_RCVBUF", asked, got / 2, sysctl, sysctl, asked);
#else
	(void)fd, (void)name, (void)asked;
#endif
}

struct opt_desc {
	unsigned bit;
	const char *label;
	int level, name;
	uint32_t user_flag;
};

static const struct opt_desc descs[] = {
	{OPT_SNDBUF, "sndbuf", SOL_SOCKET, SO_SNDBUF, FD_USER_SNDBUF},
	{OPT_RCVBUF, "rcvbuf", SOL_SOCKET, SO_RCVBUF, FD_USER_RCVBUF},
	{OPT_NODELAY, "nodelay", IPPROTO_TCP, TCP_NODELAY, FD_USER_NODELAY},
};

static void count(unsigned bit, int kept)
{
	switch (bit) {
	case OPT_SNDBUF: kept ? stat_inc(kept_sndbuf) : stat_inc(tuned_sndbuf); break;
	case OPT_RCVBUF: kept ? stat_inc(kept_rcvbuf) : stat_inc(tuned_rcvbuf); break;
	default: kept ? stat_inc(kept_nodelay) : stat_inc(tuned_nodelay); break;
	}
}

unsigned sockopt_apply(int fd, const struct fd_state *e, const struct st_opts *o, unsigned which)
{
	int tcp = fd_state_is_tcp(e);
	unsigned done = 0;

	for (size_t i = 0; i < sizeof(descs) / sizeof(descs[0]); i++) {
		const struct opt_desc *d = &descs[i];
		long value = d->bit == OPT_SNDBUF ? o->sndbuf
			     : d->bit == OPT_RCVBUF ? o->rcvbuf
						    : o->nodelay;
		if (!(which & d->bit) || value < 0 || (d->bit == OPT_NODELAY && !tcp))
			continue;
		if ((e->flags & d->user_flag) && o->force != 1) {
			count(d->bit, 1);
			log_debug("fd %d: %s left as the program set it", fd, d->label);
			continue;
		}
		char shown[32];
		size_format(value, shown, sizeof(shown));
		if (socktune_mode != ST_MODE_ON) {
			log_debug("fd %d: observe: would set %s %s", fd, d->label, shown);
			continue;
		}
		int v = (int)value;
		if (libc.setsockopt(fd, d->level, d->name, &v, sizeof(v)) < 0) {
			stat_inc(failures);
			log_info("fd %d: setting %s %s failed: %m", fd, d->label, shown);
			continue;
		}
		count(d->bit, 0);
		done |= d->bit;
		log_debug("fd %d: %s %s", fd, d->label, shown);
		if (d->level == SOL_SOCKET)
			check_clamp(fd, d->name, v);
	}
	return done;
}
