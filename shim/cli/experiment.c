/* Runs an experiment.  Each run is COMMAND in a process group of its own,
 * and socktune is a child subreaper, so every process the command starts
 * comes back to it: a run ends when the last process of its group has
 * been reaped, and its user and sys times are those of all of them.
 *
 * The signals socktune cares about (SIGCHLD, and SIGINT, SIGTERM, SIGHUP
 * to stop) stay blocked and are taken with sigtimedwait, so there is no
 * handler and no race between a child ending and the wait for it; the one
 * second timeout redraws the progress line. */
#include "experiment.h"

#include "cli.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define KILL_GRACE 2.0 /* seconds between SIGTERM and SIGKILL */

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double tv_seconds(struct timeval tv)
{
	return (double)tv.tv_sec + (double)tv.tv_usec / 1e6;
}

struct runner {
	struct experiment *x;
	sigset_t waited, stops, old_mask;
	char dir[64];     /* the private directory of the stats files */
	double started;   /* of the experiment */
	double last_end;  /* when the last run ended */
	int done, total;  /* runs started so far, runs in all */
	int drawn;        /* a progress line is on the screen */
	double drawn_at;
};

static void progress(struct runner *r, int round, int arm)
{
	struct experiment *x = r->x;
	if (!x->progress)
		return;
	double elapsed = now() - r->started;
	char when[64] = "";
	if (r->done > 1) {
		/* The runs so far at their average, less what this one has had. */
		double ended = r->last_end - r->started;
		double left = ended / (r->done - 1) * (r->total - r->done + 1) - (elapsed - ended);
		snprintf(when, sizeof(when), ", about %.0f s left", left > 0 ? left : 0);
	}
	if (round < 0)
		fprintf(stderr, "\rsocktune %s: run %d/%d (%s, warm-up %d/%d), %.1f s%s\033[K",
			x->name, r->done, r->total, x->arms[arm].label, round + x->warmup + 1,
			x->warmup, elapsed, when);
	else
		fprintf(stderr, "\rsocktune %s: run %d/%d (%s, round %d/%d), %.1f s%s\033[K",
			x->name, r->done, r->total, x->arms[arm].label, round + 1, x->rounds,
			elapsed, when);
	r->drawn = 1;
	r->drawn_at = now();
}

static void progress_clear(struct runner *r)
{
	if (r->drawn)
		fputs("\r\033[K", stderr);
	r->drawn = 0;
}

/* In the child: the arm's environment, then COMMAND.  An exec failure is
 * written to the pipe (close-on-exec, so success closes it empty). */
static void child(struct runner *r, const struct arm *a, int round, const char *stats, int fd)
{
	struct experiment *x = r->x;
	char run[16];
	snprintf(run, sizeof(run), "%d", round < 0 ? 0 : round + 1);
	setpgid(0, 0);
	sigprocmask(SIG_SETMASK, &r->old_mask, NULL);
	int null = open("/dev/null", O_RDONLY);
	if (null >= 0) {
		/* A background group that reads the terminal would stop. */
		dup2(null, 0);
		close(null);
	}
	if (cli_preload(x->lib) < 0 || setenv("SOCKTUNE", a->mode, 1) < 0 ||
	    setenv("SOCKTUNE_STATS", stats, 1) < 0 || setenv("SOCKTUNE_ARM", a->label, 1) < 0 ||
	    setenv("SOCKTUNE_RUN", run, 1) < 0)
		goto fail;
	for (int i = 0; i < a->nenv; i++)
		if (putenv((char *)a->env[i]) < 0)
			goto fail;
	execvp(x->argv[0], x->argv);
fail:;
	int err = errno;
	ssize_t n = write(fd, &err, sizeof(err));
	(void)n;
	_exit(127);
}

/* Takes one signal (or times out after `timeout` seconds); returns it, or 0. */
static int take_signal(struct runner *r, double timeout)
{
	struct timespec ts = {.tv_sec = (time_t)timeout,
			      .tv_nsec = (long)((timeout - (double)(time_t)timeout) * 1e9)};
	int sig = sigtimedwait(&r->waited, NULL, &ts);
	return sig < 0 ? 0 : sig;
}

/* Waits for every process of the group pgid; fills the run's status and
 * times.  On SIGINT, SIGTERM or SIGHUP the group gets SIGTERM, then
 * SIGKILL after KILL_GRACE seconds. */
static void wait_group(struct runner *r, pid_t pgid, struct run *out, double t0, int round,
		       int arm)
{
	struct experiment *x = r->x;
	double user = 0, sys = 0, kill_at = 0;
	int leader_done = 0, killed = 0;

	for (;;) {
		int st;
		struct rusage ru;
		pid_t p;
		while ((p = wait4(-pgid, &st, WNOHANG, &ru)) > 0) {
			user += tv_seconds(ru.ru_utime);
			sys += tv_seconds(ru.ru_stime);
			if (p == pgid) {
				leader_done = 1;
				out->status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
				out->signal = WIFSIGNALED(st) ? WTERMSIG(st) : 0;
			}
		}
		/* Not one of ours left in the group, and no stranger either. */
		if (p < 0 && errno == ECHILD && leader_done && kill(-pgid, 0) < 0 && errno == ESRCH)
			break;
		/* Killed, yet still there and not ours to reap: give up on it. */
		if (killed && leader_done && now() > kill_at + KILL_GRACE)
			break;
		/* Once the leader is gone, what is left of the group may leave it
		 * (setsid) without a SIGCHLD to tell us: look again soon. */
		double timeout = leader_done ? 0.05 : 1.0;
		if (x->interrupted) {
			if (!killed && now() >= kill_at) {
				kill(-pgid, SIGKILL);
				killed = 1;
			}
			timeout = killed ? 0.1 : kill_at - now();
			if (timeout <= 0)
				timeout = 0.01;
		}
		int sig = take_signal(r, timeout);
		if (sig && sig != SIGCHLD && !x->interrupted) {
			x->interrupted = sig;
			kill(-pgid, SIGTERM);
			kill(-pgid, SIGCONT);
			kill_at = now() + KILL_GRACE;
		} else if (!sig && !x->interrupted && now() - r->drawn_at >= 1.0) {
			progress(r, round, arm);
		}
	}
	out->v[FIG_WALL] = now() - t0;
	out->v[FIG_USER] = user;
	out->v[FIG_SYS] = sys;
	/* Processes that left the group (setsid) and then lost their parent
	 * came to us too: they are not part of the run, but no zombies. */
	while (waitpid(-1, NULL, WNOHANG) > 0)
		;
}

static void read_figures(const char *path, struct run *out)
{
	for (int f = FIG_SYS + 1; f < FIG_COUNT; f++)
		out->v[f] = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	struct stat st;
	char *text = NULL;
	if (fstat(fd, &st) == 0 && st.st_size > 0 && (text = malloc((size_t)st.st_size))) {
		ssize_t n = read(fd, text, (size_t)st.st_size);
		if (n > 0)
			figures_parse(out->v, text, (size_t)n);
		free(text);
	}
	close(fd);
	unlink(path);
}

/* One run.  Returns 0, or 126/127 when COMMAND cannot be run at all. */
static int run_one(struct runner *r, int round, int arm, struct run *out)
{
	struct experiment *x = r->x;
	const struct arm *a = &x->arms[arm];
	char stats[128];
	int pipefd[2];

	/* A file per run: a process that outlives its run (it left the group)
	 * writes its figures where nobody reads them, not into the next run. */
	snprintf(stats, sizeof(stats), "%s/run-%d.json", r->dir, r->done + 1);
	if (pipe2(pipefd, O_CLOEXEC) < 0) {
		fprintf(stderr, "socktune %s: pipe: %s\n", x->name, strerror(errno));
		return 1;
	}
	r->done++;
	progress(r, round, arm);
	fflush(NULL);
	double t0 = now();
	pid_t pid = fork();
	if (pid < 0) {
		fprintf(stderr, "socktune %s: fork: %s\n", x->name, strerror(errno));
		close(pipefd[0]);
		close(pipefd[1]);
		return 1;
	}
	if (pid == 0) {
		close(pipefd[0]);
		child(r, a, round, stats, pipefd[1]);
	}
	/* Both sides set the group, so neither a signal nor wait4(-pid) can
	 * come before it exists. */
	setpgid(pid, pid);
	close(pipefd[1]);
	int err = 0;
	ssize_t n;
	while ((n = read(pipefd[0], &err, sizeof(err))) < 0 && errno == EINTR)
		;
	close(pipefd[0]);
	if (n == (ssize_t)sizeof(err)) {
		waitpid(pid, NULL, 0);
		progress_clear(r);
		fprintf(stderr, "socktune %s: %s: %s\n", x->name, x->argv[0], strerror(err));
		return err == ENOENT ? 127 : 126;
	}
	wait_group(r, pid, out, t0, round, arm);
	r->last_end = now();
	read_figures(stats, out);
	out->done = !x->interrupted;
	if (out->status != 0 || !out->done)
		for (int f = 0; f < FIG_COUNT; f++)
			out->v[f] = NAN;
	return 0;
}

/* The stats directory, with whatever a straggler wrote into it late. */
static void remove_dir(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	if (d) {
		while ((e = readdir(d)))
			if (e->d_name[0] != '.')
				unlinkat(dirfd(d), e->d_name, 0);
		closedir(d);
	}
	rmdir(dir);
}

/* A stop asked for between runs, before the next one starts. */
static int stop_pending(struct runner *r)
{
	struct timespec zero = {0, 0};
	int sig = sigtimedwait(&r->stops, NULL, &zero);
	return sig > 0 ? sig : 0;
}

int experiment_run(struct experiment *x)
{
	struct runner r = {.x = x};
	int ret = 0;

	/* Orphans of the command come to us, not to init, so wait4 on the
	 * group sees them and their times count. */
	if (prctl(PR_SET_CHILD_SUBREAPER, 1) < 0)
		fprintf(stderr, "socktune %s: cannot become a subreaper (%s): processes a run "
			"leaves behind are not waited for\n", x->name, strerror(errno));
	const char *tmp = getenv("TMPDIR");
	snprintf(r.dir, sizeof(r.dir), "%s/socktune-%s.XXXXXX",
		 tmp && tmp[0] && strlen(tmp) < 32 ? tmp : "/tmp", x->name);
	if (!mkdtemp(r.dir)) {
		fprintf(stderr, "socktune %s: %s: %s\n", x->name, r.dir, strerror(errno));
		return 1;
	}
	sigemptyset(&r.stops);
	sigaddset(&r.stops, SIGINT);
	sigaddset(&r.stops, SIGTERM);
	sigaddset(&r.stops, SIGHUP);
	r.waited = r.stops;
	sigaddset(&r.waited, SIGCHLD);
	sigprocmask(SIG_BLOCK, &r.waited, &r.old_mask);

	for (int i = 0; i < x->rounds * x->narms; i++)
		x->runs[i].status = -1;
	r.total = (x->warmup + x->rounds) * x->narms;
	r.started = now();
	for (int round = -x->warmup; round < x->rounds && !x->interrupted && !ret; round++) {
		for (int arm = 0; arm < x->narms && !x->interrupted && !ret; arm++) {
			struct run scratch, *out = round < 0 ? &scratch : experiment_run_at(x, round, arm);
			memset(&scratch, 0, sizeof(scratch));
			if ((x->interrupted = stop_pending(&r)))
				break;
			ret = run_one(&r, round, arm, out);
			if (!ret && round < 0 && scratch.status != 0 && scratch.done) {
				progress_clear(&r);
				fprintf(stderr, "socktune %s: warm-up run of %s: exit status %d\n",
					x->name, x->arms[arm].label, scratch.status);
			}
		}
	}
	progress_clear(&r);
	/* A second Ctrl-C must not kill us before the results are printed. */
	while (stop_pending(&r))
		;
	sigprocmask(SIG_SETMASK, &r.old_mask, NULL);
	remove_dir(r.dir);
	return ret;
}
