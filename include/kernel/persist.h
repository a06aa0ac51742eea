/*
 * Durable updates: the kernel side of the update journal (journal.h) on
 * the state device (storage.h). At boot it opens the journal, replays
 * every committed pack through the update engine (signature, hashes and
 * chain checked again), marks interrupted ones, and enters safe mode after
 * JOURNAL_BOOT_TRIES boots that did not end well. Afterwards the engine
 * records each pack's intent and outcome here, and the agent its LwM2M
 * state. Without a state device every call is a no-op (the board runs
 * volatile, as it says at boot).
 */
#ifndef KERNEL_PERSIST_H
#define KERNEL_PERSIST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <kernel/update.h>

struct persist_summary {
	bool persistent;	/* a journal is in use */
	bool safe_mode;		/* this boot set the journaled updates aside */
	unsigned int entries;	/* packs in the journal */
	unsigned int committed;	/* of which replayed at every boot */
	uint64_t used, free;	/* bytes */
	uint64_t max_pack;	/* largest pack it could store now */
	uint32_t floor;
};

/*
 * Boot, before `boot: ready`, in a thread: opens the journal, counts the
 * boot, replays (or enters safe mode) and raises the engine's floor; logs
 * `journal: ...` lines ending with `journal: ready`. The boot counter is
 * cleared `boot_good_ms` (default 2000) later if the board still runs.
 */
void persist_boot(const char *bootargs);

/*
 * Engine: the pack passed every check and is about to be applied: store it
 * with its intent and raise the floor (both flushed). UPDATE_OK, or
 * UPDATE_ERR_NOSPACE / UPDATE_ERR_STORAGE with @err filled (nothing changed).
 */
enum update_result persist_intent(const void *pack, size_t size, uint32_t seq, char *err,
				  size_t errlen);
/* Engine: probation decided (or the apply failed after the intent). */
void persist_outcome(uint32_t seq, bool committed, const char *reason);

/*
 * Agent: the LwM2M state and result to keep across restarts: written in
 * the background (any context that must not wait, e.g. the network
 * thread), or now (a thread that answers only once it is durable).
 */
void persist_save_state(uint8_t lwm2m_state, uint8_t lwm2m_result, const char *reason);
void persist_save_state_now(uint8_t lwm2m_state, uint8_t lwm2m_result, const char *reason);
/* The state kept from before this boot; false if none (volatile or fresh). */
bool persist_saved_state(uint8_t *lwm2m_state, uint8_t *lwm2m_result, char *reason, size_t len);

void persist_get_summary(struct persist_summary *out);

/* True while the boot replays the journal (modules may ask; tests do). */
bool persist_replaying(void);

/* Console: `journal` lists the entries, `journal erase` forgets the updates. */
void persist_show(void);
int persist_forget_all(void);

#endif
