/* What an experiment prints: the Markdown tables, the CSV of every run
 * and the gnuplot script.  Writes to a FILE, runs nothing. */
#ifndef SOCKTUNE_CLI_REPORT_H
#define SOCKTUNE_CLI_REPORT_H

#include "experiment.h"

#include <stdio.h>

/* The swept keys of a sweep (none for ab), and the figure that picks the
 * best arm. */
struct sweep_keys {
	const char *names[ARM_ENV_MAX];
	int n;
	int by;
};

/* The table of an ab experiment: arms 0 (A) and 1 (B). */
void report_ab(FILE *out, const struct experiment *x);

/* The table of a sweep: arm 0 is the default, the others its rows. */
void report_sweep(FILE *out, const struct experiment *x, const struct sweep_keys *k);

/* The runs that failed, and the interruption if there was one. */
void report_failures(FILE *out, const struct experiment *x);

/* One CSV row per measured run.  Returns -1 on a write error. */
int report_csv(FILE *out, const struct experiment *x, const struct sweep_keys *k);

/* A gnuplot script drawing the experiment into png. */
void report_plot(FILE *out, const struct experiment *x, const struct sweep_keys *k,
		 const char *png);

#endif
