/* iovec coalescing, pure: the rewrite that writev and sendmsg hand to the
 * kernel in place of the caller's array.  No allocation, no lock, no system
 * call, so it is safe in any hook and testable on its own. */
#ifndef SOCKTUNE_IOV_H
#define SOCKTUNE_IOV_H

#include <stddef.h>
#include <sys/uio.h>

/* Copies each run of two or more adjacent iovecs of at most `small` bytes
 * into one piece of buf (cap bytes in all; a run that does not fit stays as
 * it is) and writes the resulting array to out, which has room for n
 * entries.  The bytes and their order are the same.  Returns the number of
 * entries in out and the bytes copied in *copied; n means nothing merged,
 * and then out is left unwritten: the caller sends `in` as it is. */
int iov_coalesce(const struct iovec *in, int n, size_t small, char *buf, size_t cap,
		 struct iovec *out, size_t *copied);

/* Where iov_coalesce would begin its first run: the index of the first of
 * two adjacent iovecs it would copy together, or n when it would copy
 * nothing.  Lets a caller decide before it sets aside buf and out. */
int iov_first_run(const struct iovec *in, int n, size_t small, size_t cap);

#endif
