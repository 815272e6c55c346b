/* What one run of an experiment measured: the times from wait4 and the
 * figures the library wrote to SOCKTUNE_STATS.  Pure. */
#ifndef SOCKTUNE_CLI_FIGURES_H
#define SOCKTUNE_CLI_FIGURES_H

#include <stddef.h>

enum figure {
	FIG_WALL,    /* seconds, fork to the last process of the group reaped */
	FIG_USER,    /* seconds, every process of the group */
	FIG_SYS,     /* seconds */
	FIG_SEGS,    /* tcp.segs_out */
	FIG_BYTES,   /* tcp.bytes_sent */
	FIG_RECORDS, /* tls.records: TLS records written */
	FIG_MERGES,  /* merge.calls: writev/sendmsg calls whose iovecs were merged */
	FIG_HELD,    /* tls.held: small SSL_writes held and sent merged */
	FIG_CORKS,   /* cork.held: writes sent corked */
	FIG_PUSHES,  /* cork.pushes */
	FIG_COUNT
};

struct figure_info {
	const char *name;  /* the CSV column and the --by name */
	const char *label; /* the table row or column */
	const char *json;  /* "object.key" in a stats line; NULL for the times */
};

extern const struct figure_info figure_info[FIG_COUNT];

/* The figure whose CSV column is name; -1 when there is none. */
int figure_by_name(const char *name);

/* Adds the figures of every stats object in text (one JSON object per
 * line, as the library appends them) to v.  Lines that are not such an
 * object are skipped.  Returns the number of objects read. */
int figures_parse(double v[FIG_COUNT], const char *text, size_t len);

#endif
