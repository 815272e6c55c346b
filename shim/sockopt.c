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
