# QEMU integration tests (pytest, /usr/bin/python3). Included by the top Makefile.
#
#   make qemu-test                      build both emulated boards, run every test
#   make qemu-test PYTEST_ARGS="-k fault -v"   a subset, verbosely
#
# The harness is test/qemu/kernel_qemu.py (fixtures in conftest.py). Runs are
# sequential (the CI machine has two cores); each QEMU run ends itself
# (shutdown=<sec>, bench, or the `halt` command) and is killed after a hard
# timeout otherwise. UART logs of every run: build/test/qemu/<test>.log.
# pytest prints its summary (`N passed ...`) and exits non-zero on failure.

QEMU_TEST_BOARDS := qemu-virt hifive-unleashed
PYTEST_ARGS ?=

qemu-test: | $(DEPS_STAMP)
	$(Q)for b in $(QEMU_TEST_BOARDS); do \
		$(MAKE) --no-print-directory BOARD=$$b all build/$$b/kernel-demo.elf || exit 1; done
	$(Q)PYTHONDONTWRITEBYTECODE=1 $(HOSTPY) -m pytest -q -p no:cacheprovider test/qemu $(PYTEST_ARGS)
