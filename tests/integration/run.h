/* run.h: what every integration test shares: where the library, the targets and the
 * command are, a per-test temporary directory, and running a program in a child with
 * a clean, built environment (LD_PRELOAD only ever in the child's envp), its stdout
 * and stderr captured.
 *
 * Locations come from SOCKTUNE_TESTLIB, SOCKTUNE_TARGETS and SOCKTUNE_BIN, and fall
 * back to build/libsocktune.so.1, build/targets and build/socktune under the current
 * directory. SOCKTUNE_TESTPRELOAD_FIRST, when set, is put before the library in the
 * child's LD_PRELOAD (a sanitizer runtime must come first); ASAN_OPTIONS,
 * UBSAN_OPTIONS and LSAN_OPTIONS are passed through.
 */
#ifndef SOCKTUNE_IT_RUN_H
#define SOCKTUNE_IT_RUN_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct it_run {
	int status;      /* exit code; 128+N when killed by signal N; -1 if it could not run */
	char *out;       /* stdout, NUL-terminated, never NULL after it_run */
	char *err;       /* stderr, likewise */
};

enum {
	IT_PRELOAD = 1u << 0,     /* LD_PRELOAD=<lib> in the child's environment */
	IT_INHERIT_ENV = 1u << 1, /* the runner's own environment (for tools: python3, nm) */
};

const char *it_lib(void);
const char *it_bin(void);
/* Absolute path of build/targets/NAME; the string lives until exit. */
const char *it_target(const char *name);

/* This test's own temporary directory (made on first use, removed at exit), holding
 * home/ and xdg/ for the child's HOME and XDG_CONFIG_HOME. Criterion runs every test
 * in a process of its own, so no file of one test is seen by another. */
const char *it_tmpdir(void);
/* it_tmpdir()/NAME, malloc'd. */
char *it_path(const char *name);
/* Writes TEXT to it_tmpdir()/NAME and returns the path (malloc'd). */
char *it_write_file(const char *name, const char *text);

/* The whole content of PATH (malloc'd, NUL-terminated; "" when it cannot be read). */
char *it_read_file(const char *path);

/* Runs ARGV (argv[0] without '/' is looked up in PATH) with the clean base environment
 * (PATH, HOME and XDG_CONFIG_HOME inside the temp dir), the flags above, and then ENV
 * ("KEY=VALUE" entries, NULL-terminated, may be NULL; an entry replaces a base entry of
 * the same key, and "KEY" alone removes it). Waits at most 15 s. Returns r->status. */
int it_run(struct it_run *r, const char *const argv[], const char *const env[], unsigned flags);

/* Starts ARGV (looked up in PATH without a '/') with exactly ENV, in a process group of
 * its own, stdin from /dev/null and stdout and stderr to the files OUT_PATH and
 * ERR_PATH, no other descriptor of the runner's. Returns its pid (-1: fork failed);
 * the caller waits for it. */
pid_t it_spawn(const char *const argv[], const char *const env[], const char *out_path,
	       const char *err_path);
void it_run_free(struct it_run *r);

/* Runs the socktune command (it_bin()) with ARGS (NULL-terminated) and ENV, as it_run
 * does; fails the test when the command or the library is missing. */
int it_socktune(struct it_run *r, const char *const env[], const char *const args[]);

/* Runs the probe target with ARGS (NULL-terminated) after it_target("probe"). */
int it_probe(struct it_run *r, unsigned flags, const char *const env[], const char *const args[]);

/* Compound-literal lists for argv and env: IT_LIST("--family", "inet"). */
#define IT_LIST(...) ((const char *const[]){ __VA_ARGS__, NULL })
#define IT_EMPTY ((const char *const[]){ NULL })

/* Assertions for test files (they include criterion first). Every failure prints the
 * child's output, so a failing run explains itself. */
#define it_assert_ran(r)                                                                   \
	cr_assert_eq((r)->status, 0, "exit status %d\n--- stdout:\n%s--- stderr:\n%s",       \
		     (r)->status, (r)->out, (r)->err)
#define it_assert_field(r, prefix, key, want)                                              \
	do {                                                                               \
		long got_ = it_field((r)->out, prefix, key), want_ = (want);               \
		cr_assert_eq(got_, want_,                                                  \
			     "%s%s: got %ld, want %ld\n--- stdout:\n%s--- stderr:\n%s", prefix, \
			     key, got_, want_, (r)->out, (r)->err);                         \
	} while (0)
/* The same value as the run without the library (BASE). */
#define it_assert_untouched(r, base, prefix, key)                                          \
	do {                                                                               \
		long base_ = it_field((base)->out, prefix, key);                           \
		cr_assert_neq(base_, -1, "baseline has no %s%s:\n%s%s", prefix, key,      \
			      (base)->out, (base)->err);                                    \
		it_assert_field(r, prefix, key, base_);                                    \
	} while (0)

/* The value of KEY=N on the first line of TEXT that starts with PREFIX (e.g. "client "),
 * or -1 if there is none. */
/* "LD_PRELOAD=..." as IT_PRELOAD sets it: SOCKTUNE_TESTPRELOAD_FIRST (a sanitizer
 * runtime, say), then the library.  For runs that set the variable themselves, such as
 * strace's -E.  malloc'd. */
char *it_preload_env(void);

long it_field(const char *text, const char *prefix, const char *key);
/* The same value as a malloc'd string (up to the next space), or NULL. */
char *it_field_str(const char *text, const char *prefix, const char *key);
/* Number of non-overlapping occurrences of NEEDLE in TEXT. */
int it_count(const char *text, const char *needle);
/* Number of lines of TEXT that contain NEEDLE. */
int it_count_lines(const char *text, const char *needle);

/* The number at the start of the file PATH (a sysctl: /proc/sys/...), or -1. */
long it_read_long(const char *path);
/* What getsockopt(SO_SNDBUF) reads after asking for BYTES: min(BYTES, wmem_max) * 2. */
long it_expected_sndbuf(long bytes);
long it_expected_rcvbuf(long bytes);

/* Flattens the JSON stats record in PATH to "a.b=value" lines (via python3). Checks that
 * the file is exactly one line holding one JSON object; on failure returns NULL and puts
 * the reason in *why (malloc'd). */
char *it_stats_flat(const char *path, char **why);
/* Number N of "KEY=N" in a flattened record, -1 if absent. */
long it_stat(const char *flat, const char *key);

/* True when PROGRAM is found in PATH. */
bool it_have(const char *program);
/* True when a TCP socket can be bound to ::1. */
bool it_have_ipv6(void);
/* A TCP port on 127.0.0.1 and ::1 that was free a moment ago. */
int it_free_port(void);

#endif
