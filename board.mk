# Board selection. `make BOARD=<name>`; every board lives in platform/<name>/.
BOARD ?= qemu-virt
BOARDS := qemu-virt hifive-unleashed hifive-unmatched

ifeq ($(filter $(BOARD),$(BOARDS)),)
$(error unknown BOARD '$(BOARD)'; choose one of: $(BOARDS))
endif

PLATFORM_DIR := platform/$(BOARD)
include $(PLATFORM_DIR)/platform.mk
