# socktune: an LD_PRELOAD shim that tunes socket options.
# Plain make; `make help` lists the targets.

VERSION    := 0.1.0
SOVERSION  := 1

PREFIX     ?= /usr/local
BINDIR     ?= $(PREFIX)/bin
LIBDIR     ?= $(PREFIX)/lib
MANDIR     ?= $(PREFIX)/share/man
ifeq ($(PREFIX),/usr)
SYSCONFDIR ?= /etc
else
SYSCONFDIR ?= $(PREFIX)/etc
endif
DESTDIR    ?=

CC         ?= cc
PKG_CONFIG ?= pkg-config
CFLAGS     ?= -O2 -g
WARN       := -Wall -Wextra -Wshadow -Wconversion
# -Werror only in the developer/CI mode: packagers build with other compilers.
ifeq ($(DEVELOPER),1)
WARN       += -Werror
endif

B          := build
CONFIG_CFLAGS := $(shell $(PKG_CONFIG) --cflags libconfig 2>/dev/null)
CONFIG_LIBS   := $(shell $(PKG_CONFIG) --libs libconfig 2>/dev/null || echo -lconfig)
# Only the TLS test programs and benchmarks link OpenSSL; the library never does.
SSL_LIBS      := $(shell $(PKG_CONFIG) --libs openssl 2>/dev/null || echo -lssl -lcrypto)

ALL_CPPFLAGS := -D_GNU_SOURCE -Ishim -Iconfig $(CPPFLAGS) \
	-DSOCKTUNE_VERSION='"$(VERSION)"' \
	-DSOCKTUNE_SYSCONFDIR='"$(SYSCONFDIR)"' \
	-DSOCKTUNE_LIBDIR='"$(LIBDIR)"'
ALL_CFLAGS   := -std=c11 $(WARN) $(CFLAGS) $(CONFIG_CFLAGS)

# Pure modules: no hooks, so unit tests and the command link them directly.
PURE_SRC := config/config.c config/size.c config/rule.c shim/platform.c shim/iov.c
LIB_SRC  := $(PURE_SRC) shim/real.c shim/init.c shim/log.c shim/fdtable.c \
	shim/sockopt.c shim/stats.c shim/connect.c shim/fdops.c shim/write.c shim/ssl.c \
	shim/wait.c shim/cork.c
CLI_PURE := shim/cli/sample.c shim/cli/figures.c shim/cli/report.c
CLI_SRC  := $(PURE_SRC) $(CLI_PURE) shim/cli/main.c shim/cli/run.c shim/cli/check.c \
	shim/cli/ab.c shim/cli/experiment.c

LIB_OBJ  := $(LIB_SRC:%.c=$(B)/lib/%.o)
CLI_OBJ  := $(CLI_SRC:%.c=$(B)/cli/%.o)
UNIT_SRC := $(wildcard tests/unit/*.c)
INT_SRC  := $(wildcard tests/integration/*.c)
TARGETS  := $(patsubst tests/targets/%.c,$(B)/targets/%,$(wildcard tests/targets/*.c))
BENCHES  := $(patsubst bench/%.c,$(B)/bench/%,$(wildcard bench/*.c))

LIBNAME  := libsocktune.so.$(SOVERSION)

# PREFIX, LIBDIR and SYSCONFDIR are compiled in: when they or the flags
# change, everything is rebuilt, so `make install PREFIX=/usr` after a plain
# `make` does not install binaries that look in /usr/local.
FLAGS_NOW := $(ALL_CPPFLAGS) $(ALL_CFLAGS) $(LDFLAGS)
ifneq ($(FLAGS_NOW),$(file <$(B)/.flags))
$(shell mkdir -p $(B))
$(file >$(B)/.flags,$(FLAGS_NOW))
endif

.PHONY: all deps check check-unit check-integration check-sanitize lint demo bench bench-quick bench-deps \
	install uninstall clean help

all: $(B)/$(LIBNAME) $(B)/libsocktune.so $(B)/socktune

help:
	@echo "make                build $(B)/$(LIBNAME) and $(B)/socktune"
	@echo "make check          install missing build dependencies, build, run every test"
	@echo "make demo           install missing build dependencies, build, run the bundled workload"
	@echo "make bench          run the benchmarks (about 6 minutes), write $(B)/bench/report.md and its plots"
	@echo "make bench-quick    the same, small and fast: checks the suite runs, its figures mean little"
	@echo "make bench-deps     install what only the benchmarks use (qemu-utils, libnbd-bin, gnuplot)"
	@echo "make install        install under DESTDIR/PREFIX (LIBDIR, MANDIR, SYSCONFDIR, BINDIR)"
	@echo "make uninstall      remove what install put there"
	@echo "make lint           lint the man pages"
	@echo "make check-sanitize the integration tests against an ASan/UBSan build"

$(B)/lib/%.o: %.c $(B)/.flags
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CPPFLAGS) $(ALL_CFLAGS) -fPIC -fvisibility=hidden -MMD -MP -c $< -o $@

$(B)/cli/%.o: %.c $(B)/.flags
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CPPFLAGS) $(ALL_CFLAGS) -MMD -MP -c $< -o $@

$(B)/$(LIBNAME): $(LIB_OBJ) shim/socktune.map
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -shared -fPIC -Wl,-soname,$(LIBNAME) \
		-Wl,--version-script=shim/socktune.map -Wl,-z,defs \
		-o $@.tmp $(LIB_OBJ) $(CONFIG_LIBS) -ldl -lpthread
	@# Renamed into place: a program running with it preloaded keeps the old one.
	mv -f $@.tmp $@

$(B)/libsocktune.so: $(B)/$(LIBNAME)
	ln -sf $(LIBNAME) $@

$(B)/socktune: $(CLI_OBJ)
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $(CLI_OBJ) $(CONFIG_LIBS) -lm

$(B)/targets/%: tests/targets/%.c $(wildcard tests/targets/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CPPFLAGS) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $< -lpthread

$(B)/targets/tls%: tests/targets/tls%.c $(wildcard tests/targets/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CPPFLAGS) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $< $(SSL_LIBS) -lpthread

$(B)/bench/tls%: bench/tls%.c $(wildcard bench/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CPPFLAGS) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $< $(SSL_LIBS) -lpthread

$(B)/bench/%: bench/%.c $(wildcard bench/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CPPFLAGS) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $< -lpthread

$(B)/test-unit: $(UNIT_SRC) $(PURE_SRC) $(CLI_PURE) $(wildcard config/*.h shim/*.h shim/cli/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CPPFLAGS) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $(UNIT_SRC) $(PURE_SRC) $(CLI_PURE) \
		$(CONFIG_LIBS) -lcriterion -lm

$(B)/test-integration: $(INT_SRC) $(wildcard tests/integration/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CPPFLAGS) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $(INT_SRC) -lcriterion -lutil

deps:
	@sh .ci/deps

TEST_ENV := SOCKTUNE_TESTLIB=$(abspath $(B)/$(LIBNAME)) \
	SOCKTUNE_TARGETS=$(abspath $(B)/targets) SOCKTUNE_BIN=$(abspath $(B)/socktune)

check: deps
	$(MAKE) all $(B)/test-unit $(B)/test-integration $(TARGETS)
	$(MAKE) lint
	$(MAKE) check-unit
	$(MAKE) check-integration

check-unit: $(B)/test-unit
	$(B)/test-unit

check-integration: all $(B)/test-integration $(TARGETS)
	$(TEST_ENV) $(B)/test-integration

# The integration tests against an ASan/UBSan build of the library, with both
# runtimes preloaded ahead of it in each program under test.
SAN_B     := $(B)/sanitize
SAN_FLAGS := -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer
check-sanitize: $(B)/test-integration $(TARGETS)
	$(MAKE) B=$(SAN_B) CFLAGS="$(SAN_FLAGS)" LDFLAGS="-fsanitize=address,undefined" \
		$(SAN_B)/$(LIBNAME)
	SOCKTUNE_TESTPRELOAD_FIRST="$$($(CC) -print-file-name=libasan.so):$$($(CC) -print-file-name=libubsan.so)" \
	ASAN_OPTIONS=detect_leaks=0:exitcode=86 \
	UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1:exitcode=87 \
	SOCKTUNE_TESTLIB=$(abspath $(SAN_B)/$(LIBNAME)) SOCKTUNE_TARGETS=$(abspath $(B)/targets) \
	SOCKTUNE_BIN=$(abspath $(B)/socktune) $(B)/test-integration

lint:
	@if command -v mandoc >/dev/null 2>&1; then \
		out=$$(mandoc -T lint -W warning man/*.[0-9] 2>&1); \
		if [ -n "$$out" ]; then echo "$$out"; exit 1; fi; \
		echo "man pages: mandoc lint clean"; \
	else echo "mandoc not installed: man page lint skipped"; fi

demo: deps
	$(MAKE) all $(B)/bench/unixbulk
	sh bench/demo $(B)

bench: all $(BENCHES)
	bash bench/run $(B)

bench-quick: all $(BENCHES)
	bash bench/run $(B) --quick

bench-deps:
	@sh bench/deps

install: all
	install -d $(DESTDIR)$(LIBDIR) $(DESTDIR)$(BINDIR) $(DESTDIR)$(SYSCONFDIR) \
		$(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man5 $(DESTDIR)$(MANDIR)/man7
	install -m 0644 $(B)/$(LIBNAME) $(DESTDIR)$(LIBDIR)/$(LIBNAME)
	ln -sf $(LIBNAME) $(DESTDIR)$(LIBDIR)/libsocktune.so
	install -m 0755 $(B)/socktune $(DESTDIR)$(BINDIR)/socktune
	test -e $(DESTDIR)$(SYSCONFDIR)/socktune.conf || \
		install -m 0644 config/socktune.conf $(DESTDIR)$(SYSCONFDIR)/socktune.conf
	install -m 0644 man/socktune.1 $(DESTDIR)$(MANDIR)/man1/socktune.1
	install -m 0644 man/socktune.conf.5 $(DESTDIR)$(MANDIR)/man5/socktune.conf.5
	install -m 0644 man/socktune.7 $(DESTDIR)$(MANDIR)/man7/socktune.7

# The configuration is left in place when it differs from the shipped example:
# it is the user's now.
uninstall:
	rm -f $(DESTDIR)$(LIBDIR)/$(LIBNAME) $(DESTDIR)$(LIBDIR)/libsocktune.so \
		$(DESTDIR)$(BINDIR)/socktune $(DESTDIR)$(MANDIR)/man1/socktune.1 \
		$(DESTDIR)$(MANDIR)/man5/socktune.conf.5 $(DESTDIR)$(MANDIR)/man7/socktune.7
	if cmp -s config/socktune.conf $(DESTDIR)$(SYSCONFDIR)/socktune.conf; then \
		rm -f $(DESTDIR)$(SYSCONFDIR)/socktune.conf; fi

clean:
	rm -rf $(B)

-include $(LIB_OBJ:.o=.d) $(CLI_OBJ:.o=.d)
