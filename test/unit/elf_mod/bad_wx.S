/* Fixture: a section both writable and executable. */
	.section .wxcode, "awx", @progbits
	.globl wx_entry
wx_entry:
	ret
