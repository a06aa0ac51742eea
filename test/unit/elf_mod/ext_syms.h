/*
 * Where the fixtures are linked, shared by test_elf_mod.c (its resolver)
 * and elf_mod.mk (ld --section-start and --defsym, extracted with sed: keep
 * one definition per line, hex addresses).
 *
 * All below 2 GiB so that absolute %hi/%lo references fit. ext_near sits
 * 128 bytes below the text region, within reach of the compressed branch
 * and jump at the start of m_asm.S.
 */
#define ELFMOD_TEXT_ADDR 0x40200000
#define ELFMOD_DATA_ADDR 0x40400000

EXT(ext_func, 0x40100000)
EXT(ext_void, 0x40100100)
EXT(ext_data, 0x40180010)
EXT(ext_array, 0x40180100)
EXT(ext_near, 0x401fff80)
EXT(ext_abs, 0x12345678)
EXT(memcpy, 0x40100200)
EXT(memset, 0x40100300)
