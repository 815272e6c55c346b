# The configuration fuzzer, tests/fuzz/config.c: libFuzzer with ASan and
# UBSan on the path from bytes to a loaded configuration, its messages and
# its decisions (the input format is described there).
#
#   make fuzz-config [FUZZ_TIME=600]   fuzz for FUZZ_TIME seconds
#   make check-fuzz-config             the same for 60 s (or FUZZ_TIME), for CI
#
# Either fails on a crash, a sanitizer report, a leak, a 5 s input or 2 GB,
# and prints how to reproduce it.  libconfig is built from Debian's source
# tarball (the one check-musl uses) with the same instrumentation, so the
# fuzzer sees inside the parser; FUZZ_LIBCONFIG=system links the installed,
# uninstrumented copy instead.  Without clang or libFuzzer the targets say
# so and succeed; as root with apt-get they install them first.
#
# The seeds in tests/fuzz/corpus: the EXAMPLES of socktune.conf(5) and
# config/socktune.conf, as shipped and with its settings uncommented, and
# inputs for the environment, several files, bad values, @include, too many
# rules, the HOME fallback and a setuid start.  New inputs go to
# $(B)/fuzz/corpus; tests/fuzz/config.dict is the dictionary.
FUZZ_B          := $(B)/fuzz
FUZZ_CC         ?= clang
FUZZ_LIBCONFIG  ?= source
ifeq ($(origin FUZZ_TIME),undefined)
FUZZ_TIME_RUN   := 600
FUZZ_TIME_CHECK := 60
else
FUZZ_TIME_RUN   := $(FUZZ_TIME)
FUZZ_TIME_CHECK := $(FUZZ_TIME)
endif
FUZZ_CFLAGS := -g -O1 -fno-omit-frame-pointer -fsanitize=address,undefined \
	-fno-sanitize-recover=all
FUZZ_SRC    := $(filter config/%,$(PURE_SRC))

FUZZ_LC     := $(FUZZ_B)/libconfig
FUZZ_LC_SRC := $(FUZZ_LC)/libconfig-$(LIBCONFIG_VER)/lib
ifeq ($(FUZZ_LIBCONFIG),system)
FUZZ_BIN    := $(FUZZ_B)/config-fuzzer-system-libconfig
FUZZ_LC_DEP :=
FUZZ_LC_INC := $(CONFIG_CFLAGS)
FUZZ_LC_LIB := $(CONFIG_LIBS)
FUZZ_CURL   :=
else
FUZZ_BIN    := $(FUZZ_B)/config-fuzzer
FUZZ_LC_DEP := $(FUZZ_LC)/libconfig.a
FUZZ_LC_INC := -I$(FUZZ_LC_SRC)
FUZZ_LC_LIB := $(FUZZ_LC)/libconfig.a
FUZZ_CURL   := $(if $(wildcard $(FUZZ_LC)/libconfig.a),,curl)
endif

.PHONY: fuzz-config check-fuzz-config

# Its five sources compiled directly: the locale calls are what configure
# finds on glibc, and nothing else in ac_config.h changes the library.
# check-musl's download is reused when it is there.
#
# One change, upstream's own fix (libconfig 1.7.3, issue 142): the parser
# frees a string token that a syntax error discards.  1.5 leaks it, 64
# bytes once per broken file; unfixed, every such input would make
# libFuzzer scan the heap for leaks, at a fifth of the speed.
# (tests/fuzz/lsan.supp covers the same leak for FUZZ_LIBCONFIG=system.)
FUZZ_LC_FIX := /^yydestruct (/,/^}/s/^  YYUSE (yytype);/  if (yytype == YYTRANSLATE (TOK_STRING)) free (yyvaluep->sval);/

$(FUZZ_LC)/libconfig.a:
	rm -rf $(FUZZ_LC) && mkdir -p $(FUZZ_LC)
	cp $(MUSL_B)/src/libconfig.tar.gz $(FUZZ_LC)/libconfig.tar.gz 2>/dev/null || \
		curl -sSfL -o $(FUZZ_LC)/libconfig.tar.gz $(LIBCONFIG_URL)
	echo "$(LIBCONFIG_SHA)  $(FUZZ_LC)/libconfig.tar.gz" | sha256sum -c --quiet
	tar -C $(FUZZ_LC) -xzf $(FUZZ_LC)/libconfig.tar.gz
	sed -i '$(FUZZ_LC_FIX)' $(FUZZ_LC_SRC)/grammar.c
	grep -q 'free (yyvaluep->sval)' $(FUZZ_LC_SRC)/grammar.c
	for f in grammar libconfig scanctx scanner strbuf; do \
		$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -w \
			-DHAVE_NEWLOCALE -DHAVE_USELOCALE -DHAVE_FREELOCALE \
			-c $(FUZZ_LC_SRC)/$$f.c -o $(FUZZ_LC)/$$f.o || exit 1; \
	done
	ar rcs $@.tmp $(FUZZ_LC)/*.o && mv $@.tmp $@

$(FUZZ_BIN): tests/fuzz/config.c $(FUZZ_SRC) $(wildcard config/*.h) $(FUZZ_LC_DEP) tests/fuzz/fuzz.mk
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(ALL_CPPFLAGS) $(FUZZ_LC_INC) -std=c11 $(WARN) $(FUZZ_CFLAGS) -fsanitize=fuzzer \
		-o $@ tests/fuzz/config.c $(FUZZ_SRC) $(FUZZ_LC_LIB)

fuzz-config check-fuzz-config:
	@why=$$(sh tests/fuzz/toolchain.sh '$(FUZZ_CC)' '$(FUZZ_CURL)') || \
		{ echo "$@ skipped: $$why"; exit 0; }; \
	$(MAKE) --no-print-directory $(FUZZ_BIN) && \
	sh tests/fuzz/run.sh $(FUZZ_BIN) $(FUZZ_B) \
		$(if $(filter check-%,$@),$(FUZZ_TIME_CHECK),$(FUZZ_TIME_RUN))

# What the corpus so far reaches in config/, line by line (make
# fuzz-config-coverage): the fuzzer built with clang's source coverage too,
# run once over $(B)/fuzz/corpus and the seeds; $(FUZZ_B)/coverage.txt.
FUZZ_COV := $(FUZZ_B)/config-coverage
$(FUZZ_COV): tests/fuzz/config.c $(FUZZ_SRC) $(wildcard config/*.h) $(FUZZ_LC_DEP) tests/fuzz/fuzz.mk
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(ALL_CPPFLAGS) $(FUZZ_LC_INC) -std=c11 $(WARN) $(FUZZ_CFLAGS) -fsanitize=fuzzer \
		-fprofile-instr-generate -fcoverage-mapping \
		-o $@ tests/fuzz/config.c $(FUZZ_SRC) $(FUZZ_LC_LIB)

.PHONY: fuzz-config-coverage
fuzz-config-coverage:
	@why=$$(sh tests/fuzz/toolchain.sh '$(FUZZ_CC)' '$(FUZZ_CURL)') || \
		{ echo "$@ skipped: $$why"; exit 0; }; \
	$(MAKE) --no-print-directory $(FUZZ_COV) || exit 1; \
	mkdir -p $(FUZZ_B)/corpus; \
	LLVM_PROFILE_FILE=$(FUZZ_B)/coverage.profraw ASAN_OPTIONS=detect_leaks=0 \
		$(FUZZ_COV) -runs=0 $(FUZZ_B)/corpus tests/fuzz/corpus >/dev/null 2>&1 || exit 1; \
	pd=$$($(FUZZ_CC) -print-prog-name=llvm-profdata); cov=$$($(FUZZ_CC) -print-prog-name=llvm-cov); \
	$$pd merge -sparse -o $(FUZZ_B)/coverage.profdata $(FUZZ_B)/coverage.profraw && \
	$$cov show $(FUZZ_COV) -instr-profile=$(FUZZ_B)/coverage.profdata $(FUZZ_SRC) \
		>$(FUZZ_B)/coverage.txt && \
	$$cov report $(FUZZ_COV) -instr-profile=$(FUZZ_B)/coverage.profdata $(FUZZ_SRC) && \
	echo "line by line: $(FUZZ_B)/coverage.txt"
