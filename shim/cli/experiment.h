/* An experiment: COMMAND run again and again under each arm, interleaved,
 * each run in its own process group, its times and figures recorded. */
#ifndef SOCKTUNE_CLI_EXPERIMENT_H
#define SOCKTUNE_CLI_EXPERIMENT_H

#include "figures.h"

#define ARM_ENV_MAX 16

struct arm {
	char *label;                    /* "A", "B", "default", "sndbuf=64K" */
	const char *mode;               /* the SOCKTUNE value */
	const char *env[ARM_ENV_MAX];   /* "SOCKTUNE_KEY=VALUE" for this arm only */
	int nenv;
	const char *values[ARM_ENV_MAX]; /* sweep: each swept key's value; NULL in default */
};

struct run {
	int done;            /* measured (not skipped by an interrupt) */
	int status;          /* exit status, or 128 + the signal that killed it */
	int signal;          /* the signal that killed it, or 0 */
	double v[FIG_COUNT]; /* NaN when the run failed */
};

struct experiment {
	const char *name;    /* "ab" or "sweep", for messages */
	char *const *argv;   /* COMMAND */
	const char *lib;     /* the library to preload */
	struct arm *arms;
	int narms;
	int rounds, warmup;
	struct run *runs;    /* [round * narms + arm] */
	int interrupted;     /* the signal that stopped it, or 0 */
	int progress;        /* show progress on stderr */
};

static inline struct run *experiment_run_at(const struct experiment *x, int round, int arm)
{
	return &x->runs[round * x->narms + arm];
}

/* Runs the warm-up rounds, then the measured ones.  Returns 0 when it ran
 * to the end or was interrupted (x->interrupted says which); otherwise the
 * exit status for the caller: 126 or 127 when COMMAND cannot be run, 1
 * for a failure of socktune's own. */
int experiment_run(struct experiment *x);

#endif
