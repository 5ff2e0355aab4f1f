/* Context-wide settings a client asks for. Every client of a device shares
 * its one context, so a limit is the most any client needs: a client may
 * raise it, and a request below the current value changes nothing (the
 * client still gets at least what it asked for). A context synchronize
 * waits for the client's own work only. */
#include "log.h"
#include "server.h"

/* Raising these costs the others nothing but memory; the rest are fixed. */
static int raisable(uint32_t limit)
{
	return limit == CU_LIMIT_STACK_SIZE || limit == CU_LIMIT_PRINTF_FIFO_SIZE ||
	       limit == CU_LIMIT_MALLOC_HEAP_SIZE || limit == CU_LIMIT_DEV_RUNTIME_SYNC_DEPTH ||
	       limit == CU_LIMIT_DEV_RUNTIME_PENDING_LAUNCH_COUNT;
}

void srv_context_limit(struct srv_client *c, const struct omps_call_ctx_limit *m)
{
	size_t now = 0;
	CUresult r = srv_use_device(c, m->dev, NULL);

	if (r == CUDA_SUCCESS)
		r = c->srv->drv->ctx_get_limit(&now, (CUlimit)m->limit);
	if (r == CUDA_SUCCESS && m->set && m->value > now) {
		if (!raisable(m->limit)) {
			omps_log("Client process %d: context limit %u is shared and cannot be changed", (int)c->pid,
				 m->limit);
			r = CUDA_ERROR_NOT_SUPPORTED;
		} else {
			r = c->srv->drv->ctx_set_limit((CUlimit)m->limit, m->value);
			if (r == CUDA_SUCCESS)
				r = c->srv->drv->ctx_get_limit(&now, (CUlimit)m->limit);
		}
	}
	srv_reply_value(c, r, (int64_t)now);
}

/* The context: all of the client's streams on the device, not the others'. */
void srv_context_synchronize(struct srv_client *c, const struct omps_call_dev *m)
{
	srv_reply_result(c, srv_sync_device(c, m->dev));
}
