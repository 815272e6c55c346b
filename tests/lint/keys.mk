# make lint also holds the man pages against the table of configuration keys
# (config/keys.def): tests/lint/keys.c prints the table, keys.sh compares.
LINT_KEYS     := $(B)/lint/keys
LINT_KEYS_SRC := $(filter config/%,$(PURE_SRC))

$(LINT_KEYS): tests/lint/keys.c $(LINT_KEYS_SRC) config/keys.def $(wildcard config/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CPPFLAGS) $(ALL_CFLAGS) $(LDFLAGS) -o $@ tests/lint/keys.c $(LINT_KEYS_SRC) \
		$(CONFIG_LIBS)

.PHONY: lint-keys
lint: lint-keys
lint-keys: $(LINT_KEYS)
	@sh tests/lint/keys.sh $(LINT_KEYS) man

# config.c includes keys.def, which the rules that list config/*.h miss.
$(B)/test-unit $(FUZZ_BIN): config/keys.def
