/* The statistics of an experiment: medians, extremes and pair-by-pair
 * ratios.  Pure.  A run that failed is NaN in every figure, so it is left
 * out of a summary instead of being averaged in. */
#ifndef SOCKTUNE_CLI_SAMPLE_H
#define SOCKTUNE_CLI_SAMPLE_H

struct summary {
	int n; /* values summarised; 0 means median, min and max are NaN */
	double median, min, max;
};

/* Summarises the values of v[0..n) that are not NaN.  v is not changed.
 * The median of an even count is the mean of the middle two. */
void sample_summarize(struct summary *out, const double *v, int n);

/* Summarises the ratios b[i] / a[i] over the pairs where neither is NaN
 * and a[i] is not 0. */
void sample_ratios(struct summary *out, const double *a, const double *b, int n);

#endif
