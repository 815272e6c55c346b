# The programs socktune cannot reach, for tests/integration/reach.c: the
# reachme target built statically (libc6-dev's libc.a), as static-pie, with
# musl-gcc, with gcc -m32, linked against GnuTLS, and marked as Go with a
# .go.buildinfo section (and a real Go program, where `go` is installed).
# Each is built only where its toolchain is; a missing one is skipped by its
# test, which says why.
REACH_B := $(B)/targets/reach
REACH_TARGETS := $(REACH_B)/static $(REACH_B)/static-pie $(REACH_B)/musl $(REACH_B)/m32 \
	$(REACH_B)/gnutls $(REACH_B)/fakego $(REACH_B)/go

# Every goal that runs the integration tests against $(B)/targets.
check-integration check-installed check-sanitize check-portable: $(REACH_TARGETS)

# Tries a build; when the toolchain is missing, leaves no file and says so.
define reach_try
	@mkdir -p $(dir $@)
	@if $(1) >$@.log 2>&1; then echo "built $@"; rm -f $@.log; \
	else rm -f $@; echo "not built: $@ ($(2)); its reach test will skip"; fi
endef

$(REACH_B)/static: tests/targets/reachme.c
	$(call reach_try,$(CC) $(ALL_CPPFLAGS) $(ALL_CFLAGS) -static -o $@ $<,gcc -static needs libc.a)

$(REACH_B)/static-pie: tests/targets/reachme.c
	$(call reach_try,$(CC) $(ALL_CPPFLAGS) $(ALL_CFLAGS) -static-pie -fPIE -o $@ $<,no -static-pie here)

$(REACH_B)/musl: tests/targets/reachme.c
	$(call reach_try,musl-gcc -std=c11 -O2 -o $@ $<,no musl-gcc: musl-tools)

$(REACH_B)/m32: tests/targets/reachme.c
	$(call reach_try,$(CC) -m32 -std=c11 -O2 -o $@ $< && $@ x 0,no gcc -m32 or the kernel runs no 32-bit programs: gcc-multilib)

$(REACH_B)/gnutls: tests/targets/reachme.c
	$(call reach_try,$(CC) $(ALL_CPPFLAGS) $(ALL_CFLAGS) -DREACHME_GNUTLS $$($(PKG_CONFIG) --cflags gnutls) \
		-o $@ $< $$($(PKG_CONFIG) --libs gnutls),no GnuTLS headers: libgnutls28-dev)

# What marks a Go program, on a C one: objcopy adds the section, which the
# program never reads, so it runs as before.
$(REACH_B)/fakego: tests/targets/reachme.c
	$(call reach_try,$(CC) $(ALL_CPPFLAGS) $(ALL_CFLAGS) -o $@.c-prog $< && printf 'go1.22' >$@.section && \
		objcopy --add-section .go.buildinfo=$@.section $@.c-prog $@ && rm -f $@.c-prog $@.section,no objcopy: binutils)

$(REACH_B)/go: tests/targets/reachme.go
	$(call reach_try,command -v go && cd $(dir $<) && GOFLAGS= GO111MODULE=off go build -o $(abspath $@) reachme.go,no go: golang)
