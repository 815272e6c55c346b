/* TLS write coalescing.  Small SSL_writes on a tuned socket are copied into
 * a per-SSL hold buffer and reported written; the held bytes go out
 * together when the thread next touches that SSL, or waits (wait.c), or
 * closes the socket, uncorks it, forks, execs or exits.
 *
 * A write is held only when nothing can stop the later flush: the handshake
 * is done, no renegotiation or key update is pending, no earlier write of
 * this SSL is waiting to be retried, the write side is a socket (memory BIOs
 * would never be drained), and the socket's free send space covers all that
 * is held, so the flush cannot meet WANT_WRITE.  At most one record's worth
 * (16384 bytes) is held per SSL.
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
 * libssl is never linked: its functions are found on first use, through
 * dlsym(RTLD_NEXT) or, when libssl came in through a local dlopen (Python's
 * _ssl), through dlopen(RTLD_NOLOAD). */
#include "bound.h"
#include "fdtable.h"
#include "hold.h"
#include "log.h"
#include "state.h"
#include "stats.h"
#include "tls.h"

#include <dlfcn.h>
#include <link.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#if defined(__linux__)
#include <linux/sockios.h>
#endif
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "cork.h"


/* The libssl and libcrypto functions socktune calls: the TLS and TLS_NEXT
 * lines of hooks.def. */
struct sslfns {
#define TLS(name, field, ret, params) ret(*field) params;
#define TLS_NEXT TLS
#include "hooks.def"
};

/* Those of the libssl the process has in its global scope: the one holding
 * works with. */
static struct sslfns ssl;

/* Whether every function that holding relies on was found. */
static int can_hold;

/* The program made a BIO_f_ssl: its BIO_write reaches an SSL by a path no
 * hook sees (OpenSSL's internal write), so from then on nothing is held. */
static int bio_ssl_seen;

/* The SSL ex_data slot for the retry mark (retrying()). */
static int retry_index = -1;

/* The SSL ex_data slot for the lone mark (lone_write()), and its values. */
static int lone_index = -1;
static char lone1_tag, lone_tag, passed_tag;

static void *find_in(const char *lib, const char *name)
{
	void *h = dlopen(lib, RTLD_LAZY | RTLD_NOLOAD);
	return h ? dlsym(h, name) : NULL;
}

static void *lookup(void *handle, const char *name)
{
	if (handle)
		return dlsym(handle, name);
	void *f = dlsym(RTLD_NEXT, name);
	if (!f)
		f = find_in("libssl.so.3", name);
	if (!f)
		f = find_in("libcrypto.so.3", name);
	return f;
}

/* Fills t from the global scope (handle NULL) or from the scope of one
 * loaded object (its own dependencies, as dlsym with its handle searches). */
static void fill(struct sslfns *t, void *handle)
{
#define TLS(name, field, ret, params) *(void **)&t->field = lookup(handle, #name);
#define TLS_NEXT TLS
#include "hooks.def"
}

static void find_own_range(void);

static void resolve_all(void)
{
	find_own_range();
	fill(&ssl, NULL);
	if (ssl.get_ex_new_index)
		retry_index = ssl.get_ex_new_index(CRYPTO_EX_INDEX_SSL, 0, NULL, NULL, NULL, NULL);
	if (ssl.get_ex_new_index)
		lone_index = ssl.get_ex_new_index(CRYPTO_EX_INDEX_SSL, 0, NULL, NULL, NULL, NULL);
	can_hold = retry_index >= 0 && lone_index >= 0 && ssl.get_ex_data && ssl.set_ex_data && ssl.write && ssl.write_ex && ssl.get_wfd && ssl.is_init_finished &&
		   ssl.get_shutdown && ssl.set_shutdown &&
		   ssl.renegotiate_pending && ssl.get_key_update_type && ssl.get_error &&
		   ssl.err_get_error_all && ssl.err_new && ssl.err_set_debug && ssl.err_set_error;
	if (!can_hold && ssl.write)
		log_info("TLS merging off: this libssl lacks a function it needs (OpenSSL 3 has "
			 "them all)");
}

static void resolve(void)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	pthread_once(&once, resolve_all);
}

/* Which libssl a caller reaches.  A plugin can bring its own libssl, under
 * another soname (OpenSSL 1.1 in a virtualenv, LibreSSL, a vendored copy),
 * loaded with RTLD_LOCAL: its calls still land in these hooks, since the
 * preloaded names come first, but their real functions are that copy's,
 * which the global lookup never finds.  So each hook asks which object
 * called it; a caller whose own dependencies give another libssl than the
 * global one is passed straight to that copy, untouched (nothing is held on
 * it, whatever its version).  The answer is kept per object, by address
 * range: a hit is a few comparisons, no lock.  The object stays loaded (its
 * handle is kept), so a range never comes to mean another object. */
#define CALLERS_MAX 32
#define PRIVATE_MAX 8

static struct caller {
	uintptr_t lo, hi;
	const struct sslfns *fns;
} callers[CALLERS_MAX];
static int ncallers;
static struct sslfns privates[PRIVATE_MAX];
static int nprivates;
static pthread_mutex_t callers_lock = PTHREAD_MUTEX_INITIALIZER;

struct found {
	uintptr_t addr, lo, hi;
	char name[256];
	int hit;
};

static int find_object(struct dl_phdr_info *info, size_t size, void *arg)
{
	struct found *f = arg;
	(void)size;
	uintptr_t lo = UINTPTR_MAX, hi = 0;
	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		if (ph->p_type != PT_LOAD)
			continue;
		uintptr_t start = info->dlpi_addr + ph->p_vaddr;
		if (start < lo)
			lo = start;
		if (start + ph->p_memsz > hi)
			hi = start + ph->p_memsz;
	}
	if (f->addr < lo || f->addr >= hi)
		return 0;
	f->lo = lo, f->hi = hi, f->hit = 1;
	snprintf(f->name, sizeof(f->name), "%s", info->dlpi_name ? info->dlpi_name : "");
	return 1;
}

/* The table for the object at addr, found the slow way. */
static const struct sslfns *caller_fns_slow(uintptr_t addr)
{
	const struct sslfns *fns = &ssl;
	int saved = errno;
	pthread_mutex_lock(&callers_lock);
	struct found f = {.addr = addr};
	dl_iterate_phdr(find_object, &f);
	/* The main program, or code in no object: the global scope. */
	void *h = f.hit && f.name[0] ? dlopen(f.name, RTLD_LAZY | RTLD_NOLOAD) : NULL;
	void *write = h ? dlsym(h, "SSL_write") : NULL;
	/* A scope that finds the hooks themselves finds no libssl. */
	if (write == (void *)SSL_write)
		write = NULL;
	if (write && write != (void *)ssl.write && nprivates < PRIVATE_MAX) {
		int i;
		for (i = 0; i < nprivates; i++)
			if ((void *)privates[i].write == write)
				break;
		if (i == nprivates) {
			fill(&privates[i], h);
			__atomic_store_n(&nprivates, i + 1, __ATOMIC_RELEASE);
			log_info("%s brings its own libssl: its TLS calls pass through", f.name);
		}
		fns = &privates[i];
	} else if (write && write != (void *)ssl.write) {
		fns = NULL; /* no room to keep another copy: answered per call */
	}
	if (fns && f.hit && ncallers < CALLERS_MAX) {
		callers[ncallers] = (struct caller){f.lo, f.hi, fns};
		__atomic_store_n(&ncallers, ncallers + 1, __ATOMIC_RELEASE);
	}
	pthread_mutex_unlock(&callers_lock);
	errno = saved;
	return fns ? fns : &ssl;
}

/* This library's own range, and the table the hook this thread is passing
 * through to uses: libssl reaches one hook from another by a tail call
 * (SSL_set_fd calls SSL_set_bio, which ends in a jump to SSL_set0_wbio), so
 * the inner hook's return address lies in the outer hook, here. */
static uintptr_t own_lo, own_hi;
static ST_THREAD_LOCAL const struct sslfns *passing;

static void find_own_range(void)
{
	struct found f = {.addr = (uintptr_t)&find_own_range};
	dl_iterate_phdr(find_object, &f);
	if (f.hit)
		own_lo = f.lo, own_hi = f.hi;
}

static const struct sslfns *caller_fns(const void *ret)
{
	uintptr_t a = (uintptr_t)ret;
	if (a >= own_lo && a < own_hi)
		return passing ? passing : &ssl;
	int n = __atomic_load_n(&ncallers, __ATOMIC_ACQUIRE);
	for (int i = 0; i < n; i++)
		if (a >= callers[i].lo && a < callers[i].hi)
			return callers[i].fns;
	return caller_fns_slow(a);
}

/* The first thing each SSL hook does, after resolve(): a caller that links
 * its own libssl gets that libssl's function, and nothing else happens. */
#define PRIVATE_PASS(fn, fail, ...)                                                                \
	do {                                                                                       \
		const struct sslfns *f_ = caller_fns(__builtin_return_address(0));                 \
		if (unlikely(f_ != &ssl)) {                                                        \
			if (!f_->fn)                                                               \
				return (fail);                                                     \
			const struct sslfns *was_ = passing;                                       \
			passing = f_;                                                              \
			__typeof__(f_->fn(__VA_ARGS__)) r_ = f_->fn(__VA_ARGS__);                  \
			passing = was_;                                                            \
			return r_;                                                                 \
		}                                                                                  \
	} while (0)

#define PRIVATE_PASS_VOID(fn, ...)                                                                 \
	do {                                                                                       \
		const struct sslfns *f_ = caller_fns(__builtin_return_address(0));                 \
		if (unlikely(f_ != &ssl)) {                                                        \
			const struct sslfns *was_ = passing;                                       \
			passing = f_;                                                              \
			if (f_->fn)                                                                \
				f_->fn(__VA_ARGS__);                                               \
			passing = was_;                                                            \
			return;                                                                    \
		}                                                                                  \
	} while (0)

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

static void enter(SSL *s)
{
	int n = self.ninside;
	if (n < INSIDE_MAX)
		__atomic_store_n(&self.inside[n], s, __ATOMIC_RELAXED);
	__atomic_store_n(&self.ninside, n + 1, __ATOMIC_RELEASE);
	update_pending();
}

static void leave(void)
{
	__atomic_store_n(&self.ninside, self.ninside - 1, __ATOMIC_RELEASE);
	update_pending();
}

#define ENTER(s) enter(s)
#define LEAVE() leave()

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

/* Called with h locked. */
static void release(struct hold *h)
{
	__atomic_store_n(&h->since, 0, __ATOMIC_RELAXED);
	h->len = 0;
	h->last = 0;
	h->wire_len = 0;
	h->state = HOLD_OK;
	h->nerr = 0;
	__atomic_store_n(&h->owner, NULL, __ATOMIC_RELAXED);
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
			__atomic_store_n(&h->owner, NULL, __ATOMIC_RELAXED);
			__atomic_store_n(&h->since, 0, __ATOMIC_RELAXED);
			h->len = 0;
			h->last = 0;
			h->wire_len = 0;
			h->state = HOLD_OK;
			h->nerr = 0;
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
	while ((code = ssl.err_get_error_all(&file, &line, &func, &data, &flags)) != 0) {
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
		ssl.err_new();
		ssl.err_set_debug(e->file, e->line, e->func);
		if (e->data[0])
			ssl.err_set_error(ERR_GET_LIB(e->code), ERR_GET_REASON(e->code), "%s", e->data);
		else
			ssl.err_set_error(ERR_GET_LIB(e->code), ERR_GET_REASON(e->code), NULL);
	}
	h->nerr = 0;
	h->state = HOLD_DEAD;
	errno = h->err_no;
	return h->ret;
}

/* The records n bytes written make at OpenSSL's default fragment size (a
 * program that lowers max_send_fragment makes more than this counts). */
static void count_records(size_t n)
{
	stat_add(tls_records, (n + 16383) / 16384);
}

/* Whether the kernel makes the records (kTLS): then each write() is a
 * record of its own, and gathering two into one write would make them one. */
static int ktls_send(SSL *s)
{
#ifdef BIO_CTRL_GET_KTLS_SEND
	BIO *b = ssl.get_wbio && ssl.bio_ctrl ? ssl.get_wbio(s) : NULL;
	return b && ssl.bio_ctrl(b, BIO_CTRL_GET_KTLS_SEND, 0, NULL) > 0;
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
	unsigned long was = __atomic_load_n(&socktune_stats.tls_longest_us, __ATOMIC_RELAXED);
	while (us > was && !__atomic_compare_exchange_n(&socktune_stats.tls_longest_us, &was, us, 1,
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
	int theirs = keep && ssl.err_peek_error && ssl.err_peek_error() != 0 && ssl.err_set_mark &&
		     ssl.err_pop_to_mark;
	if (theirs)
		ssl.err_set_mark();
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
		int r = ssl.write(hssl(h), h->buf, (int)n);
		socktune_tls_wire_fd = outer_fd;
		flushing = outer;
		if (r > 0) {
			count_records((size_t)r);
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
		int err = ssl.get_error(hssl(h), r);
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
		ssl.err_pop_to_mark();
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
	void *was = ssl.get_ex_data(s, lone_index);
	void *want = !lone ? NULL : was ? &lone_tag : &lone1_tag;
	if (was != want)
		ssl.set_ex_data(s, lone_index, want);
}

/* Whether a write on s that would start a batch should pass through. */
static int lone_write(SSL *s)
{
	void *mark = ssl.get_ex_data(s, lone_index);
	if (mark == &lone_tag) {
		ssl.set_ex_data(s, lone_index, &passed_tag);
		passed_some = 1;
		return 1;
	}
	if (mark == &passed_tag)
		ssl.set_ex_data(s, lone_index, NULL);
	return 0;
}

/* Another call on s: the write that passed was a lone one after all. */
static void lone_again(SSL *s)
{
	if (unlikely(passed_some) && lone_index >= 0 && ssl.get_ex_data(s, lone_index) == &passed_tag)
		ssl.set_ex_data(s, lone_index, &lone_tag);
}

/* Before any other SSL call on s: what s holds goes out first.  Returns 1
 * to go on with the call, or 0 when the call must return *ret instead: a
 * failure (now in the error queue) or a retry OpenSSL asked for. */
static int before_call(SSL *s, int *ret)
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

/* Whether s has a write that met WANT_*: OpenSSL expects the same write
 * again, so nothing of s may be held until it has gone through.  Kept in
 * the SSL's own ex_data, so there is no table to fill up. */
static int retrying(SSL *s)
{
	return ssl.get_ex_data(s, retry_index) != NULL;
}

/* After a write that passed through: note a WANT_*, forget it once the
 * write is done or dead. */
static void note_result(SSL *s, int r)
{
	int want = 0;
	if (r <= 0) {
		int e = ssl.get_error(s, r);
		want = e != SSL_ERROR_NONE && e != SSL_ERROR_SSL && e != SSL_ERROR_SYSCALL &&
		       e != SSL_ERROR_ZERO_RETURN;
	}
	if (want == retrying(s))
		return;
	/* If OpenSSL cannot store the mark, holding stops for good: a held
	 * retry would send its bytes twice. */
	if (!ssl.set_ex_data(s, retry_index, want ? &retry_index : NULL))
		can_hold = 0;
}

static size_t holdable(SSL *s, size_t num, int *fd)
{
	if (!can_hold || num == 0 || socktune_mode != ST_MODE_ON || !hold_ready())
		return 0;
	*fd = ssl.get_wfd(s);
	const struct fd_state *e = fd_state_get(*fd);
	if (!e || !e->tls_merge || num > e->tls_merge)
		return 0;
	/* After SSL_shutdown (or SSL_set_shutdown) a write fails at once. */
	if (!ssl.is_init_finished(s) || ssl.renegotiate_pending(s) ||
	    ssl.get_key_update_type(s) != SSL_KEY_UPDATE_NONE || retrying(s) ||
	    (ssl.get_shutdown(s) & SSL_SENT_SHUTDOWN) || __atomic_load_n(&bio_ssl_seen, __ATOMIC_RELAXED))
		return 0;
	return e->tls_merge;
}

#if defined(__linux__)
/* net.ipv4.tcp_notsent_lowat, read once: a TCP socket with more unsent bytes
 * than its low-water mark takes no more writes.  Its default, UINT_MAX,
 * means none; so does a value that cannot be read. */
static unsigned long notsent_lowat_sysctl;

static void read_notsent_lowat(void)
{
	char text[32] = "";
	int fd = open("/proc/sys/net/ipv4/tcp_notsent_lowat", O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		return;
	ssize_t n = libc.read(fd, text, sizeof(text) - 1);
	libc.close(fd);
	if (n > 0)
		notsent_lowat_sysctl = strtoul(text, NULL, 10);
}

static unsigned long notsent_lowat(const struct fd_state *e)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	if (e->notsent_lowat)
		return e->notsent_lowat;
	pthread_once(&once, read_notsent_lowat);
	return notsent_lowat_sysctl;
}
#endif

/* What a batch of held writes may hold on fd, asked at its first write (a
 * connection that dies during the batch is as if it had died just after):
 * 0 when nothing may be held, else the room that a flush can fill without
 * finding the socket full.  One poll(), which says both:
 *  - a connection that cannot carry more says POLLHUP or POLLERR (a TCP
 *    reset, a unix peer gone), and a write on it must fail now, as it would
 *    without socktune, not at some later flush;
 *  - POLLOUT means the free send space is at least a third of the send
 *    buffer on TCP (sk_stream_is_writeable), three quarters on a unix
 *    socket (unix_writable), and on TCP that the unsent bytes are below half
 *    the TCP_NOTSENT_LOWAT; of that, half is counted for payload (the
 *    kernel counts its bookkeeping too), less a record's overhead.
 * The send buffer is asked once per socket, and again after a batch that
 * did not fit. */
static size_t batch_room(int fd, struct fd_state *e)
{
#if !defined(__linux__)
	/* The poll answers and buffer rules are Linux's: elsewhere, hold
	 * nothing (FreeBSD's FIONWRITE would do, untried). */
	(void)fd, (void)e;
	return 0;
#else
	if (__atomic_load_n(&e->flags, __ATOMIC_RELAXED) & FD_WR_SHUT)
		return 0;
	struct pollfd p = {.fd = fd, .events = POLLOUT};
	if (libc.poll(&p, 1, 0) != 1 || (p.revents & (POLLERR | POLLHUP | POLLNVAL)) ||
	    !(p.revents & POLLOUT))
		return 0;
	long sndbuf = (long)__atomic_load_n(&e->sndbuf_seen, __ATOMIC_RELAXED);
	if (!sndbuf) {
		int v = 0;
		socklen_t len = sizeof(v);
		if (libc.getsockopt(fd, SOL_SOCKET, SO_SNDBUF, &v, &len) < 0 || v <= 0)
			return 0;
		sndbuf = v;
		__atomic_store_n(&e->sndbuf_seen, (uint32_t)v, __ATOMIC_RELAXED);
	}
	int tcp = fd_state_is_tcp(e);
	long room = tcp ? sndbuf / 6 - 256 : sndbuf * 3 / 8 - 256;
	unsigned long lowat = tcp ? notsent_lowat(e) : 0;
	if (lowat && lowat < INT32_MAX && (long)lowat / 2 - 256 < room)
		room = (long)lowat / 2 - 256;
	if (room <= 0)
		return 0;
	return room > ST_TLS_MERGE_MAX ? ST_TLS_MERGE_MAX : (size_t)room;
#endif
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
static int write_hold(SSL *s, const void *buf, size_t num, int *ret)
{
	int fd = -1;
	struct hold *h = find(s);

	if (h) {
		/* Locked before s is asked anything: the bound's thread may be
		 * sending on s (tls_send_late). */
		lock(h);
		size_t limit = holdable(s, num, &fd);
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
			h->room = batch_room(fd, fd_state_get(fd));
		if (limit && h->len + num <= h->room) {
			append(h, buf, num);
			unlock(h);
			return 1;
		}
		release(h);
		unlock(h);
		return 0;
	}
	size_t limit = holdable(s, num, &fd);
	return write_hold_fresh(s, buf, num, limit, fd);
}

/* A write on an SSL that holds nothing yet. */
static int write_hold_fresh(SSL *s, const void *buf, size_t num, size_t limit, int fd)
{
	struct hold *h;
	if (!limit || lone_write(s))
		return 0;
	size_t room = batch_room(fd, fd_state_get(fd));
	if (num > room || !(h = claim(s)))
		return 0;
	/* A BIO_f_ssl made since holdable() looked: its flush may have passed
	 * this slot before it was claimed. */
	if (__atomic_load_n(&bio_ssl_seen, __ATOMIC_SEQ_CST)) {
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

SOCKTUNE_HOOK int SSL_write(SSL *s, const void *buf, int num)
{
	resolve();
	PRIVATE_PASS(write, -1, s, buf, num);
	if (!ssl.write)
		return -1;
	int mode = st_mode();
	if (mode != ST_MODE_ON) {
		int r = ssl.write(s, buf, num);
		if (mode != ST_MODE_OFF && r > 0)
			count_records((size_t)r);
		return r;
	}
	ENTER(s);
	int ret = num;
	/* Nothing to hold, but OpenSSL may write what it has pending: what
	 * is held goes first, and the bound's thread is kept off s. */
	if (num <= 0) {
		if (before_call(s, &ret))
			ret = ssl.write(s, buf, num);
		LEAVE();
		return ret;
	}
	int held = write_hold(s, buf, (size_t)num, &ret);
	if (held == 0) {
		ret = ssl.write(s, buf, num);
		note_result(s, ret);
		if (ret > 0)
			count_records((size_t)ret);
	}
	LEAVE();
	return ret;
}

SOCKTUNE_HOOK int SSL_write_ex(SSL *s, const void *buf, size_t num, size_t *written)
{
	resolve();
	PRIVATE_PASS(write_ex, 0, s, buf, num, written);
	if (!ssl.write_ex)
		return 0;
	int mode = st_mode();
	/* A write of any other size, larger than INT_MAX too, goes after what
	 * is held (write_hold sends that first). */
	if (mode != ST_MODE_ON) {
		int r = ssl.write_ex(s, buf, num, written);
		if (mode != ST_MODE_OFF && r > 0)
			count_records(*written);
		return r;
	}
	ENTER(s);
	int ret = 1;
	if (num == 0) {
		if (before_call(s, &ret)) {
			ret = ssl.write_ex(s, buf, num, written);
		} else {
			*written = 0;
			ret = 0;
		}
		LEAVE();
		return ret;
	}
	int held = write_hold(s, buf, num, &ret);
	if (held == 1) {
		*written = num;
	} else if (held < 0) {
		*written = 0;
		ret = 0;
	} else {
		ret = ssl.write_ex(s, buf, num, written);
		note_result(s, ret);
		if (ret > 0)
			count_records(*written);
	}
	LEAVE();
	return ret;
}

/* The other calls on an SSL: flush first, and report a failure of the
 * flush as this call's own, in the shape this call returns it (fail_value,
 * which may use ret_, OpenSSL's return).  MISSING is the answer when no
 * libssl has the function at all. */
#define FLUSH_THEN(s, missing, fail_value, fn, ...)                                                \
	do {                                                                                       \
		resolve();                                                                         \
		PRIVATE_PASS(fn, missing, __VA_ARGS__);                                            \
		if (!ssl.fn)                                                                       \
			return (missing);                                                          \
		ENTER(s);                                                                          \
		int ret_ = 0;                                                                      \
		if (!before_call((s), &ret_)) {                                                    \
			LEAVE();                                                                   \
			return (fail_value);                                                       \
		}                                                                                  \
		__typeof__(ssl.fn(__VA_ARGS__)) r_ = ssl.fn(__VA_ARGS__);                          \
		LEAVE();                                                                           \
		return r_;                                                                         \
	} while (0)

#define FLUSH_THEN_VOID(s, fn, ...)                                                                \
	do {                                                                                       \
		resolve();                                                                         \
		PRIVATE_PASS_VOID(fn, __VA_ARGS__);                                                \
		if (!ssl.fn)                                                                       \
			return;                                                                    \
		ENTER(s);                                                                          \
		int ret_;                                                                          \
		before_call((s), &ret_);                                                           \
		ssl.fn(__VA_ARGS__);                                                               \
		LEAVE();                                                                           \
	} while (0)

SOCKTUNE_HOOK int SSL_read(SSL *s, void *buf, int num)
{
	FLUSH_THEN(s, -1, ret_, read, s, buf, num);
}

SOCKTUNE_HOOK int SSL_read_ex(SSL *s, void *buf, size_t num, size_t *readbytes)
{
	FLUSH_THEN(s, (*readbytes = 0, 0), (*readbytes = 0, 0), read_ex, s, buf, num, readbytes);
}

SOCKTUNE_HOOK int SSL_peek(SSL *s, void *buf, int num)
{
	FLUSH_THEN(s, -1, ret_, peek, s, buf, num);
}

SOCKTUNE_HOOK int SSL_peek_ex(SSL *s, void *buf, size_t num, size_t *readbytes)
{
	FLUSH_THEN(s, (*readbytes = 0, 0), (*readbytes = 0, 0), peek_ex, s, buf, num, readbytes);
}

SOCKTUNE_HOOK int SSL_shutdown(SSL *s)
{
	resolve();
	PRIVATE_PASS(shutdown, -1, s);
	if (!ssl.shutdown)
		return -1;
	ENTER(s);
	int ret;
	if (!before_call(s, &ret)) {
		/* Without socktune this very call would have met the failure
		 * while sending close_notify, and would still have marked the
		 * shutdown as sent.  Mark it without a second write: that one
		 * would meet EPIPE, and SIGPIPE, where the first did not. */
		if (ret <= 0 && ssl.get_error(s, ret) != SSL_ERROR_WANT_WRITE &&
		    ssl.get_error(s, ret) != SSL_ERROR_WANT_READ && ssl.get_shutdown &&
		    ssl.set_shutdown)
			ssl.set_shutdown(s, ssl.get_shutdown(s) | SSL_SENT_SHUTDOWN);
		LEAVE();
		return ret < 0 ? ret : -1;
	}
	int r = ssl.shutdown(s);
	LEAVE();
	return r;
}

SOCKTUNE_HOOK int SSL_do_handshake(SSL *s)
{
	FLUSH_THEN(s, -1, ret_, do_handshake, s);
}

SOCKTUNE_HOOK int SSL_renegotiate(SSL *s)
{
	FLUSH_THEN(s, 0, 0, renegotiate, s);
}

SOCKTUNE_HOOK int SSL_renegotiate_abbreviated(SSL *s)
{
	FLUSH_THEN(s, 0, 0, renegotiate_abbreviated, s);
}

SOCKTUNE_HOOK int SSL_key_update(SSL *s, int type)
{
	FLUSH_THEN(s, 0, 0, key_update, s, type);
}

SOCKTUNE_HOOK ossl_ssize_t SSL_sendfile(SSL *s, int fd, off_t off, size_t size, int flags)
{
	FLUSH_THEN(s, -1, -1, sendfile, s, fd, off, size, flags);
}

SOCKTUNE_HOOK int SSL_clear(SSL *s)
{
	FLUSH_THEN(s, 0, 0, clear, s);
}

SOCKTUNE_HOOK int SSL_set_fd(SSL *s, int fd)
{
	FLUSH_THEN(s, 0, 0, set_fd, s, fd);
}

SOCKTUNE_HOOK int SSL_set_rfd(SSL *s, int fd)
{
	FLUSH_THEN(s, 0, 0, set_rfd, s, fd);
}

SOCKTUNE_HOOK int SSL_set_wfd(SSL *s, int fd)
{
	FLUSH_THEN(s, 0, 0, set_wfd, s, fd);
}

SOCKTUNE_HOOK void SSL_set_bio(SSL *s, BIO *rbio, BIO *wbio)
{
	FLUSH_THEN_VOID(s, set_bio, s, rbio, wbio);
}

SOCKTUNE_HOOK void SSL_set0_rbio(SSL *s, BIO *rbio)
{
	FLUSH_THEN_VOID(s, set0_rbio, s, rbio);
}

SOCKTUNE_HOOK void SSL_set0_wbio(SSL *s, BIO *wbio)
{
	FLUSH_THEN_VOID(s, set0_wbio, s, wbio);
}

/* nginx marks a connection shut down this way before freeing it on errors
 * and timeouts: what is held must go before the mark, which would fail it. */
SOCKTUNE_HOOK void SSL_set_shutdown(SSL *s, int mode)
{
	FLUSH_THEN_VOID(s, set_shutdown, s, mode);
}

/* A BIO_f_ssl writes to its SSL through OpenSSL's internal write, which no
 * hook sees: once the program makes one, what is held goes out and nothing
 * is held again in this process. */
static void flush_matching(int fd, int why, int wait);

static void saw_bio_ssl(void)
{
	static int sent;
	if (__atomic_exchange_n(&bio_ssl_seen, 1, __ATOMIC_SEQ_CST)) {
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

SOCKTUNE_HOOK const BIO_METHOD *BIO_f_ssl(void)
{
	resolve();
	PRIVATE_PASS(f_ssl, NULL, );
	saw_bio_ssl();
	return ssl.f_ssl ? ssl.f_ssl() : NULL;
}

SOCKTUNE_HOOK BIO *BIO_new_ssl(SSL_CTX *ctx, int client)
{
	resolve();
	PRIVATE_PASS(new_ssl, NULL, ctx, client);
	saw_bio_ssl();
	return ssl.new_ssl ? ssl.new_ssl(ctx, client) : NULL;
}

SOCKTUNE_HOOK BIO *BIO_new_ssl_connect(SSL_CTX *ctx)
{
	resolve();
	PRIVATE_PASS(new_ssl_connect, NULL, ctx);
	saw_bio_ssl();
	return ssl.new_ssl_connect ? ssl.new_ssl_connect(ctx) : NULL;
}

SOCKTUNE_HOOK BIO *BIO_new_buffer_ssl_connect(SSL_CTX *ctx)
{
	resolve();
	PRIVATE_PASS(new_buffer_ssl_connect, NULL, ctx);
	saw_bio_ssl();
	return ssl.new_buffer_ssl_connect ? ssl.new_buffer_ssl_connect(ctx) : NULL;
}

SOCKTUNE_HOOK void SSL_free(SSL *s)
{
	resolve();
	PRIVATE_PASS_VOID(free, s);
	if (!ssl.free)
		return;
	ENTER(s);
	struct hold *h = s ? find(s) : NULL;
	if (h) {
		lock(h);
		/* What is held goes out; a failure has nobody left to be told, and
		 * a connection already known dead is not written to again. */
		if (hssl(h) == s) {
			int ret, saved = errno;
			if (SENDABLE(h) && ssl.err_set_mark && ssl.err_pop_to_mark) {
				ssl.err_set_mark();
				flush_locked(h, FLUSH_CALL, 0, &ret);
				ssl.err_pop_to_mark();
			}
			release(h);
			errno = saved;
		}
		unlock(h);
	}
	ssl.free(s);
	LEAVE();
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
	/* Another thread may have had it at the fork: it never unlocks here. */
	static const pthread_mutex_t unlocked = PTHREAD_MUTEX_INITIALIZER;
	callers_lock = unlocked;
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
