/* Names of error codes for log lines. */
#include <kernel/errno.h>

const char *err_name(long err)
{
	switch (err < 0 ? -err : err) {
	case 0: return "ok";
	case KE_PERM: return "EPERM";
	case KE_NOENT: return "ENOENT";
	case KE_IO: return "EIO";
	case KE_NOMEM: return "ENOMEM";
	case KE_FAULT: return "EFAULT";
	case KE_BUSY: return "EBUSY";
	case KE_EXIST: return "EEXIST";
	case KE_NODEV: return "ENODEV";
	case KE_INVAL: return "EINVAL";
	case KE_NOSPC: return "ENOSPC";
	case KE_RANGE: return "ERANGE";
	case KE_DEADLK: return "EDEADLK";
	case KE_NOSYS: return "ENOSYS";
	case KE_NODATA: return "ENODATA";
	case KE_OVERFLOW: return "EOVERFLOW";
	case KE_BADMSG: return "EBADMSG";
	case KE_STALE: return "ESTALE";
	case KE_TIMEDOUT: return "ETIMEDOUT";
	case KE_ALREADY: return "EALREADY";
	case KE_NOTSUP: return "ENOTSUP";
	default: return "E?";
	}
}
