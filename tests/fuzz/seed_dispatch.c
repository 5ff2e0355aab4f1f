/* Writes the seed corpus of fuzz_dispatch: a few conversations a client's
 * shim holds with the server, as records (type u32, length u16, bytes).
 *   seed_dispatch DIR        (run by hand; its output is committed) */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "calls.h"
#include "dispatch_input.h"
#include "protocol.h"
#include "seed.h"
#include "../e2e/twice_ptx.h"

static FILE *f;

static void rec(uint32_t type, const void *p, size_t len)
{
	uint16_t n = (uint16_t)len;

	fwrite(&type, 4, 1, f);
	fwrite(&n, 2, 1, f);
	fwrite(p, 1, len, f);
}

int main(int argc, char **argv)
{
	struct omps_call_alloc a = {.dev = 0, .bytes = 4096};
	struct omps_call_dev d = {0};
	struct omps_call_memset ms = {.elem = 4, .value = 7, .ptr = 0x1000, .count = 16};
	struct omps_call_copy cp = {.dst = 0x1000, .src = 0x2000, .bytes = 64};
	struct omps_call_module_load ml = {.bytes = strlen(twice_ptx) + 1};
	struct omps_call_get_function gf = {.module = 1};
	struct omps_call_create cr = {0};
	struct omps_call_pair pr = {.first = 1, .second = 1};
	struct omps_call_pair up = {.first = 1, .second = 2}; /* GRAPH_EXEC_UPDATE: exec 1 from graph 2 */
	struct omps_call_graph_query nl = {.handle = 2, .what = OMPS_GRAPH_NODES, .count = 2};
	struct omps_call_kernel_node kn = {.node = 1};
	struct omps_call_handle h = {1};
	struct omps_call_sync_signal sig = {.seq = 1};
	struct omps_call_capture cap = {.stream = 1};
	struct omps_call_instantiate gi = {.graph = 1};
	struct {
		struct omps_call_launch l;
		uint64_t p;
		uint32_t n, pad;
	} la = {.l = {.function = 1, .grid = {1, 1, 1}, .block = {32, 1, 1}, .args_size = 16}, .n = 8};
	struct omps_call_graph_create gc = {0};
	struct omps_call_graph_node gn = {.graph = 1, .kind = OMPS_NODE_MEMSET, .dst = 0x1000, .elem = 4, .width = 16,
					  .height = 1, .value = 7};
	struct {
		struct omps_call_graph_node n;
		uint32_t dep;
	} gn2;
	struct {
		struct omps_call_graph_deps d;
		uint32_t from, to;
	} gd = {{.graph = 1, .count = 1}, 1, 2};
	struct omps_call_cond_handle ch = {.graph = 1, .default_value = 1};
	struct omps_call_ipc_open io = {.server_pid = 0};
	struct omps_call_vmm vm = {.size = 2 << 20, .handle = 1, .flags = 3 /* read and write */};
	size_t off;

	if (argc != 2)
		return 2;
	memset(&gn2, 0, sizeof(gn2)); /* its padding too: the same seed each time */
	if (!(f = seed_open(argv[1], "memory")))
		return 1;
	rec(OMPS_CALL_MEM_ALLOC, &a, sizeof(a));
	rec(OMPS_CALL_MEM_GET_INFO, &d, sizeof(d));
	rec(OMPS_CALL_MEMSET, &ms, sizeof(ms));
	rec(OMPS_CALL_MEMCPY_DTOD, &cp, sizeof(cp));
	rec(OMPS_CALL_MEMCPY_DTOH, &cp, sizeof(cp));
	rec(OMPS_CALL_SYNCHRONIZE, &d, sizeof(d));
	rec(OMPS_CALL_MEM_FREE, &cp.dst, sizeof(cp.dst));
	fclose(f);
	if (!(f = seed_open(argv[1], "module")))
		return 1;
	for (off = 0; off < ml.bytes; off += 4096)
		rec(OMPS_CALL_IMAGE_DATA, twice_ptx + off, ml.bytes - off < 4096 ? ml.bytes - off : 4096);
	rec(OMPS_CALL_MODULE_LOAD, &ml, sizeof(ml));
	strcpy(gf.name, "twice");
	rec(OMPS_CALL_GET_FUNCTION, &gf, sizeof(gf));
	rec(OMPS_CALL_MEM_ALLOC, &a, sizeof(a));
	rec(OMPS_CALL_LAUNCH, &la, sizeof(la));
	rec(OMPS_CALL_GET_GLOBAL, &gf, sizeof(gf));
	rec(OMPS_CALL_MODULE_UNLOAD, &h, sizeof(h));
	fclose(f);
	if (!(f = seed_open(argv[1], "streams")))
		return 1;
	rec(OMPS_CALL_STREAM_CREATE, &cr, sizeof(cr));
	rec(OMPS_CALL_EVENT_CREATE, &cr, sizeof(cr));
	rec(OMPS_CALL_EVENT_RECORD, &pr, sizeof(pr));
	rec(OMPS_CALL_STREAM_WAIT, &pr, sizeof(pr));
	rec(OMPS_CALL_EVENT_SYNC, &h, sizeof(h));
	rec(OMPS_CALL_EVENT_ELAPSED, &pr, sizeof(pr));
	rec(OMPS_CALL_STREAM_SYNC, &h, sizeof(h));
	rec(OMPS_CALL_SYNC_SIGNAL, &sig, sizeof(sig));
	sig.handle = 1;
	rec(OMPS_CALL_SYNC_SIGNAL, &sig, sizeof(sig));
	sig.kind = OMPS_SIGNAL_EVENT;
	rec(OMPS_CALL_SYNC_SIGNAL, &sig, sizeof(sig));
	rec(OMPS_CALL_EVENT_DESTROY, &h, sizeof(h));
	rec(OMPS_CALL_STREAM_DESTROY, &h, sizeof(h));
	fclose(f);
	if (!(f = seed_open(argv[1], "graphs")))
		return 1;
	rec(OMPS_CALL_STREAM_CREATE, &cr, sizeof(cr));
	rec(OMPS_CALL_EVENT_CREATE, &cr, sizeof(cr));
	rec(OMPS_CALL_CAPTURE_BEGIN, &cap, sizeof(cap));
	rec(OMPS_CALL_CAPTURE_INFO, &cap, sizeof(cap));
	rec(OMPS_CALL_MEMSET, &ms, sizeof(ms));
	rec(OMPS_CALL_EVENT_RECORD, &pr, sizeof(pr));
	rec(OMPS_CALL_CAPTURE_END, &h, sizeof(h));
	rec(OMPS_CALL_GRAPH_NODES, &h, sizeof(h));
	rec(OMPS_CALL_GRAPH_INSTANTIATE, &gi, sizeof(gi));
	rec(OMPS_CALL_GRAPH_UPLOAD, &pr, sizeof(pr));
	rec(OMPS_CALL_GRAPH_LAUNCH, &pr, sizeof(pr));
	rec(OMPS_CALL_STREAM_SYNC, &h, sizeof(h));
	rec(OMPS_CALL_CAPTURE_BEGIN, &cap, sizeof(cap)); /* graph 2, of the same shape */
	rec(OMPS_CALL_MEMSET, &ms, sizeof(ms));
	rec(OMPS_CALL_EVENT_RECORD, &pr, sizeof(pr));
	rec(OMPS_CALL_CAPTURE_END, &h, sizeof(h));
	rec(OMPS_CALL_GRAPH_EXEC_UPDATE, &up, sizeof(up));
	rec(OMPS_CALL_GRAPH_QUERY, &nl, sizeof(nl)); /* node handles 1 and 2, of graph 2 */
	rec(OMPS_CALL_GRAPH_NODE_TYPE, &h, sizeof(h));
	rec(OMPS_CALL_GRAPH_KERNEL_NODE, &kn, sizeof(kn));
	kn.bytes = 12;
	rec(OMPS_CALL_GRAPH_KERNEL_ARGS, &kn, sizeof(kn));
	rec(OMPS_CALL_GRAPH_LAUNCH, &pr, sizeof(pr));
	rec(OMPS_CALL_GRAPH_DESTROY, &h, sizeof(h));
	rec(OMPS_CALL_GRAPH_EXEC_DESTROY, &h, sizeof(h));
	rec(OMPS_CALL_CAPTURE_BEGIN, &cap, sizeof(cap)); /* left open: ended at release */
	fclose(f);
	/* Two clients: one frees and unshares what its graph names while the
	 * other allocates and shares (H1, H4). */
	if (!(f = seed_open(argv[1], "two-clients")))
		return 1;
	rec(SECOND | OMPS_CALL_MEM_ALLOC, &a, sizeof(a));
	rec(HOST_SLOT_MAP, "\0", 1);
	rec(OMPS_CALL_MEM_ALLOC, &a, sizeof(a));
	rec(OMPS_CALL_STREAM_CREATE, &cr, sizeof(cr));
	rec(OMPS_CALL_CAPTURE_BEGIN, &cap, sizeof(cap));
	cp = (struct omps_call_copy){.stream = 1, .dst = HOST_BASE, .src = 0x1000, .bytes = 64};
	rec(OMPS_CALL_MEMCPY_DTOH_HOST, &cp, sizeof(cp));
	rec(OMPS_CALL_MEM_FREE, &cp.src, sizeof(cp.src));
	rec(OMPS_CALL_CAPTURE_END, &h, sizeof(h));
	rec(OMPS_CALL_GRAPH_INSTANTIATE, &gi, sizeof(gi));
	rec(HOST_SLOT_UNMAP, "\0", 1);
	rec(SECOND | HOST_SLOT_MAP, "\0", 1);
	rec(SECOND | OMPS_CALL_MEM_ALLOC, &a, sizeof(a));
	rec(OMPS_CALL_GRAPH_LAUNCH, &pr, sizeof(pr));
	rec(OMPS_CALL_SYNCHRONIZE, &d, sizeof(d));
	rec(SECOND | HOST_SLOT_UNMAP, "\0", 1);
	rec(OMPS_CALL_GRAPH_EXEC_DESTROY, &h, sizeof(h));
	rec(OMPS_CALL_GRAPH_DESTROY, &h, sizeof(h));
	fclose(f);
	/* A graph built node by node: a memset, then a node after it; a child. */
	if (!(f = seed_open(argv[1], "graph-nodes")))
		return 1;
	rec(OMPS_CALL_MEM_ALLOC, &a, sizeof(a));
	rec(OMPS_CALL_GRAPH_CREATE, &gc, sizeof(gc));
	rec(OMPS_CALL_GRAPH_ADD_NODE, &gn, sizeof(gn));
	gn2.n = gn;
	gn2.n.kind = OMPS_NODE_EMPTY;
	gn2.n.ndeps = 1;
	gn2.dep = 1;
	rec(OMPS_CALL_GRAPH_ADD_NODE, &gn2, sizeof(gn2));
	rec(OMPS_CALL_GRAPH_ADD_DEPS, &gd, sizeof(gd));
	rec(OMPS_CALL_GRAPH_CLONE, &h, sizeof(h));
	rec(OMPS_CALL_COND_HANDLE, &ch, sizeof(ch));
	rec(OMPS_CALL_GRAPH_INSTANTIATE, &gi, sizeof(gi));
	rec(OMPS_CALL_GRAPH_LAUNCH, &pr, sizeof(pr));
	rec(OMPS_CALL_GRAPH_DESTROY, &h, sizeof(h));
	fclose(f);
	/* IPC: the second client opens the first's memory, which it then frees. */
	if (!(f = seed_open(argv[1], "ipc")))
		return 1;
	rec(OMPS_CALL_MEM_ALLOC, &a, sizeof(a));
	rec(OMPS_CALL_IPC_GET, &cp.src, sizeof(cp.src));
	rec(SECOND | OMPS_CALL_IPC_OPEN, &io, sizeof(io));
	rec(OMPS_CALL_MEM_FREE, &cp.src, sizeof(cp.src));
	rec(SECOND | OMPS_CALL_IPC_CLOSE, &cp.src, sizeof(cp.src));
	fclose(f);
	/* Virtual memory: reserve, create, map, access, unmap, release, free. */
	if (!(f = seed_open(argv[1], "vmm")))
		return 1;
	rec(OMPS_CALL_VMM_GRANULARITY, &vm, sizeof(vm));
	rec(OMPS_CALL_VMM_RESERVE, &vm, sizeof(vm));
	rec(OMPS_CALL_VMM_CREATE, &vm, sizeof(vm));
	rec(OMPS_CALL_VMM_MAP, &vm, sizeof(vm));
	rec(OMPS_CALL_VMM_ACCESS, &vm, sizeof(vm));
	rec(OMPS_CALL_MEMSET, &ms, sizeof(ms));
	rec(OMPS_CALL_VMM_UNMAP, &vm, sizeof(vm));
	rec(OMPS_CALL_VMM_RELEASE, &vm, sizeof(vm));
	rec(OMPS_CALL_VMM_ADDR_FREE, &vm, sizeof(vm));
	fclose(f);
	return 0;
}
