/* The TLS holds (shim/tlshold.c), driven through a fake libssl whose
 * SSL_write makes a "record" ([payload]) and writes it as OpenSSL would,
 * through the write hook's path, to a fake socket that counts write calls.
 * What is checked is what a peer would see: the bytes, their order, and
 * how many writes carried them (the record rule); and what the program
 * would see: return values and errno, at once or at its next call. */
#include "hold.h"
#include "log.h"
#include "real.h"
#include "state.h"
#include "stats.h"
#include "tls.h"
#include "tlshold.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

/* ---- What tlshold.c asks of the rest of the library, faked. ---- */

struct socktune_real libc;
struct sslfns libssl;
struct st_config socktune_cfg;
static struct st_stats counters;
struct st_stats *socktune_counters = &counters;
int socktune_log_level = ST_LOG_ERROR;
int socktune_holds_shared;
ST_THREAD_LOCAL union hold_pending socktune_holding;

static uint64_t now_ns = 1;
uint64_t bound_now(void)
{
	return now_ns;
}
void bound_arm(void)
{
}
uint64_t bound_max(void)
{
	return 20 * 1000000u;
}
void st_log(int level, const char *fmt, ...)
{
	(void)level, (void)fmt;
}
int cork_flags(int fd, struct fd_state *e)
{
	(void)fd, (void)e;
	return 0;
}
static int began;
void hold_begins(int kind)
{
	cr_assert_eq(kind, HOLD_tls);
	began++;
}

/* What ssl.c would say: hold up to `may` bytes a write, `room` a batch. */
static size_t may = 1024, room = 4096;

/* ---- The fake sockets and SSLs. ---- */

#define NSOCK 4
#define FD0 40
static struct sock {
	char bytes[8192];
	size_t len;
	int writes; /* write-family calls that carried bytes */
} socks[NSOCK];

static struct sock *sock_of(int fd)
{
	cr_assert(fd >= FD0 && fd < FD0 + NSOCK, "write to fd %d", fd);
	return &socks[fd - FD0];
}

static ssize_t put(int fd, const struct iovec *v, int n)
{
	struct sock *k = sock_of(fd);
	size_t total = 0;
	for (int i = 0; i < n; i++) {
		cr_assert(k->len + v[i].iov_len <= sizeof(k->bytes));
		memcpy(k->bytes + k->len, v[i].iov_base, v[i].iov_len);
		k->len += v[i].iov_len;
		total += v[i].iov_len;
	}
	k->writes++;
	return (ssize_t)total;
}

static ssize_t fake_write(int fd, const void *buf, size_t len)
{
	struct iovec v = {(void *)buf, len};
	return put(fd, &v, 1);
}
static ssize_t fake_send(int fd, const void *buf, size_t len, int flags)
{
	(void)flags;
	return fake_write(fd, buf, len);
}
static ssize_t fake_writev(int fd, const struct iovec *v, int n)
{
	return put(fd, v, n);
}
static ssize_t fake_sendmsg(int fd, const struct msghdr *m, int flags)
{
	(void)flags;
	return put(fd, m->msg_iov, (int)m->msg_iovlen);
}

struct fake_ssl {
	int fd;
	int fail;      /* SSL_write calls still to fail */
	int fail_err;  /* SSL_get_error for them */
	int fail_errno;
	int writes;    /* SSL_write calls */
	int last_len;  /* the length of the last one, failed or not */
	const void *last_buf;
	void *ex[4];
};
static struct fake_ssl fakes[NSOCK];
#define SSL_OF(i) ((SSL *)&fakes[i])
#define FAKE(s) ((struct fake_ssl *)(s))

static int fake_ssl_write(SSL *s, const void *buf, int n)
{
	struct fake_ssl *f = FAKE(s);
	f->writes++;
	f->last_len = n;
	f->last_buf = buf;
	if (f->fail) {
		f->fail--;
		errno = f->fail_errno;
		return -1;
	}
	/* OpenSSL writes the record to its socket, and the write hook hands
	 * a flush's records to tls_wire_write. */
	char rec[4096];
	cr_assert((size_t)n + 2 <= sizeof(rec));
	rec[0] = '[';
	memcpy(rec + 1, buf, (size_t)n);
	rec[n + 1] = ']';
	ssize_t r = f->fd == socktune_tls_wire_fd ? tls_wire_write(f->fd, rec, (size_t)n + 2)
						 : fake_write(f->fd, rec, (size_t)n + 2);
	cr_assert_eq(r, n + 2);
	return n;
}
static int fake_get_error(const SSL *s, int r)
{
	return r > 0 ? SSL_ERROR_NONE : FAKE(s)->fail_err;
}
static int fake_get_wfd(const SSL *s)
{
	return FAKE(s)->fd;
}
static void *fake_get_ex_data(const SSL *s, int i)
{
	return i >= 0 && i < 4 ? FAKE(s)->ex[i] : NULL;
}
static int fake_set_ex_data(SSL *s, int i, void *v)
{
	if (i < 0 || i >= 4)
		return 0;
	FAKE(s)->ex[i] = v;
	return 1;
}
static int next_index;
static int fake_get_ex_new_index(int c, long l, void *p, CRYPTO_EX_new *n, CRYPTO_EX_dup *d,
				 CRYPTO_EX_free *f)
{
	(void)c, (void)l, (void)p, (void)n, (void)d, (void)f;
	return next_index++;
}
static unsigned long fake_err_get_error_all(const char **file, int *line, const char **func,
					    const char **data, int *flags)
{
	(void)file, (void)line, (void)func, (void)data, (void)flags;
	return 0;
}

size_t tls_holdable(SSL *s, size_t num, int *fd)
{
	*fd = FAKE(s)->fd;
	return num <= may ? may : 0;
}
size_t tls_batch_room(int fd, struct fd_state *e)
{
	(void)fd, (void)e;
	return room;
}

static void setup(void)
{
	memset(socks, 0, sizeof(socks));
	memset(fakes, 0, sizeof(fakes));
	for (int i = 0; i < NSOCK; i++)
		fakes[i].fd = FD0 + i;
	libc.write = fake_write;
	libc.send = fake_send;
	libc.writev = fake_writev;
	libc.sendmsg = fake_sendmsg;
	libssl.write = fake_ssl_write;
	libssl.get_error = fake_get_error;
	libssl.get_wfd = fake_get_wfd;
	libssl.get_ex_data = fake_get_ex_data;
	libssl.set_ex_data = fake_set_ex_data;
	libssl.get_ex_new_index = fake_get_ex_new_index;
	libssl.err_get_error_all = fake_err_get_error_all;
	socktune_cfg.tls_split = 1;
	may = 1024;
	room = 4096;
	now_ns = 1;
	static int once;
	if (!once++)
		cr_assert(tls_hold_init());
}

/* Every test leaves nothing held, so the next one starts clean. */
static void teardown(void)
{
	hold_kind_tls.fork_child();
}

/* ssl.c's SSL_write, minus the dispatch: enter, hold or write, leave. */
static int ssl_write(SSL *s, const char *text)
{
	int n = (int)strlen(text), ret = n;
	tls_enter(s);
	int held = tls_write_hold(s, text, (size_t)n, &ret);
	if (held == 0)
		ret = libssl.write(s, text, n);
	tls_leave();
	return ret;
}

/* ssl.c's other calls: what s holds goes out first. */
static int ssl_call(SSL *s, int *ret)
{
	tls_enter(s);
	int go_on = tls_before_call(s, ret);
	tls_leave();
	return go_on;
}

static void expect_wire(int i, const char *bytes, int writes)
{
	struct sock *k = &socks[i];
	cr_expect_eq(k->len, strlen(bytes), "socket %d got %zu bytes, not %zu", i, k->len,
		     strlen(bytes));
	cr_expect(k->len == strlen(bytes) && !memcmp(k->bytes, bytes, k->len),
		  "socket %d got \"%.*s\", not \"%s\"", i, (int)k->len, k->bytes, bytes);
	cr_expect_eq(k->writes, writes, "socket %d: %d writes, not %d", i, k->writes, writes);
}

TestSuite(tlshold, .init = setup, .fini = teardown);

Test(tlshold, small_writes_are_held_and_reported_written)
{
	cr_expect_eq(ssl_write(SSL_OF(0), "hello"), 5);
	cr_expect_eq(ssl_write(SSL_OF(0), "world"), 5);
	cr_expect_eq(fakes[0].writes, 0, "a held write reached SSL_write");
	expect_wire(0, "", 0);
	cr_expect(HOLDING(tls), "a wait point would not send them");
	cr_expect_eq(socktune_holds_shared, 1);
}

/* The record rule: the pieces before the last in one record, the last in
 * its own, both in one write(). */
Test(tlshold, wait_point_sends_two_records_in_one_write)
{
	ssl_write(SSL_OF(0), "hello");
	ssl_write(SSL_OF(0), "big");
	ssl_write(SSL_OF(0), "world");
	hold_kind_tls.thread(FLUSH_WAIT);
	expect_wire(0, "[hellobig][world]", 1);
	cr_expect_eq(fakes[0].writes, 2);
	cr_expect_not(HOLDING(tls));
	cr_expect_eq(socktune_holds_shared, 0, "a sent hold keeps its slot");
}

Test(tlshold, without_the_split_one_record)
{
	socktune_cfg.tls_split = 0;
	ssl_write(SSL_OF(0), "hello");
	ssl_write(SSL_OF(0), "world");
	hold_kind_tls.thread(FLUSH_WAIT);
	expect_wire(0, "[helloworld]", 1);
}

/* Another call on the SSL (a read): what it holds goes first. */
Test(tlshold, next_call_on_the_ssl_sends_first)
{
	int ret = 0;
	ssl_write(SSL_OF(0), "ping");
	cr_expect(ssl_call(SSL_OF(0), &ret));
	expect_wire(0, "[ping]", 1);
}

/* A write too big to hold goes after what is held, never before. */
Test(tlshold, a_write_that_passes_goes_after_what_is_held)
{
	may = 8;
	ssl_write(SSL_OF(0), "first");
	cr_expect_eq(ssl_write(SSL_OF(0), "second-and-long"), 15);
	expect_wire(0, "[first][second-and-long]", 2);
}

/* A batch is held only while it fits the room the socket had. */
Test(tlshold, a_batch_that_outgrows_its_room_is_sent)
{
	room = 12;
	ssl_write(SSL_OF(0), "0123456789");
	ssl_write(SSL_OF(0), "abcdef");
	expect_wire(0, "[0123456789]", 1);
	hold_kind_tls.thread(FLUSH_WAIT);
	expect_wire(0, "[0123456789][abcdef]", 2);
}

/* WANT_WRITE: the hold stays, and OpenSSL gets the very same write again
 * (the same length; it checks), at the next wait point. */
Test(tlshold, want_write_keeps_the_hold_for_the_same_write_again)
{
	ssl_write(SSL_OF(0), "abc");
	ssl_write(SSL_OF(0), "def");
	fakes[0].fail = 1;
	fakes[0].fail_err = SSL_ERROR_WANT_WRITE;
	hold_kind_tls.thread(FLUSH_WAIT);
	expect_wire(0, "", 0);
	cr_expect_eq(fakes[0].last_len, 3);
	hold_kind_tls.thread(FLUSH_WAIT);
	expect_wire(0, "[abc][def]", 1);
	cr_expect_eq(fakes[0].writes, 3);
}

/* A failure at a wait point is nobody's to report there: the program's
 * next call on that SSL returns it, with its errno. */
Test(tlshold, failure_at_a_wait_point_is_the_next_calls)
{
	ssl_write(SSL_OF(0), "lost");
	fakes[0].fail = 1;
	fakes[0].fail_err = SSL_ERROR_SYSCALL;
	fakes[0].fail_errno = EPIPE;
	hold_kind_tls.thread(FLUSH_WAIT);
	errno = 0;
	int ret = 0;
	cr_expect_not(ssl_call(SSL_OF(0), &ret), "the call went on past a failed flush");
	cr_expect_eq(ret, -1);
	cr_expect_eq(errno, EPIPE);
	/* OpenSSL still counts the write as pending: the next write fails
	 * too, by trying it again, as it would have without socktune. */
	fakes[0].fail = 1;
	cr_expect_eq(ssl_write(SSL_OF(0), "more"), -1);
	expect_wire(0, "", 0);
}

/* close(): only that socket's holds, whichever thread holds them. */
Test(tlshold, closing_a_socket_sends_its_holds_only)
{
	ssl_write(SSL_OF(0), "zero");
	ssl_write(SSL_OF(1), "one");
	hold_kind_tls.fd(FD0 + 1);
	expect_wire(1, "[one]", 1);
	expect_wire(0, "", 0);
	cr_expect_eq(socktune_holds_shared, 1);
}

/* The bound sends a hold hold_max old, not before, and never while the
 * holding thread is inside a call on that SSL. */
Test(tlshold, the_bound_sends_late_holds_only)
{
	ssl_write(SSL_OF(0), "late");
	now_ns += 10 * 1000000u;
	uint64_t due = hold_kind_tls.late(now_ns);
	expect_wire(0, "", 0);
	cr_expect_eq(due, 1 + bound_max(), "due at %llu", (unsigned long long)due);
	now_ns = due;
	tls_enter(SSL_OF(0));
	hold_kind_tls.late(now_ns);
	tls_leave();
	expect_wire(0, "", 0);
	cr_expect_eq(hold_kind_tls.late(now_ns), 0, "nothing left, yet a time is due");
	expect_wire(0, "[late]", 1);
	cr_expect_eq(counters.tls_late, 4);
}

/* Exit sends every thread's holds; a vfork child sends none. */
Test(tlshold, exit_sends_all_and_a_vfork_child_none)
{
	ssl_write(SSL_OF(0), "a");
	ssl_write(SSL_OF(1), "b");
	hold_kind_tls.all(FLUSH_VFORK);
	expect_wire(0, "", 0);
	hold_kind_tls.all(FLUSH_EXIT);
	expect_wire(0, "[a]", 1);
	expect_wire(1, "[b]", 1);
}

/* A fork child holds nothing: the parent sent it all before (prepare). */
Test(tlshold, fork_sends_before_and_the_child_holds_nothing)
{
	ssl_write(SSL_OF(0), "parent");
	hold_kind_tls.fork_prepare();
	expect_wire(0, "[parent]", 1);
	ssl_write(SSL_OF(0), "again");
	hold_kind_tls.fork_child();
	cr_expect_not(HOLDING(tls));
	cr_expect_eq(socktune_holds_shared, 0);
	hold_kind_tls.thread(FLUSH_WAIT);
	expect_wire(0, "[parent]", 1);
}

/* Inside an SSL call, a contended mutex may be one OpenSSL holds: nothing
 * is sent there.  Outside, it is a wait point. */
Test(tlshold, a_lock_inside_an_ssl_call_sends_nothing)
{
	ssl_write(SSL_OF(0), "x");
	tls_enter(SSL_OF(1));
	hold_kind_tls.thread(FLUSH_LOCK);
	tls_leave();
	expect_wire(0, "", 0);
	hold_kind_tls.thread(FLUSH_LOCK);
	expect_wire(0, "[x]", 1);
}

/* A BIO_f_ssl ends holding: what is held goes, and nothing is held after. */
Test(tlshold, holding_ends_for_good)
{
	ssl_write(SSL_OF(0), "before");
	tls_holding_ends();
	expect_wire(0, "[before]", 1);
	cr_expect_eq(ssl_write(SSL_OF(0), "after"), 5);
	expect_wire(0, "[before][after]", 2);
	socktune_tls_over = 0;
}
