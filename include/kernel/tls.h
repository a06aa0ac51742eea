/* Thread-local storage blocks (picolibc keeps errno there). */
#ifndef KERNEL_TLS_H
#define KERNEL_TLS_H
#include <stddef.h>
/* A fresh TLS block (from kmalloc) initialised from the image's template. */
void *tls_alloc(void);
/* Bytes of one block. */
size_t tls_size(void);
/* Initialises @block (tls_size() bytes, 16-aligned) from the template. */
void tls_init(void *block);
#endif
