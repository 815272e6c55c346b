/* The live figures' file: made at a process's first connected socket (or
 * at start, when there is a message to show), kept across exec, removed at
 * exit; a fork's child makes its own.  The counters live in it, so counting costs
 * what it cost before: no thread, no timer and no system call, only the
 * memory the counters were always in, now shared with whoever reads it.
 *
 * Why LIVE_DIR/socktune-EUID (by default /dev/shm/socktune-EUID): tmpfs,
 * so the counters never cause writeback; there for a daemon that has no
 * login session (unlike $XDG_RUNTIME_DIR) and for any user (unlike /run);
 * named by user so that `socktune stats` finds every process its caller may
 * read, whatever its environment.  The directory is the caller's own and
 * 0700, its files 0600, like libvma's shared-memory statistics; anything
 * else found there is refused, not used. */
#include "live.h"

#include "log.h"
#include "state.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stddef.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/syscall.h>
#endif

/* Before the file is mapped, without it, and in a fork's child until it
 * has its own. */
static struct st_live own;
static struct st_live *live = &own;
struct st_stats *socktune_counters = &own.stats;

void live_note(const char *text)
{
	struct st_live *l = __atomic_load_n(&live, __ATOMIC_ACQUIRE);
	uint32_t i = __atomic_fetch_add(&l->notes_written, 1, __ATOMIC_ACQ_REL);
	snprintf(l->notes[i % ST_LIVE_NOTES], ST_LIVE_NOTE_LEN, "%s", text);
}

#ifdef __linux__
/* key=value for every key of one kind that base sets. */
static size_t settings_keys(char *buf, size_t len, size_t o, unsigned kind, const void *base)
{
	for (const struct st_key *k = socktune_keys; k->name; k++) {
		char v[128];
		const char *text = k->kind == kind ? conf_key_format(k, base, v, sizeof(v)) : NULL;
		if (text && o < len)
			o += (size_t)snprintf(buf + o, len - o, " %s=%s", k->name, text);
	}
	return o;
}

/* The configuration in force, as `socktune check` would list it. */
static void settings_write(char *buf, size_t len)
{
	const struct st_config *c = &socktune_cfg;
	size_t o = (size_t)snprintf(buf, len, "global:");
	o = settings_keys(buf, len, o, ST_KEY_GLOBAL, c);
	if (o < len)
		o += (size_t)snprintf(buf + o, len - o, "\ndefaults:");
	o = settings_keys(buf, len, o, ST_KEY_OPTION, &c->defaults);
	if (o < len)
		o += (size_t)snprintf(buf + o, len - o, "\nenvironment:");
	o = settings_keys(buf, len, o, ST_KEY_OPTION, &c->env);
	for (int i = 0; i < c->nrules && o < len; i++) {
		const struct st_rule *r = &c->rules[i];
		o += (size_t)snprintf(buf + o, len - o, "\nrule %d %s(%s:%d):", i + 1, r->name,
				      r->source, r->line);
		o = settings_keys(buf, len, o, ST_KEY_MATCH, r);
		if (o < len)
			o += (size_t)snprintf(buf + o, len - o, " ->");
		o = settings_keys(buf, len, o, ST_KEY_OPTION, &r->opts);
	}
	for (int i = 0; i < c->nsources && o < len; i++)
		o += (size_t)snprintf(buf + o, len - o, "\nfile: %s", c->sources[i]);
	if (o >= len && len > 4)
		memcpy(buf + len - 4, "...", 4);
}

/* The library's own read and close are hooks: the calls here are raw. */
static void raw_close(int fd)
{
	syscall(SYS_close, fd);
}

static uint64_t own_start_ticks(void)
{
	char buf[1024];
	int fd = open("/proc/self/stat", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	long n = syscall(SYS_read, fd, buf, sizeof(buf) - 1);
	raw_close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	return live_start_ticks(buf);
}

/* The directory, made if need be, opened, and refused unless it is a
 * directory of this user's that no one else may enter. */
static int live_dir_open(uid_t uid, int create, const char **why, int *err)
{
	char dir[ST_SOURCE_MAX + 32];
	struct stat st;
	snprintf(dir, sizeof(dir), "%s/socktune-%lu", socktune_cfg.live_dir, (unsigned long)uid);
	if (create && mkdir(dir, 0700) < 0 && errno != EEXIST)
		return *err = errno, *why = "cannot make the directory", -1;
	int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dfd < 0)
		return *err = errno, *why = "cannot open the directory", -1;
	if (fstat(dfd, &st) < 0 || st.st_uid != uid || (st.st_mode & 077)) {
		raw_close(dfd);
		return *why = "the directory is not this user's alone (owner, or mode not 0700)", -1;
	}
	return dfd;
}

/* Removes the files of this user's processes that are gone: killed, or
 * crashed, they had no exit to remove their own.  Without this a service
 * that crashes and restarts would fill the tmpfs, one file a restart,
 * until someone ran socktune stats.  Bounded: one getdents of the
 * directory (a few dozen entries, newest first on tmpfs), and for each, a
 * kill(pid, 0); only a pid that is gone costs more.  A file whose pid
 * namespace is not this one is left: its pid means nothing here. */
static void live_prune(int dfd)
{
	char buf[2048];
	uint64_t ns = live_pid_ns();
	long n = syscall(SYS_getdents64, dfd, buf, sizeof(buf));
	for (long o = 0; o < n;) {
		/* struct linux_dirent64: ino, off, reclen, type, name */
		unsigned short reclen;
		memcpy(&reclen, buf + o + 16, sizeof(reclen));
		const char *name = buf + o + 19;
		o += reclen;
		char *end;
		long pid = strtol(name, &end, 10);
		if (*end || pid <= 0 || pid == (long)socktune_pid || !ns)
			continue;
		if (kill((pid_t)pid, 0) == 0 || errno != ESRCH)
			continue;
		struct st_live head;
		int fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0)
			continue;
		ssize_t got = pread(fd, &head, offsetof(struct st_live, started), 0);
		raw_close(fd);
		if (got == (ssize_t)offsetof(struct st_live, started) &&
		    !memcmp(head.magic, ST_LIVE_MAGIC, sizeof(head.magic)) && head.pid == pid &&
		    head.pid_ns == ns)
			unlinkat(dfd, name, 0);
	}
}

/* Maps the file for this pid, made if create says so.  Where the same
 * process (pid and start time) left one, it is an earlier image of this
 * process before exec: its counters go on. */
static struct st_live *live_map(int create, const char **why, int *err)
{
	uid_t uid = geteuid();
	char name[ST_SOURCE_MAX + 64];
	struct stat st;
	if (!create) {
		/* Most often there is none: one system call to learn it. */
		snprintf(name, sizeof(name), "%s/socktune-%lu/%ld", socktune_cfg.live_dir,
			 (unsigned long)uid, (long)socktune_pid);
		if (access(name, F_OK) < 0)
			return NULL;
	}
	int dfd = live_dir_open(uid, create, why, err);
	if (dfd < 0)
		return NULL;
	snprintf(name, sizeof(name), "%ld", (long)socktune_pid);
	int fd = openat(dfd, name, O_RDWR | O_NOFOLLOW | O_CLOEXEC | (create ? O_CREAT : 0), 0600);
	if (create && fd >= 0)
		live_prune(dfd);
	raw_close(dfd);
	if (fd < 0)
		return *err = errno, *why = "cannot open its file", NULL;
	struct st_live *l = MAP_FAILED;
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_uid == uid && st.st_nlink == 1) {
		/* A size of another layout: start it again.  The pages are
		 * allocated now, so that a full tmpfs is an error here and not
		 * a SIGBUS at the first count. */
		if ((st.st_size != (off_t)sizeof(struct st_live) &&
		     (ftruncate(fd, 0) < 0 || ftruncate(fd, sizeof(struct st_live)) < 0)) ||
		    (errno = posix_fallocate(fd, 0, sizeof(struct st_live))) != 0)
			*err = errno, *why = "cannot size its file";
		else if ((l = mmap(NULL, sizeof(struct st_live), PROT_READ | PROT_WRITE, MAP_SHARED,
				   fd, 0)) == MAP_FAILED)
			*err = errno, *why = "cannot map its file";
	} else {
		*why = "its file is not a plain file of this user's";
	}
	raw_close(fd);
	return l == MAP_FAILED ? NULL : l;
}

/* Makes l this process's figures.  The counts so far (in own) are added
 * after the switch, so that a thread counting meanwhile loses nothing but
 * what it adds in the instant between the two. */
static void live_publish(struct st_live *l, uint64_t ticks)
{
	int earlier = !memcmp(l->magic, ST_LIVE_MAGIC, sizeof(l->magic)) &&
		      l->version == ST_LIVE_VERSION && l->size == sizeof(*l) &&
		      l->pid == socktune_pid && ticks && l->start_ticks == ticks;
	if (earlier) {
		/* The earlier image's counters and notes stay. */
		l->images++;
	} else {
		/* New, or left by a process that is gone. */
		memset(l, 0, sizeof(*l));
		l->images = 1;
		l->started = (int64_t)time(NULL);
	}
	uint32_t n = own.notes_written < ST_LIVE_NOTES ? own.notes_written : ST_LIVE_NOTES;
	for (uint32_t i = own.notes_written - n; i < own.notes_written; i++) {
		uint32_t at = __atomic_fetch_add(&l->notes_written, 1, __ATOMIC_ACQ_REL);
		memcpy(l->notes[at % ST_LIVE_NOTES], own.notes[i % ST_LIVE_NOTES], ST_LIVE_NOTE_LEN);
	}
	l->pid = socktune_pid;
	l->start_ticks = ticks;
	l->pid_ns = live_pid_ns();
	l->version = ST_LIVE_VERSION;
	l->size = sizeof(*l);
	snprintf(l->prog, sizeof(l->prog), "%s", socktune_prog);
	snprintf(l->version_text, sizeof(l->version_text), "%s", SOCKTUNE_VERSION);
	settings_write(l->settings, sizeof(l->settings));
	memcpy(l->magic, ST_LIVE_MAGIC, sizeof(l->magic));
	__atomic_store_n(&socktune_counters, &l->stats, __ATOMIC_RELEASE);
	__atomic_store_n(&live, l, __ATOMIC_RELEASE);
	unsigned long *to = (unsigned long *)&l->stats, *from = (unsigned long *)&own.stats;
	for (size_t i = 0; i < sizeof(l->stats) / sizeof(unsigned long); i++)
		__atomic_add_fetch(&to[i], __atomic_load_n(&from[i], __ATOMIC_RELAXED),
				   __ATOMIC_RELAXED);
}

/* The file is made at the process's first connected socket, or at start
 * when there is a message to show: a process that never touches a socket
 * (most of a shell's children, say) costs no file and no system call. */
int socktune_live_armed;

static void live_make(int create)
{
	const char *why = NULL;
	int err = 0;
	struct st_live *l = live_map(create, &why, &err);
	if (l) {
		live_publish(l, own_start_ticks());
	} else if (create) {
		log_warn("live figures: %s/socktune-%lu/%ld: %s%s%s: this process runs without "
			 "them, and socktune stats will not list it",
			 socktune_cfg.live_dir, (unsigned long)geteuid(), (long)socktune_pid, why,
			 err ? ": " : "", err ? strerror(err) : "");
	}
}

void live_touch_now(void)
{
	if (__atomic_exchange_n(&socktune_live_armed, 0, __ATOMIC_ACQ_REL))
		live_make(1);
}

void live_start(void)
{
	if (!socktune_cfg.live || socktune_cfg.mode == ST_MODE_OFF || live != &own)
		return;
	/* After exec, the file an earlier image of this process made. */
	live_make(0);
	if (live != &own)
		return;
	if (own.notes_written)
		live_make(1);
	else
		__atomic_store_n(&socktune_live_armed, 1, __ATOMIC_RELEASE);
}

void live_fork_child(void)
{
	struct st_live *parent = live;
	if (parent != &own) {
		/* The parent's file stays the parent's. */
		__atomic_store_n(&socktune_counters, &own.stats, __ATOMIC_RELEASE);
		__atomic_store_n(&live, &own, __ATOMIC_RELEASE);
		munmap(parent, sizeof(*parent));
	}
	memset(&own.stats, 0, sizeof(own.stats));
	own.notes_written = 0;
	/* A new pid: no earlier image to look for. */
	__atomic_store_n(&socktune_live_armed, socktune_cfg.live && socktune_cfg.mode != ST_MODE_OFF,
			 __ATOMIC_RELEASE);
}

void live_end(void)
{
	struct st_live *l = live;
	char path[ST_SOURCE_MAX + 64];
	if (l == &own || l->pid != (int64_t)getpid())
		return;
	snprintf(path, sizeof(path), "%s/socktune-%lu/%ld", socktune_cfg.live_dir,
		 (unsigned long)geteuid(), (long)l->pid);
	unlink(path);
}
#else
int socktune_live_armed;

void live_touch_now(void)
{
}

void live_start(void)
{
}

void live_fork_child(void)
{
	memset(&own.stats, 0, sizeof(own.stats));
}

void live_end(void)
{
}
#endif
