/* The write family.  In this version they only pass through: merging and
 * corking come later and start here.  What they cost when nothing tunes the
 * socket is the point of bench/writeloop: one branch on the mode. */
#include "state.h"

SOCKTUNE_HOOK ssize_t write(int fd, const void *buf, size_t len)
{
	st_mode();
	return real.write(fd, buf, len);
}

SOCKTUNE_HOOK ssize_t send(int fd, const void *buf, size_t len, int flags)
{
	st_mode();
	return real.send(fd, buf, len, flags);
}
