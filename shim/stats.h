/* The figures: counters every hook may bump (atomics, no locks) and the
 * one JSON object each process appends at exit. */
#ifndef SOCKTUNE_STATS_H
#define SOCKTUNE_STATS_H

/* unsigned long: lock-free atomics everywhere; in a 32-bit process the byte
 * counters wrap at 4 GiB. */
struct st_stats {
	unsigned long seen, tuned;
	unsigned long fam_unix, fam_inet, fam_inet6;
	unsigned long client, server;
	unsigned long tuned_sndbuf, tuned_rcvbuf, tuned_nodelay;
	unsigned long kept_sndbuf, kept_rcvbuf, kept_nodelay;
	unsigned long failures, clamps;
	unsigned long tcp_connections, tcp_segs_out, tcp_bytes_sent, tcp_total_retrans;
	unsigned long merge_calls, merge_iov_in, merge_iov_out, merge_bytes;
	unsigned long tls_held, tls_flushes, tls_records, tls_bytes, tls_at_exit, tls_failures;
	unsigned long tls_late, tls_longest_us; /* bytes the bound sent; the longest hold */
	unsigned long cork_corked, cork_held, cork_pushes, cork_yielded, cork_late;
};

extern struct st_stats socktune_stats;

#define stat_add(field, n) __atomic_add_fetch(&socktune_stats.field, (n), __ATOMIC_RELAXED)
#define stat_inc(field) stat_add(field, 1)

/* Adds fd's TCP_INFO figures to the totals. */
void stats_tcp_collect(int fd);

/* At exit: collects the TCP sockets still open, then appends the JSON
 * object to SOCKTUNE_STATS, in one write. */
void stats_report(void);

/* Formats the object into buf; returns its length (without the NUL). */
int stats_format(char *buf, unsigned long len);

void stats_reset(void);

#endif
