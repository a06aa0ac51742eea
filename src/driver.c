/*
 * Binds drivers to devicetree nodes. Drivers are gathered by the linker
 * (.drivers.<rank>.*), so adding one is a line in its folder's objects.mk.
 * A driver with no device is logged and skipped; only a required one
 * (the timer) or a missing console stops the boot.
 */
#include <kernel/driver.h>
#include <kernel/devtree.h>
#include <kernel/log.h>
#include <kernel/errno.h>
#include <kernel/object.h>
#include <libfdt.h>

extern const struct driver __drivers_start[], __drivers_end[];

struct probe_ctx {
	const struct driver *drv;
	int bound;
};

static int probe_one(const void *fdt, int node, int match, void *arg)
{
	struct probe_ctx *c = arg;
	int err = c->drv->probe(fdt, node, match);
	const char *name = fdt_get_name(fdt, node, NULL);

	if (err) {
		klog("driver", "probe failed driver=%s node=%s err=%s: skipped", c->drv->name,
		     name ? name : "?", err_name(err));
		return 0;
	}
	c->bound++;
	return c->drv->single ? 1 : 0;
}

int driver_probe_all(const void *fdt)
{
	for (const struct driver *d = __drivers_start; d < __drivers_end; d++) {
		struct probe_ctx c = { d, 0 };

		dt_for_each_match(fdt, d->compatible, probe_one, &c);
		if (!c.bound) {
			klog("driver", "no device for driver=%s: skipped", d->name);
			if (d->required)
				return -KE_NODEV;
		}
	}
	return 0;
}

int driver_publish(struct factory *f, const struct class *cls, struct object *obj,
		   struct ott_ref *ref)
{
	if (!f->cur) {
		int err = factory_init(f, cls);

		if (err)
			return err;
	}
	return factory_adopt(f, obj, NULL, ref);
}
