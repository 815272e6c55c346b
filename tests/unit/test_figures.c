/* The figures of a run: the names and labels the CSV and the tables use, and the sum
 * of the stats objects the library appends, one JSON object a line. */
#include "cli/figures.h"

#include <criterion/criterion.h>
#include <string.h>

static int parse(double v[FIG_COUNT], const char *text)
{
	return figures_parse(v, text, strlen(text));
}

#define assert_fig(v, fig, want)                                                                \
	cr_assert_float_eq((v)[fig], (double)(want), 1e-9, "%s: got %.17g, want %.17g",        \
			   figure_info[fig].name, (v)[fig], (double)(want))

/* One line as shim/stats.c stats_format writes it, with tls.records. "held" is both a
 * tls and a cork key, "bytes" is in merge and tls, "tuned" is an object and a key. */
static const char library_line[] =
	"{\"socktune\":\"0.1.0\",\"prog\":\"nbdcopy\",\"pid\":4242,\"mode\":\"on\","
	"\"sockets\":{\"seen\":3,\"tuned\":2,\"unix\":0,\"inet\":3,\"inet6\":0,"
	"\"client\":2,\"server\":1},"
	"\"tuned\":{\"sndbuf\":2,\"rcvbuf\":0,\"nodelay\":1},"
	"\"kept\":{\"sndbuf\":0,\"rcvbuf\":0,\"nodelay\":0},"
	"\"failures\":0,\"clamps\":1,"
	"\"tcp\":{\"connections\":2,\"segs_out\":1234,\"bytes_sent\":5000000000,"
	"\"total_retrans\":17},"
	"\"merge\":{\"calls\":7,\"iov_in\":40,\"iov_out\":9,\"bytes\":888},"
	"\"tls\":{\"records\":12,\"held\":31,\"flushes\":6,\"bytes\":999,\"at_exit\":1,"
	"\"failures\":0},"
	"\"cork\":{\"corked\":2,\"held\":55,\"pushes\":19,\"yielded\":3}}\n";

/* The names are the CSV header's columns, in its order, and the labels the table rows. */
Test(figures, names_labels_and_keys_are_the_specified_ones)
{
	static const char *const names[FIG_COUNT] = {
		"wall_s", "user_s", "sys_s", "tcp_segments", "tcp_bytes", "tls_records",
		"iov_merges", "tls_held", "corked_writes", "cork_pushes",
	};
	static const char *const labels[FIG_COUNT] = {
		"wall s", "user s", "sys s", "tcp segments", "tcp bytes", "tls records",
		"iov merges", "tls held", "corked writes", "cork pushes",
	};
	static const char *const json[FIG_COUNT] = {
		NULL, NULL, NULL, "tcp.segs_out", "tcp.bytes_sent", "tls.records",
		"merge.calls", "tls.held", "cork.held", "cork.pushes",
	};
	for (int i = 0; i < FIG_COUNT; i++) {
		cr_assert_str_eq(figure_info[i].name, names[i], "figure %d", i);
		cr_assert_str_eq(figure_info[i].label, labels[i], "figure %d", i);
		if (json[i])
			cr_assert_str_eq(figure_info[i].json, json[i], "figure %d", i);
		else
			cr_assert_null(figure_info[i].json, "figure %d (%s) is a time", i, names[i]);
	}
}

Test(figures, figure_by_name_finds_every_column)
{
	for (int i = 0; i < FIG_COUNT; i++)
		cr_assert_eq(figure_by_name(figure_info[i].name), i, "%s", figure_info[i].name);
}

Test(figures, figure_by_name_rejects_other_names)
{
	static const char *const bad[] = { "", "cpu", "tcp", "tcp_segments_", "tcp segments",
					   "segs_out", "tcp.segs_out", "nonsense" };
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		cr_assert_eq(figure_by_name(bad[i]), -1, "\"%s\" was accepted", bad[i]);
}

Test(figures, two_objects_on_two_lines_are_summed)
{
	double v[FIG_COUNT] = { 0 };
	int n = parse(v, "{\"tcp\":{\"segs_out\":3,\"bytes_sent\":100}}\n"
			 "{\"tcp\":{\"segs_out\":4,\"bytes_sent\":50},\"cork\":{\"pushes\":2}}\n");
	cr_assert_eq(n, 2);
	assert_fig(v, FIG_SEGS, 7);
	assert_fig(v, FIG_BYTES, 150);
	assert_fig(v, FIG_PUSHES, 2);
	assert_fig(v, FIG_HELD, 0);
}

/* "Adds ... to v": a run's figures accumulate; the times are not touched. */
Test(figures, parse_adds_to_what_v_holds)
{
	double v[FIG_COUNT] = { 0 };
	v[FIG_WALL] = 1.5;
	v[FIG_SEGS] = 100;
	cr_assert_eq(parse(v, "{\"tcp\":{\"segs_out\":5}}\n"), 1);
	assert_fig(v, FIG_SEGS, 105);
	assert_fig(v, FIG_WALL, 1.5);
}

Test(figures, the_library_line_gives_every_figure)
{
	double v[FIG_COUNT] = { 0 };
	cr_assert_eq(parse(v, library_line), 1);
	assert_fig(v, FIG_SEGS, 1234);
	assert_fig(v, FIG_BYTES, 5000000000.0); /* more than 32 bits */
	assert_fig(v, FIG_RECORDS, 12);
	assert_fig(v, FIG_MERGES, 7);
	assert_fig(v, FIG_HELD, 31);   /* tls.held, not cork.held */
	assert_fig(v, FIG_CORKS, 55);  /* cork.held, not tls.held */
	assert_fig(v, FIG_PUSHES, 19);
	assert_fig(v, FIG_WALL, 0);
	assert_fig(v, FIG_USER, 0);
	assert_fig(v, FIG_SYS, 0);
}

/* Many processes of one run each append a line: all of them count. */
Test(figures, three_library_lines_are_summed)
{
	char text[3 * sizeof library_line];
	strcpy(text, library_line);
	strcat(text, library_line);
	strcat(text, library_line);
	double v[FIG_COUNT] = { 0 };
	cr_assert_eq(parse(v, text), 3);
	assert_fig(v, FIG_SEGS, 3 * 1234);
	assert_fig(v, FIG_CORKS, 3 * 55);
}

Test(figures, junk_lines_are_skipped)
{
	double v[FIG_COUNT] = { 0 };
	int n = parse(v, "hello\n"
			 "\n"
			 "segs_out 1000\n"
			 "{\"tcp\":{\"segs_out\":3}}\n"
			 "[1, 2, {\"tcp\":{\"segs_out\":1000}}]\n"
			 "\"tcp\":{\"segs_out\":1000}\n"
			 "{\"tcp\":{\"segs_out\":4}}\n"
			 "}}}{{{\n"
			 "{\"tcp\":{\"segs_out\":1000}} and more\n"
			 "{\"tcp\":{\"segs_out\":1000}}{\"tcp\":{\"segs_out\":1000}}\n");
	cr_assert_eq(n, 2);
	assert_fig(v, FIG_SEGS, 7);
}

/* A process killed while its file was being copied could leave half a line. */
Test(figures, a_truncated_object_is_skipped)
{
	double v[FIG_COUNT] = { 0 };
	int n = parse(v, "{\"tcp\":{\"segs_out\":3}}\n{\"tcp\":{\"segs_out\":1000,\"bytes_s\n");
	cr_assert_eq(n, 1);
	assert_fig(v, FIG_SEGS, 3);
}

Test(figures, objects_without_the_keys_add_nothing)
{
	double v[FIG_COUNT] = { 0 };
	parse(v, "{\"foo\":1,\"bar\":{\"baz\":2}}\n"
		 "{\"tcp\":{\"connections\":5}}\n"
		 "{\"tcp\":7,\"cork\":\"many\"}\n"
		 "{}\n");
	for (int i = 0; i < FIG_COUNT; i++)
		assert_fig(v, i, 0);
	/* Control: the same lines with one stats object among them. */
	cr_assert_geq(parse(v, "{\"foo\":1}\n{\"tcp\":{\"segs_out\":9}}\n"), 1);
	assert_fig(v, FIG_SEGS, 9);
}

/* Only tcp.segs_out at the top: not a segs_out in an object inside tcp, nor a tcp
 * object inside another one. */
Test(figures, nested_objects_are_not_taken_for_the_figures)
{
	double v[FIG_COUNT] = { 0 };
	int n = parse(v, "{\"peer\":{\"tcp\":{\"segs_out\":50}},"
			 "\"tcp\":{\"info\":{\"segs_out\":100,\"deeper\":{\"a\":{}}},\"segs_out\":2},"
			 "\"cork\":{\"inner\":{\"held\":70,\"pushes\":80},\"pushes\":1}}\n");
	cr_assert_eq(n, 1);
	assert_fig(v, FIG_SEGS, 2);
	assert_fig(v, FIG_PUSHES, 1);
	assert_fig(v, FIG_CORKS, 0);
}

/* The program name is the one string from outside: escaped quotes and braces in it
 * must not be read as figures. */
Test(figures, a_program_name_with_quotes_and_braces_is_only_a_string)
{
	double v[FIG_COUNT] = { 0 };
	int n = parse(v, "{\"prog\":\"x\\\"},\\\"tcp\\\":{\\\"segs_out\\\":999}}\\\\\","
			 "\"tcp\":{\"segs_out\":6}}\n");
	cr_assert_eq(n, 1);
	assert_fig(v, FIG_SEGS, 6);
}

Test(figures, the_last_line_needs_no_newline)
{
	double v[FIG_COUNT] = { 0 };
	cr_assert_eq(parse(v, "{\"tcp\":{\"segs_out\":3}}\n{\"tcp\":{\"segs_out\":4}}"), 2);
	assert_fig(v, FIG_SEGS, 7);
}

/* len bounds the text: it is a file's content, not a C string. */
Test(figures, parse_reads_no_further_than_len)
{
	const char text[] = "{\"tcp\":{\"segs_out\":3}}\n{\"tcp\":{\"segs_out\":4}}\n";
	size_t first = (size_t)(strchr(text, '\n') + 1 - text);
	double v[FIG_COUNT] = { 0 };
	cr_assert_eq(figures_parse(v, text, first), 1);
	assert_fig(v, FIG_SEGS, 3);
	cr_assert_eq(figures_parse(v, text, 0), 0);
	assert_fig(v, FIG_SEGS, 3);
}

Test(figures, empty_text_reads_no_object)
{
	double v[FIG_COUNT] = { 0 };
	cr_assert_eq(parse(v, ""), 0);
	for (int i = 0; i < FIG_COUNT; i++)
		assert_fig(v, i, 0);
}
