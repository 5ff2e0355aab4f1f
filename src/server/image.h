/* What a module image holds, as far as sharing it between clients goes. */
#ifndef OPENMPS_IMAGE_H
#define OPENMPS_IMAGE_H

#include <stddef.h>
#include <stdint.h>

/* 1 when the image (a cubin, a fat binary or PTX) surely has no module data
 * a kernel or the host could write: no __device__, __constant__ or
 * __managed__ variable, in any of its variants. Then one loaded module may
 * serve every client that loads the same image. 0 when it has some, or when
 * that cannot be told (an unknown format, a compression it cannot undo). */
int srv_image_shareable(const void *image, size_t len);

/* The bytes of module data the image declares (the largest of a fat
 * binary's variants), which a module loaded from it holds on the device:
 * counted against its client's memory limit. 0 when none, or when that
 * cannot be told. */
uint64_t srv_image_data_bytes(const void *image, size_t len);

/* The bytes of module data kernels may write (__device__ and __managed__
 * variables; not __constant__ ones): -1 when that cannot be told. A module
 * with none, loaded again from its image, holds what the first held unless
 * the host wrote its data through an address it asked for. */
int64_t srv_image_writable_bytes(const void *image, size_t len);

/* Each variable srv_image_writable_bytes counts, by name (not
 * NUL-terminated; a fat binary's variants each name theirs, so a name may
 * come more than once). Returns what srv_image_writable_bytes does. */
typedef void (*srv_image_var_fn)(void *arg, const char *name, size_t len);
int64_t srv_image_writable_vars(const void *image, size_t len, srv_image_var_fn fn, void *arg);

#endif
