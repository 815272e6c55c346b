/* `socktune stats [PID]...`: reads the live figures of running preloaded
 * processes (shim/live.c writes them) and shows their counters, their
 * rates, the settings in force and the library's messages; --all sums them,
 * --json prints them for programs, --watch redraws every second.  Files of
 * processes that are gone are removed on the way. */
#include "cli.h"
#include "live.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static const char usage[] =
	"usage: socktune stats [--json] [--all] [--watch [--count N]] [--dir DIR] [PID]...\n"
	"\n"
	"Show the live figures of running processes that have libsocktune preloaded:\n"
	"the counters, their rates, the settings in force and the library's messages\n"
	"(warnings are kept there even when nothing is printed). Without PID, every\n"
	"such process the caller may see: its own, or as root everyone's.\n"
	"\n"
	"      --json       one JSON object per sample, on one line\n"
	"      --all        the sum over the processes, not each\n"
	"      --watch      sample every second until interrupted; rates are per\n"
	"                   second over the last second (else since the start)\n"
	"      --count N    with --watch, stop after N samples\n"
	"      --dir DIR    where the figures are (the live_dir key; default "
	ST_LIVE_DIR ")\n"
	"  -h, --help       show this help\n"
	"\n"
	"Exit status: 0; 1 if a PID given is not a preloaded process the caller may see;\n"
	"2 for a usage error. See socktune(1) and socktune(7).\n";

/* One process's figures as last read. */
struct proc {
	struct st_live live;
	struct st_stats then; /* at the previous sample, for the rates */
	double then_at;       /* its time; 0: none yet */
	int seen;             /* in this sample */
	int other_ns;         /* in another pid namespace: not known to be running */
};

static struct proc *procs;
static size_t nprocs, procs_room;

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint64_t proc_start_ticks(long pid)
{
	char path[64], buf[1024];
	snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	return live_start_ticks(buf);
}

static uint64_t own_pid_ns(void)
{
	static uint64_t ns;
	if (!ns)
		ns = live_pid_ns();
	return ns;
}

/* Reads dir/name into l.  Returns 1 for a live process's figures, 2 for
 * those of a process in another pid namespace (whose pid means nothing
 * here, so it is neither checked nor removed), 0 for a file to skip; and
 * removes the file of a process that is gone. */
static int read_one(int dfd, const char *name, struct st_live *l)
{
	char *end;
	long pid = strtol(name, &end, 10);
	if (*end || pid <= 0)
		return 0;
	int fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return 0;
	ssize_t n = pread(fd, l, sizeof(*l), 0);
	close(fd);
	if (n != (ssize_t)sizeof(*l) || memcmp(l->magic, ST_LIVE_MAGIC, sizeof(l->magic)) ||
	    l->version != ST_LIVE_VERSION || l->size != sizeof(*l))
		return 0; /* being made, or another version's */
	l->prog[sizeof(l->prog) - 1] = l->settings[sizeof(l->settings) - 1] = '\0';
	l->version_text[sizeof(l->version_text) - 1] = '\0';
	if (l->pid_ns && own_pid_ns() && l->pid_ns != own_pid_ns())
		return 2;
	uint64_t ticks = proc_start_ticks(pid);
	if (l->pid != pid || !ticks || ticks != l->start_ticks) {
		/* Gone (or its pid reused): killed, or _exit'ed past the hook. */
		unlinkat(dfd, name, 0);
		return 0;
	}
	return 1;
}

static int wanted(long pid, char **pids, int npids)
{
	if (!npids)
		return 1;
	for (int i = 0; i < npids; i++)
		if (atol(pids[i]) == pid)
			return 1;
	return 0;
}

static struct proc *proc_slot(long pid, uint64_t ticks)
{
	for (size_t i = 0; i < nprocs; i++)
		if (procs[i].live.pid == pid && procs[i].live.start_ticks == ticks)
			return &procs[i];
	if (nprocs == procs_room) {
		size_t room = procs_room ? 2 * procs_room : 16;
		struct proc *p = realloc(procs, room * sizeof(*p));
		if (!p)
			return NULL;
		procs = p, procs_room = room;
	}
	memset(&procs[nprocs], 0, sizeof(procs[nprocs]));
	return &procs[nprocs++];
}

/* One sample: every socktune-UID directory under dir the caller may read. */
static void sample(const char *dir, char **pids, int npids)
{
	for (size_t i = 0; i < nprocs; i++)
		procs[i].seen = 0;
	DIR *top = opendir(dir);
	if (!top)
		return;
	for (struct dirent *d; (d = readdir(top));) {
		if (strncmp(d->d_name, "socktune-", 9))
			continue;
		int dfd = openat(dirfd(top), d->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		DIR *sub = dfd < 0 ? NULL : fdopendir(dfd);
		if (!sub) {
			if (dfd >= 0)
				close(dfd);
			continue; /* another user's */
		}
		for (struct dirent *e; (e = readdir(sub));) {
			static struct st_live l;
			int got = read_one(dirfd(sub), e->d_name, &l);
			if (!got || !wanted((long)l.pid, pids, npids))
				continue;
			struct proc *p = proc_slot((long)l.pid, l.start_ticks);
			if (!p)
				continue;
			p->live = l;
			p->seen = 1;
			p->other_ns = got == 2;
		}
		closedir(sub);
	}
	closedir(top);
	/* Those not seen are gone: drop them. */
	size_t kept = 0;
	for (size_t i = 0; i < nprocs; i++)
		if (procs[i].seen)
			procs[kept++] = procs[i];
	nprocs = kept;
}

static void duration(char *buf, size_t len, long s)
{
	if (s < 0)
		s = 0;
	if (s >= 86400)
		snprintf(buf, len, "%ldd%02ldh", s / 86400, s % 86400 / 3600);
	else if (s >= 3600)
		snprintf(buf, len, "%ldh%02ldm", s / 3600, s % 3600 / 60);
	else if (s >= 60)
		snprintf(buf, len, "%ldm%02lds", s / 60, s % 60);
	else
		snprintf(buf, len, "%lds", s);
}

static void json_string(const char *s)
{
	putchar('"');
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;
		if (ch == '"' || ch == '\\')
			printf("\\%c", ch);
		else if (ch < 0x20)
			printf("\\u%04x", ch);
		else
			putchar(ch);
	}
	putchar('"');
}

/* The rates' base: the previous sample, or the process's start. */
static const struct st_stats *rate_base(const struct proc *p, double *secs, double at)
{
	static const struct st_stats zero;
	if (p->then_at > 0) {
		*secs = at - p->then_at;
		return &p->then;
	}
	*secs = (double)(time(NULL) - p->live.started);
	return &zero;
}

static void print_members(const struct st_stats *s, const struct st_stats *base, double secs)
{
	static char buf[8192];
	if (base)
		stats_json_rates(buf, sizeof(buf), s, base, secs);
	else
		stats_json_members(buf, sizeof(buf), s);
	fputs(buf, stdout);
}

static void print_json(const struct proc *p, double at)
{
	const struct st_live *l = &p->live;
	double secs;
	const struct st_stats *base = rate_base(p, &secs, at);
	printf("{\"pid\":%lld,\"prog\":", (long long)l->pid);
	json_string(l->prog);
	printf(",\"socktune\":");
	json_string(l->version_text);
	printf(",\"started\":%lld,\"uptime_s\":%lld,\"images\":%u,\"other_pid_namespace\":%s,"
	       "\"settings\":",
	       (long long)l->started, (long long)(time(NULL) - l->started), l->images,
	       p->other_ns ? "true" : "false");
	json_string(l->settings);
	printf(",\"notes\":[");
	uint32_t n = l->notes_written, first = n > ST_LIVE_NOTES ? n - ST_LIVE_NOTES : 0;
	for (uint32_t i = first; i < n; i++) {
		char note[ST_LIVE_NOTE_LEN + 1];
		memcpy(note, l->notes[i % ST_LIVE_NOTES], ST_LIVE_NOTE_LEN);
		note[ST_LIVE_NOTE_LEN] = '\0';
		printf("%s", i > first ? "," : "");
		json_string(note);
	}
	printf("],\"counters\":{");
	print_members(&l->stats, NULL, 0);
	printf("},\"rates_over_s\":%.3f,\"rates\":{", secs);
	print_members(&l->stats, base, secs);
	printf("}}");
}

/* "value" or "value (+rate/s)" for one counter. */
static void print_counter(const struct st_stats *s, const struct st_stats *base, double secs,
			  const struct st_stat_field *f)
{
	unsigned long v = stats_value(s, f);
	double r = secs > 0 ? (double)(v - stats_value(base, f)) / secs : 0;
	printf(" %s %lu", f->key, v);
	if (r > 0)
		printf(" (%.*f/s)", r < 10 ? 1 : 0, r);
}

/* The headline the issue of trust asks first: did it apply, what did it
 * save; then every counter, one group a line. */
static void print_counters(const struct st_stats *s, const struct st_stats *base, double secs)
{
	unsigned long saved = s->tls_held > s->tls_records ? s->tls_held - s->tls_records : 0;
	printf("  sockets tuned %lu of %lu, %lu clamped by the kernel; TLS %lu records for %lu "
	       "held writes (%lu saved), %lu bytes sent late; %lu merges; %lu cork pushes, %lu "
	       "late\n",
	       s->tuned, s->seen, s->clamps, s->tls_records, s->tls_held, saved, s->tls_late,
	       s->merge_calls, s->cork_pushes, s->cork_late);
	const char *group = NULL;
	for (const struct st_stat_field *f = stats_fields(); f->key; f++) {
		if (!group || strcmp(group, f->group)) {
			printf("%s  %-8s", group ? "\n" : "", f->group[0] ? f->group : "other");
			group = f->group;
		}
		print_counter(s, base, secs, f);
	}
	printf("\n");
}

static void print_text(const struct proc *p, double at)
{
	const struct st_live *l = &p->live;
	char up[32];
	double secs;
	const struct st_stats *base = rate_base(p, &secs, at);
	duration(up, sizeof(up), (long)(time(NULL) - l->started));
	printf("%lld %s: up %s, socktune %s%s%s; rates per second %s\n", (long long)l->pid, l->prog,
	       up, l->version_text, l->images > 1 ? ", counting across exec" : "",
	       p->other_ns ? ", in another pid namespace (not known to be running)" : "",
	       p->then_at > 0 ? "over the last sample" : "since the start");
	printf("  settings:\n");
	for (const char *line = l->settings; *line;) {
		int w = (int)strcspn(line, "\n");
		printf("    %.*s\n", w, line);
		line += w + (line[w] == '\n');
	}
	print_counters(&l->stats, base, secs);
	uint32_t n = l->notes_written, first = n > ST_LIVE_NOTES ? n - ST_LIVE_NOTES : 0;
	if (n)
		printf("  messages (%u, the last %u):\n", n, n - first);
	for (uint32_t i = first; i < n; i++)
		printf("    %.*s\n", ST_LIVE_NOTE_LEN, l->notes[i % ST_LIVE_NOTES]);
}

/* The sum.  Over the last sample, a process new in this one adds no rate. */
static void print_all(int json, double at, double prev_at)
{
	struct proc sum;
	memset(&sum, 0, sizeof(sum));
	sum.live.started = time(NULL);
	for (size_t i = 0; i < nprocs; i++) {
		const struct proc *p = &procs[i];
		const unsigned long *from = (const unsigned long *)&p->live.stats;
		const unsigned long *then = (const unsigned long *)(p->then_at > 0 ? &p->then : &p->live.stats);
		unsigned long *to = (unsigned long *)&sum.live.stats, *tt = (unsigned long *)&sum.then;
		for (size_t k = 0; k < sizeof(struct st_stats) / sizeof(unsigned long); k++)
			to[k] += from[k], tt[k] += then[k];
		if (p->live.started < sum.live.started)
			sum.live.started = p->live.started;
	}
	/* The longest hold is a maximum, not a count. */
	unsigned long longest = 0;
	for (size_t i = 0; i < nprocs; i++)
		if (procs[i].live.stats.tls_longest_us > longest)
			longest = procs[i].live.stats.tls_longest_us;
	sum.live.stats.tls_longest_us = sum.then.tls_longest_us = longest;
	sum.then_at = prev_at;
	double secs;
	const struct st_stats *base = rate_base(&sum, &secs, at);
	if (json) {
		printf("{\"processes\":%zu,\"counters\":{", nprocs);
		print_members(&sum.live.stats, NULL, 0);
		printf("},\"rates_over_s\":%.3f,\"rates\":{", secs);
		print_members(&sum.live.stats, base, secs);
		printf("}}\n");
		return;
	}
	printf("all: %zu process%s\n", nprocs, nprocs == 1 ? "" : "es");
	print_counters(&sum.live.stats, base, secs);
}

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

int cli_stats(int argc, char **argv)
{
	enum { OPT_JSON = 256, OPT_ALL, OPT_WATCH, OPT_COUNT, OPT_DIR };
	static const struct option longopts[] = {
		{"json", no_argument, NULL, OPT_JSON},   {"all", no_argument, NULL, OPT_ALL},
		{"watch", no_argument, NULL, OPT_WATCH}, {"count", required_argument, NULL, OPT_COUNT},
		{"dir", required_argument, NULL, OPT_DIR}, {"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	int json = 0, all = 0, watch = 0, c;
	long count = 0;
	const char *dir = NULL;
	optind = 1;
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case OPT_JSON: json = 1; break;
		case OPT_ALL: all = 1; break;
		case OPT_WATCH: watch = 1; break;
		case OPT_COUNT: {
			char *end;
			count = strtol(optarg, &end, 10);
			if (*end || count < 1) {
				fprintf(stderr, "socktune stats: --count %s: expected a number >= 1\n",
					optarg);
				return 2;
			}
			break;
		}
		case OPT_DIR: dir = optarg; break;
		case 'h': fputs(usage, stdout); return 0;
		default: fputs(usage, stderr); return 2;
		}
	}
	for (int i = optind; i < argc; i++) {
		char *end;
		if (strtol(argv[i], &end, 10) <= 0 || *end) {
			fprintf(stderr, "socktune stats: %s: not a process id\n", argv[i]);
			return 2;
		}
	}
	if (count && !watch) {
		fputs("socktune stats: --count goes with --watch\n", stderr);
		return 2;
	}
	static struct st_config cfg;
	if (!dir) {
		/* Where the library puts them: its live_dir, from the same sources. */
		conf_load(&cfg, SOCKTUNE_SYSCONFDIR, 0, getenv, NULL, NULL, "socktune", "socktune");
		dir = cfg.live_dir;
	}
	char **pids = argv + optind;
	int npids = argc - optind;
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	int tty = isatty(1);
	double prev_at = 0;
	for (long n = 0; !stop; n++) {
		double at = now_s();
		sample(dir, pids, npids);
		if (watch && !json && tty)
			fputs("\033[H\033[2J", stdout);
		else if (watch && !json && n)
			putchar('\n');
		if (all) {
			print_all(json, at, prev_at);
		} else if (json) {
			printf("{\"processes\":[");
			for (size_t i = 0; i < nprocs; i++) {
				printf("%s", i ? "," : "");
				print_json(&procs[i], at);
			}
			printf("]}\n");
		} else {
			for (size_t i = 0; i < nprocs; i++) {
				printf("%s", i ? "\n" : "");
				print_text(&procs[i], at);
			}
			if (!nprocs)
				printf("no running process with socktune's live figures in %s%s\n", dir,
				       npids ? " among those asked for" : "");
		}
		fflush(stdout);
		for (size_t i = 0; i < nprocs; i++) {
			procs[i].then = procs[i].live.stats;
			procs[i].then_at = at;
		}
		prev_at = at;
		if (!watch || (count && n + 1 >= count))
			break;
		struct timespec second = {1, 0};
		while (!stop && nanosleep(&second, &second) < 0 && errno == EINTR)
			;
	}
	int missing = 0;
	for (int i = 0; i < npids; i++) {
		int found = 0;
		for (size_t k = 0; k < nprocs; k++)
			found |= procs[k].live.pid == atol(pids[i]);
		if (!found) {
			fprintf(stderr,
				"socktune stats: %s: no live figures (not running, not preloaded, no "
				"socket connected or accepted yet, live off, or not the caller's to "
				"see)\n",
				pids[i]);
			missing = 1;
		}
	}
	free(procs);
	return missing;
}
