# tlscork, the cork tests' program (tests/integration/cork.c), is built from a
# directory, a file per role (tests/targets/tlscork/main.c says which), where
# the Makefile's own rules build each target from one file.
TLSCORK_SRC := $(sort $(wildcard tests/targets/tlscork/*.c))

$(B)/targets/tlscork: $(TLSCORK_SRC) $(wildcard tests/targets/tlscork/*.h tests/targets/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CPPFLAGS) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $(TLSCORK_SRC) $(SSL_LIBS) -lpthread
