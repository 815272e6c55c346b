/* The platform table: what "auto" means for each kind of socket on each
 * system.  Pure, so `socktune check` prints the same table the library
 * applies. */
#ifndef SOCKTUNE_PLATFORM_H
#define SOCKTUNE_PLATFORM_H

#include "rule.h"

/* QEMU's choice for NBD over unix sockets (seed 000). */
#define ST_UNIX_STREAM_BUF (2L << 20)

/* Replaces ST_AUTO in o's buffer sizes with the platform's value for a
 * socket of this family and type, or ST_DEFAULT where the platform table
 * leaves the kernel alone. */
void platform_resolve(struct st_opts *o, unsigned family, unsigned type);

/* What cork = auto | on becomes here: auto needs MSG_MORE and TCP_CORK's
 * timer (Linux); FreeBSD's TCP_NOPUSH has no timer, so only on; macOS's
 * TCP_NOPUSH is broken, so nothing. */
int platform_cork(int cork);
extern const char *const platform_cork_note;

/* The system this was built for: "Linux", "macOS", "FreeBSD" or "other". */
const char *platform_name(void);

/* One line per table row, for `socktune check` and the docs. */
struct platform_row {
	const char *socket;
	const char *sndbuf, *rcvbuf;
	const char *why;
};
extern const struct platform_row platform_rows[];
extern const int platform_nrows;

#endif
