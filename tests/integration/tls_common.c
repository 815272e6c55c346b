/* tls_common.c: the helpers the TLS tests share (see tls_common.h). */
#include "tls_common.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

char *tls_xfmt(const char *fmt, ...)
{
	va_list ap;
	char *s;
	va_start(ap, fmt);
	int n = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (n < 0)
		abort();
	return s;
}

/* ---- a self-signed certificate, made once per test process ---- */

const char *tls_cert_pem, *tls_key_pem;

void tls_make_cert(void)
{
	if (tls_cert_pem)
		return;
	if (!it_have("openssl"))
		cr_skip_test("the openssl command is not installed");
	char *cert = it_path("cert.pem"), *key = it_path("key.pem");
	struct it_run r;
	it_run(&r,
	       IT_LIST("openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
		       "-nodes", "-subj", "/CN=localhost", "-days", "1", "-keyout", key, "-out", cert),
	       NULL, 0);
	it_assert_ran(&r);
	it_run_free(&r);
	tls_cert_pem = cert;
	tls_key_pem = key;
}

/* ---- background processes (the peers), never preloaded ---- */

void tls_bg_start(struct bg *b, const char *const argv[], int listen_fd, bool stdin_pipe)
{
	static unsigned seq;
	memset(b, 0, sizeof *b);
	b->stdin_w = -1;
	b->out_path = it_path(tls_xfmt("bg%u.out", seq));
	b->err_path = it_path(tls_xfmt("bg%u.err", seq++));
	char *home = it_path("home");
	const char *path = getenv("PATH");
	char *envp[] = { tls_xfmt("PATH=%s", path && *path ? path : "/usr/local/bin:/usr/bin:/bin"),
			 tls_xfmt("HOME=%s", home), (char *)"LC_ALL=C", NULL };
	int p[2] = { -1, -1 };
	if (stdin_pipe)
		cr_assert_eq(pipe2(p, O_CLOEXEC), 0);
	fflush(NULL);
	pid_t pid = fork();
	cr_assert_geq(pid, 0, "fork: %s", strerror(errno));
	if (pid == 0) {
		setpgid(0, 0);
		int in = stdin_pipe ? p[0] : open("/dev/null", O_RDONLY);
		int o = open(b->out_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		int e = open(b->err_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		if (in < 0 || o < 0 || e < 0 || dup2(in, 0) < 0 || dup2(o, 1) < 0 || dup2(e, 2) < 0)
			_exit(125);
		if (listen_fd >= 0) {
			if (listen_fd == 3)
				fcntl(3, F_SETFD, 0);
			else if (dup2(listen_fd, 3) < 0)
				_exit(125);
		}
		closefrom(listen_fd >= 0 ? 4 : 3);
		if (strchr(argv[0], '/'))
			execve(argv[0], (char *const *)argv, envp);
		else
			execvpe(argv[0], (char *const *)argv, envp);
		dprintf(2, "bg: cannot run %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	setpgid(pid, pid);
	if (stdin_pipe) {
		close(p[0]);
		b->stdin_w = p[1];
	}
	b->pid = pid;
	free(home);
	free(envp[0]);
	free(envp[1]);
}

void tls_sleep_ms(long ms)
{
	struct timespec t = { ms / 1000, (ms % 1000) * 1000000 };
	nanosleep(&t, NULL);
}

int tls_bg_wait(struct bg *b, long timeout_ms)
{
	int st;
	b->status = -1;
	for (long waited = 0;; waited += 2) {
		pid_t w = waitpid(b->pid, &st, WNOHANG);
		if (w == b->pid) {
			b->status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
			break;
		}
		if (waited >= timeout_ms) {
			kill(-b->pid, SIGKILL);
			waitpid(b->pid, &st, 0);
			break;
		}
		tls_sleep_ms(2);
	}
	if (b->stdin_w >= 0)
		close(b->stdin_w);
	b->out = it_read_file(b->out_path);
	b->err = it_read_file(b->err_path);
	return b->status;
}

int tls_make_listener(int *port)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof a;
	cr_assert_geq(fd, 0);
	cr_assert_eq(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
	cr_assert_eq(listen(fd, 8), 0);
	cr_assert_eq(getsockname(fd, (struct sockaddr *)&a, &len), 0);
	*port = ntohs(a.sin_port);
	return fd;
}

/* ---- one exchange: a peer in the background, the program under test in front ---- */

const char *const *tls_cat_args(const char *const a[], const char *const b[])
{
	size_t na = 0, nb = 0;
	while (a && a[na])
		na++;
	while (b && b[nb])
		nb++;
	const char **v = calloc(na + nb + 1, sizeof *v);
	cr_assert_not_null(v);
	memcpy(v, a, na * sizeof *v);
	if (nb)
		memcpy(v + na, b, nb * sizeof *v);
	return v;
}

char *tls_dump(const struct pair *p)
{
	return tls_xfmt("--- writer (status %d) stdout:\n%s--- writer stderr:\n%s"
			"--- peer (status %d) stdout:\n%s--- peer stderr:\n%s",
			p->w.status, p->w.out, p->w.err, p->peer.status, p->peer.out ? p->peer.out : "",
			p->peer.err ? p->peer.err : "");
}

const char *tls_hold_max;

const char *const *tls_writer_env(struct pair *p, const char *merge, const char *mode)
{
	static unsigned seq;
	p->stats_dir = it_path(tls_xfmt("stats%u", seq++));
	cr_assert_eq(mkdir(p->stats_dir, 0700), 0);
	const char **env = calloc(5, sizeof *env);
	cr_assert_not_null(env);
	env[0] = tls_xfmt("SOCKTUNE_TLS_MERGE=%s", merge);
	env[1] = tls_xfmt("SOCKTUNE_STATS=%s/st.%%p.json", p->stats_dir);
	env[2] = mode ? tls_xfmt("SOCKTUNE=%s", mode) : "UNUSED_=1";
	env[3] = tls_hold_max ? tls_xfmt("SOCKTUNE_HOLD_MAX=%s", tls_hold_max) : "UNUSED2_=1";
	return env;
}

void tls_pair_run(struct pair *p, const char *const peer_args[], const char *const writer_args[],
		  const char *merge, const char *mode)
{
	tls_make_cert();
	int port;
	int lfd = tls_make_listener(&port);
	const char *const *pargv = tls_cat_args(IT_LIST(it_target("tlspeer"), "--listen-fd", "3", "--cert",
							tls_cert_pem, "--key", tls_key_pem),
						peer_args);
	tls_bg_start(&p->peer, pargv, lfd, false);
	close(lfd);
	const char *const *env = tls_writer_env(p, merge, mode);
	const char *const *wargv =
		tls_cat_args(IT_LIST(it_target("tlswriter"), "--port", tls_xfmt("%d", port)), writer_args);
	it_run(&p->w, wargv, env, IT_PRELOAD);
	tls_bg_wait(&p->peer, BG_TIMEOUT_MS);
}

char *tls_writer_stats(const struct pair *p, const char *prefix)
{
	long pid = it_field(p->w.out, prefix, "pid");
	char *d = tls_dump(p);
	cr_assert_gt(pid, 0, "no pid printed\n%s", d);
	char *why, *path = tls_xfmt("%s/st.%ld.json", p->stats_dir, pid);
	char *flat = it_stats_flat(path, &why);
	cr_assert_not_null(flat, "bad stats record: %s\n%s", why, d);
	cr_assert_neq(it_stat(flat, "tls.held"), -1, "the stats have no tls.held:\n%s", flat);
	free(d);
	return flat;
}

void tls_assert_same_bytes(const struct pair *p, const char *want_end)
{
	char *d = tls_dump(p);
	cr_assert_eq(p->peer.status, 0, "peer failed\n%s", d);
	char *wsha = it_field_str(p->w.out, "writer ", "sha256"), *psha = it_field_str(p->peer.out, "peer ", "sha256");
	cr_assert_not_null(wsha, "writer printed no hash\n%s", d);
	cr_assert_not_null(psha, "peer printed no hash\n%s", d);
	long wbytes = it_field(p->w.out, "writer ", "bytes"), pbytes = it_field(p->peer.out, "peer ", "bytes");
	cr_assert_eq(pbytes, wbytes, "the peer got %ld bytes, the writer wrote %ld\n%s", pbytes, wbytes, d);
	cr_assert_str_eq(psha, wsha, "the peer's bytes differ from the writer's\n%s", d);
	if (want_end) {
		char *end = it_field_str(p->peer.out, "peer ", "end");
		cr_assert(end && !strcmp(end, want_end), "peer end=%s, want %s\n%s", end ? end : "?", want_end, d);
		free(end);
	}
	free(wsha);
	free(psha);
	free(d);
}

const char *tls_python_exe(void)
{
	static char *exe;
	if (exe)
		return exe;
	if (!it_have("python3"))
		cr_skip_test("python3 is not installed");
	struct it_run r;
	/* python3 may be a wrapper (pyenv) that needs the runner's environment; the
	 * interpreter itself does not. */
	it_run(&r, IT_LIST("python3", "-c", "import sys, ssl; print(sys.executable)"), NULL, IT_INHERIT_ENV);
	it_assert_ran(&r);
	r.out[strcspn(r.out, "\n")] = 0;
	exe = strdup(r.out);
	it_run_free(&r);
	return exe;
}
