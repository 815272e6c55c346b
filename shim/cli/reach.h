/* Whether LD_PRELOAD can put the library into a program, judged before it
 * runs: `socktune --` warns with it, `socktune check PROG` shows it.  The
 * answer is read from the files (the program, or the interpreter its #!
 * line names, and the library), never by running anything. */
#ifndef SOCKTUNE_REACH_H
#define SOCKTUNE_REACH_H

#include <limits.h>

enum reach_verdict {
	REACH_YES,     /* nothing found that stops the library */
	REACH_UNKNOWN, /* not found, not readable, not ELF: nothing is claimed */
	REACH_PARTLY,  /* the library loads, but some of what it does cannot act */
	REACH_NO,      /* the library does not load, or sees none of the sockets */
};

#define REACH_FINDINGS 8

struct reach {
	enum reach_verdict verdict; /* the worst finding's */
	/* The loader would refuse to start the program with the library in
	 * LD_PRELOAD (another C library): the run leaves it out. */
	int leave_out;
	int found;                 /* the program was found as execvp finds it */
	char path[PATH_MAX];       /* that file */
	char facts[2048];          /* what was read, a line each ("\n"-ended) */
	int n;
	struct {
		enum reach_verdict verdict;
		char why[640];
	} finding[REACH_FINDINGS];
};

/* Judges PROG (a name looked up in PATH as execvp does, or a path) against
 * the library at LIB, the one the command puts in LD_PRELOAD. */
enum reach_verdict reach_judge(const char *prog, const char *lib, struct reach *r);

/* For `socktune -- PROG`: each finding on stderr, nothing when PROG is
 * reached or cannot be judged.  Returns r->leave_out. */
int reach_warn(const char *prog, const char *lib);

/* For `socktune check PROG`: what was found and the verdict, on stdout.
 * Returns check's exit status for it: 0 reached or not judged, 3 not
 * reached, 4 partly reached, 127 not found. */
int reach_show(const char *prog, const char *lib);

#endif
