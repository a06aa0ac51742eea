/*
 * Version-chain rules for a pack (pure; host-tested): ABI, sequence number,
 * then per class a linear chain from the current version, plus the
 * requirements a step places on other classes. Checked before any code of
 * the pack is linked.
 */
#ifndef KERNEL_CHAIN_H
#define KERNEL_CHAIN_H

#include <stddef.h>
#include <stdint.h>
#include <kernel/pack.h>
#include <kernel/update.h>

/* The current version of a class, or -KE_NOENT if the kernel has none. */
typedef int (*chain_version_fn)(void *ctx, const char *class_name, uint32_t *version);

/*
 * UPDATE_OK, or the first rule @p breaks with a message in @err naming the
 * step: UPDATE_ERR_ABI, _REPLAY, _UNKNOWN_CLASS, _GAP, _DOWNGRADE,
 * _DUPLICATE, _REQUIREMENT. Changes nothing.
 */
enum update_result chain_check(const struct pack *p, const char *abi, uint32_t last_seq,
			       chain_version_fn version_of, void *ctx, char *err, size_t errlen);

#endif
