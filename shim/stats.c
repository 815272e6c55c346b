/* The figures and the exit report.  The report is one line of JSON written
 * with one write on an O_APPEND descriptor, so the objects of many
 * processes sharing one file never interleave. */
#include "stats.h"

#include "fdtable.h"
#include "log.h"
#include "state.h"

#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#ifdef __linux__
#include <linux/tcp.h>
#include <netinet/in.h>
#endif

void stats_reset(void)
{
	memset(socktune_counters, 0, sizeof(*socktune_counters));
}

void stats_tcp_collect(int fd)
{
#ifdef __linux__
	struct tcp_info ti;
	socklen_t len = sizeof(ti);
	memset(&ti, 0, sizeof(ti));
	if (libc.getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) < 0)
		return;
	stat_inc(tcp_connections);
	stat_add(tcp_total_retrans, ti.tcpi_total_retrans);
	/* Older kernels return a shorter struct; count only what they filled. */
	if (len >= offsetof(struct tcp_info, tcpi_segs_out) + sizeof(ti.tcpi_segs_out))
		stat_add(tcp_segs_out, ti.tcpi_segs_out);
	if (len >= offsetof(struct tcp_info, tcpi_bytes_sent) + sizeof(ti.tcpi_bytes_sent))
		stat_add(tcp_bytes_sent, (unsigned long)ti.tcpi_bytes_sent);
#else
	(void)fd;
#endif
}

/* JSON string body: the program name is the only text from outside. */
static void json_escape(char *out, size_t len, const char *s)
{
	size_t o = 0;
	for (; *s && o + 7 < len; s++) {
		unsigned char ch = (unsigned char)*s;
		if (ch == '"' || ch == '\\')
			out[o++] = '\\', out[o++] = (char)ch;
		else if (ch < 0x20)
			o += (size_t)snprintf(out + o, len - o, "\\u%04x", ch);
		else
			out[o++] = (char)ch;
	}
	out[o] = '\0';
}

int stats_format(char *buf, unsigned long len)
{
	struct st_stats snap;
	char prog[256];
	stats_snapshot(&snap, socktune_counters);
	json_escape(prog, sizeof(prog), socktune_prog);
	int n = snprintf(buf, len, "{\"socktune\":\"%s\",\"prog\":\"%s\",\"pid\":%ld,\"mode\":\"%s\",",
			 SOCKTUNE_VERSION, prog, (long)socktune_pid, mode_name(socktune_cfg.mode));
	if (n < 0 || (size_t)n >= len)
		return 0;
	int m = stats_json_members(buf + n, len - (size_t)n, &snap);
	if (m < 0 || (size_t)(n + m) + 2 >= len)
		return 0;
	n += m;
	buf[n++] = '}';
	buf[n++] = '\n';
	buf[n] = '\0';
	return n;
}

/* SOCKTUNE_STATS with each %p replaced by the pid. */
static int stats_path(char *out, size_t len, const char *tmpl)
{
	size_t o = 0;
	for (const char *p = tmpl; *p; p++) {
		if (p[0] == '%' && p[1] == 'p') {
			int n = snprintf(out + o, len - o, "%ld", (long)socktune_pid);
			if (n < 0 || (size_t)n >= len - o)
				return -1;
			o += (size_t)n;
			p++;
		} else {
			if (o + 1 >= len)
				return -1;
			out[o++] = *p;
		}
	}
	out[o] = '\0';
	return 0;
}

static void collect_open_tcp(void)
{
	int limit = fd_state_limit();
	for (int fd = 0; fd < limit; fd++) {
		struct fd_state *e = fd_state_get(fd);
		struct stat st;
		if (!e || !(e->flags & FD_TCP_COUNT) || e->owner != socktune_pid)
			continue;
		if (fstat(fd, &st) == 0 && fd_state_is(e, (uint64_t)st.st_ino))
			stats_tcp_collect(fd);
	}
}

void stats_report(void)
{
	const char *dest = socktune_cfg.stats;
	char path[ST_SOURCE_MAX + 32];
	char buf[1536];

	if (!dest[0])
		return;
	collect_open_tcp();
	int n = stats_format(buf, sizeof(buf));
	if (!strcmp(dest, "stderr")) {
		libc.write(2, buf, (size_t)n);
		return;
	}
	if (stats_path(path, sizeof(path), dest) < 0) {
		log_error("stats: path too long: %s", dest);
		return;
	}
	/* Without blocking: opening a FIFO that has no reader would wait for
	 * one, at exit, for ever. */
	int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NONBLOCK | O_NOCTTY, 0644);
	if (fd < 0) {
		log_error("stats: cannot open %s: %m", path);
		return;
	}
	if (libc.write(fd, buf, (size_t)n) != n)
		log_error("stats: cannot write %s: %m", path);
	libc.close(fd);
}
