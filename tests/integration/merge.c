/* merge.c: iovec merging (merge = SIZE, SOCKTUNE_MERGE) end to end, with the
 * iovwriter target: random writev/sendmsg layouts over every socket type, written
 * with the library preloaded and merging (SOCKTUNE_MERGE=4K, 256), preloaded but not
 * merging (SOCKTUNE_MERGE=0), and not preloaded at all. Merging must change nothing a
 * program can see: the same return values, errno, bytes, record boundaries, SCM_RIGHTS
 * descriptors and SIGPIPEs. The stats record proves that merging did happen (so the
 * comparisons are not of two pass-throughs), strace proves what reaches the kernel,
 * and the configuration's messages for bad values are checked like the other keys'.
 *
 * iovwriter checks its own stream (every byte at its offset, the record lengths, the
 * descriptors): a run that exits 0 received exactly what its return values say it
 * wrote. The comparisons here add that the return values themselves are the same. */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "run.h"

/* Runs iovwriter with ARGS (NULL-terminated). */
static int writer(struct it_run *r, unsigned flags, const char *const env[], const char *const args[])
{
	const char *argv[40] = { it_target("iovwriter") };
	size_t n = 1;
	for (size_t i = 0; args[i]; i++) {
		cr_assert_lt(n, 39, "too many arguments");
		argv[n++] = args[i];
	}
	return it_run(r, argv, env, flags);
}

/* One run and, when the library wrote one, its stats record flattened ("" if none). */
struct outcome {
	struct it_run r;
	char *flat;
	const char *what; /* for messages: "not preloaded", "SOCKTUNE_MERGE=4K", ... */
};

static char *xasprintf(const char *fmt, const char *s)
{
	char *p;
	cr_assert_geq(asprintf(&p, fmt, s), 0);
	return p;
}

/* Runs iovwriter ARGS with the library preloaded and ENV (up to 3 entries, NULL ones
 * skipped) plus SOCKTUNE_STATS, or not preloaded when PRELOAD is false. */
static void run_with(struct outcome *o, bool preload, const char *what, const char *e1, const char *e2,
		     const char *e3, const char *const args[])
{
	static unsigned seq;
	char name[32];
	snprintf(name, sizeof name, "stats%u.json", seq++);
	char *path = it_path(name);
	char *stats = xasprintf("SOCKTUNE_STATS=%s", path);
	const char *env[6] = { 0 };
	size_t n = 0;
	if (preload) {
		env[n++] = stats;
		/* The messages these tests check; the library is quiet by default. */
		env[n++] = "SOCKTUNE_LOG=warn";
	}
	if (e1)
		env[n++] = e1;
	if (e2)
		env[n++] = e2;
	if (e3)
		env[n++] = e3;
	o->what = what;
	writer(&o->r, preload ? IT_PRELOAD : 0, env, args);
	o->flat = NULL;
	if (preload && access(path, R_OK) == 0) {
		char *why;
		o->flat = it_stats_flat(path, &why);
		cr_assert_not_null(o->flat, "%s: bad stats record: %s", what, why);
	}
	if (!o->flat)
		o->flat = strdup(""); /* "no record" for the messages below */
	free(stats);
	free(path);
}

/* Not preloaded. */
static void run_plain(struct outcome *o, const char *const args[])
{
	run_with(o, false, "not preloaded", NULL, NULL, NULL, args);
}

/* Preloaded with SOCKTUNE_MERGE=SIZE. */
static void run_merge(struct outcome *o, const char *size, const char *const args[])
{
	static char what[8][64];
	static unsigned k;
	char *env = xasprintf("SOCKTUNE_MERGE=%s", size);
	char *w = what[k++ % 8];
	snprintf(w, 64, "SOCKTUNE_MERGE=%s", size);
	run_with(o, true, w, env, NULL, NULL, args);
	free(env);
}

static void outcome_free(struct outcome *o)
{
	it_run_free(&o->r);
	free(o->flat);
}

static long stat_of(const struct outcome *o, const char *key)
{
	return it_stat(o->flat, key);
}

/* Line LINE (1-based) of TEXT, malloc'd; "" past the end. */
static char *line_of(const char *text, int line)
{
	const char *p = text;
	for (int i = 1; i < line && p; i++) {
		p = strchr(p, '\n');
		if (p)
			p++;
	}
	if (!p)
		return strdup("(end of output)");
	const char *eol = strchr(p, '\n');
	return strndup(p, eol ? (size_t)(eol - p) : strlen(p));
}

/* The first line where A and B differ, 0 when they are the same. */
static int first_difference(const char *a, const char *b)
{
	int line = 1;
	for (size_t i = 0;; i++) {
		if (a[i] != b[i])
			return line;
		if (!a[i])
			return 0;
		if (a[i] == '\n')
			line++;
	}
}

/* The last N lines of TEXT (a pointer into it). */
static const char *tail_of(const char *text, int n)
{
	const char *p = text + strlen(text);
	if (p > text && p[-1] == '\n')
		p--;
	while (p > text && n > 0) {
		p--;
		if (*p == '\n' && --n == 0)
			return p + 1;
	}
	return text;
}

/* The same stdout and exit status as the BASE run. */
static void assert_same(const struct outcome *o, const struct outcome *base)
{
	int line = first_difference(o->r.out, base->r.out);
	if (line) {
		char *mine = line_of(o->r.out, line), *theirs = line_of(base->r.out, line);
		cr_assert_fail("%s differs from %s at line %d (exit status %d, %d):\n  %s: %s\n  %s: %s\n"
			       "--- stderr (%s):\n%s--- end of stdout (%s):\n%s--- end of stdout (%s):\n%s",
			       o->what, base->what, line, o->r.status, base->r.status, o->what, mine, base->what, theirs, o->what,
			       o->r.err, o->what, tail_of(o->r.out, 6), base->what, tail_of(base->r.out, 6));
	}
	cr_assert_eq(o->r.status, base->r.status, "%s: exit status %d, %s: %d\n--- stderr:\n%s", o->what,
		     o->r.status, base->what, base->r.status, o->r.err);
}

static void assert_ran(const struct outcome *o)
{
	cr_assert_eq(o->r.status, 0, "%s: exit status %d\n--- end of stdout:\n%s--- stderr:\n%s", o->what,
		     o->r.status, tail_of(o->r.out, 8), o->r.err);
	cr_assert_not_null(strstr(o->r.out, "\nverify ok\n"), "%s: no verify line:\n%s", o->what,
			   tail_of(o->r.out, 8));
}

/* The stats say that merging happened, and made fewer iovecs. */
static void assert_merged(const struct outcome *o)
{
	long calls = stat_of(o, "merge.calls"), in = stat_of(o, "merge.iov_in"),
	     out = stat_of(o, "merge.iov_out"), bytes = stat_of(o, "merge.bytes");
	cr_assert_gt(calls, 0, "%s: merge.calls = %ld, want > 0 (exit status %d)\n--- record:\n%s--- stderr:\n%s",
		     o->what, calls, o->r.status, *o->flat ? o->flat : "(no stats file was written)\n", o->r.err);
	cr_assert_lt(out, in, "%s: merge.iov_out %ld, iov_in %ld\n--- record:\n%s", o->what, out, in, o->flat);
	cr_assert_geq(out, calls, "%s: fewer iovecs out than calls\n--- record:\n%s", o->what, o->flat);
	cr_assert_gt(bytes, 0, "%s: merge.bytes = %ld\n--- record:\n%s", o->what, bytes, o->flat);
}

/* A record exists and says nothing was merged. */
static void assert_not_merged(const struct outcome *o)
{
	long calls = stat_of(o, "merge.calls");
	cr_assert_eq(calls, 0, "%s: merge.calls = %ld, want 0 (exit status %d)\n--- record:\n%s--- stderr:\n%s",
		     o->what, calls, o->r.status, *o->flat ? o->flat : "(no stats file was written)\n", o->r.err);
	cr_assert_eq(stat_of(o, "merge.iov_in"), 0, "%s:\n%s", o->what, o->flat);
	cr_assert_eq(stat_of(o, "merge.bytes"), 0, "%s:\n%s", o->what, o->flat);
}

/* ---- blocking sockets: identical output, every type ----------------------------------- */

/* ARGS with "--seed SEED" appended (the strings live in a static table). */
static const char *const *with_seed(const char *const args[], const char *seed)
{
	static const char *argv[32];
	size_t n = 0;
	while (args[n] && n < 28) {
		argv[n] = args[n];
		n++;
	}
	argv[n++] = "--seed";
	argv[n++] = seed;
	argv[n] = NULL;
	return argv;
}

/* Blocking sockets are deterministic (see iovwriter.c), so merging on (4K, 256) and off
 * (0) must give byte for byte the output of a run without the library. */
static void same_as_without(const char *const base_args[])
{
	static const char *const seeds[] = { "1", "2", "3" };
	for (size_t s = 0; s < sizeof seeds / sizeof seeds[0]; s++) {
		const char *const *args = with_seed(base_args, seeds[s]);
		struct outcome plain, big, small, off;
		run_plain(&plain, args);
		assert_ran(&plain); /* the target's own check, without the library */

		run_merge(&big, "4K", args);
		assert_same(&big, &plain);
		assert_merged(&big);

		run_merge(&small, "256", args);
		assert_same(&small, &plain);
		assert_merged(&small);

		run_merge(&off, "0", args);
		assert_same(&off, &plain);
		assert_not_merged(&off);
		cr_assert_lt(stat_of(&small, "merge.bytes"), stat_of(&big, "merge.bytes") + 1,
			     "a 256-byte threshold copied more than a 4 KiB one");
		outcome_free(&plain);
		outcome_free(&big);
		outcome_free(&small);
		outcome_free(&off);
	}
}

Test(merge, unix_stream_same_as_without)
{
	same_as_without(IT_LIST("--family", "unix", "--type", "stream", "--calls", "300"));
}

Test(merge, unix_stream_accepted_writer_same_as_without)
{
	same_as_without(IT_LIST("--family", "unix", "--type", "stream", "--writer", "server", "--calls", "300"));
}

Test(merge, unix_seqpacket_same_as_without)
{
	same_as_without(IT_LIST("--family", "unix", "--type", "seqpacket", "--calls", "300"));
}

Test(merge, unix_dgram_same_as_without)
{
	same_as_without(IT_LIST("--family", "unix", "--type", "dgram", "--calls", "300"));
}

Test(merge, inet_stream_same_as_without)
{
	same_as_without(IT_LIST("--family", "inet", "--type", "stream", "--calls", "300"));
}

Test(merge, inet_stream_accepted_writer_same_as_without)
{
	same_as_without(IT_LIST("--family", "inet", "--type", "stream", "--writer", "server", "--calls", "300"));
}

/* The all-empty layouts of the random runs, made certain: several zero-length pieces,
 * which writev() turns into nothing at all on a datagram socket (the VFS returns 0
 * before the socket sees the call), while sendmsg() sends an empty datagram. */
Test(merge, all_empty_pieces_same_as_without)
{
	static const char *const types[] = { "stream", "seqpacket", "dgram" };
	static const char *const methods[] = { "writev", "sendmsg" };
	for (size_t t = 0; t < 3; t++) {
		for (size_t m = 0; m < 2; m++) {
			const char *const *args = IT_LIST("--type", types[t], "--method", methods[m], "--calls", "3",
							  "--layout", "0x4");
			struct outcome plain, big;
			run_plain(&plain, args);
			assert_ran(&plain);
			run_merge(&big, "4K", args);
			assert_same(&big, &plain);
			outcome_free(&plain);
			outcome_free(&big);
		}
	}
}

/* ---- non-blocking, small send buffer: partial writes ---------------------------------- */

struct call_line {
	long call;
	int attempt;
	long len, ret;
	char err[24];
};

/* Parses "call I.A METHOD iov=N len=L ... ret=R [errno=E]". */
static bool parse_call(const char *line, struct call_line *c)
{
	if (sscanf(line, "call %ld.%d ", &c->call, &c->attempt) != 2)
		return false;
	const char *len = strstr(line, " len="), *ret = strstr(line, " ret="), *err = strstr(line, " errno=");
	cr_assert(len && ret, "cannot parse: %s", line);
	c->len = strtol(len + 5, NULL, 10);
	c->ret = strtol(ret + 5, NULL, 10);
	c->err[0] = 0;
	if (err)
		sscanf(err + 7, "%23s", c->err);
	return true;
}

/* Every return value makes sense on its own and with the one before: -1 only with
 * EAGAIN (or EMSGSIZE for a record bigger than the minimum send buffer), never more than
 * was asked, a record whole or not at all, and a retry asks for exactly what the short
 * write before it left. Returns the indices of the EMSGSIZE calls, comma-separated. */
static char *assert_consistent(const struct outcome *o, bool records)
{
	char *emsgsize = calloc(1, 1);
	struct call_line prev = { .call = 0 };
	bool prev_open = false; /* the previous call still has bytes to write */
	for (const char *p = o->r.out; p && *p;) {
		const char *eol = strchr(p, '\n');
		char *line = strndup(p, eol ? (size_t)(eol - p) : strlen(p));
		struct call_line c;
		if (parse_call(line, &c)) {
			if (c.ret == -1) {
				bool ok = !strcmp(c.err, "EAGAIN") || (records && !strcmp(c.err, "EMSGSIZE"));
				cr_assert(ok, "%s: unexpected error: %s\n--- stdout:\n%s", o->what, line, o->r.out);
			} else {
				cr_assert(c.ret >= 0 && c.ret <= c.len, "%s: returned more than asked: %s", o->what, line);
				if (records)
					cr_assert_eq(c.ret, c.len, "%s: a record cut in two: %s", o->what, line);
				else
					cr_assert(c.ret > 0 || c.len == 0, "%s: 0 from a non-empty stream write: %s",
						  o->what, line);
			}
			if (c.attempt == 1) {
				cr_assert(!prev_open, "%s: call %ld started before call %ld was all out:\n%s", o->what,
					  c.call, prev.call, o->r.out);
				cr_assert_eq(c.call, prev.call + 1, "%s: calls out of order at: %s", o->what, line);
			} else {
				cr_assert(c.call == prev.call && c.attempt == prev.attempt + 1,
					  "%s: attempts out of order at: %s", o->what, line);
				long left = prev.len - (prev.ret > 0 ? prev.ret : 0);
				cr_assert_eq(c.len, left, "%s: a retry asks for %ld bytes, %ld were left: %s", o->what,
					     c.len, left, line);
			}
			bool failed_for_good = c.ret == -1 && strcmp(c.err, "EAGAIN");
			prev_open = !failed_for_good && (c.ret == -1 || (!records && c.ret < c.len));
			if (!strcmp(c.err, "EMSGSIZE")) {
				char *more;
				cr_assert_geq(asprintf(&more, "%s%ld,", emsgsize, c.call), 0);
				free(emsgsize);
				emsgsize = more;
			}
			prev = c;
		}
		free(line);
		p = eol ? eol + 1 : NULL;
	}
	cr_assert(!prev_open, "%s: the last call never finished", o->what);
	return emsgsize;
}

/* The lines after the calls: bytes, hashes, records, descriptors, the verdict. */
static char *summary(const char *out)
{
	const char *p = strstr(out, "\nwritten ");
	cr_assert_not_null(p, "no summary in:\n%s", out);
	return strdup(p + 1);
}

/* With a non-blocking writer and a minimal send buffer the sequence of return values is
 * not reproducible, with the library or without it: where a short write cuts depends on
 * when the reader thread gets to run, and on the kernel's memory accounting, which
 * charges each skb its truesize (data plus overhead, rounded to the allocation), so the
 * same bytes in one merged piece or in several iovecs can fill the send buffer at a
 * different point (TCP also copies each iovec into its own page fragments). So the two
 * runs are compared on what must hold anyway: each return value is consistent, the
 * writer carries on from exactly where a short write stopped, the calls too large for
 * the buffer (EMSGSIZE) are the same ones, and the stream, the record boundaries and the
 * descriptors that arrive are the same, byte for byte. */
static void nonblock_consistent(const char *const args[], bool records)
{
	struct outcome plain, big;
	run_plain(&plain, args);
	assert_ran(&plain);
	run_merge(&big, "4K", args);
	assert_ran(&big);
	assert_merged(&big);
	char *e1 = assert_consistent(&plain, records), *e2 = assert_consistent(&big, records);
	cr_assert_str_eq(e2, e1, "%s: EMSGSIZE for calls %s, %s: for %s", big.what, e2, plain.what, e1);
	char *s1 = summary(plain.r.out), *s2 = summary(big.r.out);
	cr_assert_str_eq(s2, s1, "%s:\n%s\n%s:\n%s", big.what, s2, plain.what, s1);
	cr_assert_gt(it_count(plain.r.out, "errno=EAGAIN"), 0, "no EAGAIN without the library:\n%s",
		     plain.r.out);
	cr_assert_gt(it_count(big.r.out, "errno=EAGAIN"), 0, "no EAGAIN with the library:\n%s", big.r.out);
	free(e1);
	free(e2);
	free(s1);
	free(s2);
	outcome_free(&plain);
	outcome_free(&big);
}

Test(merge, nonblock_small_unix_stream_consistent)
{
	nonblock_consistent(IT_LIST("--type", "stream", "--nonblock-small", "--calls", "80"), false);
	nonblock_consistent(IT_LIST("--type", "stream", "--nonblock-small", "--calls", "80", "--seed", "5"), false);
}

Test(merge, nonblock_small_unix_stream_accepted_writer_consistent)
{
	nonblock_consistent(IT_LIST("--type", "stream", "--writer", "server", "--nonblock-small", "--calls", "80"),
			    false);
}

Test(merge, nonblock_small_unix_seqpacket_consistent)
{
	nonblock_consistent(IT_LIST("--type", "seqpacket", "--nonblock-small", "--calls", "150"), true);
}

Test(merge, nonblock_small_unix_dgram_consistent)
{
	nonblock_consistent(IT_LIST("--type", "dgram", "--nonblock-small", "--calls", "150"), true);
}

Test(merge, nonblock_small_inet_stream_consistent)
{
	nonblock_consistent(IT_LIST("--family", "inet", "--nonblock-small", "--calls", "120"), false);
}

/* ---- modes: observe and off never merge ----------------------------------------------- */

Test(merge, observe_mode_never_merges)
{
	const char *const *args = IT_LIST("--type", "stream", "--calls", "100");
	struct outcome plain, obs;
	run_plain(&plain, args);
	assert_ran(&plain);
	run_with(&obs, true, "SOCKTUNE=observe SOCKTUNE_MERGE=4K", "SOCKTUNE=observe", "SOCKTUNE_MERGE=4K", NULL,
		 args);
	assert_same(&obs, &plain);
	cr_assert_not_null(strstr(obs.flat, "mode=observe\n"), "not an observe record:\n%s", obs.flat);
	assert_not_merged(&obs);
	outcome_free(&plain);
	outcome_free(&obs);
}

Test(merge, off_mode_never_merges_and_reports_nothing)
{
	const char *const *args = IT_LIST("--type", "dgram", "--calls", "100");
	struct outcome plain, off;
	run_plain(&plain, args);
	assert_ran(&plain);
	run_with(&off, true, "SOCKTUNE=off SOCKTUNE_MERGE=4K", "SOCKTUNE=off", "SOCKTUNE_MERGE=4K", NULL, args);
	assert_same(&off, &plain);
	cr_assert_str_eq(off.flat, "", "SOCKTUNE=off wrote a stats record:\n%s", off.flat);
	outcome_free(&plain);
	outcome_free(&off);
}

/* ---- what is never touched ------------------------------------------------------------ */

/* A file and a pipe never went through connect/accept: no merge was ever decided. */
static void sink_untouched(const char *sink)
{
	const char *const *args = IT_LIST("--sink", sink, "--calls", "200");
	struct outcome plain, big;
	run_plain(&plain, args);
	assert_ran(&plain);
	run_merge(&big, "4K", args);
	assert_same(&big, &plain);
	assert_not_merged(&big);
	cr_assert_eq(stat_of(&big, "sockets.seen"), 0, "%s", big.flat);
	outcome_free(&plain);
	outcome_free(&big);
}

Test(merge, file_untouched)
{
	sink_untouched("file");
}

Test(merge, pipe_untouched)
{
	sink_untouched("pipe");
}

/* Preloaded with merging on, the call is passed through as it is: nothing merged. */
static void passed_through(const char *const args[])
{
	struct outcome plain, big;
	run_plain(&plain, args);
	assert_ran(&plain);
	run_merge(&big, "4K", args);
	assert_same(&big, &plain);
	assert_not_merged(&big);
	outcome_free(&plain);
	outcome_free(&big);
}

Test(merge, single_iovec_untouched)
{
	passed_through(IT_LIST("--type", "stream", "--layout", "8", "--calls", "4"));
	passed_through(IT_LIST("--type", "dgram", "--layout", "0", "--calls", "4"));
}

/* More than the kernel's 1024 (UIO_MAXIOV): writev fails with EINVAL and sendmsg with
 * EMSGSIZE, and must still, rather than succeed with a merged array. */
Test(merge, over_1024_iovecs_untouched)
{
	passed_through(IT_LIST("--type", "stream", "--layout", "8x1025", "--calls", "4"));
	passed_through(IT_LIST("--type", "dgram", "--layout", "1x1100", "--calls", "4"));
	struct outcome plain;
	run_plain(&plain, IT_LIST("--type", "stream", "--layout", "8x1025", "--calls", "4"));
	cr_assert_gt(it_count(plain.r.out, "errno=EINVAL"), 0, "writev of 1025 did not fail:\n%s", plain.r.out);
	outcome_free(&plain);
}

Test(merge, msg_zerocopy_untouched)
{
	passed_through(IT_LIST("--family", "inet", "--method", "sendmsg", "--zerocopy", "--calls", "100"));
	passed_through(IT_LIST("--family", "inet", "--method", "sendmsg", "--zerocopy", "--layout", "8,24,100",
			       "--calls", "10"));
}

/* The kernel answers a bad pointer with EFAULT; a merging copy must not turn that into
 * a crash. */
/* A bad pointer in an iovec too large to merge reaches the kernel as it is: EFAULT, as
 * without the library.  (One in a small iovec that merging copies faults in that copy:
 * a documented limit of merge, which is off by default; see socktune(7).) */
Test(merge, bad_pointer_in_an_unmerged_iovec_gives_efault_as_without)
{
	/* 8+8 merge; the bad piece (n/2: the 2000) is above 1K and goes to the kernel. */
	const char *const *args = IT_LIST("--type", "stream", "--bad-pointer", "--layout", "8,8,2000,8",
					  "--calls", "4");
	struct outcome plain, big;
	run_plain(&plain, args);
	assert_ran(&plain);
	cr_assert_gt(it_count(plain.r.out, "errno=EFAULT"), 0, "no EFAULT without the library:\n%s", plain.r.out);
	run_merge(&big, "1K", args);
	assert_same(&big, &plain);
	outcome_free(&plain);
	outcome_free(&big);
}

/* ---- SIGPIPE and EPIPE ---------------------------------------------------------------- */

/* The peer is gone: the same return values, errno and number of SIGPIPEs (a handler
 * counts them), and with SIGPIPE at its default the same death. */
static void sigpipe_same(const char *const base[])
{
	const char *argv[16];
	size_t n = 0;
	while (base[n] && n < 12) {
		argv[n] = base[n];
		n++;
	}
	for (int kill = 0; kill < 2; kill++) {
		argv[n] = kill ? "--sigpipe-kill" : "--sigpipe";
		argv[n + 1] = NULL;
		struct outcome plain, big;
		run_plain(&plain, argv);
		run_merge(&big, "4K", argv);
		assert_same(&big, &plain);
		if (!kill) {
			assert_ran(&plain);
			assert_merged(&big); /* the calls were merged, then failed as before */
		}
		outcome_free(&plain);
		outcome_free(&big);
	}
}

Test(merge, sigpipe_unix_stream_same_as_without)
{
	sigpipe_same(IT_LIST("--type", "stream"));
	struct outcome plain;
	run_plain(&plain, IT_LIST("--type", "stream", "--sigpipe-kill"));
	cr_assert_eq(plain.r.status, 128 + SIGPIPE, "want death by SIGPIPE, got status %d", plain.r.status);
	outcome_free(&plain);
}

Test(merge, sigpipe_unix_seqpacket_same_as_without)
{
	sigpipe_same(IT_LIST("--type", "seqpacket"));
}

Test(merge, sigpipe_unix_dgram_same_as_without)
{
	sigpipe_same(IT_LIST("--type", "dgram"));
}

Test(merge, sigpipe_inet_stream_same_as_without)
{
	sigpipe_same(IT_LIST("--family", "inet"));
}

/* ---- strace: what reaches the kernel -------------------------------------------------- */

/* Runs iovwriter ARGS under strace with the library and SOCKTUNE_MERGE=SIZE in the
 * tracee only; returns the trace (malloc'd) and puts the writer's fd in *fd. */
static char *strace_writer(const char *size, const char *syscalls, const char *const args[], long *fd)
{
	if (!it_have("strace"))
		cr_skip_test("strace is not installed");
	cr_assert_eq(access(it_lib(), R_OK), 0, "the library %s is missing", it_lib());
	char *trace = it_path("strace.out");
	char *preload = it_preload_env();
	char *merge = xasprintf("SOCKTUNE_MERGE=%s", size);
	char *sysarg = xasprintf("trace=%s", syscalls);
	const char *argv[40] = { "strace", "-f", "-qq", "-e", sysarg, "-e", "signal=none",
				 "-o", trace, "-E", preload, "-E", merge, it_target("iovwriter") };
	size_t n = 14;
	for (size_t i = 0; args[i] && n < 39; i++)
		argv[n++] = args[i];
	struct it_run r;
	it_run(&r, argv, NULL, 0);
	it_assert_ran(&r);
	const char *at = strstr(r.err, "iovwriter: writer fd=");
	cr_assert_not_null(at, "no writer fd in:\n%s", r.err);
	*fd = strtol(at + strlen("iovwriter: writer fd="), NULL, 10);
	it_run_free(&r);
	char *text = it_read_file(trace);
	free(trace);
	free(preload);
	free(merge);
	free(sysarg);
	return text;
}

/* Lines of TEXT that hold both A and B. */
static int count_lines_with(const char *text, const char *a, const char *b)
{
	int n = 0;
	for (const char *line = text; line && *line;) {
		const char *eol = strchr(line, '\n');
		char *l = strndup(line, eol ? (size_t)(eol - line) : strlen(line));
		n += strstr(l, a) && strstr(l, b);
		free(l);
		line = eol ? eol + 1 : NULL;
	}
	return n;
}

static char *call_on(const char *syscall, long fd)
{
	char *s;
	cr_assert_geq(asprintf(&s, "%s(%ld, ", syscall, fd), 0);
	return s;
}

Test(merge, strace_three_small_pieces_become_one_write)
{
	const char *const *args = IT_LIST("--type", "stream", "--method", "writev", "--layout", "8,24,100",
					  "--calls", "1");
	long fd;
	char *trace = strace_writer("4K", "write,writev", args, &fd);
	char *w = call_on("write", fd), *wv = call_on("writev", fd);
	cr_assert_eq(it_count_lines(trace, w), 1, "want one write(%ld, ...):\n%s", fd, trace);
	cr_assert_eq(it_count_lines(trace, wv), 0, "a writev(%ld, ...) reached the kernel:\n%s", fd, trace);
	cr_assert_eq(count_lines_with(trace, w, ", 132)"), 1, "not one write of 132 bytes:\n%s", trace);
	free(trace);

	trace = strace_writer("0", "write,writev", args, &fd);
	free(w);
	free(wv);
	w = call_on("write", fd), wv = call_on("writev", fd);
	cr_assert_eq(it_count_lines(trace, w), 0, "SOCKTUNE_MERGE=0 made a write(%ld, ...):\n%s", fd, trace);
	cr_assert_eq(it_count_lines(trace, wv), 1, "want one writev(%ld, ...):\n%s", fd, trace);
	cr_assert_eq(count_lines_with(trace, wv, "], 3)"), 1, "not a writev of 3 iovecs:\n%s", trace);
	free(trace);
	free(w);
	free(wv);
}

Test(merge, strace_sendmsg_keeps_its_msghdr_with_one_iovec)
{
	const char *const *args = IT_LIST("--type", "dgram", "--method", "sendmsg", "--layout", "8,24,100",
					  "--calls", "1");
	long fd;
	char *trace = strace_writer("4K", "sendmsg", args, &fd);
	char *sm = call_on("sendmsg", fd);
	cr_assert_eq(it_count_lines(trace, sm), 1, "want one sendmsg(%ld, ...):\n%s", fd, trace);
	cr_assert_eq(count_lines_with(trace, sm, "msg_iovlen=1,"), 1, "not one iovec:\n%s", trace);
	cr_assert_eq(count_lines_with(trace, sm, "iov_len=132}"), 1, "not 132 bytes in it:\n%s", trace);
	free(trace);
	trace = strace_writer("0", "sendmsg", args, &fd);
	free(sm);
	sm = call_on("sendmsg", fd);
	cr_assert_eq(it_count_lines(trace, sm), 1, "want one sendmsg(%ld, ...):\n%s", fd, trace);
	cr_assert_eq(count_lines_with(trace, sm, "msg_iovlen=3,"), 1, "not 3 iovecs with SOCKTUNE_MERGE=0:\n%s",
		     trace);
	free(trace);
	free(sm);
}

Test(merge, strace_file_writev_stays_writev)
{
	long fd;
	char *trace = strace_writer("4K", "write,writev",
				    IT_LIST("--sink", "file", "--method", "writev", "--layout", "8,24,100", "--calls", "1"),
				    &fd);
	char *wv = call_on("writev", fd), *w = call_on("write", fd);
	cr_assert_eq(it_count_lines(trace, wv), 1, "want one writev(%ld, ...) on the file:\n%s", fd, trace);
	cr_assert_eq(it_count_lines(trace, w), 0, "the file's writev became a write:\n%s", trace);
	free(trace);
	free(wv);
	free(w);
}

/* ---- configuration -------------------------------------------------------------------- */

/* A socktune message on stderr naming WHERE ("FILE:LINE:" or the variable) and KEY,
 * and saying what is accepted. */
static void assert_message(const struct outcome *o, const char *where, const char *key)
{
	const char *hit = strstr(o->r.err, where);
	cr_assert_not_null(hit, "%s: no message naming %s\n--- stderr:\n%s", o->what, where, o->r.err);
	const char *bol = hit;
	while (bol > o->r.err && bol[-1] != '\n')
		bol--;
	const char *eol = strchr(hit, '\n');
	char *msg = strndup(bol, eol ? (size_t)(eol - bol) : strlen(bol));
	cr_assert(!strncmp(msg, "socktune[iovwriter:", 19), "message lacks the prefix: %s", msg);
	cr_assert_not_null(strstr(msg, key), "message does not name the key %s: %s", key, msg);
	cr_assert_not_null(strstr(msg, "accepted"), "message does not say what is accepted: %s", msg);
	free(msg);
}

static void assert_no_message(const struct outcome *o)
{
	cr_assert_null(strstr(o->r.err, "socktune["), "%s: unexpected message:\n%s", o->what, o->r.err);
}

#define STREAM_ARGS IT_LIST("--type", "stream", "--calls", "60")

/* Runs with SOCKTUNE_CONFIG=<file holding TEXT>, plus ENV. */
static char *run_config(struct outcome *o, const char *text, const char *env, const char *const args[])
{
	char *conf = it_write_file("merge.conf", text);
	char *cenv = xasprintf("SOCKTUNE_CONFIG=%s", conf);
	run_with(o, true, "with the config file", cenv, env, NULL, args);
	free(cenv);
	return conf;
}

Test(merge, config_file_merge_applies_and_env_overrides_it)
{
	struct outcome o;
	char *conf = run_config(&o, "defaults = { merge = \"4K\"; };\n", NULL, STREAM_ARGS);
	assert_ran(&o);
	assert_no_message(&o);
	assert_merged(&o);
	outcome_free(&o);
	free(conf);
	conf = run_config(&o, "defaults = { merge = \"4K\"; };\n", "SOCKTUNE_MERGE=0", STREAM_ARGS);
	assert_ran(&o);
	assert_not_merged(&o);
	outcome_free(&o);
	free(conf);
}

/* Decided per socket, by the first matching rule: datagram sockets off, the rest 1K
 * (a stream socket is the witness). */
Test(merge, config_rule_decides_per_socket)
{
	const char *text = "defaults = { merge = \"1K\"; };\n"
			   "rules = ( { type = \"dgram\"; merge = \"off\"; } );\n";
	struct outcome o;
	char *conf = run_config(&o, text, NULL, IT_LIST("--type", "dgram", "--calls", "60"));
	assert_ran(&o);
	assert_no_message(&o);
	assert_not_merged(&o);
	outcome_free(&o);
	free(conf);
	conf = run_config(&o, text, NULL, IT_LIST("--type", "stream", "--calls", "60"));
	assert_ran(&o);
	assert_merged(&o);
	outcome_free(&o);
	free(conf);
}

Test(merge, config_file_bad_merge_is_named_with_what_is_accepted)
{
	static const char *const bad[] = { "8K", "4097", "1M", "-1", "lots" };
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		char *text;
		cr_assert_geq(asprintf(&text, "# merge test\ndefaults = {\n  merge = \"%s\";\n};\n", bad[i]), 0);
		struct outcome o;
		char *conf = run_config(&o, text, NULL, STREAM_ARGS);
		char *where = xasprintf("%s:3:", conf);
		assert_ran(&o); /* the rest still applies: the program runs as before */
		assert_message(&o, where, "merge");
		cr_assert_not_null(strstr(o.r.err, bad[i]), "message does not quote the value %s:\n%s", bad[i],
				   o.r.err);
		assert_not_merged(&o); /* the built-in default, 0 until the bench decides */
		outcome_free(&o);
		free(where);
		free(conf);
		free(text);
	}
}

Test(merge, config_rule_bad_merge_is_named_with_what_is_accepted)
{
	struct outcome o;
	char *conf = run_config(&o,
				"rules = (\n"
				"  { family = \"unix\";\n"
				"    merge = \"8K\"; }\n"
				");\n",
				NULL, STREAM_ARGS);
	char *where = xasprintf("%s:3:", conf);
	assert_ran(&o);
	assert_message(&o, where, "merge");
	outcome_free(&o);
	free(where);
	free(conf);
}

Test(merge, env_bad_merge_is_named_with_what_is_accepted)
{
	static const char *const bad[] = { "bogus", "8K", "4097", "-1", "1G" };
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		char *env = xasprintf("SOCKTUNE_MERGE=%s", bad[i]);
		struct outcome o;
		run_with(&o, true, env, env, NULL, NULL, STREAM_ARGS);
		assert_ran(&o);
		assert_message(&o, "SOCKTUNE_MERGE", "SOCKTUNE_MERGE");
		assert_not_merged(&o);
		outcome_free(&o);
		free(env);
	}
}

Test(merge, env_accepted_spellings)
{
	static const struct {
		const char *value;
		bool merges;
	} cases[] = {
		{ "0", false }, { "off", false }, { "1", true },     { "256", true },
		{ "1K", true }, { "4k", true },   { "4096", true }, { "4K", true },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char *env = xasprintf("SOCKTUNE_MERGE=%s", cases[i].value);
		struct outcome o;
		run_with(&o, true, env, env, NULL, NULL, STREAM_ARGS);
		assert_ran(&o);
		assert_no_message(&o);
		if (cases[i].merges)
			assert_merged(&o);
		else
			assert_not_merged(&o);
		outcome_free(&o);
		free(env);
	}
}

Test(merge, command_option_merge)
{
	cr_assert_eq(access(it_bin(), X_OK), 0, "the command %s is missing", it_bin());
	char *path = it_path("cli.json");
	struct it_run r;
	it_run(&r, IT_LIST(it_bin(), "-o", "merge=4K", "--stats", path, "--", it_target("iovwriter"), "--calls", "60"),
	       NULL, 0);
	it_assert_ran(&r);
	char *why, *flat = it_stats_flat(path, &why);
	cr_assert_not_null(flat, "bad stats record: %s", why);
	cr_assert_gt(it_stat(flat, "merge.calls"), 0, "socktune -o merge=4K did not merge:\n%s", flat);
	it_run_free(&r);
	free(flat);

	char *marker = it_path("ran");
	it_run(&r, IT_LIST(it_bin(), "-o", "merge=8K", "--", "touch", marker), NULL, 0);
	cr_assert_eq(r.status, 2, "socktune -o merge=8K: exit %d\n%s", r.status, r.err);
	cr_assert_not_null(strstr(r.err, "merge"), "message does not name the key:\n%s", r.err);
	struct stat st;
	cr_assert_neq(stat(marker, &st), 0, "the program ran despite the bad value");
	it_run_free(&r);
	free(marker);
	free(path);
}

/* Small stacks: the smallstack target writes with writev and sendmsg from a thread
 * with a 16 KiB stack of which it has used all but 4 KiB, as a coroutine or a deep
 * recursion would.  Without socktune that works.  With it, the write hooks must not
 * need more: they once put 8 KiB of merge buffers on the stack of every call, merging
 * or not, socktune on or off, and the thread died in its stack guard.  The buffers are
 * now only set aside when a call is merged, which these 1000-byte pieces never are. */
static void small_stack_run(struct it_run *r, bool preload, const char *e1, const char *e2,
			    const char *stats)
{
	const char *env[4] = { 0 };
	size_t n = 0;
	if (stats)
		env[n++] = stats;
	if (e1)
		env[n++] = e1;
	if (e2)
		env[n++] = e2;
	it_run(r, IT_LIST(it_target("smallstack")), env, preload ? IT_PRELOAD : 0);
}

Test(merge, small_stack_thread_writes_as_without)
{
	/* AddressSanitizer's interceptors (check-sanitize preloads them before
	 * socktune) take more than the 4 KiB the thread has left on their own:
	 * its sendmsg overflowed there with SOCKTUNE=off. */
	const char *first = getenv("SOCKTUNE_TESTPRELOAD_FIRST");
	if (first && strstr(first, "libasan"))
		cr_skip_test("AddressSanitizer's own interceptors need more stack than the test leaves");
	struct it_run base;
	small_stack_run(&base, false, NULL, NULL, NULL);
	it_assert_ran(&base);
	cr_assert_not_null(strstr(base.out, "\nok\n"), "no ok line:\n%s", base.out);

	static const struct {
		const char *e1, *e2;
		const char *stat; /* a count the run must show above 0: the socket was tuned */
	} cases[] = {
		{ "SOCKTUNE=off", NULL, NULL },
		{ "SOCKTUNE_CORK=on", NULL, "cork.corked" },
		{ "SOCKTUNE_CORK=auto", NULL, "cork.held" },
		{ "SOCKTUNE_CORK=on", "SOCKTUNE_MERGE=256", "cork.corked" },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char name[32];
		snprintf(name, sizeof name, "small%zu.json", i);
		char *path = it_path(name), *stats = xasprintf("SOCKTUNE_STATS=%s", path);
		struct it_run r;
		small_stack_run(&r, true, cases[i].e1, cases[i].e2, stats);
		cr_assert_eq(r.status, base.status, "%s %s: exit status %d (139: SIGSEGV)\n%s%s",
			     cases[i].e1, cases[i].e2 ? cases[i].e2 : "", r.status, r.out, r.err);
		cr_assert_str_eq(r.out, base.out, "%s %s: not what the program does without socktune",
				 cases[i].e1, cases[i].e2 ? cases[i].e2 : "");
		if (cases[i].stat) {
			char *why, *flat = it_stats_flat(path, &why);
			cr_assert_not_null(flat, "bad stats record: %s", why);
			cr_assert_gt(it_stat(flat, cases[i].stat), 0, "%s: the socket was not tuned:\n%s",
				     cases[i].e1, flat);
			cr_assert_eq(it_stat(flat, "merge.calls"), 0, "merged 1000-byte pieces:\n%s", flat);
			free(flat);
		}
		it_run_free(&r);
		free(stats);
		free(path);
	}
	it_run_free(&base);
}
