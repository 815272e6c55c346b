/* The once-only start: who we are, the configuration, the fork handler and
 * the report at exit.  The configuration is read in the constructor, so that
 * a bad file is reported when the program starts, not at its first socket;
 * the real functions wait for the first hook (real.c). */
#include "fdtable.h"
#include "hold.h"
#include "live.h"
#include "log.h"
#include "sockopt.h"
#include "state.h"
#include "stats.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#if ST_HAVE_GETAUXVAL
#include <sys/auxv.h>
#endif

#ifndef SOCKTUNE_SYSCONFDIR
#define SOCKTUNE_SYSCONFDIR "/etc"
#endif

static pthread_once_t config_once = PTHREAD_ONCE_INIT;

/* Set while this thread reads the configuration.  A hooked call made from
 * inside that (a malloc that closes a file, say) must pass straight
 * through: waiting on config_once from inside it would deadlock. */
static ST_THREAD_LOCAL int loading;

static void diag_log(void *ctx, const char *source, int line, const char *key, const char *msg)
{
	char where[ST_SOURCE_MAX + 16] = "";
	(void)ctx;
	if (line > 0)
		snprintf(where, sizeof(where), "%s:%d", source, line);
	else
		snprintf(where, sizeof(where), "%s", source);
	if (key)
		log_warn("%s: %s: %s", where, key, msg);
	else
		log_warn("%s: %s", where, msg);
}

static void before_fork(void)
{
	hold_fork_prepare();
}

static void after_fork_child(void)
{
	socktune_pid = getpid();
	hold_fork_child();
	live_fork_child();
	sockopt_reset_warnings();
}

/* Whether the program runs with privileges its invoker lacks (setuid,
 * setgid, file capabilities): the kernel's AT_SECURE, or the BSD call that
 * reports it, or failing both, the ids. */
static int running_secure(void)
{
#if ST_HAVE_GETAUXVAL
	return getauxval(AT_SECURE) != 0;
#elif ST_HAVE_ISSETUGID
	return issetugid();
#else
	return getuid() != geteuid() || getgid() != getegid();
#endif
}

/* Set once, before any variable is read. */
static int secure;

/* A variable, unless the program is setuid. */
#if ST_HAVE_SECURE_GETENV
#define env_get secure_getenv
#else
static char *env_get(const char *name)
{
	return secure ? NULL : getenv(name);
}
#endif

/* The program's name for rules and messages, and the path it was started
 * by, where the system says: execve's, with PATH search the full one. */
static void program_names(const char **name, const char **path)
{
#if ST_HAVE_PROGRAM_INVOCATION_NAME
	*name = program_invocation_short_name;
	*path = program_invocation_name;
#elif ST_HAVE_GETPROGNAME
	*name = *path = getprogname();
#else
	*name = *path = "?";
#endif
#if ST_HAVE_GETAUXVAL
	const char *execfn = (const char *)getauxval(AT_EXECFN);
	if (execfn)
		*path = execfn;
#endif
}

static void load_config_now(void)
{
	int saved = errno;
	secure = running_secure();
	const char *mode = env_get("SOCKTUNE");
	const char *level = env_get("SOCKTUNE_LOG");
	const char *path;

	socktune_pid = getpid();
	program_names(&socktune_prog, &path);
	/* SOCKTUNE=off is the A/B switch: honour it without touching a file. */
	if (mode && !strcasecmp(mode, "off")) {
		conf_defaults(&socktune_cfg);
		socktune_cfg.mode = ST_MODE_OFF;
		errno = saved;
		return;
	}
	/* SOCKTUNE_LOG governs the messages about the files too, so it is
	 * taken before them (and again after, with the rest). */
	if (level) {
		struct st_config scratch;
		conf_defaults(&scratch);
		if (conf_set(&scratch, "log", level, "environment", "SOCKTUNE_LOG", NULL, NULL) == 0)
			socktune_log_level = scratch.log;
	}
	conf_load(&socktune_cfg, SOCKTUNE_SYSCONFDIR, secure, env_get, diag_log, NULL,
		  socktune_prog, path);
	socktune_log_level = socktune_cfg.log;
	pthread_atfork(before_fork, NULL, after_fork_child);
	live_start();
	log_debug("mode %s, %d rule(s), %d file(s) read%s", mode_name(socktune_cfg.mode),
		  socktune_cfg.nrules, socktune_cfg.nsources, secure ? ", setuid: system file only" : "");
	errno = saved;
}

static void load_config(void)
{
	loading = 1;
	load_config_now();
	loading = 0;
}

int socktune_start(void)
{
	real_bind();
	if (loading)
		return ST_MODE_OFF;
	pthread_once(&config_once, load_config);
	__atomic_store_n(&socktune_mode, socktune_cfg.mode, __ATOMIC_RELEASE);
	return socktune_cfg.mode;
}

__attribute__((constructor)) static void socktune_init(void)
{
	pthread_once(&config_once, load_config);
}

__attribute__((destructor)) static void socktune_fini(void)
{
	if (socktune_cfg.mode == ST_MODE_OFF)
		return;
	real_bind();
	stats_report();
	live_end();
}
