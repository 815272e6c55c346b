/* The figures: counters every hook may bump (atomics, no locks) and the
 * one JSON object each process appends at exit. */
#ifndef SOCKTUNE_STATS_H
#define SOCKTUNE_STATS_H

/* The counters, in the order of the JSON: {group, key, field}; group ""
 * is the top level.  The exit report, the live file and `socktune stats`
 * all follow this list. */
#define ST_STATS_FIELDS(X) \
	X("sockets", "seen", seen) X("sockets", "tuned", tuned) \
	X("sockets", "unix", fam_unix) X("sockets", "inet", fam_inet) \
	X("sockets", "inet6", fam_inet6) X("sockets", "client", client) \
	X("sockets", "server", server) \
	X("tuned", "sndbuf", tuned_sndbuf) X("tuned", "rcvbuf", tuned_rcvbuf) \
	X("tuned", "nodelay", tuned_nodelay) \
	X("kept", "sndbuf", kept_sndbuf) X("kept", "rcvbuf", kept_rcvbuf) \
	X("kept", "nodelay", kept_nodelay) \
	X("", "failures", failures) X("", "clamps", clamps) \
	X("tcp", "connections", tcp_connections) X("tcp", "segs_out", tcp_segs_out) \
	X("tcp", "bytes_sent", tcp_bytes_sent) X("tcp", "total_retrans", tcp_total_retrans) \
	X("merge", "calls", merge_calls) X("merge", "iov_in", merge_iov_in) \
	X("merge", "iov_out", merge_iov_out) X("merge", "bytes", merge_bytes) \
	X("tls", "records", tls_records) X("tls", "held", tls_held) \
	X("tls", "flushes", tls_flushes) X("tls", "bytes", tls_bytes) \
	X("tls", "at_exit", tls_at_exit) X("tls", "failures", tls_failures) \
	X("tls", "late", tls_late) /* bytes the bound sent */ \
	X("tls", "longest_us", tls_longest_us) /* the longest hold */ \
	X("cork", "corked", cork_corked) X("cork", "held", cork_held) \
	X("cork", "pushes", cork_pushes) X("cork", "yielded", cork_yielded) \
	X("cork", "late", cork_late)

/* unsigned long: lock-free atomics everywhere; in a 32-bit process the byte
 * counters wrap at 4 GiB. */
struct st_stats {
#define ST_STATS_MEMBER(group, key, field) unsigned long field;
	ST_STATS_FIELDS(ST_STATS_MEMBER)
#undef ST_STATS_MEMBER
};

/* Where the counters are: the live file's (live.c) once it is mapped,
 * memory of the process's own before that or without it. */
extern struct st_stats *socktune_counters __attribute__((visibility("hidden")));

/* The pointer is read with acquire: a thread that finds the live file's
 * counters finds them mapped and filled (a plain load on x86 and arm64's
 * ldar, so no cost worth the name). */
#define stat_add(field, n)                                                                  \
	__atomic_add_fetch(&__atomic_load_n(&socktune_counters, __ATOMIC_ACQUIRE)->field, (n), \
			   __ATOMIC_RELAXED)
#define stat_inc(field) stat_add(field, 1)

/* The list as data: {group, key, offset}, ending with a NULL key. */
struct st_stat_field {
	const char *group, *key;
	unsigned long offset;
};
const struct st_stat_field *stats_fields(void);
unsigned long stats_value(const struct st_stats *s, const struct st_stat_field *f);

/* Writes s as the JSON members "sockets":{...},...,"cork":{...} (no braces
 * around them) into buf; returns the length it needed, as snprintf does. */
int stats_json_members(char *buf, unsigned long len, const struct st_stats *s);

/* The same members, each the rate (now - then) / seconds. */
int stats_json_rates(char *buf, unsigned long len, const struct st_stats *now,
		     const struct st_stats *then, double seconds);

/* A snapshot of from, counter by counter: other threads (the bound's too)
 * may still count while it is taken. */
void stats_snapshot(struct st_stats *to, const struct st_stats *from);

/* Adds fd's TCP_INFO figures to the totals. */
void stats_tcp_collect(int fd);

/* At exit: collects the TCP sockets still open, then appends the JSON
 * object to SOCKTUNE_STATS, in one write. */
void stats_report(void);

/* Formats the object into buf; returns its length (without the NUL). */
int stats_format(char *buf, unsigned long len);

void stats_reset(void);

#endif
