# The threaded integration tests against a ThreadSanitizer build of the
# library, in $(B)/tsan:
#   make check-tsan                         the tests in TSAN_TESTS
#   make check-tsan TSAN_TESTS='threads/*'  others (Criterion --filter, extglob)
#
# Each program under test gets LD_PRELOAD=first.so:libtsan.so:the library
# (SOCKTUNE_TESTPRELOAD_FIRST). first.so, built here from TSAN_FIRST_SRC,
# does two things that need code in the process:
#  - it names the options (__tsan_default_options): tests/integration/run.c
#    passes ASAN_OPTIONS and UBSAN_OPTIONS to the child, not TSAN_OPTIONS,
#    and a definition must come before libtsan's own default to win;
#  - it warms TSan's symbolizer up in its constructor. The symbolizer
#    (libbacktrace, in GCC's libtsan) closes the files it reads with close(),
#    which reaches the library's instrumented close hook; if that hook's
#    access is itself a race, TSan reports it while still holding the lock
#    of the first report, and the program hangs. Warmed up while the process
#    has one thread, the symbolizer has nothing left to open later.
# The test programs are built with -fsanitize=thread too, into
# $(B)/tsan/targets: their threads hand work to each other through atomics
# and flags TSan sees only in instrumented code, and the library's accesses
# ordered by them would otherwise be reported; and a race between a program
# thread and the library on the program's memory (a buffer the library keeps
# too long) is seen only when both sides are instrumented. libssl, libc and
# the peers (openssl, python3) stay uninstrumented.
#
# A report makes the program exit 66 (the test then fails, showing the
# report); tests/tsan/suppressions says which reports are left out and why.

TSAN_B      := $(B)/tsan
TSAN_FLAGS  := -O1 -g -fsanitize=thread
TSAN_RT     = $(shell $(CC) -print-file-name=libtsan.so)
TSAN_SUPP   := $(abspath tests/tsan/suppressions)
# halt_on_error=0: every report of a run, not only the first.
# second_deadlock_stack=1: both stacks of a lock-order inversion.
# Not ignore_noninstrumented_modules=1: every hook is entered from an
# uninstrumented caller (the program, libssl, libtsan's own interceptor),
# so it would hide the library's accesses as well.
# die_after_fork=0: a fork child that holds starts the hold bound's thread,
# which TSan refuses by default after a multi-threaded fork.
TSAN_OPTS   := exitcode=66:halt_on_error=0:report_signal_unsafe=1:second_deadlock_stack=1:die_after_fork=0:suppressions=$(TSAN_SUPP)

# The tests whose programs run more than one thread, or fork with threads
# running (the hold bound's thread against a writer, too), and the fd reuse
# the stale tests make. Not the strace tests of
# merge: they count system calls, and the TSan runtime makes its own. Not
# the two whose wait is pthread_cond_wait: TSan's interceptor calls glibc's
# versioned pthread_cond_wait itself, past the library's hook.
TSAN_TESTS  ?= @(@(threads|fork|stale|tls_wait_fork)/*|tls_wait_threads/!(handoff_cond_wait)|tls_bytes/bound_races_*|tls_wait/@(control_spin_sends_at_the_bound|default_bound_*|mutex*)|tls_edge/@(write_x_then_*|fork_sends_every_threads_holds)|cork_rr/*thread*|cork_wait/sem|merge/!(strace_*))

define TSAN_FIRST_SRC
/* Preloaded ahead of libtsan by make check-tsan (tests/tsan/tsan.mk). */
#include <stddef.h>
#include <unistd.h>
const char *__tsan_default_options(void);
int __sanitizer_symbolize_pc(void *pc, const char *fmt, char *out, size_t len);
const char *__tsan_default_options(void) { return "$(TSAN_OPTS)"; }
__attribute__((constructor)) static void tsan_first_warm_up(void)
{
	char buf[256];
	/* The library binds its real calls now, not inside the symbolizer. */
	close(-1);
	__sanitizer_symbolize_pc((void *)tsan_first_warm_up, "%F", buf, sizeof buf);
}
endef

.PHONY: check-tsan

$(TSAN_B)/first.c: tests/tsan/tsan.mk
	$(shell mkdir -p $(dir $@))$(file >$@,$(TSAN_FIRST_SRC))

# Linked against libtsan, which then comes first among its own needs.
$(TSAN_B)/first.so: $(TSAN_B)/first.c
	$(CC) -O1 -shared -fPIC -o $@ $< -Wl,--no-as-needed $(TSAN_RT)

check-tsan: all $(B)/test-integration $(TSAN_B)/first.so
	$(MAKE) B=$(TSAN_B) CFLAGS="$(TSAN_FLAGS)" LDFLAGS="-fsanitize=thread" \
		$(TSAN_B)/$(LIBNAME) \
		$(patsubst $(B)/%,$(TSAN_B)/%,$(TARGETS) $(PRIVSSL))
	SOCKTUNE_TESTPRELOAD_FIRST="$(abspath $(TSAN_B)/first.so):$(TSAN_RT)" \
	SOCKTUNE_TESTLIB=$(abspath $(TSAN_B)/$(LIBNAME)) \
	SOCKTUNE_TARGETS=$(abspath $(TSAN_B)/targets) \
	SOCKTUNE_BIN=$(abspath $(B)/socktune) \
		$(B)/test-integration --jobs 2 --filter '$(TSAN_TESTS)'
