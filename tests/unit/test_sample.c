/* The statistics of an experiment: medians of odd and even counts, failed runs (NaN)
 * left out, and ratios taken pair by pair, which is not the ratio of the medians. */
#include "cli/sample.h"

#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#define N_OF(a) ((int)(sizeof(a) / sizeof((a)[0])))

static void assert_summary(const struct summary *s, int n, double median, double min, double max)
{
	cr_assert_eq(s->n, n, "n: got %d, want %d", s->n, n);
	cr_assert_float_eq(s->median, median, 1e-12, "median: got %g, want %g", s->median, median);
	cr_assert_float_eq(s->min, min, 1e-12, "min: got %g, want %g", s->min, min);
	cr_assert_float_eq(s->max, max, 1e-12, "max: got %g, want %g", s->max, max);
}

static void assert_empty(const struct summary *s)
{
	cr_assert_eq(s->n, 0, "n: got %d, want 0", s->n);
	cr_assert(isnan(s->median) && isnan(s->min) && isnan(s->max),
		  "an empty summary must be NaN: median %g min %g max %g", s->median, s->min, s->max);
}

Test(sample, median_of_an_odd_count_is_the_middle_value)
{
	const double v[] = { 7, 1, 3 };
	struct summary s;
	sample_summarize(&s, v, N_OF(v));
	assert_summary(&s, 3, 3, 1, 7);
}

Test(sample, median_of_an_even_count_is_the_mean_of_the_middle_two)
{
	const double v[] = { 10, 1, 4, 2 };
	struct summary s;
	sample_summarize(&s, v, N_OF(v));
	assert_summary(&s, 4, 3, 1, 10);
}

Test(sample, one_value_is_median_min_and_max)
{
	const double v[] = { 0.25 };
	struct summary s;
	sample_summarize(&s, v, 1);
	assert_summary(&s, 1, 0.25, 0.25, 0.25);
}

/* A failed run is NaN: it must neither count nor pull the median. */
Test(sample, nan_values_are_left_out)
{
	const double v[] = { NAN, 5, 1, NAN, 3, 1000 };
	struct summary s;
	sample_summarize(&s, v, N_OF(v));
	assert_summary(&s, 4, 4, 1, 1000);
	/* Control: the first five alone, NaNs included, have an odd count of values. */
	sample_summarize(&s, v, 5);
	assert_summary(&s, 3, 3, 1, 5);
}

Test(sample, all_nan_gives_an_empty_summary)
{
	const double v[] = { NAN, NAN, NAN };
	struct summary s;
	sample_summarize(&s, v, N_OF(v));
	assert_empty(&s);
}

Test(sample, no_values_gives_an_empty_summary)
{
	const double v[] = { 1 };
	struct summary s;
	sample_summarize(&s, v, 0);
	assert_empty(&s);
}

Test(sample, summarize_does_not_change_its_input)
{
	const double v[] = { 9, NAN, 2, 8, 1, 5 };
	double copy[N_OF(v)];
	memcpy(copy, v, sizeof v);
	struct summary s;
	sample_summarize(&s, copy, N_OF(copy));
	cr_assert_eq(memcmp(copy, v, sizeof v), 0, "the input was reordered or changed");
	assert_summary(&s, 5, 5, 1, 9);
}

/* B/A per pair: ratios 3, 1, 10, median 3; the medians' ratio would be 10/10 = 1. */
Test(sample, ratios_are_the_median_of_pair_ratios_not_the_ratio_of_medians)
{
	const double a[] = { 1, 10, 100 }, b[] = { 3, 10, 1000 };
	struct summary s, ma, mb;
	sample_ratios(&s, a, b, N_OF(a));
	assert_summary(&s, 3, 3, 1, 10);
	sample_summarize(&ma, a, N_OF(a));
	sample_summarize(&mb, b, N_OF(b));
	cr_assert_float_neq(mb.median / ma.median, s.median, 1e-9, "the example does not tell them apart");
}

Test(sample, ratios_of_an_even_count_take_the_mean_of_the_middle_two)
{
	const double a[] = { 2, 2, 2, 2 }, b[] = { 1, 8, 2, 4 };
	struct summary s;
	sample_ratios(&s, a, b, N_OF(a));
	assert_summary(&s, 4, 1.5, 0.5, 4);
}

Test(sample, ratios_drop_a_pair_with_nan_in_a)
{
	const double a[] = { 2, NAN, 4 }, b[] = { 4, 100, 4 };
	struct summary s;
	sample_ratios(&s, a, b, N_OF(a));
	assert_summary(&s, 2, 1.5, 1, 2);
}

Test(sample, ratios_drop_a_pair_with_nan_in_b)
{
	const double a[] = { 2, 1, 4 }, b[] = { 4, NAN, 4 };
	struct summary s;
	sample_ratios(&s, a, b, N_OF(a));
	assert_summary(&s, 2, 1.5, 1, 2);
}

/* A zero denominator has no ratio (A made no segments, say): drop it, do not make inf. */
Test(sample, ratios_drop_a_pair_whose_a_is_zero)
{
	const double a[] = { 2, 0, 4 }, b[] = { 4, 5, 4 };
	struct summary s;
	sample_ratios(&s, a, b, N_OF(a));
	assert_summary(&s, 2, 1.5, 1, 2);
	cr_assert(isfinite(s.max), "max is %g", s.max);
}

/* Only the denominator matters: B = 0 is a real ratio of 0. */
Test(sample, ratios_keep_a_pair_whose_b_is_zero)
{
	const double a[] = { 2, 5, 4 }, b[] = { 4, 0, 4 };
	struct summary s;
	sample_ratios(&s, a, b, N_OF(a));
	assert_summary(&s, 3, 1, 0, 2);
}

Test(sample, ratios_with_no_valid_pair_are_empty)
{
	const double a[] = { NAN, 0, 3 }, b[] = { 1, 1, NAN };
	struct summary s;
	sample_ratios(&s, a, b, N_OF(a));
	assert_empty(&s);
}

Test(sample, ratios_do_not_change_their_inputs)
{
	const double a[] = { 4, NAN, 1, 2, 0 }, b[] = { 1, 3, 9, 2, 7 };
	double ca[N_OF(a)], cb[N_OF(b)];
	memcpy(ca, a, sizeof a);
	memcpy(cb, b, sizeof b);
	struct summary s;
	sample_ratios(&s, ca, cb, N_OF(a));
	cr_assert_eq(memcmp(ca, a, sizeof a), 0, "a was changed");
	cr_assert_eq(memcmp(cb, b, sizeof b), 0, "b was changed");
	assert_summary(&s, 3, 1, 0.25, 9);
}
