/*
 * Devicetree-bound drivers. Each driver declares the `compatible` strings
 * it serves and a probe function; driver_probe_all() walks the tree and
 * probes every enabled match. A driver's objects.mk entry is all it takes
 * to be built in; the linker gathers the declarations (.drivers.*), in the
 * order of their rank (console first, interrupt controller next, ...).
 */
#ifndef KERNEL_DRIVER_H
#define KERNEL_DRIVER_H

struct driver {
	const char *name;
	const char *const *compatible;	/* NULL-terminated */
	/* Binds the node; 0 or a negative code (the device is then skipped). */
	int (*probe)(const void *fdt, int node, int match);
	/* Non-zero: boot cannot go on without one bound instance. */
	int required;
	/* Non-zero: one instance serves all matching nodes; stop after the first. */
	int single;
};

#define DRIVER_DECLARE(rank, ident) \
	static const struct driver ident \
	__attribute__((used, section(".drivers." #rank "." #ident), aligned(8)))

struct factory;
struct class;
struct object;
struct ott_ref;

/*
 * Publishes a device instance (static storage) in the factory of its class,
 * setting the factory up on first use. 0 or a negative code.
 */
int driver_publish(struct factory *f, const struct class *cls, struct object *obj,
		   struct ott_ref *ref);

/* Probes every driver; returns 0 or a negative code if a required one found nothing. */
int driver_probe_all(const void *fdt);

#endif
