/* The demo runner (src/demo.c): applies packs built into the image. */
#ifndef KERNEL_DEMO_H
#define KERNEL_DEMO_H
/* Starts the runner if the command line asks for it. */
void demo_start(const char *bootargs);

struct demo_pack {
	const char *name;
	const char *group;
	const void *data;
	unsigned long size;
};

/* A pack built into this image, by name; NULL if none. */
const struct demo_pack *demo_find_pack(const char *name);
#endif
