/* driver.c: `conform`, the differential conformance suite's one program.
 *
 *   conform run [--from S] [--count N] [--jobs J] [--timeout-ms T] [--progress K]
 *   conform replay SEED     one seed, verbose: both logs and their diff
 *   conform show SEED       the scenario the seed makes
 *   conform client SEED ADDR...   the program under test (the driver runs it)
 *
 * For each seed the driver runs the scenario three times, interleaved: without
 * socktune, with it (LD_PRELOAD of SOCKTUNE_TESTLIB, default
 * build/libsocktune.so.1, in the client's environment only), and without it
 * again.  Each run starts the peer (a fork of the driver, never preloaded, see
 * peer.c) on fresh listeners, then execs the client with a clean environment:
 * HOME and XDG_CONFIG_HOME in a temporary directory, SOCKTUNE_CONFIG an empty
 * file there, and every feature on (SOCKTUNE_TLS_MERGE=1024, SOCKTUNE_CORK=auto,
 * SOCKTUNE_MERGE=4K).  A run's transcript is the client's log, its exit status
 * and the peer's report.
 *
 *  - The two runs without socktune differ: the scenario is a baseline flake,
 *    counted and listed, and not compared further.
 *  - The run with socktune differs from them: the baseline runs up to four
 *    times more, and if one of those runs matches the run with socktune, the
 *    scenario is a baseline flake too; otherwise it is a difference.
 *  - It took more than 100 ms longer than the slower of the two: the seed is
 *    a candidate.  When every scenario has run, each candidate is run alone,
 *    with nothing else running beside it, three times with and without
 *    socktune: if it is 100 ms slower every time, it is a stall.  A slow run that does not repeat
 *    is counted as noise (the runs in parallel, on a machine of 2 cores, slow
 *    each other down).
 * A client still running after --timeout-ms is killed (its transcript then says
 * so); the peer gives up on its own a second earlier.  Differences and stalls
 * make `run` exit 1, each printed with the command that replays it.
 */
#include "conform.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define STALL_MS 100

static const char *lib_path;
static long timeout_ms = 4000;
static SSL_CTX *peer_ctx;
/* Set for the runs that confirm a stall: their timed logs are kept. */
static bool debug_runs;

static long long now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* ---- one run ---- */

struct buf {
	char *p;
	size_t len, cap;
};

static void buf_add(struct buf *b, const char *s, size_t n)
{
	if (b->len + n + 1 > b->cap) {
		b->cap = (b->len + n + 1) * 2;
		b->p = realloc(b->p, b->cap);
		if (!b->p)
			abort();
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

struct run_out {
	struct buf client, err, peer;
	char *transcript;
	long ms;
	bool killed;
};

static void run_free(struct run_out *o)
{
	free(o->client.p);
	free(o->err.p);
	free(o->peer.p);
	free(o->transcript);
	memset(o, 0, sizeof *o);
}

static int listener(const struct conn_cfg *c, const char *dir, int i, char *addr, size_t cap)
{
	int l;
	if (c->unix_sock) {
		struct sockaddr_un un = { .sun_family = AF_UNIX };
		snprintf(un.sun_path, sizeof un.sun_path, "%s/s%d", dir, i);
		unlink(un.sun_path);
		l = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (l < 0 || bind(l, (struct sockaddr *)&un, sizeof un) < 0 || listen(l, 4) < 0)
			return -1;
		snprintf(addr, cap, "unix:%s", un.sun_path);
	} else {
		struct sockaddr_in in = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
		socklen_t len = sizeof in;
		l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (l < 0 || bind(l, (struct sockaddr *)&in, sizeof in) < 0 || listen(l, 4) < 0 ||
		    getsockname(l, (struct sockaddr *)&in, &len) < 0)
			return -1;
		snprintf(addr, cap, "tcp:%d", ntohs(in.sin_port));
	}
	return l;
}

static void run_once(const struct scenario *s, bool preload, const char *dir, struct run_out *o)
{
	memset(o, 0, sizeof *o);
	int lfd[MAXCONN];
	char addr[MAXCONN][160];
	for (int i = 0; i < s->nconn; i++)
		if ((lfd[i] = listener(&s->conn[i], dir, i, addr[i], sizeof addr[i])) < 0) {
			perror("conform: listener");
			exit(2);
		}
	int out[2], err[2], pout[2];
	if (pipe2(out, O_CLOEXEC) < 0 || pipe2(err, O_CLOEXEC) < 0 || pipe2(pout, O_CLOEXEC) < 0) {
		perror("conform: pipe");
		exit(2);
	}
	long long t0 = now_us();
	fflush(stdout);
	pid_t peer = fork();
	if (peer == 0) {
		close(out[0]), close(err[0]), close(pout[0]), close(out[1]), close(err[1]);
		_exit(peer_main(s, lfd, pout[1], peer_ctx, timeout_ms - 1000));
	}
	close(pout[1]);
	for (int i = 0; i < s->nconn; i++)
		close(lfd[i]);

	char seed[32], home[300], xdg[300], conf[300];
	snprintf(seed, sizeof seed, "%llu", (unsigned long long)s->seed);
	snprintf(home, sizeof home, "HOME=%s", dir);
	snprintf(xdg, sizeof xdg, "XDG_CONFIG_HOME=%s/xdg", dir);
	snprintf(conf, sizeof conf, "SOCKTUNE_CONFIG=%s/empty.conf", dir);
	char *preload_env = NULL;
	if (asprintf(&preload_env, "LD_PRELOAD=%s", lib_path) < 0)
		exit(2);
	/* SOCKTUNE_LOG passes through to the run with socktune, for diagnosis;
	 * CONFORM_DEBUG and CONFORM_ONLY to both (client.c). */
	char log_env[64] = "", only_env[256] = "";
	if (getenv("SOCKTUNE_LOG"))
		snprintf(log_env, sizeof log_env, "SOCKTUNE_LOG=%s", getenv("SOCKTUNE_LOG"));
	if (getenv("CONFORM_ONLY"))
		snprintf(only_env, sizeof only_env, "CONFORM_ONLY=%s", getenv("CONFORM_ONLY"));
	char *envp[16] = { home, xdg, conf, "PATH=/usr/bin:/bin", "LC_ALL=C", "SOCKTUNE_TLS_MERGE=1024",
			   "SOCKTUNE_CORK=auto", "SOCKTUNE_MERGE=4K" };
	int ne = 8;
	if (getenv("CONFORM_DEBUG") || debug_runs)
		envp[ne++] = "CONFORM_DEBUG=1";
	if (only_env[0])
		envp[ne++] = only_env;
	if (preload) {
		envp[ne++] = preload_env;
		/* The report at exit, on stderr (never compared): how much was held. */
		envp[ne++] = "SOCKTUNE_STATS=stderr";
		if (log_env[0])
			envp[ne++] = log_env;
	}
	char *argv[4 + MAXCONN] = { "conform", "client", seed };
	for (int i = 0; i < s->nconn; i++)
		argv[3 + i] = addr[i];
	pid_t client = fork();
	if (client == 0) {
		setpgid(0, 0);
		dup2(out[1], 1);
		dup2(err[1], 2);
		/* This very binary, even if it was rebuilt since the driver started. */
		execve("/proc/self/exe", argv, envp);
		_exit(127);
	}
	free(preload_env);
	close(out[1]), close(err[1]);

	struct pollfd p[3] = { { .fd = out[0], .events = POLLIN },
			       { .fd = err[0], .events = POLLIN },
			       { .fd = pout[0], .events = POLLIN } };
	struct buf *dst[3] = { &o->client, &o->err, &o->peer };
	int open_fds = 3, status = 0, pstatus = 0;
	bool client_done = false;
	long long deadline = t0 + timeout_ms * 1000LL;
	while (open_fds > 0) {
		long long left = (deadline - now_us()) / 1000;
		int n = poll(p, 3, left < 0 ? 0 : (int)left + 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n == 0) {
			if (!o->killed) {
				/* The client and whatever it forked; then the peer, which must
				 * end within its own deadline. */
				kill(-client, SIGKILL);
				o->killed = true;
				deadline = now_us() + 2000000;
			} else {
				kill(peer, SIGKILL);
				deadline = now_us() + 1000000;
			}
			continue;
		}
		for (int i = 0; i < 3; i++) {
			if (p[i].fd < 0 || !p[i].revents)
				continue;
			char chunk[8192];
			ssize_t r = read(p[i].fd, chunk, sizeof chunk);
			if (r > 0) {
				buf_add(dst[i], chunk, (size_t)r);
			} else {
				close(p[i].fd);
				p[i].fd = -1;
				open_fds--;
			}
		}
		if (!client_done && p[0].fd < 0 && p[1].fd < 0) {
			waitpid(client, &status, 0);
			client_done = true;
		}
	}
	if (!client_done)
		waitpid(client, &status, 0);
	waitpid(peer, &pstatus, 0);
	o->ms = (long)((now_us() - t0) / 1000);
	buf_add(&o->client, "", 0);
	buf_add(&o->peer, "", 0);
	buf_add(&o->err, "", 0);
	int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
	if (asprintf(&o->transcript, "%s%sclient status=%d\n%speer status=%d\n", o->client.p,
		     o->killed ? "client killed by the watchdog\n" : "", o->killed ? -1 : code, o->peer.p,
		     WIFEXITED(pstatus) ? WEXITSTATUS(pstatus) : 128 + WTERMSIG(pstatus)) < 0)
		exit(2);
	for (int i = 0; i < s->nconn; i++)
		if (s->conn[i].unix_sock) {
			char path[300];
			snprintf(path, sizeof path, "%s/s%d", dir, i);
			unlink(path);
		}
}

/* ---- one scenario ---- */

enum verdict { V_SAME, V_FLAKY, V_DIFF, V_STALL, V_SLOW_NOISE, V_ERROR, V_SLOW };
static const char *const verdict_names[] = { "same", "flaky", "difference", "stall", "slow-noise", "error", "slow" };

struct result {
	uint64_t seed;
	int verdict;
	long ms[3];
	unsigned long held, flushes; /* from socktune's report: coverage */
	char what[240];
};

/* A counter in the "tls" objects of socktune's reports on stderr (one per
 * process: forked children report too), summed. */
static unsigned long tls_stat(const char *err, const char *key)
{
	char pat[40];
	snprintf(pat, sizeof pat, "\"%s\":", key);
	unsigned long sum = 0;
	for (const char *t = err; t && (t = strstr(t, "\"tls\":{")); t++) {
		const char *k = strstr(t, pat), *end = strchr(t, '}');
		if (k && end && k < end)
			sum += strtoul(k + strlen(pat), NULL, 10);
	}
	return sum;
}

/* The first line where A and B differ, both versions. */
static void first_difference(const char *a, const char *b, char *out, size_t cap)
{
	int line = 1;
	const char *la = a, *lb = b;
	while (*a && *a == *b) {
		if (*a == '\n')
			line++, la = a + 1, lb = b + 1;
		a++, b++;
	}
	int na = (int)strcspn(la, "\n"), nb = (int)strcspn(lb, "\n");
	snprintf(out, cap, "line %d: \"%.*s\" vs \"%.*s\"", line, na > 100 ? 100 : na, la, nb > 100 ? 100 : nb, lb);
}

static char *make_dir(void)
{
	char *d = strdup("/tmp/conform.XXXXXX");
	if (!d || !mkdtemp(d)) {
		perror("conform: mkdtemp");
		exit(2);
	}
	char path[300];
	snprintf(path, sizeof path, "%s/empty.conf", d);
	int fd = open(path, O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
	if (fd >= 0)
		close(fd);
	return d;
}

static void remove_dir(char *d)
{
	char path[300];
	snprintf(path, sizeof path, "%s/empty.conf", d);
	unlink(path);
	rmdir(d);
	free(d);
}

/* The timed logs of a confirmed stall, beside the program in failures/. */
static void keep_stall_log(uint64_t seed, const struct run_out *with, const struct run_out *without, const char *what)
{
	char exe[4096], path[4200];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
	if (n <= 0)
		return;
	exe[n] = '\0';
	char *slash = strrchr(exe, '/');
	if (slash)
		*slash = '\0';
	snprintf(path, sizeof path, "%s/failures", exe);
	mkdir(path, 0755);
	snprintf(path, sizeof path, "%s/failures/stall-%llu.txt", exe, (unsigned long long)seed);
	FILE *f = fopen(path, "w");
	if (!f)
		return;
	fprintf(f, "stall: seed %llu: %s\n==== with socktune (timed) ====\n%s==== without (timed) ====\n%s", (unsigned long long)seed,
		what, with->err.p ? with->err.p : "", without->err.p ? without->err.p : "");
	fclose(f);
}

static struct result run_scenario(uint64_t seed)
{
	struct scenario s;
	scenario_make(&s, seed);
	struct result r = { .seed = seed, .verdict = V_SAME };
	char *dir = make_dir();
	struct run_out b1, p, b2;
	run_once(&s, false, dir, &b1);
	run_once(&s, true, dir, &p);
	run_once(&s, false, dir, &b2);
	r.ms[0] = b1.ms, r.ms[1] = p.ms, r.ms[2] = b2.ms;
	r.held = tls_stat(p.err.p, "held"), r.flushes = tls_stat(p.err.p, "flushes");
	if (strcmp(b1.transcript, b2.transcript)) {
		r.verdict = V_FLAKY;
		first_difference(b1.transcript, b2.transcript, r.what, sizeof r.what);
	} else if (strcmp(b1.transcript, p.transcript)) {
		r.verdict = V_DIFF;
		first_difference(b1.transcript, p.transcript, r.what, sizeof r.what);
		/* A transcript the program makes without socktune too, now and
		 * then, is the baseline's own non-determinism (a reset or an
		 * end of file, as the peer's last record races the close). */
		for (int i = 0; i < 4 && r.verdict == V_DIFF; i++) {
			struct run_out b;
			run_once(&s, false, dir, &b);
			if (!strcmp(b.transcript, p.transcript)) {
				r.verdict = V_FLAKY;
				snprintf(r.what + strlen(r.what), sizeof r.what - strlen(r.what),
					 " (a later run without socktune matched)");
			}
			run_free(&b);
		}
	} else if (p.ms > (b1.ms > b2.ms ? b1.ms : b2.ms) + STALL_MS) {
		r.verdict = V_SLOW; /* judged by confirm_stall, alone */
		snprintf(r.what, sizeof r.what, "%ld ms with socktune against %ld and %ld without", p.ms, b1.ms,
			 b2.ms);
	}
	run_free(&b1);
	run_free(&p);
	run_free(&b2);
	remove_dir(dir);
	return r;
}

/* A candidate stall, run alone: a stall only if socktune's run is slower by
 * STALL_MS every time. */
static void confirm_stall(struct result *r)
{
	struct scenario s;
	scenario_make(&s, r->seed);
	char *dir = make_dir();
	size_t len = strlen(r->what);
	r->verdict = V_STALL;
	for (int i = 0; i < 3 && r->verdict == V_STALL; i++) {
		struct run_out p, b;
		debug_runs = true;
		run_once(&s, true, dir, &p);
		run_once(&s, false, dir, &b);
		debug_runs = false;
		if (p.ms > b.ms + STALL_MS) {
			len += (size_t)snprintf(r->what + len, len < sizeof r->what ? sizeof r->what - len : 0,
						"; alone %ld against %ld", p.ms, b.ms);
			if (len >= sizeof r->what)
				len = sizeof r->what - 1;
			if (i == 2)
				keep_stall_log(r->seed, &p, &b, r->what);
		} else {
			r->verdict = V_SLOW_NOISE;
		}
		run_free(&p);
		run_free(&b);
	}
	remove_dir(dir);
}

/* ---- the run command ---- */

struct slot {
	pid_t pid;
	uint64_t seed;
	bool reported;
};

static int cmd_run(uint64_t from, uint64_t count, int jobs, uint64_t progress, const char *replay_prefix)
{
	int res[2];
	if (pipe2(res, O_CLOEXEC) < 0)
		return 2;
	struct slot *slots = calloc((size_t)jobs, sizeof *slots);
	uint64_t next = from, done = 0, n[7] = { 0 }, held = 0, flushes = 0, held_none = 0;
	struct result *bad = NULL;
	size_t nbad = 0;
	long long t0 = now_us();
	int running = 0;
	while (done < count) {
		while (running < jobs && next < from + count) {
			int k = 0;
			while (slots[k].pid)
				k++;
			fflush(stdout);
			pid_t pid = fork();
			if (pid == 0) {
				close(res[0]);
				struct result r = run_scenario(next);
				(void)!write(res[1], &r, sizeof r);
				_exit(0);
			}
			slots[k] = (struct slot){ pid, next++, false };
			running++;
		}
		struct pollfd pf = { .fd = res[0], .events = POLLIN };
		int pn = poll(&pf, 1, 1000);
		struct result got[8];
		int ngot = 0;
		if (pn > 0) {
			if (read(res[0], &got[0], sizeof got[0]) == (ssize_t)sizeof got[0])
				ngot = 1;
		} else {
			/* A worker that died without a word. */
			for (int k = 0; k < jobs && ngot < 8; k++) {
				int st;
				if (!slots[k].pid || waitpid(slots[k].pid, &st, WNOHANG) != slots[k].pid)
					continue;
				pf.revents = 0;
				while (poll(&pf, 1, 0) > 0 && ngot < 8 &&
				       read(res[0], &got[ngot], sizeof got[0]) == (ssize_t)sizeof got[0])
					ngot++;
				bool reported = false;
				for (int g = 0; g < ngot; g++)
					reported |= got[g].seed == slots[k].seed;
				if (!reported && ngot < 8)
					got[ngot++] = (struct result){ .seed = slots[k].seed, .verdict = V_ERROR,
								       .what = "the worker died" };
				slots[k].reported = true; /* already reaped */
			}
		}
		for (int g = 0; g < ngot; g++) {
			struct result *r = &got[g];
			for (int k = 0; k < jobs; k++) {
				if (slots[k].pid && slots[k].seed == r->seed) {
					if (!slots[k].reported)
						waitpid(slots[k].pid, NULL, 0);
					slots[k].pid = 0;
					running--;
				}
			}
			done++;
			if (r->verdict == V_SLOW) {
				/* Judged when nothing else runs. */
				bad = realloc(bad, (nbad + 1) * sizeof *bad);
				bad[nbad++] = *r;
				continue;
			}
			n[r->verdict]++;
			held += r->held, flushes += r->flushes, held_none += r->held == 0;
			if (r->verdict != V_SAME && r->verdict != V_SLOW_NOISE) {
				bad = realloc(bad, (nbad + 1) * sizeof *bad);
				bad[nbad++] = *r;
				if (r->verdict != V_FLAKY)
					printf("conform: %s: seed %llu: %s\n  replay: %s replay %llu\n", verdict_names[r->verdict],
					       (unsigned long long)r->seed, r->what, replay_prefix,
					       (unsigned long long)r->seed);
				else
					printf("conform: baseline flake: seed %llu: %s\n", (unsigned long long)r->seed, r->what);
			}
			if (progress && done % progress == 0 && done < count)
				printf("conform: %llu/%llu scenarios, %llu differences, %llu stalls, %llu flaky (%.2f%%), "
				       "%.1f s\n",
				       (unsigned long long)done, (unsigned long long)count, (unsigned long long)n[V_DIFF],
				       (unsigned long long)n[V_STALL], (unsigned long long)n[V_FLAKY],
				       100.0 * (double)n[V_FLAKY] / (double)done, (double)(now_us() - t0) / 1e6);
			fflush(stdout);
		}
	}
	for (size_t i = 0; i < nbad; i++) {
		if (bad[i].verdict != V_SLOW)
			continue;
		confirm_stall(&bad[i]);
		n[bad[i].verdict]++;
		if (bad[i].verdict == V_STALL)
			printf("conform: stall: seed %llu: %s\n  replay: %s replay %llu\n", (unsigned long long)bad[i].seed,
			       bad[i].what, replay_prefix, (unsigned long long)bad[i].seed);
	}
	double secs = (double)(now_us() - t0) / 1e6;
	printf("conform: %llu scenarios (seeds %llu..%llu) in %.1f s, %d in parallel: %llu differences, %llu stalls, "
	       "%llu errors, %llu baseline flakes (%.2f%%), %llu slow runs that did not repeat alone (noise)\n",
	       (unsigned long long)count, (unsigned long long)from, (unsigned long long)(from + count - 1), secs, jobs,
	       (unsigned long long)n[V_DIFF], (unsigned long long)n[V_STALL], (unsigned long long)n[V_ERROR],
	       (unsigned long long)n[V_FLAKY], 100.0 * (double)n[V_FLAKY] / (double)(count ? count : 1),
	       (unsigned long long)n[V_SLOW_NOISE]);
	printf("conform: with socktune, %llu TLS writes were held and sent in %llu flushes; %llu runs held none\n",
	       (unsigned long long)held, (unsigned long long)flushes, (unsigned long long)held_none);
	for (size_t i = 0; i < nbad; i++)
		if (bad[i].verdict != V_FLAKY && bad[i].verdict != V_SLOW_NOISE)
			printf("  %s: seed %llu  (%s replay %llu)\n", verdict_names[bad[i].verdict],
			       (unsigned long long)bad[i].seed, replay_prefix, (unsigned long long)bad[i].seed);
	free(bad);
	free(slots);
	return n[V_DIFF] || n[V_STALL] || n[V_ERROR] ? 1 : 0;
}

/* ---- replay ---- */

static void section(const char *title, const char *text)
{
	printf("==== %s ====\n%s", title, text);
}

static int cmd_replay(uint64_t seed)
{
	struct scenario s;
	scenario_make(&s, seed);
	fflush(stdout);
	scenario_print(&s, 1);
	char *dir = make_dir();
	struct run_out b1, p, b2;
	run_once(&s, false, dir, &b1);
	run_once(&s, true, dir, &p);
	run_once(&s, false, dir, &b2);
	section("without socktune", b1.transcript);
	if (b1.err.len)
		section("without socktune: client stderr", b1.err.p);
	section("with socktune", p.transcript);
	if (p.err.len)
		section("with socktune: client stderr", p.err.p);
	printf("==== times: %ld ms without, %ld ms with, %ld ms without again ====\n", b1.ms, p.ms, b2.ms);
	int rc = 0;
	char fa[320], fb[320], cmd[800];
	snprintf(fa, sizeof fa, "%s/without", dir);
	snprintf(fb, sizeof fb, "%s/with", dir);
	FILE *a = fopen(fa, "w"), *b = fopen(fb, "w");
	if (a && b) {
		fputs(b1.transcript, a);
		fputs(p.transcript, b);
		fclose(a), fclose(b);
		printf("==== diff without with ====\n");
		fflush(stdout);
		snprintf(cmd, sizeof cmd, "diff -u '%s' '%s'", fa, fb);
		if (system(cmd) != 0)
			rc = 1;
		unlink(fa), unlink(fb);
	}
	if (strcmp(b1.transcript, b2.transcript)) {
		char what[240];
		first_difference(b1.transcript, b2.transcript, what, sizeof what);
		printf("==== the two runs without socktune differ (a baseline flake): %s ====\n", what);
	} else if (rc) {
		printf("==== DIFFERENCE ====\n");
	} else if (p.ms > (b1.ms > b2.ms ? b1.ms : b2.ms) + STALL_MS) {
		printf("==== slower by more than %d ms (a stall, if it repeats) ====\n", STALL_MS);
		rc = 1;
	} else {
		printf("==== same ====\n");
	}
	run_free(&b1);
	run_free(&p);
	run_free(&b2);
	remove_dir(dir);
	return rc;
}

/* ---- main ---- */

static uint64_t number(const char *flag, const char *s)
{
	char *e;
	errno = 0;
	unsigned long long v = strtoull(s, &e, 0);
	if (errno || *e || !*s) {
		fprintf(stderr, "conform: bad number for %s: %s\n", flag, s);
		exit(2);
	}
	return v;
}

static int usage(void)
{
	fprintf(stderr, "usage: conform run [--from S] [--count N] [--jobs J] [--timeout-ms T] [--progress K]\n"
			"       conform replay SEED | conform show SEED | conform client SEED ADDR...\n");
	return 2;
}

static void setup(void)
{
	const char *v = getenv("SOCKTUNE_TESTLIB");
	const char *path = v && *v ? v : "build/libsocktune.so.1";
	char *abs = realpath(path, NULL);
	if (!abs) {
		fprintf(stderr, "conform: the library %s is missing (make build/libsocktune.so.1, or set SOCKTUNE_TESTLIB)\n",
			path);
		exit(2);
	}
	lib_path = abs;
	signal(SIGPIPE, SIG_IGN);
	peer_ctx = peer_ctx_new();
	if (!peer_ctx) {
		fprintf(stderr, "conform: cannot make the peer's certificate\n");
		exit(2);
	}
}

int main(int argc, char **argv)
{
	if (argc < 2)
		return usage();
	const char *cmd = argv[1];
	if (!strcmp(cmd, "client") && argc >= 3)
		return client_main(number("SEED", argv[2]), argc - 3, argv + 3);
	if (!strcmp(cmd, "show") && argc == 3) {
		struct scenario s;
		scenario_make(&s, number("SEED", argv[2]));
		scenario_print(&s, 1);
		return 0;
	}
	if (!strcmp(cmd, "replay") && argc >= 3) {
		for (int i = 3; i + 1 < argc; i += 2)
			if (!strcmp(argv[i], "--timeout-ms"))
				timeout_ms = (long)number(argv[i], argv[i + 1]);
		setup();
		return cmd_replay(number("SEED", argv[2]));
	}
	if (strcmp(cmd, "run"))
		return usage();
	uint64_t from = 1, count = 2000, progress = 250;
	int jobs = 2;
	for (int i = 2; i < argc; i++) {
		if (i + 1 >= argc)
			return usage();
		const char *f = argv[i], *v = argv[++i];
		if (!strcmp(f, "--from"))
			from = number(f, v);
		else if (!strcmp(f, "--count"))
			count = number(f, v);
		else if (!strcmp(f, "--jobs"))
			jobs = (int)number(f, v);
		else if (!strcmp(f, "--timeout-ms"))
			timeout_ms = (long)number(f, v);
		else if (!strcmp(f, "--progress"))
			progress = number(f, v);
		else
			return usage();
	}
	if (jobs < 1 || jobs > 64 || timeout_ms < 1500)
		return usage();
	setup();
	const char *tl = getenv("SOCKTUNE_TESTLIB");
	char prefix[4400];
	snprintf(prefix, sizeof prefix, "%s%s%s%s", tl && *tl ? "SOCKTUNE_TESTLIB=" : "", tl && *tl ? tl : "",
		 tl && *tl ? " " : "", argv[0]);
	return cmd_run(from, count, jobs, progress, prefix);
}
