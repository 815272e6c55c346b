/* iovec coalescing.  Only runs are merged: a lone small iovec between two
 * large ones gains nothing from a copy, and large ones are cheaper for the
 * kernel to take from where they are. */
#include "iov.h"

#include <string.h>

int iov_first_run(const struct iovec *in, int n, size_t small, size_t cap)
{
	/* Nothing is copied yet, so the whole of cap is room: the pair that
	 * fits it here is one the loop in iov_coalesce takes. */
	for (int i = 0; i + 1 < n; i++)
		if (in[i].iov_len <= small && in[i + 1].iov_len <= small &&
		    in[i].iov_len + in[i + 1].iov_len <= cap)
			return i;
	return n;
}

int iov_coalesce(const struct iovec *in, int n, size_t small, char *buf, size_t cap,
		 struct iovec *out, size_t *copied)
{
	size_t used = 0;
	int o = 0;

	/* Most calls that merge nothing have no two small neighbours at all:
	 * find that out without building a copy of the array. */
	int i = iov_first_run(in, n, small, cap);
	if (i == n) {
		*copied = 0;
		return n;
	}
	for (; o < i; o++)
		out[o] = in[o];

	while (i < n) {
		size_t room = cap - used, take = 0;
		int j = i;
		while (j < n && in[j].iov_len <= small && in[j].iov_len <= room - take)
			take += in[j++].iov_len;
		if (j - i < 2) {
			out[o++] = in[i++];
			continue;
		}
		out[o++] = (struct iovec){buf + used, take};
		for (; i < j; i++) {
			if (in[i].iov_len)
				memcpy(buf + used, in[i].iov_base, in[i].iov_len);
			used += in[i].iov_len;
		}
	}
	*copied = used;
	return o;
}
