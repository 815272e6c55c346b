# The differential conformance suite (tests/conformance/README): one program,
# $(B)/conformance/conform, that runs seeded scenarios without and with the
# library and compares them.
#   make check-conformance              2000 scenarios, 2 at a time (CI)
#   make fuzz-conformance N=20000 SEED=7  N scenarios from seed SEED
CONFORM_SRC := $(wildcard tests/conformance/*.c)
CONFORM     := $(B)/conformance/conform
CONFORM_N   ?= 2000
CONFORM_JOBS ?= 2
N           ?= 20000
SEED        ?= 1

.PHONY: check-conformance fuzz-conformance

$(CONFORM): $(CONFORM_SRC) tests/conformance/conform.h
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CPPFLAGS) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $(CONFORM_SRC) $(SSL_LIBS) -lpthread

check-conformance: $(B)/$(LIBNAME) $(CONFORM)
	SOCKTUNE_TESTLIB=$${SOCKTUNE_TESTLIB:-$(abspath $(B)/$(LIBNAME))} \
		$(CONFORM) run --count $(CONFORM_N) --jobs $(CONFORM_JOBS)

fuzz-conformance: $(B)/$(LIBNAME) $(CONFORM)
	SOCKTUNE_TESTLIB=$${SOCKTUNE_TESTLIB:-$(abspath $(B)/$(LIBNAME))} \
		$(CONFORM) run --from $(SEED) --count $(N) --jobs $(CONFORM_JOBS)
