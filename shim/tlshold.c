/* The TLS holds themselves.  A small SSL_write on a tuned socket is copied
 * into a hold for its SSL and reported written; what is held goes out
 * together when the thread next touches that SSL, or waits, or the socket
 * closes, or the process forks, execs or exits (hold.h: this file defines
 * the TLS kind of hold), or at the bound.
 *
 * The record rule.  A flush of pieces p1..pk (k >= 2) writes p1..p(k-1) as
 * one record and pk as a second one, and both leave in one write(): while
 * OpenSSL writes the first record, the write hook gathers its bytes here
 * (tls_wire_write) and sends them with the second.  A receiver that reads
 * one record at a time and waits only for its socket to be readable (never
 * asking SSL_pending) finds the second record still unread in its socket
 * until it has drained the first; when its socket is empty, what its TLS
 * library still holds is a tail of pk, exactly what it would hold had every
 * piece been its own record.  So it waits only where it would have waited
 * without socktune.  socktune(7) has the argument at length.
 *
 * Whether a write may be held at all is ssl.c's to say (tls_holdable,
 * tls_batch_room); the unit tests (tests/unit/test_tlshold.c) drive this
 * file through a fake libssl whose SSL_write writes to a fake socket. */
#include "tlshold.h"

#include "bound.h"
#include "cork.h"
#include "hold.h"
#include "log.h"
#include "state.h"
#include "stats.h"
#include "tls.h"

#include <errno.h>
#include <openssl/err.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#if defined(__linux__)
#include <linux/sockios.h>
#endif
#include <sys/socket.h>
#include <sys/uio.h>

int socktune_tls_over;

/* The SSL ex_data slot for the lone mark (lone_write()), and its values. */
static int lone_index = -1;
static char lone1_tag, lone_tag, passed_tag;

/* A failure OpenSSL reported for a flush made where nobody could be told:
 * kept, and replayed to the next SSL call on that connection. */
struct saved_err {
	unsigned long code;
	const char *file, *func;
	int line;
	char data[96];
};

#define SAVED_ERRS 4

/* OK: bytes held, nothing pending inside OpenSSL.  RETRY: a flush met
 * WANT_*; OpenSSL keeps the record and wants the same write again, at the
 * next wait or call.  FAILED: a flush failed where nobody could be told;
 * the failure waits for the next SSL call on that connection.  DEAD: that
 * failure has been reported, and OpenSSL still counts the write as
 * pending, so every later call on the connection first repeats it, exactly
 * as the program's own failed write would have been repeated. */
enum { HOLD_OK, HOLD_RETRY, HOLD_FAILED, HOLD_DEAD };

/* Whether a wait point should try to send h. */
#define SENDABLE(h) ((h)->len && ((h)->state == HOLD_OK || (h)->state == HOLD_RETRY))

/* Room for the records of one flush: its payload, and the overhead of as
 * many records as a program's smallest max_send_fragment (512) makes of it,
 * at up to 100 bytes each. */
#define WIRE_MAX (ST_TLS_MERGE_MAX + ST_TLS_MERGE_MAX / 512 * 100 + 256)

struct thread_self;

struct hold {
	SSL *ssl;          /* NULL: free */
	const void *busy;  /* the thread that has the slot locked, or NULL */
	const struct thread_self *owner; /* the holding thread */
	int fd;
	int state;
	/* When the first byte now held was taken (bound_now); aligned for the
	 * atomics on 32-bit systems too. */
	uint64_t since __attribute__((aligned(8)));
	size_t len, room;
	size_t last;       /* where the last piece held starts */
	int gather;        /* the flush is writing a record that waits for the next */
	size_t wire_len;   /* record bytes OpenSSL wrote that are not yet on the socket */
	int ret, err_no, nerr;
	struct saved_err errs[SAVED_ERRS];
	unsigned char buf[ST_TLS_MERGE_MAX];
	unsigned char wire[WIRE_MAX];
};

/* A slot's SSL: claim() takes free slots by compare-and-swap, without the
 * slot's lock, so every read of it is atomic too. */
#define hssl(h) __atomic_load_n(&(h)->ssl, __ATOMIC_RELAXED)

#define SLOTS 64
#define MINE_MAX 8

/* Mapped once (claim), read by every thread and the bound's: acquire. */
static struct hold *slots_mem;

static inline struct hold *slot_table(void)
{
	return __atomic_load_n(&slots_mem, __ATOMIC_ACQUIRE);
}

/* The SSL objects a thread is inside a hooked call on, innermost last (past
 * INSIDE_MAX, every SSL counts as inside).  A wait point in such a call sends
 * the thread's holds on every other SSL: a thread that writes on X and then
 * blocks reading Y must not keep X's bytes while it waits.  The bound's
 * thread reads another thread's (tls_send_late), so the address of a
 * thread's own names it, as a hold's owner and as a slot's locker. */
#define INSIDE_MAX 4
struct thread_self {
	SSL *inside[INSIDE_MAX];
	int ninside;
};
static ST_THREAD_LOCAL struct thread_self self;
static ST_THREAD_LOCAL int in_flush; /* this thread is running a flush */
static ST_THREAD_LOCAL int nmine;
static ST_THREAD_LOCAL struct hold *mine[MINE_MAX];
ST_THREAD_LOCAL int socktune_tls_wire_fd = -1;
static ST_THREAD_LOCAL struct hold *flushing; /* the hold this thread is flushing */


static void make_slots(void)
{
	void *p = mmap(NULL, SLOTS * sizeof(struct hold), PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	__atomic_store_n(&slots_mem, p == MAP_FAILED ? NULL : (struct hold *)p, __ATOMIC_RELEASE);
}

static int trylock(struct hold *h)
{
	const void *none = NULL;
	return __atomic_compare_exchange_n(&h->busy, &none, (const void *)&self, 0, __ATOMIC_ACQUIRE,
					   __ATOMIC_RELAXED);
}

static void lock(struct hold *h)
{
	while (!trylock(h))
		sched_yield();
}

static void unlock(struct hold *h)
{
	__atomic_store_n(&h->busy, NULL, __ATOMIC_RELEASE);
}

/* Whether thread t is inside a hooked call on s.  Another thread's is read
 * with a slot locked that t locks too before it touches s (before_call,
 * write_hold): what t stored before its last unlock is seen. */
static int inside_of(const struct thread_self *t, const SSL *s)
{
	int n = __atomic_load_n(&t->ninside, __ATOMIC_ACQUIRE);
	if (n > INSIDE_MAX)
		return 1;
	for (int i = 0; i < n; i++)
		if (__atomic_load_n(&t->inside[i], __ATOMIC_RELAXED) == s)
			return 1;
	return 0;
}

static int is_inside(const SSL *s)
{
	return inside_of(&self, s);
}

static int tls_in_call(void)
{
	return self.ninside != 0;
}

static void update_pending(void)
{
	int pending = 0;
	for (int i = 0; i < nmine && !pending; i++) {
		struct hold *h = mine[i];
		/* Read without the lock: the hint may be stale, never wrong for
		 * long, and tls_flush_thread looks again, locked. */
		SSL *s = hssl(h);
		pending = __atomic_load_n(&h->owner, __ATOMIC_RELAXED) == &self && s && !is_inside(s);
	}
	HOLDING(tls) = (uint8_t)(pending && !in_flush);
}

void tls_enter(SSL *s)
{
	int n = self.ninside;
	if (n < INSIDE_MAX)
		__atomic_store_n(&self.inside[n], s, __ATOMIC_RELAXED);
	__atomic_store_n(&self.ninside, n + 1, __ATOMIC_RELEASE);
	update_pending();
}

void tls_leave(void)
{
	__atomic_store_n(&self.ninside, self.ninside - 1, __ATOMIC_RELEASE);
	update_pending();
}


static void mine_drop(struct hold *h)
{
	for (int i = 0; i < nmine; i++)
		if (mine[i] == h) {
			mine[i] = mine[--nmine];
			return;
		}
}

/* Drops the entries of holds another thread has taken over or that were
 * released: they are no longer this thread's to send. */
static void mine_prune(void)
{
	for (int i = nmine - 1; i >= 0; i--)
		if (__atomic_load_n(&mine[i]->owner, __ATOMIC_ACQUIRE) != &self ||
		    !__atomic_load_n(&mine[i]->ssl, __ATOMIC_ACQUIRE))
			mine[i] = mine[--nmine];
}

/* Called with h locked: h belongs to this thread from now on, so this
 * thread's wait points send it.  Returns 0 when this thread already holds
 * for as many SSLs as it may: then h must be sent now, not held. */
static int take(struct hold *h)
{
	for (int i = 0; i < nmine; i++)
		if (mine[i] == h)
			return __atomic_store_n(&h->owner, &self, __ATOMIC_RELAXED), 1;
	if (nmine == MINE_MAX)
		mine_prune();
	if (nmine == MINE_MAX)
		return 0;
	if (nmine == 0)
		hold_begins(HOLD_tls);
	__atomic_store_n(&h->owner, &self, __ATOMIC_RELAXED);
	mine[nmine++] = h;
	return 1;
}

static struct hold *find(SSL *s)
{
	for (int i = 0; i < nmine; i++)
		if (hssl(mine[i]) == s)
			return mine[i];
	struct hold *t = __atomic_load_n(&socktune_holds_shared, __ATOMIC_ACQUIRE) ? slot_table() : NULL;
	if (!t)
		return NULL;
	for (int i = 0; i < SLOTS; i++)
		if (__atomic_load_n(&t[i].ssl, __ATOMIC_ACQUIRE) == s)
			return &t[i];
	return NULL;
}

/* An empty hold that no thread owns.  Called with h locked. */
static void clear(struct hold *h)
{
	__atomic_store_n(&h->owner, NULL, __ATOMIC_RELAXED);
	__atomic_store_n(&h->since, 0, __ATOMIC_RELAXED);
	h->len = 0;
	h->last = 0;
	h->wire_len = 0;
	h->state = HOLD_OK;
	h->nerr = 0;
}

/* Called with h locked. */
static void release(struct hold *h)
{
	clear(h);
	mine_drop(h);
	__atomic_store_n(&h->ssl, NULL, __ATOMIC_RELEASE);
	__atomic_sub_fetch(&socktune_holds_shared, 1, __ATOMIC_RELEASE);
}

static struct hold *claim(SSL *s)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	pthread_once(&once, make_slots);
	if (nmine == MINE_MAX)
		mine_prune();
	struct hold *t = slot_table();
	if (!t || nmine == MINE_MAX)
		return NULL;
	for (int i = 0; i < SLOTS; i++) {
		SSL *expected = NULL;
		if (__atomic_compare_exchange_n(&t[i].ssl, &expected, s, 0, __ATOMIC_SEQ_CST,
						__ATOMIC_RELAXED)) {
			struct hold *h = &t[i];
			lock(h);
			__atomic_add_fetch(&socktune_holds_shared, 1, __ATOMIC_RELEASE);
			clear(h);
			take(h);
			return h;
		}
	}
	return NULL;
}

/* The error queue entries of a failed flush, taken off this thread's queue
 * (the program did not make that call here) to be put back later. */
static void save_errors(struct hold *h)
{
	const char *file, *func, *data;
	int line, flags;
	unsigned long code;
	h->err_no = errno;
	h->nerr = 0;
	while ((code = libssl.err_get_error_all(&file, &line, &func, &data, &flags)) != 0) {
		if (h->nerr == SAVED_ERRS)
			continue;
		struct saved_err *e = &h->errs[h->nerr++];
		e->code = code;
		e->file = file;
		e->line = line;
		e->func = func;
		snprintf(e->data, sizeof(e->data), "%s", (flags & ERR_TXT_STRING) && data ? data : "");
	}
}

static int replay_failure(struct hold *h)
{
	for (int i = 0; i < h->nerr; i++) {
		struct saved_err *e = &h->errs[i];
		libssl.err_new();
		libssl.err_set_debug(e->file, e->line, e->func);
		if (e->data[0])
			libssl.err_set_error(ERR_GET_LIB(e->code), ERR_GET_REASON(e->code), "%s", e->data);
		else
			libssl.err_set_error(ERR_GET_LIB(e->code), ERR_GET_REASON(e->code), NULL);
	}
	h->nerr = 0;
	h->state = HOLD_DEAD;
	errno = h->err_no;
	return h->ret;
}

/* The records n bytes written make at OpenSSL's default fragment size (a
 * program that lowers max_send_fragment makes more than this counts). */
void tls_count_records(size_t n)
{
	stat_add(tls_records, (n + 16383) / 16384);
}

/* Whether the kernel makes the records (kTLS): then each write() is a
 * record of its own, and gathering two into one write would make them one. */
static int ktls_send(SSL *s)
{
#ifdef BIO_CTRL_GET_KTLS_SEND
	BIO *b = libssl.get_wbio && libssl.bio_ctrl ? libssl.get_wbio(s) : NULL;
	return b && libssl.bio_ctrl(b, BIO_CTRL_GET_KTLS_SEND, 0, NULL) > 0;
#else
	(void)s;
	return 0;
#endif
}

/* The longest hold so far, for the figures: h is sent in full. */
static void note_age(struct hold *h)
{
	uint64_t since = __atomic_load_n(&h->since, __ATOMIC_RELAXED);
	if (!since)
		return;
	unsigned long us = (unsigned long)((bound_now() - since) / 1000u);
	unsigned long was = __atomic_load_n(&socktune_counters->tls_longest_us, __ATOMIC_RELAXED);
	while (us > was && !__atomic_compare_exchange_n(&socktune_counters->tls_longest_us, &was, us, 1,
							__ATOMIC_RELAXED, __ATOMIC_RELAXED))
		;
	__atomic_store_n(&h->since, 0, __ATOMIC_RELAXED);
}

/* Sends what h holds (a partial write, possible only with
 * SSL_MODE_ENABLE_PARTIAL_WRITE, is completed): the last piece in a record
 * of its own, the pieces before it in one record that OpenSSL writes into
 * h->wire, so that both leave in the last record's write().  Called with h
 * locked.  Returns 1 when all went out, 0 when OpenSSL asked for a retry
 * (the same arguments will be passed again), -1 on failure; *ret is
 * OpenSSL's return.  With `keep`, a failure is kept for the next SSL call on
 * that connection (the program did not make this call, and entries it has
 * in the thread's error queue stay as they are); otherwise it is left where
 * OpenSSL put it, for the caller to report. */
static void note_lone(SSL *s, int lone);

static int flush_locked(struct hold *h, int why, int keep, int *ret)
{
	int split = socktune_cfg.tls_split && !ktls_send(hssl(h));
	int lone = h->len && h->last == 0;
	int theirs = keep && libssl.err_peek_error && libssl.err_peek_error() != 0 && libssl.err_set_mark &&
		     libssl.err_pop_to_mark;
	if (theirs)
		libssl.err_set_mark();
	int f = 1;
	in_flush++;
	while (h->len) {
		size_t n = h->len;
		h->gather = split && h->last > 0 && h->last < h->len;
		if (h->gather)
			n = h->last;
		struct hold *outer = flushing;
		int outer_fd = socktune_tls_wire_fd;
		flushing = h;
		socktune_tls_wire_fd = h->fd;
		int r = libssl.write(hssl(h), h->buf, (int)n);
		socktune_tls_wire_fd = outer_fd;
		flushing = outer;
		if (r > 0) {
			tls_count_records((size_t)r);
			if (why == FLUSH_LATE)
				stat_add(tls_late, (unsigned long)r);
			if (r == (int)h->len) {
				stat_inc(tls_flushes);
				if (why == FLUSH_EXIT)
					stat_inc(tls_at_exit);
				note_age(h);
			}
			memmove(h->buf, h->buf + r, h->len - (size_t)r);
			h->len -= (size_t)r;
			h->last = h->last > (size_t)r ? h->last - (size_t)r : 0;
			continue;
		}
		int err = libssl.get_error(hssl(h), r);
		*ret = r;
		if (err == SSL_ERROR_WANT_WRITE || err == SSL_ERROR_WANT_READ) {
			h->state = HOLD_RETRY;
			f = 0;
			break;
		}
		if (h->state != HOLD_DEAD)
			stat_inc(tls_failures);
		h->state = keep ? HOLD_FAILED : HOLD_DEAD;
		h->ret = r;
		if (keep && theirs) {
			/* Their entries stay; this failure is replayed with errno alone. */
			h->err_no = errno;
			h->nerr = 0;
		} else if (keep) {
			save_errors(h);
		}
		log_debug("TLS flush failed (SSL_get_error %d); the next SSL call on it reports it",
			  err);
		f = -1;
		break;
	}
	if (f == 1)
		h->state = HOLD_OK;
	/* Only from the thread that calls on s: ex_data is not for two
	 * threads at once. */
	if (f == 1 && (why == FLUSH_CALL || why == FLUSH_WAIT))
		note_lone(hssl(h), lone);
	in_flush--;
	if (theirs)
		libssl.err_pop_to_mark();
	return f;
}

/* One send of what h->wire gathered and then buf, with the flags the write
 * hook would have given buf alone.  Partial sends are finished on a
 * blocking socket, as OpenSSL itself would loop.  Returns what the kernel
 * took of buf, or -1 with its errno; what it did not take of h->wire stays
 * there for OpenSSL's retry of this same write. */
static ssize_t send_wire(struct hold *h, int fd, const void *buf, size_t len)
{
	struct fd_state *e = fd_state_get(fd);
	int more = e && e->cork ? cork_flags(fd, e) : 0;
	for (;;) {
		if (!h->wire_len)
			return more ? libc.send(fd, buf, len, more) : libc.write(fd, buf, len);
		struct iovec v[2] = {{h->wire, h->wire_len}, {(void *)buf, len}};
		struct msghdr msg = {.msg_iov = v, .msg_iovlen = 2};
		ssize_t r = more ? libc.sendmsg(fd, &msg, more) : libc.writev(fd, v, 2);
		if (r <= 0 || (size_t)r > h->wire_len) {
			if (r > 0) {
				r -= (ssize_t)h->wire_len;
				h->wire_len = 0;
			}
			return r;
		}
		memmove(h->wire, h->wire + r, h->wire_len - (size_t)r);
		h->wire_len -= (size_t)r;
	}
}

ssize_t tls_wire_write(int fd, const void *buf, size_t len)
{
	struct hold *h = flushing;
	if (h->gather && len <= sizeof(h->wire) - h->wire_len) {
		memcpy(h->wire + h->wire_len, buf, len);
		h->wire_len += len;
		return (ssize_t)len;
	}
	return send_wire(h, fd, buf, len);
}

/* Writes held one at a time gain nothing: a server that answers each request
 * with one SSL_write, flushed by its next SSL_read, pays the hold and its
 * checks for nothing.  So after two flushes in a row of a single write each
 * (lone1_tag, then lone_tag), the next write on that SSL passes through
 * (passed_tag); a second write with no other call on that SSL in between
 * shows a burst, and holding resumes.  Holding or not, the peer gets the
 * same bytes: only the records differ. */
static ST_THREAD_LOCAL int passed_some; /* this thread passed a write that way */

static void note_lone(SSL *s, int lone)
{
	void *was = libssl.get_ex_data(s, lone_index);
	void *want = !lone ? NULL : was ? &lone_tag : &lone1_tag;
	if (was != want)
		libssl.set_ex_data(s, lone_index, want);
}

/* Whether a write on s that would start a batch should pass through. */
static int lone_write(SSL *s)
{
	void *mark = libssl.get_ex_data(s, lone_index);
	if (mark == &lone_tag) {
		libssl.set_ex_data(s, lone_index, &passed_tag);
		passed_some = 1;
		return 1;
	}
	if (mark == &passed_tag)
		libssl.set_ex_data(s, lone_index, NULL);
	return 0;
}

/* Another call on s: the write that passed was a lone one after all. */
static void lone_again(SSL *s)
{
	if (unlikely(passed_some) && lone_index >= 0 && libssl.get_ex_data(s, lone_index) == &passed_tag)
		libssl.set_ex_data(s, lone_index, &lone_tag);
}

/* Before any other SSL call on s: what s holds goes out first.  Returns 1
 * to go on with the call, or 0 when the call must return *ret instead: a
 * failure (now in the error queue) or a retry OpenSSL asked for. */
int tls_before_call(SSL *s, int *ret)
{
	struct hold *h = find(s);
	if (!h) {
		lone_again(s);
		return 1;
	}
	lock(h);
	lone_again(s);
	if (hssl(h) != s) {
		unlock(h);
		return 1;
	}
	if (h->state == HOLD_FAILED) {
		*ret = replay_failure(h);
		unlock(h);
		return 0;
	}
	int f = flush_locked(h, FLUSH_CALL, 0, ret);
	if (f == 1)
		release(h);
	unlock(h);
	return f == 1;
}


int tls_hold_init(void)
{
	if (libssl.get_ex_new_index)
		lone_index = libssl.get_ex_new_index(CRYPTO_EX_INDEX_SSL, 0, NULL, NULL, NULL, NULL);
	return lone_index >= 0;
}

static void append(struct hold *h, const void *buf, size_t num)
{
	if (!h->len) {
		/* Stored before bound_arm reads whether the bound sleeps. */
		__atomic_store_n(&h->since, bound_now(), __ATOMIC_SEQ_CST);
		bound_arm();
	}
	h->last = h->len;
	memcpy(h->buf + h->len, buf, num);
	h->len += num;
	stat_inc(tls_held);
	stat_add(tls_bytes, num);
}

static int write_hold_fresh(SSL *s, const void *buf, size_t num, size_t limit, int fd);

/* SSL_write and SSL_write_ex.  Returns 1 when the write was held, 0 when
 * it must go through (anything held went out first), -1 when *ret is the
 * answer: a failure of what was held before. */
int tls_write_hold(SSL *s, const void *buf, size_t num, int *ret)
{
	int fd = -1;
	struct hold *h = find(s);

	if (h) {
		/* Locked before s is asked anything: the bound's thread may be
		 * sending on s (tls_send_late). */
		lock(h);
		size_t limit = tls_holdable(s, num, &fd);
		if (hssl(h) != s) {
			unlock(h);
			return write_hold_fresh(s, buf, num, limit, fd);
		}
		if (!take(h))
			limit = 0;
		if (h->state == HOLD_FAILED) {
			*ret = replay_failure(h);
			unlock(h);
			return -1;
		}
		if (limit && h->len + num > h->room) {
			/* A batch that did not fit: the send buffer may have
			 * grown since it was asked (TCP autotuning). */
			struct fd_state *e = fd_state_get(fd);
			if (e)
				__atomic_store_n(&e->sndbuf_seen, 0, __ATOMIC_RELAXED);
		}
		if (h->state != HOLD_OK || !limit || h->len + num > h->room) {
			int r;
			int f = flush_locked(h, FLUSH_WRITE, 0, &r);
			if (f != 1) {
				unlock(h);
				*ret = r;
				return -1;
			}
		}
		if (limit && h->len == 0)
			h->room = tls_batch_room(fd, fd_state_get(fd));
		if (limit && h->len + num <= h->room) {
			append(h, buf, num);
			unlock(h);
			return 1;
		}
		release(h);
		unlock(h);
		return 0;
	}
	size_t limit = tls_holdable(s, num, &fd);
	return write_hold_fresh(s, buf, num, limit, fd);
}

/* A write on an SSL that holds nothing yet. */
static int write_hold_fresh(SSL *s, const void *buf, size_t num, size_t limit, int fd)
{
	struct hold *h;
	if (!limit || lone_write(s))
		return 0;
	size_t room = tls_batch_room(fd, fd_state_get(fd));
	if (num > room || !(h = claim(s)))
		return 0;
	/* A BIO_f_ssl made since tls_holdable() looked: its flush may have passed
	 * this slot before it was claimed. */
	if (__atomic_load_n(&socktune_tls_over, __ATOMIC_SEQ_CST)) {
		release(h);
		unlock(h);
		return 0;
	}
	/* flush_matching reads it unlocked, to pass over other sockets' slots. */
	__atomic_store_n(&h->fd, fd, __ATOMIC_RELAXED);
	h->room = room;
	append(h, buf, num);
	unlock(h);
	return 1;
}

/* A BIO_f_ssl writes to its SSL through OpenSSL's internal write, which no
 * hook sees: once the program makes one, what is held goes out and nothing
 * is held again in this process. */
static void flush_matching(int fd, int why, int wait);

void tls_holding_ends(void)
{
	static int sent;
	if (__atomic_exchange_n(&socktune_tls_over, 1, __ATOMIC_SEQ_CST)) {
		/* Another thread is sending what is held: its BIO_write must
		 * not start before that is done. */
		while (!__atomic_load_n(&sent, __ATOMIC_ACQUIRE))
			sched_yield();
		return;
	}
	log_info("the program uses BIO_f_ssl: TLS merging is off from now on");
	/* Every hold, those another thread is sending too (its wait point,
	 * the bound's thread): the BIO's writes must come after all of them,
	 * and must not run beside one. */
	if (slot_table() && __atomic_load_n(&socktune_holds_shared, __ATOMIC_ACQUIRE))
		flush_matching(-1, FLUSH_CALL, 1);
	__atomic_store_n(&sent, 1, __ATOMIC_RELEASE);
}


void tls_free_hold(SSL *s)
{
	struct hold *h = s ? find(s) : NULL;
	if (!h)
		return;
	lock(h);
	/* What is held goes out; a failure has nobody left to be told, and
	 * a connection already known dead is not written to again. */
	if (hssl(h) == s) {
		int ret, saved = errno;
		if (SENDABLE(h) && libssl.err_set_mark && libssl.err_pop_to_mark) {
			libssl.err_set_mark();
			flush_locked(h, FLUSH_CALL, 0, &ret);
			libssl.err_pop_to_mark();
		}
		release(h);
		errno = saved;
	}
	unlock(h);
}

/* Sends what this thread holds, except on the SSL objects it is inside a
 * call on (OpenSSL is in the middle of those). */
static void tls_flush_thread(int why)
{
	if (in_flush)
		return;
	int saved = errno;
	in_flush++;
	for (int i = nmine - 1; i >= 0; i--) {
		struct hold *h = mine[i];
		int ret;
		lock(h);
		if (__atomic_load_n(&h->owner, __ATOMIC_RELAXED) != &self || !hssl(h))
			mine_drop(h);
		else if (SENDABLE(h) && !is_inside(hssl(h)) && flush_locked(h, why, 1, &ret) == 1)
			release(h);
		unlock(h);
	}
	in_flush--;
	update_pending();
	errno = saved;
}

/* fd is closing and the flush of h (locked) met a full socket, one that
 * shrank after the batch began (the program's SO_SNDBUF, TCP memory
 * pressure): what is held would have been in the kernel long ago without
 * socktune.  The socket gets room for it: its send buffer grows for this
 * one write, to what it queues plus the records, and is set back (the
 * program's other descriptors of it, if any, see nothing).  Failing that,
 * the bytes are given up: kept, they would go to whatever socket takes the
 * descriptor number next.  Returns what flush_locked does. */
static int close_full(struct hold *h, int fd)
{
	int f = 0;
#if defined(SIOCOUTQ)
	int ret, was = 0, queued = 0;
	socklen_t len = sizeof(was);
	if (libc.getsockopt(fd, SOL_SOCKET, SO_SNDBUF, &was, &len) == 0 &&
	    ioctl(fd, SIOCOUTQ, &queued) == 0 && queued >= 0 && queued < INT32_MAX / 4) {
		int room = 2 * (queued + (int)WIRE_MAX) + 4096, back = was / 2;
		if (libc.setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &room, sizeof(room)) == 0) {
			f = flush_locked(h, FLUSH_CLOSE, 1, &ret);
			libc.setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &back, sizeof(back));
		}
	}
#else
	(void)fd;
#endif
	if (f == 0) {
		stat_inc(tls_failures);
		log_info("fd %d closed with %zu TLS bytes held that its full socket would not take: "
			 "they are dropped", fd, h->len);
		release(h);
	}
	return f;
}

/* Flushes every slot that matches, but those this thread is inside a call
 * on.  A slot another thread has locked is that thread's to send, unless
 * `wait`: then this thread waits for it (fork, where what is not sent now
 * would be sent out of order; close, where what is not sent now would be
 * sent later to whatever socket takes the number). */
static void flush_matching(int fd, int why, int wait)
{
	struct hold *t = slot_table();
	if (!t || !__atomic_load_n(&socktune_holds_shared, __ATOMIC_ACQUIRE) || in_flush)
		return;
	int saved = errno;
	in_flush++;
	for (int i = 0; i < SLOTS; i++) {
		struct hold *h = &t[i];
		int ret;
		SSL *s = __atomic_load_n(&h->ssl, __ATOMIC_ACQUIRE);
		if (!s || (fd >= 0 && __atomic_load_n(&h->fd, __ATOMIC_RELAXED) != fd) || is_inside(s))
			continue;
		/* A slot this very thread has locked: a signal handler came in
		 * while socktune had it; waiting would never end. */
		if (__atomic_load_n(&h->busy, __ATOMIC_ACQUIRE) == &self)
			continue;
		if (wait)
			lock(h);
		else if (!trylock(h))
			continue;
		if (hssl(h) == s && SENDABLE(h) && (fd < 0 || h->fd == fd)) {
			int f = flush_locked(h, why, 1, &ret);
			if (f == 0 && why == FLUSH_CLOSE)
				f = close_full(h, fd);
			if (f == 1)
				release(h);
		}
		unlock(h);
	}
	in_flush--;
	update_pending();
	errno = saved;
}

static void tls_flush_fd(int fd)
{
	flush_matching(fd, FLUSH_CLOSE, 1);
}

/* The bound.  The bound's thread sends a hold that is hold_max old when it
 * can do so as safely as the holding thread itself:
 *  - with the slot locked: every hooked call on that SSL locks it before it
 *    touches the SSL, so none is in progress and none starts;
 *  - only when the holding thread is inside no hooked call on that SSL (a
 *    callback within one, say, that wrote and is still running);
 *  - never with a failure to report: it is kept, as at a wait point, for
 *    the next call on that SSL.
 * What it cannot rule out is a program thread in an OpenSSL call that no
 * hook sees, on the same SSL, at the same moment.  Those calls read (the
 * SSL_get_* and SSL_pending family); none reads what a write changes but
 * SSL_get_error, and that one after a call that failed, while a hold exists
 * only after calls that succeeded.  socktune(7) says so. */
static uint64_t tls_send_late(uint64_t now)
{
	struct hold *t = __atomic_load_n(&socktune_holds_shared, __ATOMIC_ACQUIRE) ? slot_table() : NULL;
	if (!t)
		return 0;
	uint64_t max = bound_max(), next = 0;
	int saved = errno;
	for (int i = 0; i < SLOTS; i++) {
		struct hold *h = &t[i];
		SSL *s = __atomic_load_n(&h->ssl, __ATOMIC_ACQUIRE);
		uint64_t since = __atomic_load_n(&h->since, __ATOMIC_RELAXED);
		if (!s || !since)
			continue;
		uint64_t due = since + max;
		if (due <= now && trylock(h)) {
			int ret, f = 2;
			if (hssl(h) == s && __atomic_load_n(&h->since, __ATOMIC_RELAXED) == since &&
			    SENDABLE(h) &&
			    !(h->owner && inside_of(h->owner, s)))
				f = flush_locked(h, FLUSH_LATE, 1, &ret);
			if (f == 1)
				release(h);
			else if (f == -1) /* kept for the next call on s */
				__atomic_store_n(&h->since, 0, __ATOMIC_RELAXED);
			unlock(h);
			if (f == 1 || f == -1)
				continue;
			/* Full, busy or in use: look again soon. */
			due = now + max / 4;
		} else if (due <= now) {
			due = now + max / 4;
		}
		next = !next || due < next ? due : next;
	}
	errno = saved;
	return next;
}

static void tls_thread_ends(void)
{
	struct hold *t = slot_table();
	if (!t || !__atomic_load_n(&socktune_holds_shared, __ATOMIC_ACQUIRE))
		return;
	for (int i = 0; i < SLOTS; i++) {
		struct hold *h = &t[i];
		if (__atomic_load_n(&h->owner, __ATOMIC_RELAXED) != &self)
			continue;
		lock(h);
		if (__atomic_load_n(&h->owner, __ATOMIC_RELAXED) == &self)
			__atomic_store_n(&h->owner, NULL, __ATOMIC_RELAXED);
		unlock(h);
	}
}

/* Exit and exec; a vfork child sends none of its parent's. */
static void tls_flush_all(int why)
{
	if (why != FLUSH_VFORK)
		flush_matching(-1, why, 0);
}

/* A wait point.  A contended mutex inside an SSL call may be one OpenSSL
 * holds a lock of its own around, which a flush's SSL_write would need:
 * then nothing is sent. */
static void tls_wait(int why)
{
	if (why == FLUSH_LOCK) {
		if (tls_in_call())
			return;
		why = FLUSH_WAIT;
	}
	tls_flush_thread(why);
}

/* Every thread's holds, not only the forking thread's: the child shares
 * the connections, and bytes another thread still held would reach the
 * peer after the child's, or never. */
static void tls_fork_prepare(void)
{
	if (__atomic_load_n(&socktune_holds_shared, __ATOMIC_ACQUIRE))
		flush_matching(-1, FLUSH_FORK, 1);
}

static void tls_fork_child(void)
{
	struct hold *t = slot_table();
	if (t && socktune_holds_shared)
		for (int i = 0; i < SLOTS; i++)
			if (hssl(&t[i]))
				memset(&t[i], 0, offsetof(struct hold, buf));
	socktune_holds_shared = 0;
	nmine = 0;
	HOLDING(tls) = 0;
}

const struct hold_kind hold_kind_tls = {
	.thread = tls_wait,
	.fd = tls_flush_fd,
	.all = tls_flush_all,
	.thread_ends = tls_thread_ends,
	.fork_prepare = tls_fork_prepare,
	.fork_child = tls_fork_child,
	.late = tls_send_late,
};
