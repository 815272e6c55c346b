/* Medians, extremes and pair-by-pair ratios.  A failed run is NaN, so
 * every function here skips NaN rather than letting it poison a median. */
#include "sample.h"

#include <math.h>
#include <stdlib.h>

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

/* Sorts the n values of v that are not NaN into tmp and summarises them. */
static void summarize_sorted(struct summary *out, double *tmp, int n)
{
	out->n = n;
	if (!n) {
		out->median = out->min = out->max = NAN;
		return;
	}
	qsort(tmp, (size_t)n, sizeof(*tmp), cmp_double);
	out->min = tmp[0];
	out->max = tmp[n - 1];
	out->median = n % 2 ? tmp[n / 2] : (tmp[n / 2 - 1] + tmp[n / 2]) / 2;
}

void sample_summarize(struct summary *out, const double *v, int n)
{
	double *tmp = malloc(sizeof(*tmp) * (size_t)(n > 0 ? n : 1));
	int k = 0;
	if (!tmp) {
		summarize_sorted(out, NULL, 0);
		return;
	}
	for (int i = 0; i < n; i++)
		if (!isnan(v[i]))
			tmp[k++] = v[i];
	summarize_sorted(out, tmp, k);
	free(tmp);
}

void sample_ratios(struct summary *out, const double *a, const double *b, int n)
{
	double *tmp = malloc(sizeof(*tmp) * (size_t)(n > 0 ? n : 1));
	int k = 0;
	if (!tmp) {
		summarize_sorted(out, NULL, 0);
		return;
	}
	for (int i = 0; i < n; i++)
		if (!isnan(a[i]) && !isnan(b[i]) && a[i] != 0)
			tmp[k++] = b[i] / a[i];
	summarize_sorted(out, tmp, k);
	free(tmp);
}
