/* The experiment's results as Markdown, CSV and a gnuplot script.  Every
 * median, extreme and ratio comes from sample.c over the runs that
 * finished and succeeded; a failed run is listed, never averaged in. */
#include "report.h"

#include "sample.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* The values of figure f over the measured rounds of arm; NaN where the
 * run failed or never ran.  v has x->rounds slots. */
static void column(const struct experiment *x, int arm, int f, double *v)
{
	for (int i = 0; i < x->rounds; i++) {
		const struct run *r = experiment_run_at(x, i, arm);
		v[i] = r->done ? r->v[f] : NAN;
	}
}

static void summarize(const struct experiment *x, int arm, int f, struct summary *s)
{
	double *v = calloc((size_t)x->rounds, sizeof(*v));
	if (!v) {
		sample_summarize(s, NULL, 0);
		return;
	}
	column(x, arm, f, v);
	sample_summarize(s, v, x->rounds);
	free(v);
}

/* Arm b against arm a, round by round. */
static void ratios(const struct experiment *x, int a, int b, int f, struct summary *s)
{
	double *va = calloc((size_t)x->rounds, sizeof(*va));
	double *vb = calloc((size_t)x->rounds, sizeof(*vb));
	if (va && vb) {
		column(x, a, f, va);
		column(x, b, f, vb);
		sample_ratios(s, va, vb, x->rounds);
	} else {
		sample_ratios(s, NULL, NULL, 0);
	}
	free(va);
	free(vb);
}

/* Counters that stayed 0 in every run of every arm say nothing. */
static int figure_shown(const struct experiment *x, int f)
{
	if (f <= FIG_SYS)
		return 1;
	for (int i = 0; i < x->rounds * x->narms; i++)
		if (x->runs[i].done && !isnan(x->runs[i].v[f]) && x->runs[i].v[f] != 0)
			return 1;
	return 0;
}

static const char *value(char *buf, size_t len, int f, double v)
{
	if (isnan(v))
		snprintf(buf, len, "-");
	else if (f <= FIG_SYS)
		snprintf(buf, len, "%.3f", v);
	else if (v == floor(v))
		snprintf(buf, len, "%.0f", v);
	else
		snprintf(buf, len, "%.1f", v);
	return buf;
}

static const char *ratio(char *buf, size_t len, double v)
{
	if (isnan(v))
		snprintf(buf, len, "-");
	else
		snprintf(buf, len, "%.3fx", v);
	return buf;
}

/* COMMAND as a shell would take it back, inside Markdown backticks. */
static void print_command(FILE *out, const struct experiment *x)
{
	fputs("Command: `", out);
	for (int i = 0; x->argv[i]; i++) {
		const char *a = x->argv[i];
		if (i)
			fputc(' ', out);
		if (a[0] && !a[strspn(a, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
				     "0123456789_-+=/.,:@%")]) {
			fputs(a, out);
			continue;
		}
		fputc('\'', out);
		for (; *a; a++)
			if (*a == '\'')
				fputs("'\\''", out);
			else
				fputc(*a, out);
		fputc('\'', out);
	}
	fputs("`\n", out);
}

static int ok_runs(const struct experiment *x, int arm)
{
	int n = 0;
	for (int i = 0; i < x->rounds; i++) {
		const struct run *r = experiment_run_at(x, i, arm);
		n += r->done && r->status == 0;
	}
	return n;
}

static const char *plural(int n)
{
	return n == 1 ? "" : "s";
}

void report_ab(FILE *out, const struct experiment *x)
{
	char b[9][32];

	fprintf(out, "A: SOCKTUNE=observe, nothing tuned.  B: SOCKTUNE=on");
	for (int i = 0; i < x->arms[1].nenv; i++)
		fprintf(out, "%s%s", i ? " " : " with ", x->arms[1].env[i]);
	fprintf(out, ".\n%d run%s of each, interleaved A B A B ... after %d warm-up round%s; "
		     "B/A is taken pair by pair.\n",
		x->rounds, plural(x->rounds), x->warmup, plural(x->warmup));
	print_command(out, x);
	fputs("\n| figure | A median | A min | A max | B median | B min | B max "
	      "| B/A median | B/A min | B/A max |\n"
	      "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n", out);
	for (int f = 0; f < FIG_COUNT; f++) {
		struct summary a, bs, r;
		if (!figure_shown(x, f))
			continue;
		summarize(x, 0, f, &a);
		summarize(x, 1, f, &bs);
		ratios(x, 0, 1, f, &r);
		fprintf(out, "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n",
			figure_info[f].label, value(b[0], 32, f, a.median),
			value(b[1], 32, f, a.min), value(b[2], 32, f, a.max),
			value(b[3], 32, f, bs.median), value(b[4], 32, f, bs.min),
			value(b[5], 32, f, bs.max), ratio(b[6], 32, r.median),
			ratio(b[7], 32, r.min), ratio(b[8], 32, r.max));
	}
	fprintf(out, "\nRuns that succeeded: A %d of %d, B %d of %d.\n", ok_runs(x, 0), x->rounds,
		ok_runs(x, 1), x->rounds);
}

/* The arm with the lowest median of k->by; -1 when no arm has one. */
static int best_arm(const struct experiment *x, const struct sweep_keys *k)
{
	int best = -1;
	double low = 0;
	for (int arm = 0; arm < x->narms; arm++) {
		struct summary s;
		summarize(x, arm, k->by, &s);
		if (s.n && (best < 0 || s.median < low)) {
			best = arm;
			low = s.median;
		}
	}
	return best;
}

void report_sweep(FILE *out, const struct experiment *x, const struct sweep_keys *k)
{
	char b[8][32];
	int best = best_arm(x, k);
	const char *by = figure_info[k->by].label;

	fprintf(out, "default: SOCKTUNE=observe, nothing tuned.  Other rows: SOCKTUNE=on with "
		     "the values shown.\n%d run%s of each row, interleaved (default, then each "
		     "row, round after round) after %d warm-up round%s; \"vs default\" is taken "
		     "pair by pair.\n",
		x->rounds, plural(x->rounds), x->warmup, plural(x->warmup));
	print_command(out, x);
	fputc('\n', out);
	for (int i = 0; i < k->n; i++)
		fprintf(out, "| %s ", k->names[i]);
	fprintf(out, "| runs | wall s | wall min | wall max | user s | sys s | %s vs default |", by);
	for (int f = FIG_SYS + 1; f < FIG_COUNT; f++)
		if (figure_shown(x, f))
			fprintf(out, " %s |", figure_info[f].label);
	fputc('\n', out);
	for (int i = 0; i < k->n; i++)
		fputs("|---", out);
	fputs("|---:|---:|---:|---:|---:|---:|---:|", out);
	for (int f = FIG_SYS + 1; f < FIG_COUNT; f++)
		if (figure_shown(x, f))
			fputs("---:|", out);
	fputc('\n', out);

	for (int arm = 0; arm < x->narms; arm++) {
		const struct arm *a = &x->arms[arm];
		struct summary wall, user, sys, r;
		for (int i = 0; i < k->n; i++) {
			const char *v = arm == 0 ? (i ? "" : "default") : a->values[i];
			fprintf(out, "| %s%s ", v, i == 0 && arm == best ? " (best)" : "");
		}
		summarize(x, arm, FIG_WALL, &wall);
		summarize(x, arm, FIG_USER, &user);
		summarize(x, arm, FIG_SYS, &sys);
		ratios(x, 0, arm, k->by, &r);
		fprintf(out, "| %d/%d | %s | %s | %s | %s | %s | %s |", ok_runs(x, arm), x->rounds,
			value(b[0], 32, FIG_WALL, wall.median), value(b[1], 32, FIG_WALL, wall.min),
			value(b[2], 32, FIG_WALL, wall.max), value(b[3], 32, FIG_USER, user.median),
			value(b[4], 32, FIG_SYS, sys.median),
			arm ? ratio(b[5], 32, r.median) : "-");
		for (int f = FIG_SYS + 1; f < FIG_COUNT; f++) {
			struct summary s;
			if (!figure_shown(x, f))
				continue;
			summarize(x, arm, f, &s);
			fprintf(out, " %s |", value(b[6], 32, f, s.median));
		}
		fputc('\n', out);
	}

	if (best < 0) {
		fputs("\nbest: none (no row has a successful run)\n", out);
	} else if (best == 0) {
		fprintf(out, "\nbest: default (nothing tuned), by %s\n", by);
	} else {
		struct summary s, r;
		summarize(x, best, k->by, &s);
		ratios(x, 0, best, k->by, &r);
		fprintf(out, "\nbest: %s, by %s: median %s, %s of default (pairs: %s to %s)\n",
			x->arms[best].label, by, value(b[0], 32, k->by, s.median),
			ratio(b[1], 32, r.median), ratio(b[2], 32, r.min), ratio(b[3], 32, r.max));
	}
}

void report_failures(FILE *out, const struct experiment *x)
{
	int done = 0, header = 0;
	for (int round = 0; round < x->rounds; round++) {
		for (int arm = 0; arm < x->narms; arm++) {
			const struct run *r = experiment_run_at(x, round, arm);
			done += r->done;
			if (!r->done || r->status == 0)
				continue;
			if (!header++)
				fputs("\nFailed runs, left out of every median and ratio:\n", out);
			if (r->signal)
				fprintf(out, "- %s run %d: killed by signal %d (%s), left out\n",
					x->arms[arm].label, round + 1, r->signal, strsignal(r->signal));
			else
				fprintf(out, "- %s run %d: exit status %d, left out\n",
					x->arms[arm].label, round + 1, r->status);
		}
	}
	if (x->interrupted)
		fprintf(out, "\nInterrupted by signal %d (%s) after %d of %d runs; the figures "
			     "above are from the runs that finished.\n",
			x->interrupted, strsignal(x->interrupted), done, x->rounds * x->narms);
}

static void csv_field(FILE *out, const char *s)
{
	if (!strpbrk(s, ",\"\r\n")) {
		fputs(s, out);
		return;
	}
	fputc('"', out);
	for (; *s; s++) {
		if (*s == '"')
			fputc('"', out);
		fputc(*s, out);
	}
	fputc('"', out);
}

int report_csv(FILE *out, const struct experiment *x, const struct sweep_keys *k)
{
	fputs("arm", out);
	for (int i = 0; i < k->n; i++) {
		fputc(',', out);
		csv_field(out, k->names[i]);
	}
	fputs(",run,exit", out);
	for (int f = 0; f < FIG_COUNT; f++)
		fprintf(out, ",%s", figure_info[f].name);
	fputc('\n', out);
	for (int round = 0; round < x->rounds; round++) {
		for (int arm = 0; arm < x->narms; arm++) {
			const struct run *r = experiment_run_at(x, round, arm);
			char b[32];
			if (!r->done)
				continue;
			csv_field(out, x->arms[arm].label);
			for (int i = 0; i < k->n; i++) {
				fputc(',', out);
				csv_field(out, arm ? x->arms[arm].values[i] : "");
			}
			fprintf(out, ",%d,%d", round + 1, r->status);
			for (int f = 0; f < FIG_COUNT; f++) {
				if (isnan(r->v[f]))
					fputc(',', out);
				else if (f <= FIG_SYS)
					fprintf(out, ",%.6f", r->v[f]);
				else
					fprintf(out, ",%s", value(b, sizeof(b), f, r->v[f]));
			}
			fputc('\n', out);
		}
	}
	return ferror(out) ? -1 : 0;
}

/* A string for a gnuplot double-quoted literal. */
static void gp_string(FILE *out, const char *s)
{
	fputc('"', out);
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			fputc('\\', out);
		fputc(*s == '\n' ? ' ' : *s, out);
	}
	fputc('"', out);
}

static void gp_title(FILE *out, const struct experiment *x)
{
	char title[96]; /* what fits across the picture */
	size_t o = (size_t)snprintf(title, sizeof(title), "socktune %s:", x->name);
	for (int i = 0; x->argv[i] && o < sizeof(title) - 1; i++) {
		const char *a = x->argv[i], *slash = strrchr(a, '/');
		/* The program's name, not its directory: the title has little room. */
		o += (size_t)snprintf(title + o, sizeof(title) - o, " %s", i || !slash ? a : slash + 1);
	}
	if (o >= sizeof(title) - 1)
		strcpy(title + sizeof(title) - 4, "...");
	fputs("set title ", out);
	gp_string(out, title);
	fputs(" noenhanced\n", out);
}

void report_plot(FILE *out, const struct experiment *x, const struct sweep_keys *k,
		 const char *png)
{
	fputs("if (strstrt(GPVAL_TERMINALS, \"pngcairo\") > 0) {\n"
	      "  set terminal pngcairo size 960,540 noenhanced\n"
	      "} else {\n"
	      "  set terminal png size 960,540 noenhanced\n"
	      "}\nset output ",
	      out);
	gp_string(out, png);
	fputc('\n', out);
	gp_title(out, x);
	fputs("set grid ytics\nset yrange [0:*]\nset key outside bottom center horizontal\n", out);
	fputs("$data << EOD\n", out);
	int rows = 0;
	if (k->n) {
		for (int arm = 0; arm < x->narms; arm++) {
			struct summary wall, user, sys;
			summarize(x, arm, FIG_WALL, &wall);
			summarize(x, arm, FIG_USER, &user);
			summarize(x, arm, FIG_SYS, &sys);
			if (!wall.n)
				continue;
			gp_string(out, arm ? x->arms[arm].label : "default");
			fprintf(out, " %.6f %.6f %.6f %.6f\n", wall.median, wall.min, wall.max,
				user.median + sys.median);
			rows++;
		}
		fprintf(out, "EOD\nset xrange [-0.5:%f]\nset xtics rotate by -20\n"
			     "set ylabel \"seconds: median, bars from min to max\"\n"
			     "plot $data using 0:2:3:4:xtic(1) with yerrorlines lw 2 title \"wall\", \\\n"
			     "     $data using 0:5 with linespoints title \"user + sys\"\n",
			rows - 0.5);
		return;
	}
	for (int f = 0; f < FIG_COUNT; f++) {
		struct summary r;
		if (!figure_shown(x, f))
			continue;
		ratios(x, 0, 1, f, &r);
		if (!r.n)
			continue;
		gp_string(out, figure_info[f].label);
		fprintf(out, " %.6f %.6f %.6f\n", r.median, r.min, r.max);
		rows++;
	}
	fprintf(out, "EOD\nset xrange [-0.5:%f]\nset style fill solid 0.4\nset boxwidth 0.6\n"
		     "set ylabel \"B/A pair by pair: median, bars from min to max\"\n"
		     "plot $data using 0:2:xtic(1) with boxes title \"B/A\", \\\n"
		     "     $data using 0:2:3:4 with yerrorbars notitle, \\\n"
		     "     1 with lines dt 2 title \"no change\"\n",
		rows - 0.5);
}
