/*
 * The OTA agent: HTTP/1.1 on TCP port 8080.
 *   PUT /update   body = a pack (streamed into memory, size-limited)
 *   GET /status   JSON: ABI, board, class versions, last sequence number,
 *                 state and result in LwM2M firmware-object terms, events
 */
#ifndef KERNEL_AGENT_H
#define KERNEL_AGENT_H

#define AGENT_PORT	8080
#define AGENT_MAX_PACK	(4L << 20)

/* Starts the agent once the network is up (no-op without a network). */
void agent_start(void);

#endif
