/* The figures of a run, and reading them from the stats file: one JSON
 * object per line, one line per process.  The reader is a small scanner
 * that knows objects, strings and numbers, enough for what the library
 * writes; a line it cannot read is skipped, not guessed at. */
#include "figures.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const struct figure_info figure_info[FIG_COUNT] = {
	[FIG_WALL] = {"wall_s", "wall s", NULL},
	[FIG_USER] = {"user_s", "user s", NULL},
	[FIG_SYS] = {"sys_s", "sys s", NULL},
	[FIG_SEGS] = {"tcp_segments", "tcp segments", "tcp.segs_out"},
	[FIG_BYTES] = {"tcp_bytes", "tcp bytes", "tcp.bytes_sent"},
	[FIG_RECORDS] = {"tls_records", "tls records", "tls.records"},
	[FIG_MERGES] = {"iov_merges", "iov merges", "merge.calls"},
	[FIG_HELD] = {"tls_held", "tls held", "tls.held"},
	[FIG_CORKS] = {"corked_writes", "corked writes", "cork.held"},
	[FIG_PUSHES] = {"cork_pushes", "cork pushes", "cork.pushes"},
};

int figure_by_name(const char *name)
{
	for (int f = 0; f < FIG_COUNT; f++)
		if (!strcmp(name, figure_info[f].name))
			return f;
	return -1;
}

struct scan {
	const char *p, *end;
	double got[FIG_COUNT];
};

static void skip_space(struct scan *s)
{
	while (s->p < s->end && (*s->p == ' ' || *s->p == '\t' || *s->p == '\r'))
		s->p++;
}

/* A string: its body (escapes kept as they are) into out, cut to len. */
static int scan_string(struct scan *s, char *out, size_t len)
{
	size_t o = 0;
	if (s->p >= s->end || *s->p != '"')
		return -1;
	for (s->p++; s->p < s->end && *s->p != '"'; s->p++) {
		if (*s->p == '\\' && ++s->p >= s->end)
			return -1;
		if (o + 1 < len)
			out[o++] = *s->p;
	}
	if (s->p >= s->end)
		return -1;
	s->p++;
	out[o] = '\0';
	return 0;
}

static int scan_object(struct scan *s, const char *path, int depth);

/* A value under the key path: numbers are kept when the path names a
 * figure; objects recurse; strings, true, false and null are skipped. */
static int scan_value(struct scan *s, const char *path, int depth)
{
	char scratch[256];
	skip_space(s);
	if (s->p >= s->end)
		return -1;
	if (*s->p == '{')
		return scan_object(s, path, depth + 1);
	if (*s->p == '"')
		return scan_string(s, scratch, sizeof(scratch));
	if (*s->p == '-' || (*s->p >= '0' && *s->p <= '9')) {
		char num[64];
		size_t n = 0;
		while (s->p < s->end && n + 1 < sizeof(num) && strchr("+-.eE0123456789", *s->p))
			num[n++] = *s->p++;
		num[n] = '\0';
		char *endp;
		double v = strtod(num, &endp);
		if (endp == num || *endp)
			return -1;
		for (int f = 0; f < FIG_COUNT; f++)
			if (figure_info[f].json && !strcmp(path, figure_info[f].json))
				s->got[f] += v;
		return 0;
	}
	static const char *const words[] = {"true", "false", "null"};
	for (size_t i = 0; i < sizeof(words) / sizeof(*words); i++) {
		size_t n = strlen(words[i]);
		if ((size_t)(s->end - s->p) >= n && !memcmp(s->p, words[i], n)) {
			s->p += n;
			return 0;
		}
	}
	return -1;
}

static int scan_object(struct scan *s, const char *path, int depth)
{
	if (depth > 8 || s->p >= s->end || *s->p != '{')
		return -1;
	s->p++;
	skip_space(s);
	if (s->p < s->end && *s->p == '}') {
		s->p++;
		return 0;
	}
	for (;;) {
		char key[128], sub[256];
		skip_space(s);
		if (scan_string(s, key, sizeof(key)) < 0)
			return -1;
		skip_space(s);
		if (s->p >= s->end || *s->p++ != ':')
			return -1;
		if (path[0])
			snprintf(sub, sizeof(sub), "%s.%s", path, key);
		else
			snprintf(sub, sizeof(sub), "%s", key);
		if (scan_value(s, sub, depth) < 0)
			return -1;
		skip_space(s);
		if (s->p < s->end && *s->p == ',') {
			s->p++;
			continue;
		}
		if (s->p < s->end && *s->p == '}') {
			s->p++;
			return 0;
		}
		return -1;
	}
}

int figures_parse(double v[FIG_COUNT], const char *text, size_t len)
{
	const char *end = text + len;
	int objects = 0;
	for (const char *line = text; line < end;) {
		const char *nl = memchr(line, '\n', (size_t)(end - line));
		const char *stop = nl ? nl : end;
		struct scan s = {.p = line, .end = stop};
		skip_space(&s);
		if (scan_object(&s, "", 0) == 0) {
			skip_space(&s);
			if (s.p == s.end) {
				for (int f = 0; f < FIG_COUNT; f++)
					v[f] += s.got[f];
				objects++;
			}
		}
		line = nl ? nl + 1 : end;
	}
	return objects;
}
