/* The live figures: a small file per process, LIVE_DIR/socktune-EUID/PID,
 * that the process maps and counts in, and that `socktune stats` reads
 * while it runs.  This header is its layout, which the library and the
 * command share; a reader checks magic, version and size before it trusts
 * the rest. */
#ifndef SOCKTUNE_LIVE_H
#define SOCKTUNE_LIVE_H

#include "stats.h"

#include <stdint.h>
#include <string.h>
#include <sys/stat.h>

#define ST_LIVE_MAGIC "STLIVE\n"
#define ST_LIVE_VERSION 1
#define ST_LIVE_NOTES 8
#define ST_LIVE_NOTE_LEN 240

struct st_live {
	char magic[8];
	uint32_t version, size; /* ST_LIVE_VERSION, sizeof(struct st_live) */
	int64_t pid;
	/* The kernel's start time of the process, in clock ticks since boot
	 * (/proc/PID/stat, field 22): with the pid it names one process, the
	 * same across exec and another after the pid is reused. */
	uint64_t start_ticks;
	uint64_t pid_ns; /* the inode of /proc/PID/ns/pid: where the pid means it */
	int64_t started; /* the time the file was made, seconds since the epoch */
	uint32_t images; /* the program images (exec) that have counted in it */
	uint32_t notes_written; /* the last ST_LIVE_NOTES are kept, oldest first */
	char prog[64];
	char version_text[32]; /* socktune's */
	char settings[3072];   /* the configuration in force, key=value lines */
	char notes[ST_LIVE_NOTES][ST_LIVE_NOTE_LEN];
	struct st_stats stats;
};

/* The start time in a /proc/PID/stat line, or 0.  The name, field 2, is in
 * parentheses and may hold spaces and parentheses itself: the fields after
 * it are counted from its last ')'. */
static inline uint64_t live_start_ticks(const char *stat_line)
{
	const char *p = strrchr(stat_line, ')');
	if (!p)
		return 0;
	/* ") S ppid ...": field 3 follows the space; 22 is 19 spaces later. */
	for (int field = 2; field < 22; field++) {
		p = strchr(p + 1, ' ');
		if (!p)
			return 0;
	}
	uint64_t v = 0;
	for (p++; *p >= '0' && *p <= '9'; p++)
		v = v * 10 + (uint64_t)(*p - '0');
	return v;
}

/* The pid namespace this process is in (the inode of /proc/self/ns/pid),
 * or 0: a pid in a file means a process only to a reader in the same one. */
static inline uint64_t live_pid_ns(void)
{
	struct stat st;
	return stat("/proc/self/ns/pid", &st) == 0 ? (uint64_t)st.st_ino : 0;
}

/* Library side (live.c). */

/* Maps the file an earlier image of this process (before exec) made, or
 * makes one now when there is a message to show, or arms live_touch; with
 * cfg.live off keeps counting in the process's own memory.  When a file
 * cannot be made, says why, once. */
void live_start(void);

/* In a fork's child: counts in its own memory from zero, and gets a file
 * of its own as a process does.  The parent's file stays the parent's. */
void live_fork_child(void);

/* The file, made at the first connected socket: live_touch() in
 * connect.c.  One load and a branch not taken once it is made. */
extern int socktune_live_armed __attribute__((visibility("hidden")));
void live_touch_now(void);
static inline void live_touch(void)
{
	if (__builtin_expect(__atomic_load_n(&socktune_live_armed, __ATOMIC_RELAXED), 0))
		live_touch_now();
}

/* At exit: the file goes.  (exec keeps it: the next image counts on.) */
void live_end(void);

/* Keeps a message where `socktune stats` shows it, whatever the log level. */
void live_note(const char *text);

#endif
