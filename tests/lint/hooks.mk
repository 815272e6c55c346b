# make lint: shim/hooks.def against the library's objects and socktune(7).
lint: lint-hooks
lint-hooks: $(LIB_OBJ)
	@sh tests/lint/hooks.sh "$(CC)" $(LIB_OBJ)
.PHONY: lint-hooks
