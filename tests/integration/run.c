/* run.c: the shared helpers of the integration tests (see run.h). The runner itself
 * never has LD_PRELOAD: Criterion talks to its workers over a socket of its own, and
 * the library must only ever be loaded into the programs under test. */
#include "run.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

#define RUN_TIMEOUT_MS 15000

static char *xstrdup(const char *s)
{
	char *p = strdup(s);
	if (!p)
		abort();
	return p;
}

static char *xasprintf(const char *fmt, const char *a, const char *b)
{
	char *p;
	if (asprintf(&p, fmt, a, b) < 0)
		abort();
	return p;
}

/* An absolute path from an environment variable or a fallback under the cwd. */
static const char *locate(const char *var, const char *fallback)
{
	const char *v = getenv(var);
	const char *path = v && *v ? v : fallback;
	char *abs = realpath(path, NULL);
	return abs ? abs : xstrdup(path);
}

const char *it_lib(void)
{
	static const char *lib;
	if (!lib)
		lib = locate("SOCKTUNE_TESTLIB", "build/libsocktune.so.1");
	return lib;
}

const char *it_bin(void)
{
	static const char *bin;
	if (!bin)
		bin = locate("SOCKTUNE_BIN", "build/socktune");
	return bin;
}

const char *it_target(const char *name)
{
	static const char *dir;
	if (!dir)
		dir = locate("SOCKTUNE_TARGETS", "build/targets");
	return xasprintf("%s/%s", dir, name); /* a handful per test: not worth freeing */
}

static char *tmpdir;

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st, (void)flag, (void)ftw;
	remove(path);
	return 0;
}

static pid_t tmpdir_owner;

static void cleanup_at_exit(void)
{
	if (tmpdir && tmpdir_owner == getpid())
		nftw(tmpdir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

const char *it_tmpdir(void)
{
	if (tmpdir && tmpdir_owner == getpid())
		return tmpdir;
	const char *base = getenv("TMPDIR");
	char *tmpl = xasprintf("%s/%s", base && *base ? base : "/tmp", "socktune-it.XXXXXX");
	if (!mkdtemp(tmpl)) {
		perror("mkdtemp");
		abort();
	}
	bool first = tmpdir == NULL;
	tmpdir = tmpl;
	tmpdir_owner = getpid();
	if (first)
		atexit(cleanup_at_exit);
	char *home = it_path("home"), *xdg = it_path("xdg");
	mkdir(home, 0700);
	mkdir(xdg, 0700);
	free(home);
	free(xdg);
	return tmpdir;
}

char *it_path(const char *name)
{
	return xasprintf("%s/%s", it_tmpdir(), name);
}

char *it_write_file(const char *name, const char *text)
{
	char *path = it_path(name);
	/* Make the directories that NAME names (xdg/socktune/socktune.conf and the like). */
	for (size_t i = strlen(it_tmpdir()) + 1; path[i]; i++) {
		if (path[i] == '/') {
			path[i] = 0;
			mkdir(path, 0700);
			path[i] = '/';
		}
	}
	FILE *f = fopen(path, "w");
	if (!f || fputs(text, f) < 0 || fclose(f) != 0) {
		perror(path);
		abort();
	}
	return path;
}

char *it_read_file(const char *path)
{
	FILE *f = fopen(path, "r");
	size_t cap = 4096, len = 0;
	char *buf = malloc(cap);
	if (!buf)
		abort();
	if (f) {
		size_t n;
		while ((n = fread(buf + len, 1, cap - len - 1, f)) > 0) {
			len += n;
			if (cap - len < 2) {
				cap *= 2;
				buf = realloc(buf, cap);
				if (!buf)
					abort();
			}
		}
		fclose(f);
	}
	buf[len] = 0;
	return buf;
}

/* A NULL-terminated, growable list of "KEY=VALUE" strings. */
struct envlist {
	char **v;
	size_t n, cap;
};

static size_t key_len(const char *entry)
{
	const char *eq = strchr(entry, '=');
	return eq ? (size_t)(eq - entry) : strlen(entry);
}

static void env_set(struct envlist *e, const char *entry)
{
	size_t k = key_len(entry);
	for (size_t i = 0; i < e->n; i++) {
		if (key_len(e->v[i]) == k && !strncmp(e->v[i], entry, k)) {
			free(e->v[i]);
			if (strchr(entry, '=')) {
				e->v[i] = xstrdup(entry);
			} else {
				e->v[i] = e->v[--e->n];
				e->v[e->n] = NULL;
			}
			return;
		}
	}
	if (!strchr(entry, '='))
		return;
	if (e->n + 2 > e->cap) {
		e->cap = e->cap ? e->cap * 2 : 32;
		e->v = realloc(e->v, e->cap * sizeof *e->v);
		if (!e->v)
			abort();
	}
	e->v[e->n++] = xstrdup(entry);
	e->v[e->n] = NULL;
}

static void env_set_kv(struct envlist *e, const char *key, const char *value)
{
	char *entry = xasprintf("%s=%s", key, value);
	env_set(e, entry);
	free(entry);
}

static void build_env(struct envlist *e, const char *const env[], unsigned flags)
{
	if (flags & IT_INHERIT_ENV) {
		for (char **p = environ; *p; p++)
			env_set(e, *p);
	} else {
		const char *path = getenv("PATH");
		char *home = it_path("home"), *xdg = it_path("xdg");
		env_set_kv(e, "PATH", path && *path ? path : "/usr/local/bin:/usr/bin:/bin");
		env_set_kv(e, "HOME", home);
		env_set_kv(e, "XDG_CONFIG_HOME", xdg);
		env_set_kv(e, "LC_ALL", "C");
		free(home);
		free(xdg);
		static const char *const pass[] = { "ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS" };
		for (size_t i = 0; i < sizeof pass / sizeof pass[0]; i++)
			if (getenv(pass[i]))
				env_set_kv(e, pass[i], getenv(pass[i]));
	}
	if (flags & IT_PRELOAD) {
		char *preload = it_preload_env();
		env_set(e, preload);
		free(preload);
	}
	for (size_t i = 0; env && env[i]; i++)
		env_set(e, env[i]);
	if (!e->v)
		env_set(e, "LC_ALL=C");
}

static int wait_with_timeout(pid_t pid)
{
	int status;
	struct timespec tick = { 0, 2 * 1000 * 1000 };
	for (int waited = 0; waited < RUN_TIMEOUT_MS; waited += 2) {
		pid_t w = waitpid(pid, &status, WNOHANG);
		if (w == pid)
			return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
		if (w < 0 && errno != EINTR)
			return -1;
		nanosleep(&tick, NULL);
	}
	kill(-pid, SIGKILL);
	waitpid(pid, &status, 0);
	return -1;
}

pid_t it_spawn(const char *const argv[], const char *const env[], const char *out_path,
	       const char *err_path)
{
	fflush(NULL);
	pid_t pid = fork();
	if (pid != 0)
		return pid;
	setpgid(0, 0);
	int in = open("/dev/null", O_RDONLY);
	int o = open(out_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	int er = open(err_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (in < 0 || o < 0 || er < 0 || dup2(in, 0) < 0 || dup2(o, 1) < 0 || dup2(er, 2) < 0)
		_exit(125);
	/* Nothing of the runner's (Criterion's IPC socket) leaks into the program. */
	closefrom(3);
	if (strchr(argv[0], '/'))
		execve(argv[0], (char *const *)argv, (char *const *)env);
	else
		execvpe(argv[0], (char *const *)argv, (char *const *)env);
	dprintf(2, "it_run: cannot run %s: %s\n", argv[0], strerror(errno));
	_exit(errno == ENOENT ? 127 : 126);
}

int it_run(struct it_run *r, const char *const argv[], const char *const env[], unsigned flags)
{
	static unsigned seq;
	char name[64];
	snprintf(name, sizeof name, "run%u.out", seq);
	char *out_path = it_path(name);
	snprintf(name, sizeof name, "run%u.err", seq++);
	char *err_path = it_path(name);

	if ((flags & IT_PRELOAD) && access(it_lib(), R_OK) != 0) {
		/* A missing library would make every "left alone" test pass for nothing. */
		r->status = -1;
		r->out = xstrdup("");
		r->err = xasprintf("it_run: the library %s is missing%s\n", it_lib(), "");
		free(out_path);
		free(err_path);
		return -1;
	}
	struct envlist e = { 0 };
	build_env(&e, env, flags);

	pid_t pid = it_spawn(argv, (const char *const *)e.v, out_path, err_path);
	if (pid < 0) {
		r->status = -1;
		r->out = xstrdup("");
		r->err = xasprintf("fork: %s%s", strerror(errno), "");
		return -1;
	}
	r->status = wait_with_timeout(pid);
	r->out = it_read_file(out_path);
	r->err = it_read_file(err_path);
	if (r->status == -1) {
		char *err = xasprintf("%s\nit_run: %s timed out or could not be waited for\n", r->err, argv[0]);
		free(r->err);
		r->err = err;
	}
	unlink(out_path);
	unlink(err_path);
	free(out_path);
	free(err_path);
	for (size_t i = 0; i < e.n; i++)
		free(e.v[i]);
	free(e.v);
	return r->status;
}

int it_socktune(struct it_run *r, const char *const env[], const char *const args[])
{
	cr_assert_eq(access(it_bin(), X_OK), 0, "the command %s is missing", it_bin());
	cr_assert_eq(access(it_lib(), R_OK), 0, "the library %s is missing", it_lib());
	const char *argv[64] = { it_bin() };
	size_t n = 1;
	for (size_t i = 0; args[i]; i++) {
		cr_assert_lt(n, 63, "too many arguments");
		argv[n++] = args[i];
	}
	return it_run(r, argv, env, 0);
}

int it_probe(struct it_run *r, unsigned flags, const char *const env[], const char *const args[])
{
	size_t n = 0;
	while (args[n])
		n++;
	const char **argv = calloc(n + 2, sizeof *argv);
	if (!argv)
		abort();
	argv[0] = it_target("probe");
	memcpy(argv + 1, args, n * sizeof *argv);
	int status = it_run(r, argv, env, flags);
	free(argv);
	return status;
}

void it_run_free(struct it_run *r)
{
	free(r->out);
	free(r->err);
	r->out = r->err = NULL;
}

char *it_field_str(const char *text, const char *prefix, const char *key)
{
	size_t plen = strlen(prefix), klen = strlen(key);
	for (const char *line = text; line && *line;) {
		const char *eol = strchr(line, '\n');
		const char *end = eol ? eol : line + strlen(line);
		if (!strncmp(line, prefix, plen)) {
			for (const char *p = line; p + klen < end; p++) {
				if ((p == line || p[-1] == ' ') && !strncmp(p, key, klen) && p[klen] == '=') {
					const char *v = p + klen + 1, *ve = v;
					while (ve < end && *ve != ' ')
						ve++;
					return strndup(v, (size_t)(ve - v));
				}
			}
			return NULL;
		}
		line = eol ? eol + 1 : NULL;
	}
	return NULL;
}

char *it_preload_env(void)
{
	const char *first = getenv("SOCKTUNE_TESTPRELOAD_FIRST");
	if (first && *first) {
		char *both = xasprintf("%s:%s", first, it_lib());
		char *entry = xasprintf("%s=%s", "LD_PRELOAD", both);
		free(both);
		return entry;
	}
	return xasprintf("%s=%s", "LD_PRELOAD", it_lib());
}

long it_field(const char *text, const char *prefix, const char *key)
{
	char *v = it_field_str(text, prefix, key);
	long n = v ? strtol(v, NULL, 10) : -1;
	free(v);
	return n;
}

int it_count(const char *text, const char *needle)
{
	int n = 0;
	size_t len = strlen(needle);
	for (const char *p = text; len && (p = strstr(p, needle)); p += len)
		n++;
	return n;
}

int it_count_lines(const char *text, const char *needle)
{
	int n = 0;
	for (const char *line = text; line && *line;) {
		const char *eol = strchr(line, '\n');
		size_t len = eol ? (size_t)(eol - line) : strlen(line);
		const char *hit = strstr(line, needle);
		n += hit && hit + strlen(needle) <= line + len;
		line = eol ? eol + 1 : NULL;
	}
	return n;
}

long it_read_long(const char *path)
{
	FILE *f = fopen(path, "r");
	long v = -1;
	if (f) {
		if (fscanf(f, "%ld", &v) != 1)
			v = -1;
		fclose(f);
	}
	return v;
}

long it_expected_sndbuf(long bytes)
{
	long max = it_read_long("/proc/sys/net/core/wmem_max");
	return (max >= 0 && max < bytes ? max : bytes) * 2;
}

long it_expected_rcvbuf(long bytes)
{
	long max = it_read_long("/proc/sys/net/core/rmem_max");
	return (max >= 0 && max < bytes ? max : bytes) * 2;
}

static const char stats_script[] =
	"import json, sys\n"
	"text = open(sys.argv[1]).read()\n"
	"lines = text.split('\\n')\n"
	"if lines[-1] == '': lines.pop()\n"
	"if len(lines) != 1: sys.exit('expected one line, got %d: %r' % (len(lines), text[:400]))\n"
	"obj = json.loads(lines[0])\n"
	"if not isinstance(obj, dict): sys.exit('not a JSON object')\n"
	"def walk(prefix, v):\n"
	"    if isinstance(v, dict):\n"
	"        for k, x in v.items(): walk(prefix + [k], x)\n"
	"    else:\n"
	"        print('.'.join(prefix) + '=' + (v if isinstance(v, str) else json.dumps(v)))\n"
	"walk([], obj)\n";

char *it_stats_flat(const char *path, char **why)
{
	const char *argv[] = { "python3", "-c", stats_script, path, NULL };
	struct it_run r;
	if (it_run(&r, argv, NULL, IT_INHERIT_ENV) != 0) {
		*why = xasprintf("%s: %s", path, r.err);
		free(r.out);
		free(r.err);
		return NULL;
	}
	free(r.err);
	*why = NULL;
	return r.out;
}

long it_stat(const char *flat, const char *key)
{
	size_t klen = strlen(key);
	for (const char *line = flat; line && *line;) {
		if (!strncmp(line, key, klen) && line[klen] == '=') {
			char *end;
			long v = strtol(line + klen + 1, &end, 10);
			return end == line + klen + 1 ? -1 : v;
		}
		line = strchr(line, '\n');
		if (line)
			line++;
	}
	return -1;
}

bool it_have(const char *program)
{
	const char *path = getenv("PATH");
	if (!path)
		return false;
	char *copy = xstrdup(path);
	bool found = false;
	for (char *save, *dir = strtok_r(copy, ":", &save); dir && !found; dir = strtok_r(NULL, ":", &save)) {
		char *full = xasprintf("%s/%s", dir, program);
		found = access(full, X_OK) == 0;
		free(full);
	}
	free(copy);
	return found;
}

bool it_have_ipv6(void)
{
	int fd = socket(AF_INET6, SOCK_STREAM, 0);
	if (fd < 0)
		return false;
	struct sockaddr_in6 a = { .sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT };
	bool ok = bind(fd, (struct sockaddr *)&a, sizeof a) == 0;
	close(fd);
	return ok;
}

int it_free_port(void)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof a;
	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) < 0 ||
	    getsockname(fd, (struct sockaddr *)&a, &len) < 0)
		abort();
	close(fd);
	return ntohs(a.sin_port);
}
