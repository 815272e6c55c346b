/* iovec coalescing: the same bytes in the same order, fewer entries, and
 * only where a run of small iovecs fits the buffer. */
#include "iov.h"
#include "size.h"

#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

static char *flatten(const struct iovec *v, int n, size_t *len)
{
	size_t total = 0;
	for (int i = 0; i < n; i++)
		total += v[i].iov_len;
	char *out = malloc(total + 1);
	size_t at = 0;
	for (int i = 0; i < n; i++) {
		memcpy(out + at, v[i].iov_base, v[i].iov_len);
		at += v[i].iov_len;
	}
	*len = total;
	return out;
}

static char data[20000];

static void fill(void)
{
	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (char)(i * 7 + i / 251);
}

static int run(const size_t *lens, int n, size_t small, size_t cap, struct iovec *out,
	       size_t *copied)
{
	struct iovec in[64];
	static char buf[8192];
	size_t at = 0;
	fill();
	for (int i = 0; i < n; i++) {
		in[i] = (struct iovec){data + at, lens[i]};
		at += lens[i];
	}
	int m = iov_coalesce(in, n, small, buf, cap, out, copied);
	size_t a, b;
	/* n back means "nothing merged: send in as it is"; out is not written. */
	char *want = flatten(in, n, &a), *got = flatten(m == n ? in : out, m, &b);
	cr_assert_eq(a, b, "byte count changed");
	cr_assert(!memcmp(want, got, a), "bytes changed or reordered");
	free(want);
	free(got);
	return m;
}

Test(iov, spice_message_becomes_one_piece)
{
	size_t lens[] = {8, 24, 100, 600};
	struct iovec out[4];
	size_t copied;
	cr_assert_eq(run(lens, 4, 1024, 4096, out, &copied), 1);
	cr_assert_eq(copied, 732);
}

Test(iov, only_runs_are_merged)
{
	size_t lens[] = {8, 5000, 8, 8, 8, 5000, 8};
	struct iovec out[7];
	size_t copied;
	int m = run(lens, 7, 1024, 4096, out, &copied);
	cr_assert_eq(m, 5, "8 | 5000 | 8+8+8 | 5000 | 8");
	cr_assert_eq(out[2].iov_len, 24);
	cr_assert_eq(copied, 24, "a lone small iovec is not copied");
	cr_assert_eq(out[1].iov_base, data + 8, "large iovecs are passed as they are");
}

Test(iov, nothing_to_merge_returns_n)
{
	size_t lens[] = {2000, 2000, 2000};
	struct iovec out[3];
	size_t copied;
	cr_assert_eq(run(lens, 3, 1024, 4096, out, &copied), 3);
	cr_assert_eq(copied, 0);
}

Test(iov, runs_stop_where_the_buffer_is_full)
{
	size_t lens[] = {1000, 1000, 1000, 1000, 1000, 1000};
	struct iovec out[6];
	size_t copied;
	int m = run(lens, 6, 1024, 4096, out, &copied);
	cr_assert_eq(m, 3, "4000 merged, then two that no longer fit (a run of 2 needs 2000)");
	cr_assert_eq(out[0].iov_len, 4000);
	cr_assert_eq(copied, 4000);
}

Test(iov, zero_length_iovecs_join_runs_and_are_never_read)
{
	struct iovec in[3] = {{NULL, 0}, {data, 8}, {NULL, 0}}, out[3];
	char buf[64];
	size_t copied;
	cr_assert_eq(iov_coalesce(in, 3, 64, buf, sizeof(buf), out, &copied), 1);
	cr_assert_eq(out[0].iov_len, 8);
	cr_assert_eq(copied, 8);
}

Test(iov, small_is_inclusive)
{
	size_t lens[] = {512, 512};
	struct iovec out[2];
	size_t copied;
	cr_assert_eq(run(lens, 2, 512, 4096, out, &copied), 1);
	cr_assert_eq(run(lens, 2, 511, 4096, out, &copied), 2);
}

Test(iov, random_layouts_keep_every_byte)
{
	srand(42);
	for (int round = 0; round < 2000; round++) {
		size_t lens[64];
		int n = 1 + rand() % 64;
		size_t total = 0;
		for (int i = 0; i < n; i++) {
			static const size_t pick[] = {0, 1, 8, 24, 100, 600, 1500, 4096};
			lens[i] = rand() % 3 ? pick[rand() % 8] : (size_t)(rand() % 300);
			if (total + lens[i] > sizeof(data))
				lens[i] = 0;
			total += lens[i];
		}
		struct iovec out[64];
		size_t copied;
		int m = run(lens, n, (size_t)(rand() % 4097), (size_t)(rand() % 8193), out, &copied);
		cr_assert_leq(m, n);
	}
}

Test(merge, parse)
{
	long v;
	cr_assert_eq(merge_parse("0", &v), 0);
	cr_assert_eq(v, 0);
	cr_assert_eq(merge_parse("off", &v), 0);
	cr_assert_eq(v, 0);
	cr_assert_eq(merge_parse("1K", &v), 0);
	cr_assert_eq(v, 1024);
	cr_assert_eq(merge_parse("4096", &v), 0);
	cr_assert_eq(merge_parse("4097", &v), -1, "above the stack buffer");
	cr_assert_eq(merge_parse("8K", &v), -1);
	cr_assert_eq(merge_parse("auto", &v), -1);
	cr_assert_eq(merge_parse("default", &v), -1);
	cr_assert_eq(merge_parse("lots", &v), -1);
}

/* The write hooks ask iov_first_run before they set aside a merge buffer:
 * it must say "nothing to copy" exactly when iov_coalesce would copy
 * nothing, and otherwise where its first merged piece begins. */
Test(iov, first_run_is_where_coalesce_begins)
{
	srand(43);
	static char buf[8192];
	for (int round = 0; round < 2000; round++) {
		struct iovec in[64], out[64];
		int n = rand() % 65;
		for (int i = 0; i < n; i++) {
			static const size_t pick[] = {0, 1, 8, 24, 100, 600, 1500, 4096};
			in[i] = (struct iovec){data, rand() % 2 ? pick[rand() % 8] : (size_t)(rand() % 300)};
		}
		size_t small = (size_t)(rand() % 4097), cap = (size_t)(rand() % 8193), copied;
		int first = iov_first_run(in, n, small, cap);
		int m = iov_coalesce(in, n, small, buf, cap, out, &copied);
		cr_assert_eq(first < n, m < n, "round %d: first run %d, %d of %d entries", round, first, m, n);
		if (first == n)
			continue;
		for (int i = 0; i < first; i++)
			cr_assert_eq(out[i].iov_len, in[i].iov_len, "round %d: entry %d moved", round, i);
		cr_assert_eq(out[first].iov_base, buf, "round %d: the first copy is not at %d", round, first);
	}
}
