/*
 * The kernel's one set of error codes. Functions return 0 on success or a
 * negative code from this list. Values follow POSIX where a POSIX name
 * exists, so they read naturally in logs; err_name() gives the name.
 */
#ifndef KERNEL_ERRNO_H
#define KERNEL_ERRNO_H

#define KE_PERM        1	/* operation not permitted */
#define KE_NOENT       2	/* no such entry (device, class, slot) */
#define KE_IO          5	/* device error */
#define KE_NOMEM      12	/* out of memory */
#define KE_FAULT      14	/* bad address */
#define KE_BUSY       16	/* resource busy (swap in progress, ...) */
#define KE_EXIST      17	/* already exists */
#define KE_NODEV      19	/* no such device in the devicetree */
#define KE_INVAL      22	/* invalid argument or malformed input */
#define KE_NOSPC      28	/* table full */
#define KE_RANGE      34	/* value out of range */
#define KE_DEADLK     35	/* would deadlock */
#define KE_NOSYS      38	/* method not implemented */
#define KE_NODATA     61	/* missing property */
#define KE_OVERFLOW   75	/* value too large */
#define KE_BADMSG     74	/* malformed message */
#define KE_STALE     116	/* stale object reference */
#define KE_TIMEDOUT  110	/* timed out */
#define KE_ALREADY   114	/* already in progress */
#define KE_NOTSUP     95	/* not supported */

/* Short name of an error code (positive or negative), for log lines. */
const char *err_name(long err);

#endif
