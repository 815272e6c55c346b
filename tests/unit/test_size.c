/* Sizes and switches as users write them. */
#include "size.h"

#include <criterion/criterion.h>

static long parsed(const char *text)
{
	long v = 12345;
	cr_assert_eq(size_parse(text, &v), 0, "\"%s\" should parse", text);
	return v;
}

Test(size, plain_bytes) { cr_assert_eq(parsed("65536"), 65536); }
Test(size, suffixes_are_binary_and_case_blind)
{
	cr_assert_eq(parsed("512K"), 512L << 10);
	cr_assert_eq(parsed("512k"), 512L << 10);
	cr_assert_eq(parsed("2M"), 2L << 20);
	cr_assert_eq(parsed("2MiB"), 2L << 20);
	cr_assert_eq(parsed("2mb"), 2L << 20);
	cr_assert_eq(parsed("1G"), 1L << 30);
}
Test(size, words) {
	cr_assert_eq(parsed("default"), ST_DEFAULT);
	cr_assert_eq(parsed("AUTO"), ST_AUTO);
}
Test(size, rejects_nonsense)
{
	const char *bad[] = {"", "0", "-1", "2Q", "2M2", "K", " 2M", "2 M", "1.5M", "2G",
			     "99999999999999999999", "auto2", "0x100"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		long v = 7;
		cr_assert_eq(size_parse(bad[i], &v), -1, "\"%s\" should be refused", bad[i]);
		cr_assert_eq(v, 7, "a refused size must not change the output");
	}
}
Test(size, upper_bound_is_one_gib) {
	long v;
	cr_assert_eq(size_parse("1073741824", &v), 0);
	cr_assert_eq(size_parse("1073741825", &v), -1);
}
Test(size, format_round_trips)
{
	char buf[32];
	long values[] = {1, 100, 1536L << 10, 2L << 20, 1L << 30, ST_AUTO, ST_DEFAULT};
	for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
		size_format(values[i], buf, sizeof(buf));
		cr_assert_eq(parsed(buf), values[i], "%ld formatted as %s", values[i], buf);
	}
	size_format(2L << 20, buf, sizeof(buf));
	cr_assert_str_eq(buf, "2M");
}
Test(switch, spellings)
{
	int v;
	const char *on[] = {"on", "true", "YES", "1"}, *off[] = {"off", "False", "no", "0"};
	for (int i = 0; i < 4; i++) {
		cr_assert_eq(switch_parse(on[i], 0, &v), 0);
		cr_assert_eq(v, 1, "%s", on[i]);
		cr_assert_eq(switch_parse(off[i], 0, &v), 0);
		cr_assert_eq(v, 0, "%s", off[i]);
	}
	cr_assert_eq(switch_parse("default", 0, &v), -1, "default only where allowed");
	cr_assert_eq(switch_parse("default", 1, &v), 0);
	cr_assert_eq(v, ST_DEFAULT);
	cr_assert_eq(switch_parse("maybe", 1, &v), -1);
}
