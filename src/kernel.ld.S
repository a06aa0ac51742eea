/*
 * Kernel link map. Text, read-only data and writable data each start on a
 * page boundary so that vm.c can map them R+X, R and R+W (never W+X).
 * The image must end below 0x82200000, where OpenSBI fw_jump puts the DTB.
 */
OUTPUT_ARCH(riscv)
ENTRY(_start)

SECTIONS
{
	. = LOAD_ADDR;
	__kernel_start = .;

	.text : {
		__text_start = .;
		KEEP(*(.text.entry))
		*(.text .text.*)
		. = ALIGN(4096);
		__text_end = .;
	}

	.rodata : ALIGN(4096) {
		__rodata_start = .;
		*(.rodata .rodata.*)
		*(.srodata .srodata.*)
		. = ALIGN(8);
		__drivers_start = .;
		KEEP(*(SORT(.drivers.*)))
		__drivers_end = .;
		. = ALIGN(8);
		__exports_start = .;
		KEEP(*(.exports))
		__exports_end = .;
		. = ALIGN(8);
		__initcalls_start = .;
		KEEP(*(SORT(.initcall.*)))
		__initcalls_end = .;
	}
	.eh_frame : { *(.eh_frame) }
	. = ALIGN(4096);
	__rodata_end = .;

	.data : ALIGN(4096) {
		__data_start = .;
		*(.data .data.*)
		*(.sdata .sdata.*)
	}

	.tdata : ALIGN(16) {
		__tdata_start = .;
		*(.tdata .tdata.*)
		__tdata_end = .;
	}
	.tbss : ALIGN(16) {
		__tbss_start = .;
		*(.tbss .tbss.*)
		*(.tcommon)
		__tbss_end = .;
	}
	/* .tbss takes no room in the image; reserve its template space. */
	.tbss_space (NOLOAD) : {
		. = ADDR(.tbss) + SIZEOF(.tbss);
	}

	.bss (NOLOAD) : ALIGN(16) {
		__bss_start = .;
		*(.sbss .sbss.*)
		*(.bss .bss.*)
		*(COMMON)
		. = ALIGN(4096);
		__bss_end = .;
	}
	__kernel_end = .;

	/DISCARD/ : { *(.comment) *(.note*) *(.riscv.attributes) }
}

ASSERT(__kernel_end <= 0x82200000, "kernel image overlaps the fw_jump DTB at 0x82200000")
