/* Checks of what the server answers (replies.c). */
#ifndef OPENMPS_REPLIES_H
#define OPENMPS_REPLIES_H

#include <stdint.h>

#include "calls.h"
#include "protocol.h"

/* CUDA's limit on a kernel's parameters (Volta and later, CUDA 12.1 on). */
#define SHIM_MAX_ARGS_BYTES 32764u

/* 0, with the bytes its packed arguments take, if a function's description
 * is one a launch can trust: at most OMPS_MAX_PARAMS parameters, each
 * within SHIM_MAX_ARGS_BYTES. */
int shim_reply_function_check(const struct omps_reply_function *rep, uint32_t *args_size);

/* Lays kernelParams out as params say, in buf (args_size bytes, checked). */
void shim_pack_params(const struct omps_param *params, uint32_t nparams, uint32_t args_size, void *const *kernel_params,
		      unsigned char *buf);

#endif
