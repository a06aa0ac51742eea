/*
 * Live update: what an update module provides, and the engine's API.
 *
 * A module is an ELF relocatable object compiled with the kernel's flags
 * against its headers. It defines one `const struct update_desc
 * update_desc` naming the class it updates, the version step, the new
 * class (ops + state layout), the state transfer from exactly the previous
 * version, and a self-test. See docs/live-update.md.
 */
#ifndef KERNEL_UPDATE_H
#define KERNEL_UPDATE_H

#include <stdint.h>
#include <stddef.h>
#include <kernel/object.h>

/*
 * The kernel ABI modules are built against; bumped when headers change
 * shape (abi-2: struct thread and struct hart gained guarded-stack fields;
 * abi-3: struct update_desc gained flags). ota-server/ reads it from here.
 */
#define KERNEL_ABI "lukos-abi-3"

enum update_mode {
	UPDATE_MODE_DEFAULT,	/* lazy for classes with many instances, else eager */
	UPDATE_MODE_LAZY,
	UPDATE_MODE_EAGER,
};

/*
 * update_desc.flags.
 * UPDATE_PURE_TRANSFER: transfer() only reads the old state and acquires
 * nothing but what lives inside the new one (the documented contract,
 * declared). A conversion of such a step may then be abandoned half-way:
 * a caller kept waiting behind it longer than CONVERT_WAIT_MAX_US runs on
 * the old version instead, and the converter drops its new state and
 * tries again later (update/convert.c). Without the flag a caller waits
 * for the conversion however long it takes (a transfer that moves things
 * out of the old state, as sched v2's does, must not set it).
 */
#define UPDATE_PURE_TRANSFER	(1U << 0)
#define UPDATE_FLAGS_KNOWN	UPDATE_PURE_TRANSFER

struct update_desc {
	const char *abi;		/* KERNEL_ABI it was built against */
	const char *class_name;
	const char *impl;		/* must match the running class's impl */
	uint32_t from, to;
	const struct class *cls;	/* the new version */
	transfer_fn transfer;		/* previous version -> this one */
	/* Optional: this version -> previous, used by a rollback to keep calls made since. */
	transfer_fn transfer_back;
	/* Runs before commit on a scratch instance; 0 means fit to run. */
	int (*selftest)(const struct class *cls);
	enum update_mode mode;		/* a pack's update,mode overrides it */
	uint32_t flags;			/* UPDATE_PURE_TRANSFER; other bits must be 0 */
};

/* Result of applying a pack (also the reason a pack was rejected). */
enum update_result {
	UPDATE_OK = 0,
	UPDATE_ERR_MALFORMED,		/* pack structure, ELF, descriptor */
	UPDATE_ERR_INTEGRITY,		/* hash or signature */
	UPDATE_ERR_ABI,			/* module built for another kernel ABI */
	UPDATE_ERR_REPLAY,		/* sequence number not above the last one */
	UPDATE_ERR_UNKNOWN_CLASS,
	UPDATE_ERR_GAP,			/* from above the current version, or to > from + 1 */
	UPDATE_ERR_DOWNGRADE,		/* to below from */
	UPDATE_ERR_DUPLICATE,		/* to == from, or from below the current version */
	UPDATE_ERR_REQUIREMENT,		/* another class below a required version */
	UPDATE_ERR_LINK,		/* unresolved symbol, bad relocation */
	UPDATE_ERR_INTERFACE,		/* new version drops methods */
	UPDATE_ERR_SELFTEST,
	UPDATE_ERR_NOMEM,
	UPDATE_ERR_TIMEOUT,		/* quiescence not reached: nothing changed */
	UPDATE_ERR_BUSY,		/* another update in progress */
	UPDATE_ERR_ROLLED_BACK,		/* applied, then faulted and rolled back */
	UPDATE_ERR_NOSPACE,		/* the journal has no room for the pack */
	UPDATE_ERR_STORAGE,		/* the journal could not be written */
};

const char *update_result_name(enum update_result r);

/* Applies a pack already in memory (a FIT, docs/pack-format.md). */
enum update_result update_apply_pack(const void *pack, size_t size);

/*
 * Benchmark baseline only: the same pack applied the way kpatch/Ksplice
 * do, with every other hart stopped, no quiescence, no probation.
 */
#define UPDATE_STOP_THE_WORLD	(1U << 0)
/*
 * Boot replay of a journaled pack (update/persist.c): every check as
 * usual, not journaled again, a shorter probation.
 */
#define UPDATE_REPLAY		(1U << 1)
enum update_result update_apply_pack_flags(const void *pack, size_t size, unsigned int flags);

/* Figures of the last applied pack, for benchmarks. */
struct update_timing {
	uint64_t apply_ticks;	/* switch + eager conversion (not the quiescence wait) */
	uint64_t quiesce_ticks;	/* the forward phase's wait */
	uint64_t pause_ticks;	/* stop-the-world only: how long harts were stopped */
	uint64_t max_blackout_ticks;	/* longest single-instance conversion */
};
extern struct update_timing update_last_timing;

/*
 * Called (if set) once a pack passed every check that needs no code loaded
 * (structure, signature, hashes, ABI, sequence, chain), before linking:
 * the OTA agent's `ota: verified` line. One pack at a time, so a plain
 * pointer suffices.
 */
extern void (*update_verified_hook)(uint32_t seq, unsigned int steps);

/* What failed, for the last pack refused (empty after a success). */
const char *update_last_detail(void);

/* Versions for reports: the current version of a class, 0 if unknown. */
uint32_t update_class_version(const char *class_name);
/* Last accepted pack sequence number. */
uint32_t update_last_seq(void);
/* Raises it to the journal's floor after boot replay (never lowers it). */
void update_raise_floor(uint32_t seq);

#endif
