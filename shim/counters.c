/* The counters as JSON, from the one list in stats.h: the exit report
 * (stats.c) and `socktune stats` (cli/stats.c) write them the same way.
 * Pure: no hooks, no system calls. */
#include "stats.h"

#include <stddef.h>
#include <stdio.h>
#include <string.h>

static const struct st_stat_field fields[] = {
#define ST_STATS_ROW(group, key, field) {group, key, offsetof(struct st_stats, field)},
	ST_STATS_FIELDS(ST_STATS_ROW)
#undef ST_STATS_ROW
	{NULL, NULL, 0},
};

const struct st_stat_field *stats_fields(void)
{
	return fields;
}

unsigned long stats_value(const struct st_stats *s, const struct st_stat_field *f)
{
	return *(const unsigned long *)((const char *)s + f->offset);
}

void stats_snapshot(struct st_stats *to, const struct st_stats *from)
{
	_Static_assert(sizeof(struct st_stats) % sizeof(unsigned long) == 0,
		       "struct st_stats is made of unsigned longs");
	unsigned long *t = (unsigned long *)to;
	const unsigned long *f = (const unsigned long *)from;
	for (size_t i = 0; i < sizeof(*to) / sizeof(unsigned long); i++)
		t[i] = __atomic_load_n(&f[i], __ATOMIC_RELAXED);
}

int stats_json_members(char *buf, unsigned long len, const struct st_stats *s)
{
	return stats_json_rates(buf, len, s, NULL, 0);
}

int stats_json_rates(char *buf, unsigned long len, const struct st_stats *now,
		     const struct st_stats *then, double seconds)
{
	size_t o = 0;
	const char *open = NULL; /* the group whose brace is open */
	for (const struct st_stat_field *f = fields; f->key; f++) {
		const char *g = f->group;
		char head[48] = ",", value[32];
		if (!open || strcmp(open, g)) {
			/* Leaving a group, entering the next (or the top level). */
			snprintf(head, sizeof(head), "%s%s%s%s%s", open && open[0] ? "}" : "",
				 f == fields ? "" : ",", g[0] ? "\"" : "", g, g[0] ? "\":{" : "");
			open = g;
		}
		if (then) {
			double d = (double)(stats_value(now, f) - stats_value(then, f));
			snprintf(value, sizeof(value), "%.3f", seconds > 0 ? d / seconds : 0.0);
		} else {
			snprintf(value, sizeof(value), "%lu", stats_value(now, f));
		}
		int n = snprintf(buf + (o < len ? o : len), o < len ? len - o : 0, "%s\"%s\":%s", head,
				 f->key, value);
		if (n < 0)
			return -1;
		o += (size_t)n;
	}
	int n = snprintf(buf + (o < len ? o : len), o < len ? len - o : 0, "%s",
			 open && open[0] ? "}" : "");
	return n < 0 ? -1 : (int)(o + (size_t)n);
}
