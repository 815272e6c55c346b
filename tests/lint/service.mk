# make lint also checks the service examples of examples/ that socktune(7)
# tells administrators to copy: the systemd drop-in (systemd-analyze
# verify), the libvirt domain (virt-xml-validate), and that the environment
# each sets loads the library just built (tests/lint/service.sh; it skips
# what it has no tool for, saying so).
.PHONY: lint-service
lint: lint-service
lint-service: $(B)/$(LIBNAME)
	@sh tests/lint/service.sh $(abspath $(B)) $(LIBNAME)
