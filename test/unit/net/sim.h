/*
 * Host harness for the network stack tests (not a test binary): stacks
 * with a simulated clock and a deterministic PRNG, either wired to each
 * other through a link with latency, bandwidth and controllable loss,
 * duplication and reordering, or alone with every sent frame captured.
 *
 * List it in `// unit-srcs:` as test/unit/net/sim.c.
 */
#ifndef UNIT_NET_SIM_H
#define UNIT_NET_SIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <kernel/net.h>

#define SIM_MAX_NODES	2
#define SIM_CAPTURE_MAX	256

struct sim;

/* @nodes 1: one stack, frames captured; 2: two stacks on one link. */
struct sim *sim_new(int nodes, uint64_t seed);
void sim_free(struct sim *s);
struct net_stack *sim_stack(struct sim *s, int node);
const uint8_t *sim_mac(struct sim *s, int node);
uint64_t sim_now_ms(const struct sim *s);
void sim_set_time_ms(struct sim *s, uint64_t ms);	/* capture mode only */

/* Loss, duplication and reordering of frames sent by @from, in percent. */
void sim_set_link(struct sim *s, int from, unsigned loss, unsigned dup, unsigned reorder);
/* Called for every frame sent by @from before the link sees it; true drops it. */
typedef bool (*sim_filter_fn)(void *arg, int from, const uint8_t *frame, size_t len);
void sim_set_filter(struct sim *s, sim_filter_fn fn, void *arg);
/* The next random() of @node returns @v (ISNs, DHCP xid). */
void sim_force_random(struct sim *s, int node, uint32_t v);

/* Runs the link and timers until @ms (absolute). */
void sim_run_until(struct sim *s, uint64_t ms);
/* Runs until @done(arg) is true or @max_ms more have passed; returns done(). */
bool sim_run_while_not(struct sim *s, bool (*done)(void *arg), void *arg, uint64_t max_ms);
/* Frames dropped by the link model (loss, filter, queue full). */
uint64_t sim_link_drops(const struct sim *s);

/* Capture mode. */
size_t sim_captured(const struct sim *s, int node);
const uint8_t *sim_capture(const struct sim *s, int node, size_t i, size_t *len);
void sim_clear_capture(struct sim *s, int node);
/* The last line the stack logged, "" if none. */
const char *sim_last_log(const struct sim *s, int node);
bool sim_logged(const struct sim *s, int node, const char *substr);

/* A deterministic PRNG for tests (xorshift64*). */
uint64_t sim_rand(uint64_t *state);

#endif
