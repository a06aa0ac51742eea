/* The demo runner (src/demo.c): applies packs built into the image. */
#ifndef KERNEL_DEMO_H
#define KERNEL_DEMO_H
/* Starts the runner if the command line asks for it. */
void demo_start(const char *bootargs);
#endif
