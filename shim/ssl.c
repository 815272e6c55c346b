/* The SSL hooks.  Each finds which libssl its caller uses, and passes a
 * caller with a private copy straight to it; on the global one, a small
 * SSL_write on a tuned socket may be held (tlshold.c keeps the holds), and
 * every other call on that SSL sends what it holds first.
 *
 * A write is held only when nothing can stop the later flush: the handshake
 * is done, no renegotiation or key update is pending, no earlier write of
 * this SSL is waiting to be retried, the write side is a socket (memory BIOs
 * would never be drained), and the socket's free send space covers all that
 * is held, so the flush cannot meet WANT_WRITE.  At most one record's worth
 * (16384 bytes) is held per SSL.  This file says so (tls_holdable,
 * tls_batch_room).
 *
 * libssl is never linked: its functions are found on first use, through
 * dlsym(RTLD_NEXT) or, when libssl came in through a local dlopen (Python's
 * _ssl), through dlopen(RTLD_NOLOAD). */
#include "tlshold.h"

#include "fdtable.h"
#include "hold.h"
#include "log.h"
#include "state.h"
#include "stats.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <link.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

struct sslfns libssl;

/* Whether every function that holding relies on was found. */
static int can_hold;

/* The SSL ex_data slot for the retry mark (retrying()). */
static int retry_index = -1;

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
static void callers_fork_child(void);

static void resolve_all(void)
{
	find_own_range();
	pthread_atfork(NULL, NULL, callers_fork_child);
	fill(&libssl, NULL);
	if (libssl.get_ex_new_index)
		retry_index = libssl.get_ex_new_index(CRYPTO_EX_INDEX_SSL, 0, NULL, NULL, NULL, NULL);
	int lone = tls_hold_init();
	can_hold = retry_index >= 0 && lone && libssl.get_ex_data && libssl.set_ex_data && libssl.write && libssl.write_ex && libssl.get_wfd && libssl.is_init_finished &&
		   libssl.get_shutdown && libssl.set_shutdown &&
		   libssl.renegotiate_pending && libssl.get_key_update_type && libssl.get_error &&
		   libssl.err_get_error_all && libssl.err_new && libssl.err_set_debug && libssl.err_set_error;
	if (!can_hold && libssl.write)
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

/* Another thread may have had it at the fork: it never unlocks here. */
static void callers_fork_child(void)
{
	static const pthread_mutex_t unlocked = PTHREAD_MUTEX_INITIALIZER;
	callers_lock = unlocked;
}

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
	const struct sslfns *fns = &libssl;
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
	if (write && write != (void *)libssl.write && nprivates < PRIVATE_MAX) {
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
	} else if (write && write != (void *)libssl.write) {
		fns = NULL; /* no room to keep another copy: answered per call */
	}
	if (fns && f.hit && ncallers < CALLERS_MAX) {
		callers[ncallers] = (struct caller){f.lo, f.hi, fns};
		__atomic_store_n(&ncallers, ncallers + 1, __ATOMIC_RELEASE);
	}
	pthread_mutex_unlock(&callers_lock);
	errno = saved;
	return fns ? fns : &libssl;
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
		return passing ? passing : &libssl;
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
		if (unlikely(f_ != &libssl)) {                                                        \
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
		if (unlikely(f_ != &libssl)) {                                                        \
			const struct sslfns *was_ = passing;                                       \
			passing = f_;                                                              \
			if (f_->fn)                                                                \
				f_->fn(__VA_ARGS__);                                               \
			passing = was_;                                                            \
			return;                                                                    \
		}                                                                                  \
	} while (0)

/* Whether s has a write that met WANT_*: OpenSSL expects the same write
 * again, so nothing of s may be held until it has gone through.  Kept in
 * the SSL's own ex_data, so there is no table to fill up. */
static int retrying(SSL *s)
{
	return libssl.get_ex_data(s, retry_index) != NULL;
}

/* After a write that passed through: note a WANT_*, forget it once the
 * write is done or dead. */
static void note_result(SSL *s, int r)
{
	int want = 0;
	if (r <= 0) {
		int e = libssl.get_error(s, r);
		want = e != SSL_ERROR_NONE && e != SSL_ERROR_SSL && e != SSL_ERROR_SYSCALL &&
		       e != SSL_ERROR_ZERO_RETURN;
	}
	if (want == retrying(s))
		return;
	/* If OpenSSL cannot store the mark, holding stops for good: a held
	 * retry would send its bytes twice. */
	if (!libssl.set_ex_data(s, retry_index, want ? &retry_index : NULL))
		can_hold = 0;
}

size_t tls_holdable(SSL *s, size_t num, int *fd)
{
	if (!can_hold || num == 0 || socktune_mode != ST_MODE_ON || !hold_ready())
		return 0;
	*fd = libssl.get_wfd(s);
	const struct fd_state *e = fd_state_get(*fd);
	if (!e || !e->tls_merge || num > e->tls_merge)
		return 0;
	/* After SSL_shutdown (or SSL_set_shutdown) a write fails at once. */
	if (!libssl.is_init_finished(s) || libssl.renegotiate_pending(s) ||
	    libssl.get_key_update_type(s) != SSL_KEY_UPDATE_NONE || retrying(s) ||
	    (libssl.get_shutdown(s) & SSL_SENT_SHUTDOWN) || __atomic_load_n(&socktune_tls_over, __ATOMIC_RELAXED))
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
size_t tls_batch_room(int fd, struct fd_state *e)
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

SOCKTUNE_HOOK int SSL_write(SSL *s, const void *buf, int num)
{
	resolve();
	PRIVATE_PASS(write, -1, s, buf, num);
	if (!libssl.write)
		return -1;
	int mode = st_mode();
	if (mode != ST_MODE_ON) {
		int r = libssl.write(s, buf, num);
		if (mode != ST_MODE_OFF && r > 0)
			tls_count_records((size_t)r);
		return r;
	}
	tls_enter(s);
	int ret = num;
	/* Nothing to hold, but OpenSSL may write what it has pending: what
	 * is held goes first, and the bound's thread is kept off s. */
	if (num <= 0) {
		if (tls_before_call(s, &ret))
			ret = libssl.write(s, buf, num);
		tls_leave();
		return ret;
	}
	int held = tls_write_hold(s, buf, (size_t)num, &ret);
	if (held == 0) {
		ret = libssl.write(s, buf, num);
		note_result(s, ret);
		if (ret > 0)
			tls_count_records((size_t)ret);
	}
	tls_leave();
	return ret;
}

SOCKTUNE_HOOK int SSL_write_ex(SSL *s, const void *buf, size_t num, size_t *written)
{
	resolve();
	PRIVATE_PASS(write_ex, 0, s, buf, num, written);
	if (!libssl.write_ex)
		return 0;
	int mode = st_mode();
	/* A write of any other size, larger than INT_MAX too, goes after what
	 * is held (write_hold sends that first). */
	if (mode != ST_MODE_ON) {
		int r = libssl.write_ex(s, buf, num, written);
		if (mode != ST_MODE_OFF && r > 0)
			tls_count_records(*written);
		return r;
	}
	tls_enter(s);
	int ret = 1;
	if (num == 0) {
		if (tls_before_call(s, &ret)) {
			ret = libssl.write_ex(s, buf, num, written);
		} else {
			*written = 0;
			ret = 0;
		}
		tls_leave();
		return ret;
	}
	int held = tls_write_hold(s, buf, num, &ret);
	if (held == 1) {
		*written = num;
	} else if (held < 0) {
		*written = 0;
		ret = 0;
	} else {
		ret = libssl.write_ex(s, buf, num, written);
		note_result(s, ret);
		if (ret > 0)
			tls_count_records(*written);
	}
	tls_leave();
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
		if (!libssl.fn)                                                                       \
			return (missing);                                                          \
		tls_enter(s);                                                                          \
		int ret_ = 0;                                                                      \
		if (!tls_before_call((s), &ret_)) {                                                    \
			tls_leave();                                                                   \
			return (fail_value);                                                       \
		}                                                                                  \
		__typeof__(libssl.fn(__VA_ARGS__)) r_ = libssl.fn(__VA_ARGS__);                          \
		tls_leave();                                                                           \
		return r_;                                                                         \
	} while (0)

#define FLUSH_THEN_VOID(s, fn, ...)                                                                \
	do {                                                                                       \
		resolve();                                                                         \
		PRIVATE_PASS_VOID(fn, __VA_ARGS__);                                                \
		if (!libssl.fn)                                                                       \
			return;                                                                    \
		tls_enter(s);                                                                          \
		int ret_;                                                                          \
		tls_before_call((s), &ret_);                                                           \
		libssl.fn(__VA_ARGS__);                                                               \
		tls_leave();                                                                           \
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
	if (!libssl.shutdown)
		return -1;
	tls_enter(s);
	int ret;
	if (!tls_before_call(s, &ret)) {
		/* Without socktune this very call would have met the failure
		 * while sending close_notify, and would still have marked the
		 * shutdown as sent.  Mark it without a second write: that one
		 * would meet EPIPE, and SIGPIPE, where the first did not. */
		if (ret <= 0 && libssl.get_error(s, ret) != SSL_ERROR_WANT_WRITE &&
		    libssl.get_error(s, ret) != SSL_ERROR_WANT_READ && libssl.get_shutdown &&
		    libssl.set_shutdown)
			libssl.set_shutdown(s, libssl.get_shutdown(s) | SSL_SENT_SHUTDOWN);
		tls_leave();
		return ret < 0 ? ret : -1;
	}
	int r = libssl.shutdown(s);
	tls_leave();
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

SOCKTUNE_HOOK const BIO_METHOD *BIO_f_ssl(void)
{
	resolve();
	PRIVATE_PASS(f_ssl, NULL, );
	tls_holding_ends();
	return libssl.f_ssl ? libssl.f_ssl() : NULL;
}

SOCKTUNE_HOOK BIO *BIO_new_ssl(SSL_CTX *ctx, int client)
{
	resolve();
	PRIVATE_PASS(new_ssl, NULL, ctx, client);
	tls_holding_ends();
	return libssl.new_ssl ? libssl.new_ssl(ctx, client) : NULL;
}

SOCKTUNE_HOOK BIO *BIO_new_ssl_connect(SSL_CTX *ctx)
{
	resolve();
	PRIVATE_PASS(new_ssl_connect, NULL, ctx);
	tls_holding_ends();
	return libssl.new_ssl_connect ? libssl.new_ssl_connect(ctx) : NULL;
}

SOCKTUNE_HOOK BIO *BIO_new_buffer_ssl_connect(SSL_CTX *ctx)
{
	resolve();
	PRIVATE_PASS(new_buffer_ssl_connect, NULL, ctx);
	tls_holding_ends();
	return libssl.new_buffer_ssl_connect ? libssl.new_buffer_ssl_connect(ctx) : NULL;
}

SOCKTUNE_HOOK void SSL_free(SSL *s)
{
	resolve();
	PRIVATE_PASS_VOID(free, s);
	if (!libssl.free)
		return;
	tls_enter(s);
	tls_free_hold(s);
	libssl.free(s);
	tls_leave();
}
