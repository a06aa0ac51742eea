# QEMU integration tests (pytest, /usr/bin/python3). Filled in below.
qemu-test:
	@echo "qemu: no tests yet"
