/*
 * The state device: which storage object the journal writes. Drivers call
 * storage_attach() from their probe (boot hart, before other harts run),
 * so no lock is needed; later readers only see a settled value.
 */
#include <stdbool.h>
#include <kernel/storage.h>
#include <kernel/object.h>
#include <kernel/log.h>

static ott_ref_t state_ref;
static bool state_bound;

void storage_attach(ott_ref_t dev)
{
	struct storage_info si;

	if (storage_info(dev, &si))
		return;
	if (si.flags & STORAGE_F_READONLY)
		return;
	if (state_bound) {
		klog("storage", "ignored model=%s: the first writable device holds the state",
		     si.model);
		return;
	}
	state_ref = dev;
	state_bound = true;
	klog("storage", "state device model=%s offset=%#lx size=%lu erase=%u", si.model,
	     (unsigned long)si.dev_offset, (unsigned long)si.size, si.erase_size);
}

bool storage_state_ref(ott_ref_t *out)
{
	if (state_bound)
		*out = state_ref;
	return state_bound;
}
