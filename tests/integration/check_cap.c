/* check_cap.c: `socktune check` shows the send buffer a unix stream socket really gets
 * under the running kernel's net.core.wmem_max, and, only when the cap bites, the
 * commands that lift it (now, and at every boot). The sysctl is global and shared with
 * every other test on the machine, so these tests never change it: they ask, through
 * SOCKTUNE_SNDBUF, for more than the current cap (it always bites) and for less (it
 * never does). */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "run.h"

static long wmem_max(void)
{
	return it_read_long("/proc/sys/net/core/wmem_max");
}

/* Runs `socktune check` asking BYTES for every socket; skips the test when the cap
 * changed while it ran (another program on the machine set it), since the figures
 * would then belong to neither value. Returns the cap it ran under. */
static long check_asking(struct it_run *r, long bytes)
{
	char env[64];
	snprintf(env, sizeof(env), "SOCKTUNE_SNDBUF=%ld", bytes);
	long before = wmem_max();
	it_run(r, IT_LIST(it_bin(), "check"), IT_LIST(env), 0);
	long after = wmem_max();
	if (before != after)
		cr_skip_test("net.core.wmem_max changed from %ld to %ld during the run", before, after);
	return before;
}

/* The number after the first NEEDLE in TEXT, or -1. */
static long number_after(const char *text, const char *needle)
{
	const char *p = strstr(text, needle);
	return p ? strtol(p + strlen(needle), NULL, 10) : -1;
}

Test(check_cap, a_capped_ask_shows_the_effective_buffer_and_the_fix)
{
	long max = wmem_max();
	if (max <= 0)
		cr_skip_test("/proc/sys/net/core/wmem_max is not readable");
	if (max >= (1L << 30))
		cr_skip_test("wmem_max %ld leaves no size socktune accepts above it", max);
	long ask = max + 65536;
	struct it_run r;
	max = check_asking(&r, ask);
	it_assert_ran(&r);
	char want[96];
	/* Linux keeps twice what it allows: min(ask, wmem_max) * 2. */
	snprintf(want, sizeof(want), "asked %ld (", ask);
	cr_assert_not_null(strstr(r.out, want), "no \"%s\" line:\n%s", want, r.out);
	snprintf(want, sizeof(want), "effective %ld: capped by net.core.wmem_max = %ld", 2 * max, max);
	cr_assert_not_null(strstr(r.out, want), "no \"%s\":\n%s", want, r.out);
	long now = number_after(r.out, "to lift the cap now: sysctl -w net.core.wmem_max=");
	cr_assert_geq(now, ask, "the command that lifts the cap now names %ld, below the %ld asked:\n%s",
		      now, ask, r.out);
	long boot = number_after(r.out, "echo 'net.core.wmem_max = ");
	cr_assert_geq(boot, ask, "the persistent fix names %ld, below the %ld asked:\n%s", boot, ask,
		      r.out);
	cr_assert_not_null(strstr(r.out, "/etc/sysctl.d/"), "no persistent fix in /etc/sysctl.d:\n%s",
			   r.out);
	it_run_free(&r);
}

Test(check_cap, an_ask_under_the_cap_prints_no_fix)
{
	long max = wmem_max();
	if (max <= 0)
		cr_skip_test("/proc/sys/net/core/wmem_max is not readable");
	long ask = max / 2;
	if (ask < 8192)
		cr_skip_test("wmem_max %ld is too small to ask for less", max);
	struct it_run r;
	check_asking(&r, ask);
	it_assert_ran(&r);
	char want[96];
	snprintf(want, sizeof(want), "effective %ld: not capped", 2 * ask);
	cr_assert_not_null(strstr(r.out, want), "no \"%s\":\n%s", want, r.out);
	cr_assert_null(strstr(r.out, "sysctl -w net.core.wmem_max"), "a fix is printed for no cap:\n%s",
		       r.out);
	cr_assert_null(strstr(r.out, "/etc/sysctl.d/"), "a persistent fix is printed for no cap:\n%s",
		       r.out);
	it_run_free(&r);
}
