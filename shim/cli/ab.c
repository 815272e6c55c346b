/* `socktune ab` and `socktune sweep`: the A/B experiment as a command.
 * This file reads the arguments and builds the arms; experiment.c runs
 * them and report.c prints what they measured. */
#include "cli.h"
#include "experiment.h"
#include "report.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define RUNS_MAX 1000
#define ARMS_MAX 256

static const char ab_usage[] =
	"usage: socktune ab [OPTION]... [--] COMMAND [ARG]...\n"
	"\n"
	"Run COMMAND again and again, interleaved A B A B ...: A with SOCKTUNE=observe\n"
	"(nothing tuned; socktune only counts) and B with SOCKTUNE=on (tuned as\n"
	"configured).  Print, for each arm, the median, min and max of the wall, user\n"
	"and sys times and of socktune's figures (TCP segments and bytes, TLS records,\n"
	"merges, corked writes, pushes), and B/A taken pair by pair.\n"
	"\n"
	"  -n RUNS          measured runs of each arm (default 5, at most 1000)\n"
	"  -w ROUNDS        warm-up rounds first, not counted (default 1)\n"
	"  -c FILE          also read FILE, after the system and user files\n"
	"  -o KEY=VALUE     set KEY for every socket, as `socktune -o` does (B applies\n"
	"                   it, A only observes); see `socktune --help` for the keys\n"
	"      --csv FILE   write every measured run to FILE as CSV\n"
	"      --plot FILE  draw B/A per figure into FILE, a PNG, with gnuplot\n"
	"  -h, --help       show this help\n"
	"\n"
	"COMMAND runs in a process group of its own, with stdin from /dev/null; a run\n"
	"ends when the last process of its group has.  A run that fails is listed and\n"
	"left out of every median and ratio.  Progress goes to stderr when it is a\n"
	"terminal.  Ctrl-C stops the run in progress (its group gets SIGTERM, then\n"
	"SIGKILL after 2 s) and prints what was measured.\n"
	"\n"
	"Exit status: 0 when every run succeeded, 1 when one failed, 2 for a usage\n"
	"error, 125 if the library is missing, 126 or 127 when COMMAND cannot run,\n"
	"128+N when stopped by signal N.  See socktune(1).\n";

static const char sweep_usage[] =
	"usage: socktune sweep -o KEY=V1,V2,... [-o KEY=V1,...]... [OPTION]... [--]\n"
	"                      COMMAND [ARG]...\n"
	"\n"
	"Run COMMAND once per value (with more than one -o, per combination of values:\n"
	"the first -o varies slowest) with SOCKTUNE=on, and once more as the default\n"
	"row with SOCKTUNE=observe (nothing tuned), round after round.  Print one row\n"
	"each: the median wall time with its min and max, the median user and sys\n"
	"times, the ratio to default taken pair by pair, and socktune's figures.  The\n"
	"best row is marked.\n"
	"\n"
	"  -o KEY=V1,V2,... the values of KEY to sweep; see `socktune --help` for the\n"
	"                   keys and their values\n"
	"  -n RUNS          measured runs of each row (default 5, at most 1000)\n"
	"  -w ROUNDS        warm-up rounds first, not counted (default 1)\n"
	"  -c FILE          also read FILE, after the system and user files\n"
	"      --by FIGURE  what \"best\" means: the lowest median of wall_s (default),\n"
	"                   user_s, sys_s, tcp_segments, tcp_bytes, tls_records, ...\n"
	"                   (the CSV columns)\n"
	"      --csv FILE   write every measured run to FILE as CSV\n"
	"      --plot FILE  draw the wall and CPU times per row into FILE, a PNG, with\n"
	"                   gnuplot\n"
	"  -h, --help       show this help\n"
	"\n"
	"COMMAND runs as under `socktune ab`: its own process group, stdin from\n"
	"/dev/null, failed runs listed and left out, progress on a terminal, Ctrl-C\n"
	"stops it and prints what was measured.  The exit status is as for ab.\n"
	"See socktune(1).\n";

struct args {
	const char *name;
	int runs, warmup;
	const char *csv, *plot;
	int by;
	const char *env[ARM_ENV_MAX]; /* ab: the -o settings */
	int nenv;
	struct sweep_keys keys;       /* sweep: the keys, and each key's values */
	char **values[ARM_ENV_MAX];
	int nvalues[ARM_ENV_MAX];
};

static int usage_error(const struct args *a, const char *fmt, const char *what)
{
	fprintf(stderr, "socktune %s: ", a->name);
	fprintf(stderr, fmt, what);
	fprintf(stderr, "\nTry 'socktune %s --help'.\n", a->name);
	return -1;
}

static int parse_count(const struct args *a, const char *opt, const char *s, int min, int *out)
{
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < min || v > RUNS_MAX) {
		fprintf(stderr, "socktune %s: %s %s: expected a whole number from %d to %d\n",
			a->name, opt, s, min, RUNS_MAX);
		return -1;
	}
	*out = (int)v;
	return 0;
}

static char *env_entry(const char *key, const char *value)
{
	const char *name = conf_env_name(key);
	size_t n = strlen(name) + strlen(value) + 2;
	char *e = malloc(n);
	if (e)
		snprintf(e, n, "%s=%s", name, value);
	return e;
}

/* KEY=VALUE (ab) or KEY=V1,V2,... (sweep), each value checked now so a
 * typo stops before the first run, not inside every one. */
static int parse_option(struct args *a, char *arg, int sweep)
{
	char *eq = strchr(arg, '=');
	if (!eq || eq == arg)
		return usage_error(a, "-o %s: expected KEY=VALUE", arg);
	*eq = '\0';
	const char *key = arg;
	if (!strcmp(key, "mode") || !strcmp(key, "stats")) {
		fprintf(stderr, "socktune %s: -o %s: set by socktune %s itself for each run\n",
			a->name, key, a->name);
		return -1;
	}
	if (!sweep) {
		if (cli_option_valid(key, eq + 1, "-o") < 0)
			return -1;
		if (a->nenv == ARM_ENV_MAX)
			return usage_error(a, "%s", "too many -o options");
		a->env[a->nenv++] = env_entry(key, eq + 1);
		return 0;
	}
	for (int i = 0; i < a->keys.n; i++)
		if (!strcmp(a->keys.names[i], key))
			return usage_error(a, "-o %s given twice: list its values in one -o", key);
	if (a->keys.n == ARM_ENV_MAX)
		return usage_error(a, "%s", "too many -o options");
	int k = a->keys.n;
	char **values = calloc(strlen(eq + 1) + 2, sizeof(*values));
	int n = 0;
	if (!values)
		return -1;
	for (char *save = NULL, *v = strtok_r(eq + 1, ",", &save); v;
	     v = strtok_r(NULL, ",", &save)) {
		if (cli_option_valid(key, v, "-o") < 0)
			return -1;
		values[n++] = v;
	}
	if (!n)
		return usage_error(a, "-o %s=: no values to sweep", key);
	a->keys.names[k] = key;
	a->values[k] = values;
	a->nvalues[k] = n;
	a->keys.n++;
	return 0;
}

static int in_path(const char *program)
{
	const char *path = getenv("PATH");
	char file[PATH_MAX];
	if (!path)
		return 0;
	for (const char *p = path; *p;) {
		size_t n = strcspn(p, ":");
		if (n && n + strlen(program) + 2 < sizeof(file)) {
			snprintf(file, sizeof(file), "%.*s/%s", (int)n, p, program);
			if (access(file, X_OK) == 0)
				return 1;
		}
		p += n + (p[n] == ':');
	}
	return 0;
}

/* Returns the index of COMMAND in argv, or -1 after a message. */
static int parse(struct args *a, int argc, char **argv, int sweep)
{
	enum { OPT_CSV = 256, OPT_PLOT, OPT_BY };
	static const struct option longopts[] = {
		{"csv", required_argument, NULL, OPT_CSV},
		{"plot", required_argument, NULL, OPT_PLOT},
		{"by", required_argument, NULL, OPT_BY},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	int c;
	a->runs = 5;
	a->warmup = 1;
	a->by = FIG_WALL;
	while ((c = getopt_long(argc, argv, "+n:w:c:o:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'n':
			if (parse_count(a, "-n", optarg, 1, &a->runs) < 0)
				return -1;
			break;
		case 'w':
			if (parse_count(a, "-w", optarg, 0, &a->warmup) < 0)
				return -1;
			break;
		case 'c': {
			/* Absolute, so a COMMAND that changes directory reads it too. */
			char *abs = realpath(optarg, NULL);
			if (!abs || access(abs, R_OK) < 0) {
				fprintf(stderr, "socktune %s: %s: %s\n", a->name, optarg,
					strerror(errno));
				return -1;
			}
			setenv("SOCKTUNE_CONFIG", abs, 1);
			free(abs);
			break;
		}
		case 'o':
			if (parse_option(a, optarg, sweep) < 0)
				return -1;
			break;
		case OPT_CSV:
			a->csv = optarg;
			break;
		case OPT_PLOT:
			a->plot = optarg;
			break;
		case OPT_BY:
			if (!sweep)
				return usage_error(a, "%s", "--by is for sweep: ab has no best row");
			if ((a->by = figure_by_name(optarg)) < 0)
				return usage_error(a, "--by %s: expected a CSV column: wall_s, "
						      "user_s, sys_s, tcp_segments, tcp_bytes, ...",
						   optarg);
			break;
		case 'h':
			fputs(sweep ? sweep_usage : ab_usage, stdout);
			exit(0);
		default:
			fprintf(stderr, "Try 'socktune %s --help'.\n", a->name);
			return -1;
		}
	}
	if (sweep && !a->keys.n)
		return usage_error(a, "%s", "nothing to sweep: give -o KEY=V1,V2,...");
	if (optind >= argc)
		return usage_error(a, "%s", "no command given");
	if (a->plot && !in_path("gnuplot")) {
		fprintf(stderr, "socktune %s: --plot needs gnuplot, which is not installed "
				"(Debian: apt-get install gnuplot-nox; Fedora: dnf install "
				"gnuplot)\n",
			a->name);
		return -1;
	}
	return optind;
}

static int build_ab(struct experiment *x, const struct args *a)
{
	x->narms = 2;
	x->arms = calloc(2, sizeof(*x->arms));
	if (!x->arms)
		return -1;
	x->arms[0].label = "A";
	x->arms[0].mode = "observe";
	x->arms[1].label = "B";
	x->arms[1].mode = "on";
	for (int arm = 0; arm < 2; arm++) {
		memcpy(x->arms[arm].env, a->env, sizeof(a->env));
		x->arms[arm].nenv = a->nenv;
	}
	return 0;
}

/* The default row, then every combination of the swept values, the
 * first key varying slowest. */
static int build_sweep(struct experiment *x, const struct args *a)
{
	long n = 1;
	for (int k = 0; k < a->keys.n; k++)
		if ((n *= a->nvalues[k]) > ARMS_MAX) {
			fprintf(stderr, "socktune sweep: more than %d combinations\n", ARMS_MAX);
			return -1;
		}
	x->narms = (int)n + 1;
	x->arms = calloc((size_t)x->narms, sizeof(*x->arms));
	if (!x->arms)
		return -1;
	x->arms[0].label = "default";
	x->arms[0].mode = "observe";
	for (int i = 0; i < n; i++) {
		struct arm *arm = &x->arms[i + 1];
		char label[1024] = "";
		size_t o = 0;
		arm->mode = "on";
		for (int k = a->keys.n - 1, rest = i; k >= 0; k--) {
			arm->values[k] = a->values[k][rest % a->nvalues[k]];
			rest /= a->nvalues[k];
		}
		for (int k = 0; k < a->keys.n; k++) {
			o += (size_t)snprintf(label + o, o < sizeof(label) ? sizeof(label) - o : 0,
					      "%s%s=%s", k ? "," : "", a->keys.names[k],
					      arm->values[k]);
			arm->env[arm->nenv++] = env_entry(a->keys.names[k], arm->values[k]);
		}
		arm->label = strdup(label);
	}
	return 0;
}

static int draw(const struct experiment *x, const struct sweep_keys *k, const char *png)
{
	FILE *gp = popen("gnuplot", "w");
	if (!gp) {
		fprintf(stderr, "socktune %s: gnuplot: %s\n", x->name, strerror(errno));
		return -1;
	}
	report_plot(gp, x, k, png);
	if (pclose(gp) != 0) {
		fprintf(stderr, "socktune %s: gnuplot could not draw %s (its message is above)\n",
			x->name, png);
		return -1;
	}
	return 0;
}

static int experiment_main(int argc, char **argv, int sweep)
{
	struct args a;
	struct experiment x;
	memset(&a, 0, sizeof(a));
	memset(&x, 0, sizeof(x));
	a.name = x.name = sweep ? "sweep" : "ab";
	int cmd = parse(&a, argc, argv, sweep);
	if (cmd < 0)
		return 2;

	x.lib = cli_library_path();
	if (access(x.lib, R_OK) < 0) {
		fprintf(stderr, "socktune %s: the library %s: %s; is socktune installed?\n",
			x.name, x.lib, strerror(errno));
		return 125;
	}
	FILE *csv = NULL;
	if (a.csv && !(csv = fopen(a.csv, "w"))) {
		fprintf(stderr, "socktune %s: --csv %s: %s\n", x.name, a.csv, strerror(errno));
		return 2;
	}
	if ((sweep ? build_sweep(&x, &a) : build_ab(&x, &a)) < 0)
		return 2;
	a.keys.by = a.by;
	x.argv = argv + cmd;
	x.rounds = a.runs;
	x.warmup = a.warmup;
	x.progress = isatty(2);
	x.runs = calloc((size_t)(x.rounds * x.narms), sizeof(*x.runs));
	if (!x.runs) {
		perror("socktune");
		return 1;
	}
	int ret = experiment_run(&x);
	if (ret) {
		if (csv)
			fclose(csv);
		if (a.csv)
			unlink(a.csv);
		return ret;
	}

	if (sweep)
		report_sweep(stdout, &x, &a.keys);
	else
		report_ab(stdout, &x);
	report_failures(stdout, &x);
	fflush(stdout);
	if (csv && (report_csv(csv, &x, &a.keys) < 0 || fclose(csv) != 0)) {
		fprintf(stderr, "socktune %s: --csv %s: %s\n", x.name, a.csv, strerror(errno));
		ret = 1;
	}
	if (a.plot && draw(&x, &a.keys, a.plot) < 0)
		ret = 1;
	if (x.interrupted)
		return 128 + x.interrupted;
	for (int i = 0; i < x.rounds * x.narms; i++)
		if (x.runs[i].done && x.runs[i].status != 0)
			ret = 1;
	return ret;
}

int cli_ab(int argc, char **argv)
{
	return experiment_main(argc, argv, 0);
}

int cli_sweep(int argc, char **argv)
{
	return experiment_main(argc, argv, 1);
}
