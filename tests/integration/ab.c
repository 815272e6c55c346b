/* ab.c: `socktune ab` and `socktune sweep`, the experiments: the order of the runs, the
 * medians and pair-by-pair ratios in the Markdown table, failed runs reported and left
 * out, the CSV, the clean-up of a command's process group on interrupt, --plot, and the
 * usage errors. The commands under test are small sh scripts that append their own JSON
 * line to $SOCKTUNE_STATS, so the figures socktune reports are known in advance (the
 * library's own line in a process that made no sockets is all zeros). */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "run.h"

/* ---- running socktune ---------------------------------------------------------- */

#define assert_status(r, want)                                                                  \
	cr_assert_eq((r)->status, (want), "exit status %d, want %d\n--- stdout:\n%s--- stderr:\n%s", \
		     (r)->status, (want), (r)->out, (r)->err)

static bool exists(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0;
}

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
	nanosleep(&ts, NULL);
}

/* A fake command's figures: "ARMRUN) n=N;;" cases, appended as tcp.segs_out. */
#define SEGS_FAKE(cases)                                                                      \
	"case \"$SOCKTUNE_ARM$SOCKTUNE_RUN\" in " cases " *) n=1000;; esac; "                    \
	"printf '{\"tcp\":{\"segs_out\":%d,\"bytes_sent\":0}}\\n' \"$n\" >> \"$SOCKTUNE_STATS\"; "

/* ---- the Markdown table ------------------------------------------------------- */

#define MD_ROWS 64
#define MD_CELLS 32

struct md {
	int nrows;
	int ncells[MD_ROWS];
	char *cell[MD_ROWS][MD_CELLS];
};

static bool is_separator(const char *line, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (!strchr("|-: ", line[i]))
			return false;
	return true;
}

/* The first table of TEXT: rows of trimmed cells, row 0 the header, the |---| line
 * dropped. */
static void md_parse(struct md *t, const char *text)
{
	memset(t, 0, sizeof *t);
	bool in = false;
	for (const char *line = text; line && *line;) {
		const char *eol = strchr(line, '\n');
		size_t len = eol ? (size_t)(eol - line) : strlen(line);
		if (len && line[0] == '|') {
			in = true;
			if (!is_separator(line, len) && t->nrows < MD_ROWS) {
				int row = t->nrows++;
				const char *p = line + 1, *end = line + len;
				while (end > p && (end[-1] == ' ' || end[-1] == '\r'))
					end--;
				if (end > p && end[-1] == '|')
					end--;
				while (p <= end && t->ncells[row] < MD_CELLS) {
					const char *bar = memchr(p, '|', (size_t)(end - p));
					const char *ce = bar ? bar : end, *cs = p;
					while (cs < ce && *cs == ' ')
						cs++;
					while (ce > cs && ce[-1] == ' ')
						ce--;
					t->cell[row][t->ncells[row]++] = strndup(cs, (size_t)(ce - cs));
					if (!bar)
						break;
					p = bar + 1;
				}
			}
		} else if (in) {
			break;
		}
		line = eol ? eol + 1 : NULL;
	}
}

static void md_free(struct md *t)
{
	for (int r = 0; r < t->nrows; r++)
		for (int c = 0; c < t->ncells[r]; c++)
			free(t->cell[r][c]);
}

/* The row whose first cell is LABEL, or -1. */
static int md_row(const struct md *t, const char *label)
{
	for (int r = 1; r < t->nrows; r++)
		if (t->ncells[r] > 0 && !strcmp(t->cell[r][0], label))
			return r;
	return -1;
}

/* The first row whose cell COL contains NEEDLE as a whole word (so "64K" is not
 * found in "164K"), or -1. */
static int md_row_with(const struct md *t, int col, const char *needle)
{
	size_t n = strlen(needle);
	for (int r = 1; r < t->nrows; r++) {
		if (t->ncells[r] <= col)
			continue;
		for (const char *p = t->cell[r][col]; (p = strstr(p, needle)); p++) {
			bool starts = p == t->cell[r][col] || strchr(" =,(", p[-1]);
			bool ends = !p[n] || strchr(" ,)", p[n]);
			if (starts && ends)
				return r;
		}
	}
	return -1;
}

/* The column whose header is NAME, or -1. */
static int md_col(const struct md *t, const char *name)
{
	for (int c = 0; t->nrows && c < t->ncells[0]; c++)
		if (!strcmp(t->cell[0][c], name))
			return c;
	return -1;
}

/* A number in a cell: "20", "1.500", "1.500x"; NaN if it is none. */
static double cell_num(const char *s)
{
	char *end;
	double v = strtod(s, &end);
	if (end == s)
		return NAN;
	while (*end == ' ' || *end == 'x')
		end++;
	return *end ? NAN : v;
}

#define assert_cell(t, out, row, col, want)                                                     \
	do {                                                                                    \
		cr_assert_lt((col), (t)->ncells[row], "row %s has no column %d:\n%s",           \
			     (t)->cell[row][0], (col), out);                                    \
		double got_ = cell_num((t)->cell[row][col]);                                    \
		cr_assert(fabs(got_ - (want)) < 0.0006,                                         \
			  "row \"%s\", column \"%s\": got \"%s\", want %g\n--- stdout:\n%s",      \
			  (t)->cell[row][0], (col) < (t)->ncells[0] ? (t)->cell[0][col] : "?",    \
			  (t)->cell[row][col], (double)(want), out);                              \
	} while (0)

/* The runs column of a sweep: the runs that succeeded, as "N" or "N/TOTAL". */
#define assert_runs(t, out, row, col, ok, total)                                                \
	do {                                                                                    \
		char n_[16], of_[32];                                                           \
		snprintf(n_, sizeof n_, "%d", (ok));                                            \
		snprintf(of_, sizeof of_, "%d/%d", (ok), (total));                              \
		cr_assert((row) >= 0 && (col) < (t)->ncells[row] &&                            \
				  (!strcmp((t)->cell[row][col], n_) || !strcmp((t)->cell[row][col], of_)), \
			  "row %d runs: want %s or %s\n--- stdout:\n%s", (row), n_, of_, out);      \
	} while (0)

static const char *const ab_header[] = { "figure", "A median", "A min", "A max", "B median",
					 "B min", "B max", "B/A median", "B/A min", "B/A max" };
enum { AB_AMED = 1, AB_AMIN, AB_AMAX, AB_BMED, AB_BMIN, AB_BMAX, AB_RMED, AB_RMIN, AB_RMAX };

static void assert_ab_header(const struct md *t, const char *out)
{
	cr_assert_gt(t->nrows, 0, "no table in stdout:\n%s", out);
	cr_assert_eq(t->ncells[0], 10, "the header has %d columns:\n%s", t->ncells[0], out);
	for (int c = 0; c < 10; c++)
		cr_assert_str_eq(t->cell[0][c], ab_header[c], "header column %d:\n%s", c, out);
}

/* Checks the "tcp segments" row of an ab table: A, B and B/A median, min and max. */
static void assert_segs_row(const char *out, const double want[9])
{
	struct md t;
	md_parse(&t, out);
	assert_ab_header(&t, out);
	int row = md_row(&t, "tcp segments");
	cr_assert_geq(row, 0, "no \"tcp segments\" row:\n%s", out);
	for (int c = 0; c < 9; c++)
		assert_cell(&t, out, row, c + 1, want[c]);
	md_free(&t);
}

/* ---- CSV (RFC 4180) ----------------------------------------------------------- */

#define CSV_ROWS 128
#define CSV_FIELDS 32

struct csv {
	int nrows;
	int nf[CSV_ROWS];
	char *f[CSV_ROWS][CSV_FIELDS];
};

/* Parses TEXT strictly: quoted fields with "" for a quote, CRLF or LF records, no
 * stray quote in an unquoted field. Returns NULL, or what is wrong. */
static const char *csv_parse(struct csv *c, const char *s)
{
	memset(c, 0, sizeof *c);
	while (*s) {
		if (c->nrows == CSV_ROWS)
			return "too many rows";
		int row = c->nrows++;
		for (;;) {
			if (c->nf[row] == CSV_FIELDS)
				return "too many fields";
			size_t cap = strlen(s) + 1, n = 0;
			char *field = malloc(cap);
			if (*s == '"') {
				for (s++;; s++) {
					if (!*s) {
						free(field);
						return "unterminated quoted field";
					}
					if (*s == '"') {
						if (s[1] != '"')
							break;
						s++;
					}
					field[n++] = *s;
				}
				s++;
				if (*s && *s != ',' && *s != '\n' && strncmp(s, "\r\n", 2)) {
					free(field);
					return "text after a closing quote";
				}
			} else {
				for (; *s && *s != ',' && *s != '\n' && strncmp(s, "\r\n", 2); s++) {
					if (*s == '"') {
						free(field);
						return "a quote in an unquoted field";
					}
					field[n++] = *s;
				}
			}
			field[n] = 0;
			c->f[row][c->nf[row]++] = field;
			if (*s == ',') {
				s++;
				continue;
			}
			s += *s == '\r' ? 2 : *s == '\n';
			break;
		}
	}
	return NULL;
}

static void csv_free(struct csv *c)
{
	for (int r = 0; r < c->nrows; r++)
		for (int i = 0; i < c->nf[r]; i++)
			free(c->f[r][i]);
}

/* Parses PATH and checks that every record has as many fields as the header. */
static void csv_load(struct csv *c, const char *path)
{
	char *text = it_read_file(path);
	cr_assert_str_not_empty(text, "no CSV written to %s", path);
	const char *why = csv_parse(c, text);
	cr_assert_null(why, "%s: not RFC 4180: %s\n%s", path, why, text);
	for (int r = 1; r < c->nrows; r++)
		cr_assert_eq(c->nf[r], c->nf[0], "record %d has %d fields, the header %d:\n%s", r,
			     c->nf[r], c->nf[0], text);
	free(text);
}

static char *csv_header_line(const struct csv *c)
{
	size_t len = 1;
	for (int i = 0; i < c->nf[0]; i++)
		len += strlen(c->f[0][i]) + 1;
	char *line = calloc(1, len);
	for (int i = 0; i < c->nf[0]; i++) {
		if (i)
			strcat(line, ",");
		strcat(line, c->f[0][i]);
	}
	return line;
}

static int csv_col(const struct csv *c, const char *name)
{
	for (int i = 0; i < c->nf[0]; i++)
		if (!strcmp(c->f[0][i], name))
			return i;
	cr_assert_fail("no column %s in the CSV", name);
	return -1;
}

/* The record whose arm and run are ARM and RUN; fails unless there is exactly one. */
static int csv_record(const struct csv *c, const char *arm, const char *run)
{
	int ac = csv_col(c, "arm"), rc = csv_col(c, "run"), found = -1;
	for (int r = 1; r < c->nrows; r++) {
		if (!strcmp(c->f[r][ac], arm) && !strcmp(c->f[r][rc], run)) {
			cr_assert_eq(found, -1, "two records for %s run %s", arm, run);
			found = r;
		}
	}
	cr_assert_neq(found, -1, "no record for %s run %s", arm, run);
	return found;
}

static const char *const figure_columns[] = { "tcp_segments", "tcp_bytes", "tls_records",
					      "iov_merges", "tls_held", "corked_writes",
					      "cork_pushes" };

/* ---- ab: the order of the runs and their environment ---------------------------- */

Test(ab, interleaves_a_and_b_after_the_warm_up_round)
{
	char *log = it_path("order.log");
	struct it_run r;
	it_socktune(&r, NULL, IT_LIST("ab", "-n", "3", "-w", "1", "--", "sh", "-c",
				   "echo \"$SOCKTUNE_ARM $SOCKTUNE_RUN $SOCKTUNE\" >> \"$1\"", "sh", log));
	assert_status(&r, 0);
	char *got = it_read_file(log);
	cr_assert_str_eq(got, "A 0 observe\nB 0 on\n"
			      "A 1 observe\nB 1 on\n"
			      "A 2 observe\nB 2 on\n"
			      "A 3 observe\nB 3 on\n");
	free(got);
	free(log);
	it_run_free(&r);
}

Test(ab, default_is_one_warm_up_round_and_five_runs)
{
	char *log = it_path("order.log");
	struct it_run r;
	it_socktune(&r, NULL, IT_LIST("ab", "--", "sh", "-c",
				   "echo \"$SOCKTUNE_ARM$SOCKTUNE_RUN\" >> \"$1\"", "sh", log));
	assert_status(&r, 0);
	char *got = it_read_file(log);
	cr_assert_str_eq(got, "A0\nB0\nA1\nB1\nA2\nB2\nA3\nB3\nA4\nB4\nA5\nB5\n");
	free(got);
	free(log);
	it_run_free(&r);
}

/* -o and -c are set in both arms' environment (A's observe mode ignores them), and every
 * run has the library first in LD_PRELOAD and a stats file of its own to append to. */
Test(ab, options_and_config_reach_both_arms)
{
	char *conf = it_write_file("ab.conf", "rules = ( { family = \"inet\"; sndbuf = \"1M\"; } );\n");
	char *log = it_path("env.log");
	struct it_run r;
	it_socktune(&r, NULL,
		 IT_LIST("ab", "-n", "1", "-w", "0", "-c", conf, "-o", "sndbuf=64K", "-o", "cork=auto",
			 "--", "sh", "-c",
			 "echo \"$SOCKTUNE_ARM|$SOCKTUNE_SNDBUF|$SOCKTUNE_CORK|$SOCKTUNE_CONFIG\" >> \"$1\"; "
			 "case \"${LD_PRELOAD%%:*}\" in */libsocktune.so.1) echo preload ok >> \"$1\";; esac; "
			 "case \"$SOCKTUNE_STATS\" in /?*) echo stats ok >> \"$1\";; esac",
			 "sh", log));
	assert_status(&r, 0);
	char *want;
	cr_assert_geq(asprintf(&want, "A|64K|auto|%s\npreload ok\nstats ok\nB|64K|auto|%s\npreload ok\nstats ok\n",
			       conf, conf), 0);
	char *got = it_read_file(log);
	cr_assert_str_eq(got, want);
	free(got);
	free(want);
	free(log);
	free(conf);
	it_run_free(&r);
}

/* ---- ab: the figures ------------------------------------------------------------ */

/* A = 10, 20, 60 and B = 40, 15, 90: pair ratios 4, 0.75, 1.5. Their median 1.5 is not
 * the ratio of the medians (40/20 = 2), their min 0.75 not min B / min A (1.5), their
 * max 4 not max B / max A (1.5). The warm-up round reports 1000 and must not count. */
Test(ab, table_has_medians_extremes_and_pair_ratios)
{
	struct it_run r;
	it_socktune(&r, NULL, IT_LIST("ab", "-n", "3", "-w", "1", "--", "sh", "-c",
				   SEGS_FAKE("A1) n=10;; A2) n=20;; A3) n=60;; B1) n=40;; B2) n=15;; B3) n=90;;")));
	assert_status(&r, 0);
	assert_segs_row(r.out, (const double[]){ 20, 10, 60, 40, 15, 90, 1.5, 0.75, 4 });
	it_run_free(&r);
}

/* Every time row is there; a figure that is 0 in every run has no row. */
Test(ab, rows_are_the_times_and_the_figures_that_are_not_all_zero)
{
	struct it_run r;
	it_socktune(&r, NULL, IT_LIST("ab", "-n", "2", "-w", "0", "--", "sh", "-c",
				   SEGS_FAKE("A1) n=0;; A2) n=5;; B1) n=0;; B2) n=0;;")));
	assert_status(&r, 0);
	struct md t;
	md_parse(&t, r.out);
	assert_ab_header(&t, r.out);
	cr_assert_eq(t.nrows, 5, "want header, wall, user, sys, tcp segments:\n%s", r.out);
	static const char *const rows[] = { "wall s", "user s", "sys s", "tcp segments" };
	for (int i = 0; i < 4; i++)
		cr_assert_str_eq(t.cell[i + 1][0], rows[i], "row %d:\n%s", i + 1, r.out);
	md_free(&t);
	it_run_free(&r);
}

/* The sh exits at once; the sleep it left in the background is in its process group,
 * and the run lasts until socktune has reaped it too. */
Test(ab, wall_time_waits_for_every_process_of_the_group)
{
	struct it_run r;
	it_socktune(&r, NULL, IT_LIST("ab", "-n", "1", "-w", "0", "--", "sh", "-c", "sleep 0.5 & exit 0"));
	assert_status(&r, 0);
	struct md t;
	md_parse(&t, r.out);
	assert_ab_header(&t, r.out);
	int row = md_row(&t, "wall s");
	cr_assert_geq(row, 0, "no wall row:\n%s", r.out);
	cr_assert_geq(cell_num(t.cell[row][AB_AMED]), 0.5, "A wall:\n%s", r.out);
	cr_assert_geq(cell_num(t.cell[row][AB_BMED]), 0.5, "B wall:\n%s", r.out);
	md_free(&t);
	it_run_free(&r);
}

/* The CPU time is wait4's of every process reaped, not only of the command's first. */
Test(ab, user_time_counts_the_processes_the_command_left_behind)
{
	struct it_run r;
	it_socktune(&r, NULL, IT_LIST("ab", "-n", "1", "-w", "0", "--", "sh", "-c",
				   "(i=0; while [ $i -lt 150000 ]; do i=$((i+1)); done) & exit 0"));
	assert_status(&r, 0);
	struct md t;
	md_parse(&t, r.out);
	assert_ab_header(&t, r.out);
	int row = md_row(&t, "user s");
	cr_assert_geq(row, 0, "no user row:\n%s", r.out);
	cr_assert_geq(cell_num(t.cell[row][AB_AMED]), 0.03, "A user:\n%s", r.out);
	cr_assert_geq(cell_num(t.cell[row][AB_BMED]), 0.03, "B user:\n%s", r.out);
	md_free(&t);
	it_run_free(&r);
}

/* B run 2 exits 3 and reports a huge figure: it is named, and left out of B's median
 * (65, not 90), of B's max, and of the ratios (pairs 1 and 3: 4 and 1.5). */
Test(ab, a_failed_run_is_reported_and_left_out)
{
	struct it_run r;
	it_socktune(&r, NULL,
		 IT_LIST("ab", "-n", "3", "-w", "0", "--", "sh", "-c",
			 SEGS_FAKE("A1) n=10;; A2) n=20;; A3) n=60;; B1) n=40;; B2) n=100000;; B3) n=90;;")
			 "[ \"$SOCKTUNE_ARM$SOCKTUNE_RUN\" = B2 ] && exit 3; exit 0"));
	assert_status(&r, 1);
	cr_assert_not_null(strstr(r.out, "B run 2: exit status 3, left out"), "not reported:\n%s", r.out);
	cr_assert_eq(it_count(r.out, ": exit status"), 1, "only B run 2 failed:\n%s", r.out);
	assert_segs_row(r.out, (const double[]){ 20, 10, 60, 65, 40, 90, 2.75, 1.5, 4 });
	it_run_free(&r);
}

Test(ab, a_killed_run_is_reported_with_its_signal)
{
	struct it_run r;
	it_socktune(&r, NULL,
		 IT_LIST("ab", "-n", "3", "-w", "0", "--", "sh", "-c",
			 SEGS_FAKE("A1) n=10;; A2) n=100000;; A3) n=60;; B1) n=40;; B2) n=15;; B3) n=90;;")
			 "[ \"$SOCKTUNE_ARM$SOCKTUNE_RUN\" = A2 ] && kill -9 $$; exit 0"));
	assert_status(&r, 1);
	cr_assert_not_null(strstr(r.out, "A run 2: killed by signal 9"), "not reported:\n%s", r.out);
	/* A is 10 and 60; pairs 1 and 3 give 4 and 1.5. */
	assert_segs_row(r.out, (const double[]){ 35, 10, 60, 40, 15, 90, 2.75, 1.5, 4 });
	it_run_free(&r);
}

/* ---- ab: the CSV ---------------------------------------------------------------- */

Test(ab, csv_has_one_record_per_measured_run_failed_ones_included)
{
	char *path = it_path("ab.csv");
	struct it_run r;
	it_socktune(&r, NULL,
		 IT_LIST("ab", "-n", "2", "-w", "1", "--csv", path, "--", "sh", "-c",
			 SEGS_FAKE("A1) n=10;; B1) n=40;; A2) n=7;; B2) n=8;;")
			 "case \"$SOCKTUNE_ARM$SOCKTUNE_RUN\" in A2) kill -9 $$;; B2) exit 3;; esac; exit 0"));
	assert_status(&r, 1);
	struct csv c;
	csv_load(&c, path);
	char *header = csv_header_line(&c);
	cr_assert_str_eq(header, "arm,run,exit,wall_s,user_s,sys_s,tcp_segments,tcp_bytes,tls_records,"
				 "iov_merges,tls_held,corked_writes,cork_pushes");
	free(header);
	cr_assert_eq(c.nrows, 5, "want 4 records, no warm-up: got %d", c.nrows - 1);
	int exit_col = csv_col(&c, "exit"), segs = csv_col(&c, "tcp_segments");
	int wall = csv_col(&c, "wall_s");

	static const struct { const char *arm, *run, *exit, *segs; } ok[] = {
		{ "A", "1", "0", "10" }, { "B", "1", "0", "40" } };
	for (int i = 0; i < 2; i++) {
		int rec = csv_record(&c, ok[i].arm, ok[i].run);
		cr_assert_str_eq(c.f[rec][exit_col], ok[i].exit, "%s run %s", ok[i].arm, ok[i].run);
		cr_assert_str_eq(c.f[rec][segs], ok[i].segs, "%s run %s", ok[i].arm, ok[i].run);
		cr_assert(cell_num(c.f[rec][wall]) >= 0, "%s run %s wall_s \"%s\"", ok[i].arm, ok[i].run,
			  c.f[rec][wall]);
		for (size_t k = 0; k < sizeof figure_columns / sizeof figure_columns[0]; k++)
			cr_assert_str_not_empty(c.f[rec][csv_col(&c, figure_columns[k])], "%s run %s %s",
						ok[i].arm, ok[i].run, figure_columns[k]);
	}
	/* Failed: the exit status, or 128 + the signal; no figures. */
	static const struct { const char *arm, *exit; } failed[] = { { "A", "137" }, { "B", "3" } };
	for (int i = 0; i < 2; i++) {
		int rec = csv_record(&c, failed[i].arm, "2");
		cr_assert_str_eq(c.f[rec][exit_col], failed[i].exit, "%s run 2", failed[i].arm);
		for (size_t k = 0; k < sizeof figure_columns / sizeof figure_columns[0]; k++)
			cr_assert_str_empty(c.f[rec][csv_col(&c, figure_columns[k])], "%s run 2 %s",
					    failed[i].arm, figure_columns[k]);
	}
	csv_free(&c);
	free(path);
	it_run_free(&r);
}

/* ---- ab: interrupt -------------------------------------------------------------- */

/* What the interrupt tests started, for the fini to kill if a test fails half-way. */
static pid_t int_socktune, int_sh, int_sleep;

static void int_cleanup(void)
{
	if (int_sleep > 0)
		kill(int_sleep, SIGKILL);
	if (int_sh > 0)
		kill(-int_sh, SIGKILL);
	if (int_socktune > 0) {
		kill(-int_socktune, SIGKILL);
		waitpid(int_socktune, NULL, 0);
	}
}

static pid_t spawn_socktune(const char *const args[], const char *out, const char *err)
{
	const char *argv[32] = { it_bin() };
	size_t n = 1;
	for (size_t i = 0; args[i]; i++)
		argv[n++] = args[i];
	char *home = it_path("home"), *path, *homeenv;
	cr_assert_geq(asprintf(&path, "PATH=%s", getenv("PATH") ? getenv("PATH") : "/usr/bin:/bin"), 0);
	cr_assert_geq(asprintf(&homeenv, "HOME=%s", home), 0);
	const char *envp[] = { path, homeenv, "LC_ALL=C", NULL };
	pid_t pid = it_spawn(argv, envp, out, err);
	cr_assert_geq(pid, 0, "fork: %s", strerror(errno));
	free(home);
	free(path);
	free(homeenv);
	return pid;
}

/* Waits up to MS for PATH to hold "SHPID SLEEPPID\n". */
static bool read_pids(const char *path, long ms)
{
	for (long waited = 0; waited < ms; waited += 10) {
		char *text = it_read_file(path);
		int a, b;
		char nl;
		bool ok = sscanf(text, "%d %d%c", &a, &b, &nl) == 3 && nl == '\n';
		free(text);
		if (ok) {
			int_sh = a;
			int_sleep = b;
			return true;
		}
		sleep_ms(10);
	}
	return false;
}

/* Waits up to MS for PID to end; its wait status, or -1. */
static int wait_ms(pid_t pid, long ms)
{
	int status;
	for (long waited = 0; waited < ms; waited += 5) {
		pid_t w = waitpid(pid, &status, WNOHANG);
		if (w == pid)
			return status;
		if (w < 0 && errno != EINTR)
			return -1;
		sleep_ms(5);
	}
	return -1;
}

static bool gone_within(pid_t pid, long ms)
{
	for (long waited = 0; waited <= ms; waited += 10) {
		if (kill(pid, 0) == -1 && errno == ESRCH)
			return true;
		sleep_ms(10);
	}
	return false;
}

/* Runs ab -n 3 with SCRIPT prefixed by a round-1 pass, interrupts it with SIGINT once
 * round 2's A run has written its pids, and checks the clean-up. Returns the seconds
 * from the signal to socktune's exit. */
static double interrupt_round_2(const char *script)
{
	char *pids = it_path("pids"), *out = it_path("int.out"), *err = it_path("int.err");
	char *fake;
	cr_assert_geq(asprintf(&fake, "[ \"$SOCKTUNE_ARM$SOCKTUNE_RUN\" = A2 ] || exit 0; %s", script), 0);
	int_socktune = spawn_socktune(IT_LIST("ab", "-n", "3", "-w", "0", "--", "sh", "-c", fake, "sh", pids),
				      out, err);
	cr_assert(read_pids(pids, 10000), "the command never started its sleep\n--- stdout:\n%s--- stderr:\n%s",
		  it_read_file(out), it_read_file(err));
	cr_assert_eq(kill(int_socktune, SIGINT), 0);
	double sent = now();
	int status = wait_ms(int_socktune, 10000);
	double took = now() - sent;
	char *o = it_read_file(out), *e = it_read_file(err);
	cr_assert_neq(status, -1, "socktune did not exit within 10 s of SIGINT\n--- stdout:\n%s--- stderr:\n%s", o, e);
	int_socktune = 0;
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 130,
		  "want exit status 130, got %s %d\n--- stdout:\n%s--- stderr:\n%s",
		  WIFEXITED(status) ? "exit" : "signal", WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status),
		  o, e);
	cr_assert(gone_within(int_sleep, 3000), "the sleep (pid %d) outlived socktune", (int)int_sleep);
	int_sleep = 0;
	cr_assert(gone_within(int_sh, 3000), "the sh (pid %d) outlived socktune", (int)int_sh);
	int_sh = 0;
	cr_assert_not_null(strcasestr(o, "interrupted"), "stdout does not say interrupted:\n%s", o);
	/* What round 1 measured is printed. */
	struct md t;
	md_parse(&t, o);
	assert_ab_header(&t, o);
	cr_assert_geq(md_row(&t, "wall s"), 0, "no wall row:\n%s", o);
	md_free(&t);
	free(o);
	free(e);
	free(fake);
	free(pids);
	free(out);
	free(err);
	return took;
}

Test(ab, interrupt_kills_the_process_group_and_exits_130, .fini = int_cleanup, .timeout = 30)
{
	interrupt_round_2("sleep 60 & echo $$ $! > \"$1\"; wait");
}

/* A command that ignores SIGTERM is killed with SIGKILL, 2 s later. */
Test(ab, interrupt_escalates_to_sigkill_after_2_s, .fini = int_cleanup, .timeout = 30)
{
	double took = interrupt_round_2("trap '' TERM; sleep 60 & echo $$ $! > \"$1\"; wait");
	cr_assert_geq(took, 1.8, "SIGKILL came %.3f s after SIGTERM, not 2 s", took);
}

/* ---- ab: --plot ----------------------------------------------------------------- */

Test(ab, plot_without_gnuplot_exits_2_before_running)
{
	char *bin = it_path("emptybin"), *marker = it_path("ran"), *png = it_path("out.png"), *path;
	cr_assert_eq(mkdir(bin, 0700), 0);
	cr_assert_geq(asprintf(&path, "PATH=%s", bin), 0);
	struct it_run r;
	it_socktune(&r, IT_LIST(path), IT_LIST("ab", "-n", "1", "-w", "0", "--plot", png, "--", "/bin/sh", "-c",
					   ": > \"$1\"", "sh", marker));
	assert_status(&r, 2);
	cr_assert_not_null(strstr(r.err, "gnuplot"), "stderr:\n%s", r.err);
	cr_assert_not_null(strstr(r.err, "apt-get install gnuplot-nox"), "no way to install it:\n%s", r.err);
	cr_assert(!exists(marker), "the command ran");
	cr_assert(!exists(png), "a plot was written");
	free(path);
	free(png);
	free(marker);
	free(bin);
	it_run_free(&r);
}

/* The message, to the letter: what is missing and how to install it. */
Test(ab, plot_without_gnuplot_message_is_the_specified_line)
{
	char *bin = it_path("emptybin"), *png = it_path("out.png"), *path;
	cr_assert_eq(mkdir(bin, 0700), 0);
	cr_assert_geq(asprintf(&path, "PATH=%s", bin), 0);
	struct it_run r;
	it_socktune(&r, IT_LIST(path), IT_LIST("ab", "--plot", png, "--", "/bin/true"));
	assert_status(&r, 2);
	cr_assert_str_eq(r.err, "socktune ab: --plot needs gnuplot, which is not installed "
				"(Debian: apt-get install gnuplot-nox; Fedora: dnf install gnuplot)\n");
	free(path);
	free(png);
	free(bin);
	it_run_free(&r);
}

Test(ab, plot_with_gnuplot_writes_a_png)
{
	if (!it_have("gnuplot"))
		cr_skip_test("gnuplot is not installed");
	char *png = it_path("out.png");
	struct it_run r;
	it_socktune(&r, NULL, IT_LIST("ab", "-n", "2", "-w", "0", "--plot", png, "--", "true"));
	assert_status(&r, 0);
	char *data = it_read_file(png);
	cr_assert_eq(memcmp(data, "\x89PNG\r\n\x1a\n", 8), 0, "%s is not a PNG", png);
	free(data);
	free(png);
	it_run_free(&r);
}

/* ---- ab: usage and the command ---------------------------------------------------- */

Test(ab, usage_errors_exit_2_before_running)
{
	char *marker = it_path("ran");
	const char *const *const cases[] = {
		IT_LIST("ab", "-o", "colour=red", "--", "sh", "-c", ": > \"$1\"", "sh", marker),
		IT_LIST("ab", "-o", "sndbuf=huge", "--", "sh", "-c", ": > \"$1\"", "sh", marker),
		IT_LIST("ab", "-o", "nodelay", "--", "sh", "-c", ": > \"$1\"", "sh", marker),
		IT_LIST("ab", "-n", "0", "--", "sh", "-c", ": > \"$1\"", "sh", marker),
		IT_LIST("ab", "-n", "1001", "--", "sh", "-c", ": > \"$1\"", "sh", marker),
		IT_LIST("ab", "-n", "3x", "--", "sh", "-c", ": > \"$1\"", "sh", marker),
		IT_LIST("ab", "-w", "-1", "--", "sh", "-c", ": > \"$1\"", "sh", marker),
		IT_LIST("ab", "--no-such-flag", "--", "sh", "-c", ": > \"$1\"", "sh", marker),
		IT_LIST("ab", "-c", "/nonexistent/socktune.conf", "--", "sh", "-c", ": > \"$1\"", "sh", marker),
		IT_LIST("ab", "-n", "2"),
		IT_LIST("sweep", "--", "sh", "-c", ": > \"$1\"", "sh", marker),
		IT_LIST("sweep", "-n", "2", "--", "sh", "-c", ": > \"$1\"", "sh", marker),
		IT_LIST("sweep", "-o", "sndbuf=64K,huge", "--", "sh", "-c", ": > \"$1\"", "sh", marker),
		IT_LIST("sweep", "-o", "colour=red,blue", "--", "sh", "-c", ": > \"$1\"", "sh", marker),
		IT_LIST("sweep", "-o", "sndbuf=", "--", "sh", "-c", ": > \"$1\"", "sh", marker),
		IT_LIST("sweep", "-o", "sndbuf=64K", "--by", "nonsense", "--", "sh", "-c", ": > \"$1\"", "sh", marker),
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct it_run r;
		it_socktune(&r, NULL, cases[i]);
		cr_assert_eq(r.status, 2, "case %zu (%s %s %s): exit %d\n--- stdout:\n%s--- stderr:\n%s", i,
			     cases[i][0], cases[i][1], cases[i][2], r.status, r.out, r.err);
		cr_assert_str_not_empty(r.err, "case %zu gave no message", i);
		cr_assert(!exists(marker), "case %zu ran the command", i);
		it_run_free(&r);
	}
	free(marker);
}

/* The message names what is wrong: the key, or the bad value in a sweep's list. */
Test(ab, option_errors_name_the_key_or_value)
{
	static const struct { const char *sub, *opt, *named; } cases[] = {
		{ "ab", "colour=red", "colour" },
		{ "ab", "sndbuf=huge", "sndbuf" },
		{ "sweep", "colour=red,blue", "colour" },
		{ "sweep", "sndbuf=64K,huge", "huge" },
		{ "sweep", "cork=auto,sometimes", "sometimes" },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct it_run r;
		it_socktune(&r, NULL, IT_LIST(cases[i].sub, "-o", cases[i].opt, "--", "true"));
		cr_assert_eq(r.status, 2, "%s -o %s: exit %d\n%s", cases[i].sub, cases[i].opt, r.status, r.err);
		cr_assert_not_null(strstr(r.err, cases[i].named), "%s -o %s: the message does not name %s:\n%s",
				   cases[i].sub, cases[i].opt, cases[i].named, r.err);
		it_run_free(&r);
	}
}

/* Found at the first run: socktune stops there, with one message, not one a run. */
Test(ab, missing_command_exits_127_with_one_message)
{
	static const char *const names[] = { "socktune-no-such-program", "/nonexistent/program" };
	for (size_t i = 0; i < 2; i++) {
		struct it_run r;
		it_socktune(&r, NULL, IT_LIST("ab", "-n", "3", "-w", "1", "--", names[i]));
		assert_status(&r, 127);
		cr_assert_eq(it_count_lines(r.err, names[i]), 1, "want one message naming %s:\n%s", names[i], r.err);
		cr_assert_eq(it_count(r.err, "\n"), 1, "want one line on stderr:\n%s", r.err);
		it_run_free(&r);
	}
}

Test(ab, unexecutable_command_exits_126_with_one_message)
{
	char *path = it_write_file("not-executable", "#!/bin/sh\nexit 0\n");
	cr_assert_eq(chmod(path, 0644), 0);
	struct it_run r;
	it_socktune(&r, NULL, IT_LIST("ab", "-n", "3", "-w", "1", "--", path));
	assert_status(&r, 126);
	cr_assert_eq(it_count_lines(r.err, path), 1, "want one message naming %s:\n%s", path, r.err);
	it_run_free(&r);
	free(path);
}

/* ---- ab: progress ----------------------------------------------------------------- */

Test(ab, no_progress_when_stderr_is_not_a_tty)
{
	struct it_run r;
	it_socktune(&r, NULL, IT_LIST("ab", "-n", "2", "-w", "1", "--", "sh", "-c", "sleep 0.1"));
	assert_status(&r, 0);
	cr_assert_str_empty(r.err, "stderr is a file, yet:\n%s", r.err);
	cr_assert_str_not_empty(r.out, "no table");
	it_run_free(&r);
}

static pid_t pty_child;

static void pty_cleanup(void)
{
	if (pty_child > 0) {
		kill(-pty_child, SIGKILL);
		waitpid(pty_child, NULL, 0);
	}
}

Test(ab, progress_on_a_tty_counts_runs_and_rounds, .fini = pty_cleanup, .timeout = 30)
{
	int master, slave;
	cr_assert_eq(openpty(&master, &slave, NULL, NULL, NULL), 0, "openpty: %s", strerror(errno));
	char *out = it_path("pty.out");
	const char *argv[] = { it_bin(), "ab", "-n", "2", "-w", "0", "--", "sh", "-c", "sleep 0.2", NULL };
	char *path;
	cr_assert_geq(asprintf(&path, "PATH=%s", getenv("PATH") ? getenv("PATH") : "/usr/bin:/bin"), 0);
	const char *envp[] = { path, "LC_ALL=C", NULL };
	fflush(NULL);
	pty_child = fork();
	cr_assert_geq(pty_child, 0);
	if (pty_child == 0) {
		setpgid(0, 0);
		int in = open("/dev/null", O_RDONLY), o = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		if (in < 0 || o < 0 || dup2(in, 0) < 0 || dup2(o, 1) < 0 || dup2(slave, 2) < 0)
			_exit(125);
		closefrom(3);
		execve(argv[0], (char *const *)argv, (char *const *)envp);
		_exit(127);
	}
	close(slave);
	/* Read the terminal until every holder of its other end has closed it (EIO). */
	char buf[16384];
	size_t len = 0;
	double end = now() + 15;
	while (now() < end && len < sizeof buf - 1) {
		struct pollfd p = { master, POLLIN, 0 };
		if (poll(&p, 1, 100) <= 0)
			continue;
		ssize_t n = read(master, buf + len, sizeof buf - 1 - len);
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	buf[len] = 0;
	close(master);
	int status = wait_ms(pty_child, 5000);
	cr_assert_neq(status, -1, "socktune did not exit; the terminal got:\n%s", buf);
	pty_child = 0;
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "wait status %#x, terminal:\n%s", status, buf);
	cr_assert_not_null(strchr(buf, '\r'), "no carriage return on the terminal:\n%s", buf);
	cr_assert_not_null(strstr(buf, "socktune ab: run 1/4 (A, round 1/2)"), "terminal:\n%s", buf);
	cr_assert_not_null(strstr(buf, "socktune ab: run 4/4 (B, round 2/2)"), "terminal:\n%s", buf);
	/* Cleared at the end: erase to end of line, or blanks, after the last return. */
	const char *last = strrchr(buf, '\r');
	bool blanks = last && last > buf && last[1] == 0;
	for (const char *p = last ? last - 1 : buf; blanks && p > buf && p[0] != '\r'; p--)
		blanks = *p == ' ';
	cr_assert(!strcmp(last, "\r\033[K") || blanks, "the progress line is not cleared at the end:\n%s", buf);
	free(path);
	free(out);
}

/* ---- sweep ---------------------------------------------------------------------- */

Test(sweep, runs_default_then_each_value_in_every_round)
{
	char *log = it_path("order.log");
	struct it_run r;
	it_socktune(&r, NULL, IT_LIST("sweep", "-o", "sndbuf=64K,128K", "-n", "2", "-w", "1", "--", "sh", "-c",
				   "echo \"$SOCKTUNE_ARM $SOCKTUNE_RUN $SOCKTUNE\" >> \"$1\"", "sh", log));
	assert_status(&r, 0);
	char *got = it_read_file(log);
	cr_assert_str_eq(got, "default 0 observe\nsndbuf=64K 0 on\nsndbuf=128K 0 on\n"
			      "default 1 observe\nsndbuf=64K 1 on\nsndbuf=128K 1 on\n"
			      "default 2 observe\nsndbuf=64K 2 on\nsndbuf=128K 2 on\n");
	free(got);
	free(log);
	it_run_free(&r);
}

/* Two -o make a grid; the first varies slowest, and each arm has its values set. */
Test(sweep, grid_varies_the_first_option_slowest)
{
	char *log = it_path("grid.log");
	struct it_run r;
	it_socktune(&r, NULL,
		 IT_LIST("sweep", "-o", "sndbuf=64K,128K", "-o", "cork=auto,off", "-n", "1", "-w", "0", "--", "sh",
			 "-c",
			 "[ \"$SOCKTUNE\" = on ] || { echo \"$SOCKTUNE_ARM\" >> \"$1\"; exit 0; }; "
			 "echo \"$SOCKTUNE_ARM|$SOCKTUNE_SNDBUF|$SOCKTUNE_CORK\" >> \"$1\"",
			 "sh", log));
	assert_status(&r, 0);
	char *got = it_read_file(log);
	cr_assert_str_eq(got, "default\n"
			      "sndbuf=64K,cork=auto|64K|auto\n"
			      "sndbuf=64K,cork=off|64K|off\n"
			      "sndbuf=128K,cork=auto|128K|auto\n"
			      "sndbuf=128K,cork=off|128K|off\n");
	free(got);
	free(log);
	it_run_free(&r);
}

/* Best by median tcp segments: 128K (30). 256K has the lowest single run (5) and
 * would win by min; default is the last arm to be compared against. */
Test(sweep, best_arm_is_the_lowest_median_of_by)
{
	struct it_run r;
	it_socktune(&r, NULL,
		 IT_LIST("sweep", "-o", "sndbuf=64K,128K,256K", "-n", "3", "-w", "0", "--by", "tcp_segments", "--",
			 "sh", "-c",
			 "case \"$SOCKTUNE_ARM $SOCKTUNE_RUN\" in "
			 "default*) n=50;; sndbuf=64K*) n=40;; "
			 "'sndbuf=128K 1') n=30;; 'sndbuf=128K 2') n=10;; 'sndbuf=128K 3') n=35;; "
			 "'sndbuf=256K 2') n=5;; *) n=45;; esac; "
			 "printf '{\"tcp\":{\"segs_out\":%d}}\\n' \"$n\" >> \"$SOCKTUNE_STATS\""));
	assert_status(&r, 0);
	struct md t;
	md_parse(&t, r.out);
	cr_assert_gt(t.nrows, 0, "no table:\n%s", r.out);
	cr_assert_str_eq(t.cell[0][0], "sndbuf", "the first column is the swept key:\n%s", r.out);
	cr_assert_eq(t.nrows, 5, "want a row for default and each value:\n%s", r.out);
	int best = md_row_with(&t, 0, "128K"), segs = md_col(&t, "tcp segments"), runs = md_col(&t, "runs");
	cr_assert_geq(best, 0, "no 128K row:\n%s", r.out);
	cr_assert_geq(segs, 0, "no tcp segments column:\n%s", r.out);
	cr_assert_geq(runs, 0, "no runs column:\n%s", r.out);
	cr_assert_not_null(strstr(t.cell[best][0], "(best)"), "128K is not marked best:\n%s", r.out);
	cr_assert_eq(it_count(r.out, "(best)"), 1, "one best arm:\n%s", r.out);
	assert_cell(&t, r.out, best, segs, 30);
	assert_runs(&t, r.out, best, runs, 3, 3);
	assert_cell(&t, r.out, md_row_with(&t, 0, "256K"), segs, 45);
	cr_assert_neq(md_row_with(&t, 0, "default"), -1, "no default row:\n%s", r.out);
	/* The "best:" line after the table names the arm. */
	const char *line = strstr(r.out, "\nbest: ");
	cr_assert_not_null(line, "no best: line:\n%s", r.out);
	cr_assert_not_null(strstr(line, "sndbuf=128K"), "the best: line does not name sndbuf=128K:\n%s", r.out);
	md_free(&t);
	it_run_free(&r);
}

/* The columns: one per swept key, then runs, the times, the wall ratio to default
 * (then the figures, none here). */
Test(sweep, table_columns_are_the_specified_ones)
{
	struct it_run r;
	it_socktune(&r, NULL, IT_LIST("sweep", "-o", "sndbuf=64K,128K", "-o", "cork=auto,off", "-n", "1", "-w", "0",
				   "--", "true"));
	assert_status(&r, 0);
	struct md t;
	md_parse(&t, r.out);
	static const char *const head[] = { "sndbuf", "cork", "runs", "wall s", "wall min", "wall max",
					    "user s", "sys s", "wall s vs default" };
	cr_assert_eq(t.ncells[0], 9, "want 9 columns:\n%s", r.out);
	for (int c = 0; c < 9; c++)
		cr_assert_str_eq(t.cell[0][c], head[c], "header column %d:\n%s", c, r.out);
	cr_assert_eq(t.nrows, 6, "want a row for default and each of 4 arms:\n%s", r.out);
	md_free(&t);
	it_run_free(&r);
}

/* Without --by, the best arm is the one with the lowest median wall time. */
Test(sweep, best_arm_is_the_fastest_by_default)
{
	struct it_run r;
	it_socktune(&r, NULL, IT_LIST("sweep", "-o", "sndbuf=64K,128K", "-n", "1", "-w", "0", "--", "sh", "-c",
				   "[ \"$SOCKTUNE_ARM\" = sndbuf=128K ] || sleep 0.3"));
	assert_status(&r, 0);
	const char *line = strstr(r.out, "\nbest: ");
	cr_assert_not_null(line, "no best: line:\n%s", r.out);
	cr_assert_not_null(strstr(line, "sndbuf=128K"), "128K was the fast one:\n%s", r.out);
	cr_assert_eq(it_count(r.out, "(best)"), 1, "one best arm:\n%s", r.out);
	it_run_free(&r);
}

/* A grid's CSV: one column a swept key, the arm label quoted for its comma, and the
 * figures in the record of the arm that reported them. */
Test(sweep, csv_has_the_swept_key_columns)
{
	char *path = it_path("sweep.csv");
	struct it_run r;
	it_socktune(&r, NULL,
		 IT_LIST("sweep", "-o", "sndbuf=64K,128K", "-o", "cork=auto,off", "-n", "1", "-w", "1", "--csv", path,
			 "--", "sh", "-c",
			 "case \"$SOCKTUNE_ARM\" in default) n=1;; sndbuf=64K,cork=auto) n=2;; "
			 "sndbuf=64K,cork=off) n=3;; sndbuf=128K,cork=auto) n=4;; *) n=5;; esac; "
			 "printf '{\"tcp\":{\"segs_out\":%d}}\\n' \"$n\" >> \"$SOCKTUNE_STATS\""));
	assert_status(&r, 0);
	struct csv c;
	csv_load(&c, path);
	char *header = csv_header_line(&c);
	cr_assert_str_eq(header, "arm,sndbuf,cork,run,exit,wall_s,user_s,sys_s,tcp_segments,tcp_bytes,"
				 "tls_records,iov_merges,tls_held,corked_writes,cork_pushes");
	free(header);
	cr_assert_eq(c.nrows, 6, "want 5 records (5 arms, 1 run, no warm-up): got %d", c.nrows - 1);
	static const struct { const char *arm, *sndbuf, *cork, *segs; } want[] = {
		{ "sndbuf=64K,cork=auto", "64K", "auto", "2" },
		{ "sndbuf=64K,cork=off", "64K", "off", "3" },
		{ "sndbuf=128K,cork=auto", "128K", "auto", "4" },
		{ "sndbuf=128K,cork=off", "128K", "off", "5" },
	};
	for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
		int rec = csv_record(&c, want[i].arm, "1");
		cr_assert_str_eq(c.f[rec][csv_col(&c, "sndbuf")], want[i].sndbuf, "%s", want[i].arm);
		cr_assert_str_eq(c.f[rec][csv_col(&c, "cork")], want[i].cork, "%s", want[i].arm);
		cr_assert_str_eq(c.f[rec][csv_col(&c, "exit")], "0", "%s", want[i].arm);
		cr_assert_str_eq(c.f[rec][csv_col(&c, "tcp_segments")], want[i].segs, "%s", want[i].arm);
	}
	int def = csv_record(&c, "default", "1");
	cr_assert_str_eq(c.f[def][csv_col(&c, "tcp_segments")], "1");
	/* The quoting itself, not only a parser that coped. */
	char *text = it_read_file(path);
	cr_assert_not_null(strstr(text, "\n\"sndbuf=64K,cork=auto\",64K,auto,1,0,"), "%s", text);
	free(text);
	csv_free(&c);
	free(path);
	it_run_free(&r);
}

Test(sweep, a_failed_run_is_reported_with_its_arm)
{
	struct it_run r;
	it_socktune(&r, NULL, IT_LIST("sweep", "-o", "sndbuf=64K,128K", "-n", "2", "-w", "0", "--", "sh", "-c",
				   "[ \"$SOCKTUNE_ARM $SOCKTUNE_RUN\" = 'sndbuf=128K 2' ] && exit 4; exit 0"));
	assert_status(&r, 1);
	cr_assert_not_null(strstr(r.out, "sndbuf=128K run 2: exit status 4, left out"), "not reported:\n%s", r.out);
	struct md t;
	md_parse(&t, r.out);
	int row = md_row_with(&t, 0, "128K"), runs = md_col(&t, "runs");
	cr_assert_geq(row, 0, "no 128K row:\n%s", r.out);
	cr_assert_geq(runs, 0, "no runs column:\n%s", r.out);
	assert_runs(&t, r.out, row, runs, 1, 2);
	assert_runs(&t, r.out, md_row_with(&t, 0, "64K"), runs, 2, 2);
	md_free(&t);
	it_run_free(&r);
}
