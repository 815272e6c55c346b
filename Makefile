# socktune: an LD_PRELOAD shim that tunes socket options.
# Plain make; `make help` lists the targets.

# The version, in this one place: the library, the command, the man pages as
# installed and the RPM spec in `make dist` get it from here, and `make lint`
# fails when debian/changelog says otherwise.
VERSION    := 0.1.0
SOVERSION  := 1
# The library's name and how it is linked, by system. Linux is what is
# tested; FreeBSD (GNU make, gmake) links the same way without -ldl; macOS
# takes a .dylib that DYLD_INSERT_LIBRARIES loads, its hooks interposed by
# a table (shim/hook.h) rather than by name, so no version script.
UNAME_S    := $(shell uname -s)
ifeq ($(UNAME_S),Darwin)
LIBNAME    := libsocktune.$(SOVERSION).dylib
DEVNAME    := libsocktune.dylib
else
LIBNAME    := libsocktune.so.$(SOVERSION)
DEVNAME    := libsocktune.so
endif

PREFIX     ?= /usr/local
BINDIR     ?= $(PREFIX)/bin
LIBDIR     ?= $(PREFIX)/lib
MANDIR     ?= $(PREFIX)/share/man
# The profiles go in DATADIR/socktune/profiles.
DATADIR    ?= $(PREFIX)/share
ifeq ($(PREFIX),/usr)
SYSCONFDIR ?= /etc
else
SYSCONFDIR ?= $(PREFIX)/etc
endif
DESTDIR    ?=

# What the command puts in LD_PRELOAD. Where LIBDIR is PREFIX/lib/MULTIARCH,
# the loader expands $LIB to lib/MULTIARCH for each program's own ELF class
# (Debian, Ubuntu), so a 64-bit program that execs a 32-bit one hands it the
# 32-bit copy instead of a "wrong ELF class" error. Elsewhere, the plain path.
MULTIARCH  ?= $(shell $(CC) -print-multiarch 2>/dev/null)
ifneq ($(MULTIARCH),)
ifeq ($(LIBDIR),$(PREFIX)/lib/$(MULTIARCH))
PRELOAD    ?= $(PREFIX)/$$LIB/$(LIBNAME)
endif
endif
PRELOAD    ?= $(LIBDIR)/$(LIBNAME)

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

ALL_CPPFLAGS := -D_GNU_SOURCE -Ishim -Iconfig -I$(B) $(CPPFLAGS) \
	-DSOCKTUNE_VERSION='"$(VERSION)"' \
	-DSOCKTUNE_LIBNAME='"$(LIBNAME)"' \
	-DSOCKTUNE_SYSCONFDIR='"$(SYSCONFDIR)"' \
	-DSOCKTUNE_PROFILEDIR='"$(DATADIR)/socktune/profiles"' \
	-DSOCKTUNE_LIBDIR='"$(LIBDIR)"' \
	-DSOCKTUNE_PRELOAD='"$(PRELOAD)"'
ALL_CFLAGS   := -std=c11 $(WARN) $(CFLAGS) $(CONFIG_CFLAGS)

# Pure modules: no hooks, so unit tests and the command link them directly.
PURE_SRC := config/config.c config/profile.c config/size.c config/rule.c shim/platform.c shim/iov.c shim/counters.c
# Pure but for what they ask the kernel or libssl, which the library
# answers (shim/fdkernel.c, shim/ssl.c) and the unit tests fake: unit tests
# link them too.
SEAM_SRC := shim/fdtable.c shim/tlshold.c
LIB_SRC  := $(PURE_SRC) shim/bound.c shim/hold.c shim/real.c shim/state.c shim/init.c shim/log.c $(SEAM_SRC) shim/fdkernel.c \
	shim/sockopt.c shim/stats.c shim/live.c shim/connect.c shim/fdops.c shim/write.c shim/ssl.c \
	shim/wait.c shim/cork.c
CLI_PURE := shim/cli/sample.c shim/cli/figures.c shim/cli/report.c
CLI_SRC  := $(PURE_SRC) $(CLI_PURE) shim/cli/main.c shim/cli/run.c shim/cli/check.c shim/cli/profile.c \
	shim/cli/ab.c shim/cli/experiment.c shim/cli/reach.c shim/cli/stats.c

LIB_OBJ  := $(LIB_SRC:%.c=$(B)/lib/%.o)
CLI_OBJ  := $(CLI_SRC:%.c=$(B)/cli/%.o)
UNIT_SRC := $(wildcard tests/unit/*.c)
INT_SRC  := $(wildcard tests/integration/*.c)
# A test program is one file, or a directory with its main.c and a fragment
# (tests/targets/NAME.mk) that says how to build it.
TARGETS  := $(patsubst tests/targets/%.c,$(B)/targets/%,$(wildcard tests/targets/*.c)) \
	$(patsubst tests/targets/%/main.c,$(B)/targets/%,$(wildcard tests/targets/*/main.c))
BENCHES  := $(patsubst bench/%.c,$(B)/bench/%,$(wildcard bench/*.c))

# PREFIX, LIBDIR and SYSCONFDIR are compiled in: when they or the flags
# change, everything is rebuilt, so `make install PREFIX=/usr` after a plain
# `make` does not install binaries that look in /usr/local.
FLAGS_NOW := $(ALL_CPPFLAGS) $(ALL_CFLAGS) $(LDFLAGS) $(FEATURES_OFF)
ifneq ($(FLAGS_NOW),$(file <$(B)/.flags))
$(shell mkdir -p $(B))
$(file >$(B)/.flags,$(FLAGS_NOW))
endif

.PHONY: all deps check check-unit check-integration check-installed check-sanitize check-musl check-portable check-paper stage lint demo bench bench-quick bench-deps \
	install uninstall dist clean help

# The profiles are copied beside the command, where a build tree's command
# finds them as it finds the library (shim/cli/profile.c).
PROFILES := $(wildcard profiles/*.conf)
all: $(B)/$(LIBNAME) $(B)/$(DEVNAME) $(B)/socktune $(PROFILES:%=$(B)/%)

$(B)/profiles/%.conf: profiles/%.conf
	@mkdir -p $(dir $@)
	cp $< $@

help:
	@echo "make                build $(B)/$(LIBNAME) and $(B)/socktune"
	@echo "make check          install missing build dependencies, build, run every test"
	@echo "make demo           install missing build dependencies, build, run the bundled workload"
	@echo "make bench          run the benchmarks (8 to 12 minutes), write $(B)/bench/report.md and its plots"
	@echo "make bench-quick    the same, small and fast: checks the suite runs, its figures mean little"
	@echo "make bench-deps     install what only the benchmarks use (qemu-utils, libnbd-bin, gnuplot,"
	@echo "                    QEMU with Spice, spicy-stats, busybox, a guest kernel in build/spice-guest)"
	@echo "make install        install under DESTDIR/PREFIX (LIBDIR, MANDIR, SYSCONFDIR, BINDIR, DATADIR)"
	@echo "make uninstall      remove what install put there"
	@echo "make dist           write $(B)/socktune-$(VERSION).tar.gz, the release tarball (with socktune.spec)"
	@echo "make lint           lint the man pages"
	@echo "make check-sanitize the integration tests against an ASan/UBSan build"
	@echo "make check-musl     the integration tests that can, against a musl build (musl-tools, curl)"
	@echo "make check-portable the integration tests that can, against a build without the optional calls"
	@echo "make check-paper    compile the macOS and FreeBSD branches (on paper only) against these headers"
	@echo "make check-tsan     the threaded integration tests against a ThreadSanitizer build"
	@echo "make check-conformance  2000 random TLS programs without and with socktune, compared"
	@echo "make fuzz-conformance N=20000 SEED=1  as many as N asks, from SEED"
	@echo "make fuzz-config    libFuzzer on the configuration path for FUZZ_TIME s (600); check-fuzz-config: 60 s"

# Which of the calls socktune hooks this libc has; FEATURES_OFF (names, or
# "all") says no without asking, as `make check-portable` does.
$(B)/probed.h: shim/probe.sh shim/hooks.def $(B)/.flags
	ST_FEATURES_OFF="$(FEATURES_OFF)" sh shim/probe.sh $@ "$(CC)" \
		"-D_GNU_SOURCE $(CPPFLAGS)" "$(CFLAGS)" "$(LDFLAGS)"

# What the library exports: every hook of shim/hooks.def.
$(B)/socktune.map: shim/socktune.map.in shim/hooks.def
	@mkdir -p $(dir $@)
	$(CC) -E -P -x c -Ishim $< -o $@

$(B)/lib/%.o: %.c $(B)/.flags $(B)/probed.h
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CPPFLAGS) $(ALL_CFLAGS) -fPIC -fvisibility=hidden -MMD -MP -c $< -o $@

$(B)/cli/%.o: %.c $(B)/.flags $(B)/probed.h
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CPPFLAGS) $(ALL_CFLAGS) -MMD -MP -c $< -o $@

ifeq ($(UNAME_S),Darwin)
LIB_LINK := -dynamiclib -install_name $(LIBDIR)/$(LIBNAME)
else
LIB_LINK := -shared -fPIC -Wl,-soname,$(LIBNAME) -Wl,--version-script=$(B)/socktune.map \
	-Wl,-z,defs
endif
# The version script names every hook, and lld (FreeBSD's linker) refuses
# names that the probes left out.
ifeq ($(UNAME_S),FreeBSD)
LIB_LINK += -Wl,--undefined-version
endif
LIB_LIBS := $(CONFIG_LIBS) $(if $(filter Linux,$(UNAME_S)),-ldl) -lpthread

$(B)/$(LIBNAME): $(LIB_OBJ) $(B)/socktune.map
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) $(LIB_LINK) -o $@.tmp $(LIB_OBJ) $(LIB_LIBS)
	@# Renamed into place: a program running with it preloaded keeps the old one.
	mv -f $@.tmp $@

$(B)/$(DEVNAME): $(B)/$(LIBNAME)
	ln -sf $(LIBNAME) $@

$(B)/socktune: $(CLI_OBJ)
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $(CLI_OBJ) $(CONFIG_LIBS) -lm

$(B)/targets/%: tests/targets/%.c $(wildcard tests/targets/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CPPFLAGS) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $< -lpthread

$(B)/targets/tls%: tests/targets/tls%.c $(wildcard tests/targets/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CPPFLAGS) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $< $(SSL_LIBS) -lpthread

# A libssl under another soname, which only a plugin loaded with RTLD_LOCAL
# links (issue 13, case J; tests/integration/tls_edge.c): the system's copy
# renamed by patchelf. Without patchelf neither is built, and the test skips.
PRIVSSL := $(B)/targets/privlib/libsslprivate.so.3 $(B)/targets/privlib/tlsplugin.so

$(B)/targets/privlib/libsslprivate.so.3:
	@mkdir -p $(dir $@)
	@if command -v patchelf >/dev/null 2>&1; then \
		cp "$$($(CC) -print-file-name=libssl.so.3)" $@.tmp && \
		patchelf --set-soname libsslprivate.so.3 $@.tmp && mv $@.tmp $@; \
	else echo "no patchelf: the private-libssl test will skip"; fi

$(B)/targets/privlib/tlsplugin.so: tests/plugins/tlsplugin.c bench/tlsbench.h $(B)/targets/privlib/libsslprivate.so.3
	@if [ -e $(B)/targets/privlib/libsslprivate.so.3 ]; then \
		echo "$(CC) ... -shared -o $@ $< -l:libsslprivate.so.3 -lcrypto"; \
		$(CC) $(ALL_CPPFLAGS) $(ALL_CFLAGS) $(LDFLAGS) -shared -fPIC -o $@ $< \
			-L$(dir $@) -l:libsslprivate.so.3 -lcrypto -Wl,-rpath,'$$ORIGIN'; fi

$(B)/bench/tls%: bench/tls%.c $(wildcard bench/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CPPFLAGS) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $< $(SSL_LIBS) -lpthread

$(B)/bench/%: bench/%.c $(wildcard bench/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CPPFLAGS) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $< -lpthread

$(B)/test-unit: $(B)/probed.h $(UNIT_SRC) $(PURE_SRC) $(SEAM_SRC) $(CLI_PURE) $(wildcard config/*.h shim/*.h shim/cli/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CPPFLAGS) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $(UNIT_SRC) $(PURE_SRC) $(SEAM_SRC) \
		$(CLI_PURE) $(CONFIG_LIBS) -lcriterion -lm

$(B)/test-integration: $(INT_SRC) $(wildcard tests/integration/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CPPFLAGS) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $(INT_SRC) -lcriterion -lutil

deps:
	@sh .ci/deps

TEST_ENV := SOCKTUNE_TESTLIB=$(abspath $(B)/$(LIBNAME)) \
	SOCKTUNE_TARGETS=$(abspath $(B)/targets) SOCKTUNE_BIN=$(abspath $(B)/socktune)

# For tests/integration/multiarch.c: a copy installed as the Debian package
# lays it out, under B/stage/usr with the library in lib/MULTIARCH, built in
# B/stage-build; and where gcc -m32 links against a 32-bit libconfig and
# the kernel runs what it built (some VMs' kernels cannot), the 32-bit
# library beside it and a 32-bit probe in B/targets32.
# The library includes OpenSSL's headers for constants and prototypes only
# (it links nothing of it); where libssl-dev of the 32-bit architecture is
# missing, the 64-bit opensslconf.h serves, found after every other directory.
STAGE       := $(abspath $(B))/stage
MULTIARCH32 := $(shell $(CC) -m32 -print-multiarch 2>/dev/null)
M32_CPPFLAGS := $(CPPFLAGS) -idirafter /usr/include/$(MULTIARCH)
HAVE_M32    := $(shell t=$$(mktemp) && \
	printf '\043include <openssl/ssl.h>\nint main(void){return 0;}' | \
	$(CC) -m32 $(M32_CPPFLAGS) -x c - -lconfig -o $$t 2>/dev/null && $$t 2>/dev/null && echo 1; \
	rm -f $$t)
ifneq ($(MULTIARCH),)
TEST_ENV += SOCKTUNE_MULTIARCH_BIN=$(STAGE)/usr/bin/socktune \
	SOCKTUNE_MULTIARCH_PRELOAD='$(STAGE)/usr/$$LIB/$(LIBNAME)'
ifeq ($(HAVE_M32),1)
TEST_ENV += SOCKTUNE_TARGETS32=$(abspath $(B)/targets32)
endif
endif

stage:
ifneq ($(MULTIARCH),)
	$(MAKE) B=$(B)/stage-build PREFIX=$(STAGE)/usr LIBDIR=$(STAGE)/usr/lib/$(MULTIARCH) \
		SYSCONFDIR=$(STAGE)/etc install
ifeq ($(HAVE_M32),1)
	$(MAKE) B=$(B)/stage-build32 CC="$(CC) -m32" MULTIARCH=$(MULTIARCH32) \
		CPPFLAGS="$(M32_CPPFLAGS)" \
		PREFIX=$(STAGE)/usr LIBDIR=$(STAGE)/usr/lib/$(MULTIARCH32) SYSCONFDIR=$(STAGE)/etc \
		$(B)/stage-build32/$(LIBNAME)
	install -d $(STAGE)/usr/lib/$(MULTIARCH32)
	install -m 0644 $(B)/stage-build32/$(LIBNAME) $(STAGE)/usr/lib/$(MULTIARCH32)/$(LIBNAME)
	$(MAKE) CC="$(CC) -m32" $(B)/targets32/probe
endif
endif

$(B)/targets32/%: tests/targets/%.c $(wildcard tests/targets/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CPPFLAGS) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $< -lpthread

check: deps
	$(MAKE) all $(B)/test-unit $(B)/test-integration $(TARGETS)
	$(MAKE) lint
	$(MAKE) check-paper
	$(MAKE) check-unit
	$(MAKE) check-integration

check-unit: $(B)/test-unit
	$(B)/test-unit

check-integration: all $(B)/test-integration $(TARGETS) $(PRIVSSL) stage
	$(TEST_ENV) $(B)/test-integration $(if $(CHECK_FILTER),--filter '$(CHECK_FILTER)')

# The library, the command and the probe targets built with musl-gcc
# (Debian's musl-tools), against a static libconfig built with it from
# Debian's source tarball; then the integration tests that run only those
# targets under the musl loader. The rest run glibc programs (sh, python3,
# the OpenSSL peers), into which a musl library cannot be preloaded; and musl
# has no close_range() to hook. OpenSSL's headers (constants only) come from
# /usr/include, searched after musl's own.
MUSL_B        := $(B)/musl
LIBCONFIG_VER := 1.5
LIBCONFIG_URL := http://deb.debian.org/debian/pool/main/libc/libconfig/libconfig_$(LIBCONFIG_VER).orig.tar.gz
LIBCONFIG_SHA := e31daa390d8e4461c8830512fe2e13ba1a3d6a02a2305a02429eec61e68703f6
MUSL_LIBCONFIG := $(abspath $(MUSL_B))/libconfig
MUSL_TESTS    := @(@(values|userwins|stale|threads|stats|fork|log|config|modes|merge|cli)/!(tcp_counted_when_closed_by_close_range|exit_status_is_the_programs)|exports/check_names_exactly_the_hooks_left_out)

$(MUSL_LIBCONFIG)/lib/libconfig.a:
	rm -rf $(MUSL_B)/src && mkdir -p $(MUSL_B)/src
	curl -sSfL -o $(MUSL_B)/src/libconfig.tar.gz $(LIBCONFIG_URL)
	echo "$(LIBCONFIG_SHA)  $(MUSL_B)/src/libconfig.tar.gz" | sha256sum -c --quiet
	tar -C $(MUSL_B)/src -xzf $(MUSL_B)/src/libconfig.tar.gz
	cd $(MUSL_B)/src/libconfig-$(LIBCONFIG_VER) && \
		CC=musl-gcc ./configure -q --disable-cxx --enable-static --disable-shared \
			--with-pic --prefix=$(MUSL_LIBCONFIG) && \
		$(MAKE) >/dev/null && $(MAKE) install >/dev/null

check-musl: $(B)/test-integration $(MUSL_LIBCONFIG)/lib/libconfig.a
	$(MAKE) B=$(MUSL_B) CC=musl-gcc CONFIG_CFLAGS=-I$(MUSL_LIBCONFIG)/include \
		CONFIG_LIBS=$(MUSL_LIBCONFIG)/lib/libconfig.a \
		CPPFLAGS="$(CPPFLAGS) -idirafter /usr/include -idirafter /usr/include/$(MULTIARCH)" \
		$(MUSL_B)/$(LIBNAME) $(MUSL_B)/socktune $(MUSL_B)/targets/probe $(MUSL_B)/targets/iovwriter \
		$(MUSL_B)/targets/badaddr $(MUSL_B)/targets/smallstack
	SOCKTUNE_TESTLIB=$(abspath $(MUSL_B)/$(LIBNAME)) SOCKTUNE_BIN=$(abspath $(MUSL_B)/socktune) \
	SOCKTUNE_TARGETS=$(abspath $(MUSL_B)/targets) $(B)/test-integration --filter '$(MUSL_TESTS)'

# The library and the command built as for a libc without the optional
# calls shim/probe.sh looks for, as macOS is and FreeBSD in part (and
# without getauxval and secure_getenv: the setuid test falls back to the
# ids); then the integration tests that use none of those calls.
PORT_B    := $(B)/portable
# Every probe of shim/hooks.def but those that name the program, which
# would leave it nameless (getauxval and secure_getenv go: their fallbacks
# are the portable code).
PORT_OFF  := $(filter-out issetugid program_invocation_name getprogname, \
	$(shell sed -n 's/^PROBE.\([a-z_0-9]*\),.*/\1/p' shim/hooks.def))
# Out: the tests whose programs call accept4 (the probe's --accept4, the
# thread stress, Python's servers), epoll, ppoll (QEMU's main loop, in the
# real Spice session), sem_timedwait, clock_nanosleep, close_range or
# closefrom, and the full export list.
PORT_TESTS := !(exports/every_hook_is_exported|threads/*|spice/*|cork_rr/@(control_on_stalls_@(epoll|poll|thread)_*|epoll_*|poll_*|thread_*)|cork/@(on_corks_right_after_accept|own_tcp_cork_on_the_listener_left_alone)|cork_wait/@(epoll|ppoll|sem)|fork/child_tcp_sockets_follow_env_overrides|stats/tcp_counted_when_closed_by_@(close_range|closefrom)|tls_rr/wait_in_@(epoll_pwait|epoll_wait|ppoll)|tls_wait/@(clock_nanosleep|epoll_pwait|epoll_pwait2|epoll_wait|ppoll|sem_timedwait|cond_clockwait|sem_clockwait|sigwaitinfo|sigtimedwait|getline)|values/@(accept4_flags_survive_the_hook|env_sndbuf_tunes_accept4_socket|unix_stream_accept4_is_tuned))
check-portable: $(B)/test-integration $(TARGETS)
	$(MAKE) B=$(PORT_B) FEATURES_OFF="$(PORT_OFF)" $(PORT_B)/$(LIBNAME) $(PORT_B)/socktune \
		$(PROFILES:%=$(PORT_B)/%)
	SOCKTUNE_TESTLIB=$(abspath $(PORT_B)/$(LIBNAME)) SOCKTUNE_BIN=$(abspath $(PORT_B)/socktune) \
	SOCKTUNE_TARGETS=$(abspath $(B)/targets) $(B)/test-integration --filter '$(PORT_TESTS)'

# The macOS and FreeBSD branches, compiled but not linked, by clang against
# this machine's headers (with tests/paper/decls.h for the two BSD calls
# glibc lacks), the probes answering as tests/paper/OS/probed.h expects
# those systems to: it catches a branch that no longer compiles here, not
# what their own headers would say. (gcc's own headers follow __FreeBSD__
# to files only FreeBSD has, so clang.)
PAPER    := macos:__APPLE__ freebsd:__FreeBSD__
PAPER_CC := $(shell command -v clang 2>/dev/null)
check-paper:
ifeq ($(PAPER_CC),)
	@echo "check-paper skipped: clang is not installed"
else
	@for p in $(PAPER); do dir=$${p%%:*}; os=$${p##*:}; \
		for f in $(sort $(LIB_SRC) $(CLI_SRC)); do \
			$(PAPER_CC) -Itests/paper/$$dir $(ALL_CPPFLAGS) -std=c11 $(WARN) \
				$(CONFIG_CFLAGS) -fsyntax-only -U__linux__ -D$$os \
				-include tests/paper/decls.h $$f || exit 1; \
		done; echo "check-paper: the $$dir branches compile"; \
	done
endif

# The integration tests against an installed socktune, the library in
# LIBDIR and the command in BINDIR (Debian's autopkgtest runs this); only
# the test programs are built, in B.
check-installed: $(B)/test-integration $(TARGETS)
	SOCKTUNE_TESTLIB=$(LIBDIR)/$(LIBNAME) SOCKTUNE_BIN=$(BINDIR)/socktune \
	SOCKTUNE_TARGETS=$(abspath $(B)/targets) \
	$(if $(findstring $$LIB,$(PRELOAD)),SOCKTUNE_MULTIARCH_BIN=$(BINDIR)/socktune \
	SOCKTUNE_MULTIARCH_PRELOAD='$(PRELOAD)') $(B)/test-integration

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
	@v=$$(sed -n '1s/^socktune (\(.*\)-[^-]*).*/\1/p' debian/changelog); \
	if [ "$$v" != "$(VERSION)" ]; then \
		echo "debian/changelog is at $$v, the Makefile's VERSION at $(VERSION)" >&2; exit 1; fi
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
		$(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man5 $(DESTDIR)$(MANDIR)/man7 \
		$(DESTDIR)$(DATADIR)/socktune/profiles
	install -m 0644 $(PROFILES) $(DESTDIR)$(DATADIR)/socktune/profiles
	install -m 0644 $(B)/$(LIBNAME) $(DESTDIR)$(LIBDIR)/$(LIBNAME)
	ln -sf $(LIBNAME) $(DESTDIR)$(LIBDIR)/$(DEVNAME)
	install -m 0755 $(B)/socktune $(DESTDIR)$(BINDIR)/socktune
	test -e $(DESTDIR)$(SYSCONFDIR)/socktune.conf || \
		install -m 0644 config/socktune.conf $(DESTDIR)$(SYSCONFDIR)/socktune.conf
	for m in socktune.1 socktune.conf.5 socktune.7; do \
		sed 's/^\(\.TH .*\) "socktune" /\1 "socktune $(VERSION)" /' man/$$m \
			>$(DESTDIR)$(MANDIR)/man$${m##*.}/$$m && \
		chmod 0644 $(DESTDIR)$(MANDIR)/man$${m##*.}/$$m || exit 1; \
	done

# The configuration is left in place when it differs from the shipped example:
# it is the user's now.
uninstall:
	rm -f $(DESTDIR)$(LIBDIR)/$(LIBNAME) $(DESTDIR)$(LIBDIR)/$(DEVNAME) \
		$(DESTDIR)$(BINDIR)/socktune $(DESTDIR)$(MANDIR)/man1/socktune.1 \
		$(DESTDIR)$(MANDIR)/man5/socktune.conf.5 $(DESTDIR)$(MANDIR)/man7/socktune.7 \
		$(PROFILES:profiles/%=$(DESTDIR)$(DATADIR)/socktune/profiles/%)
	rmdir $(DESTDIR)$(DATADIR)/socktune/profiles $(DESTDIR)$(DATADIR)/socktune 2>/dev/null || :
	if cmp -s config/socktune.conf $(DESTDIR)$(SYSCONFDIR)/socktune.conf; then \
		rm -f $(DESTDIR)$(SYSCONFDIR)/socktune.conf; fi

# The release tarball: the files git tracks, plus socktune.spec with the
# version filled in, so that `rpmbuild -ta` builds from it. Reproducible:
# names sorted, owner root, every mtime the last commit's.
DIST := socktune-$(VERSION)
dist:
	@git rev-parse --git-dir >/dev/null 2>&1 || \
		{ echo "make dist: needs the git checkout (it ships what git tracks)" >&2; exit 1; }
	rm -rf $(B)/dist && mkdir -p $(B)/dist/$(DIST)
	git ls-files -z | xargs -0 cp -P --parents -t $(B)/dist/$(DIST)
	sed 's/@VERSION@/$(VERSION)/g' config/socktune.spec.in >$(B)/dist/$(DIST)/socktune.spec
	tar -C $(B)/dist --sort=name --owner=0 --group=0 --numeric-owner \
		--mtime=@$$(git log -1 --format=%ct) -cf - $(DIST) | gzip -n9 >$(B)/$(DIST).tar.gz
	rm -rf $(B)/dist
	@echo "$(B)/$(DIST).tar.gz"

clean:
	rm -rf $(B)

# Suites with rules of their own: the conformance suite, the config fuzzer,
# the ThreadSanitizer run (tests/*/*.mk).
include $(sort $(wildcard tests/*/*.mk))

-include $(LIB_OBJ:.o=.d) $(CLI_OBJ:.o=.d)
