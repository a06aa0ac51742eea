/*
 * The public key dtb (written by mkimage -K, see platform/keys.mk) that
 * update packs must be signed against. KEYS_DTB is its path, given by
 * the build. Read-only data: nothing can swap the key at run time.
 */
	.section .rodata
	.balign 8
	.globl update_keys_dtb
	.globl update_keys_dtb_end
update_keys_dtb:
	.incbin KEYS_DTB
update_keys_dtb_end:
