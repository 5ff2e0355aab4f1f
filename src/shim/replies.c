/* What the shim takes from the server's replies, checked before use: a
 * server of another build, or a broken one, must not make a client write
 * outside its buffers. Pure functions, so that a fuzz target runs them. */
#include <string.h>

#include "replies.h"

int shim_reply_function_check(const struct omps_reply_function *rep, uint32_t *args_size)
{
	uint64_t end, size = 0;
	uint32_t i;

	if (rep->nparams > OMPS_MAX_PARAMS)
		return -1;
	for (i = 0; i < rep->nparams; i++) {
		end = (uint64_t)rep->params[i].offset + rep->params[i].size;
		if (end > SHIM_MAX_ARGS_BYTES)
			return -1;
		if (end > size)
			size = end;
	}
	*args_size = (uint32_t)size;
	return 0;
}

void shim_pack_params(const struct omps_param *params, uint32_t nparams, uint32_t args_size, void *const *kernel_params,
		      unsigned char *buf)
{
	uint32_t i;

	memset(buf, 0, args_size);
	for (i = 0; i < nparams; i++)
		memcpy(buf + params[i].offset, kernel_params[i], params[i].size);
}
