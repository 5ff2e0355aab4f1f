/* libFuzzer target: the shim's reading of a function's description from
 * the server (src/shim/replies.c), and the launch packing that trusts it:
 * any reply either is refused or packs kernelParams inside the argument
 * buffer. The buffers here are exactly as large as the check allows, so
 * AddressSanitizer sees any byte written past them. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "replies.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct omps_reply_function rep;
	void *params[OMPS_MAX_PARAMS] = {0};
	unsigned char *buf;
	uint32_t args_size, i;

	memset(&rep, 0, sizeof(rep));
	memcpy(&rep, data, size < sizeof(rep) ? size : sizeof(rep));
	if (shim_reply_function_check(&rep, &args_size) < 0)
		return 0;
	if (args_size > SHIM_MAX_ARGS_BYTES || rep.nparams > OMPS_MAX_PARAMS)
		abort(); /* the check let through what it must refuse */
	buf = malloc(args_size + 1);
	for (i = 0; i < rep.nparams; i++) {
		params[i] = malloc(rep.params[i].size + 1);
		if (params[i])
			memset(params[i], (int)i, rep.params[i].size);
	}
	if (buf)
		shim_pack_params(rep.params, rep.nparams, args_size, params, buf);
	for (i = 0; i < rep.nparams; i++)
		free(params[i]);
	free(buf);
	return 0;
}
