/* A learning aid for keeping CUDA arrays, texture objects and conditional
 * graph nodes across a GPU fault (issue 15): kernels take a texture or
 * surface object's value, or a conditional node's handle, as an argument,
 * so a successor can keep such a client only if its new context gives the
 * same values. Does a fresh context number them the same way?
 * In a context it makes five texture objects over one array, destroys the
 * second, makes two more and a surface object; and two graphs, the first
 * with three conditional handles, the second with two; it prints each
 * value. Then it does the same in a second context of its own process
 * (made after the first is destroyed), and says whether the values repeat.
 *   handle_values
 * Prints "handle_values: context N: textures v1 ...; conditionals w1 ..."
 * and "handle_values: the same in a fresh context: textures yes|no,
 * conditionals yes|no". Run twice, it says whether a fresh process
 * repeats them too. */
#include <cuda.h>
#include <stdio.h>
#include <string.h>

#define NTEX 7  /* six textures and a surface */
#define NCOND 5 /* three handles of one graph, two of another */

static int textures(unsigned long long out[NTEX])
{
	CUDA_ARRAY_DESCRIPTOR ad = {.Width = 64, .Height = 64, .Format = CU_AD_FORMAT_FLOAT, .NumChannels = 1};
	CUDA_RESOURCE_DESC res;
	CUDA_TEXTURE_DESC td;
	CUtexObject t[6];
	CUsurfObject s;
	CUarray a;
	CUresult r;

	memset(&res, 0, sizeof(res));
	memset(&td, 0, sizeof(td));
	if ((r = cuArrayCreate(&a, &ad)))
		return printf("handle_values: cuArrayCreate: error %d\n", (int)r), -1;
	res.resType = CU_RESOURCE_TYPE_ARRAY;
	res.res.array.hArray = a;
	for (int i = 0; i < 5; i++)
		if ((r = cuTexObjectCreate(&t[i], &res, &td, NULL)))
			return printf("handle_values: cuTexObjectCreate: error %d\n", (int)r), -1;
	cuTexObjectDestroy(t[1]);
	if ((r = cuTexObjectCreate(&t[1], &res, &td, NULL)) || (r = cuTexObjectCreate(&t[5], &res, &td, NULL)) ||
	    (r = cuSurfObjectCreate(&s, &res)))
		return printf("handle_values: after a destroy: error %d\n", (int)r), -1;
	for (int i = 0; i < 6; i++)
		out[i] = t[i];
	out[6] = s;
	return 0;
}

static int conditionals(CUcontext ctx, unsigned long long out[NCOND])
{
	CUgraphConditionalHandle h[NCOND];
	CUgraph g[2];
	CUresult r;

	if ((r = cuGraphCreate(&g[0], 0)) || (r = cuGraphCreate(&g[1], 0)))
		return printf("handle_values: cuGraphCreate: error %d\n", (int)r), -1;
	for (int i = 0; i < NCOND; i++)
		if ((r = cuGraphConditionalHandleCreate(&h[i], g[i < 3 ? 0 : 1], ctx, i, CU_GRAPH_COND_ASSIGN_DEFAULT)))
			return printf("handle_values: cuGraphConditionalHandleCreate: error %d\n", (int)r), -1;
	for (int i = 0; i < NCOND; i++)
		out[i] = h[i];
	cuGraphDestroy(g[0]);
	cuGraphDestroy(g[1]);
	return 0;
}

static int in_context(CUdevice dev, int which, unsigned long long tex[NTEX], unsigned long long cond[NCOND])
{
	CUcontext ctx;
	int bad;

	if (cuCtxCreate(&ctx, NULL, 0, dev))
		return printf("handle_values: no context\n"), -1;
	bad = textures(tex) || conditionals(ctx, cond);
	printf("handle_values: context %d: textures", which);
	for (int i = 0; !bad && i < NTEX; i++)
		printf(" %#llx", tex[i]);
	printf("; conditionals");
	for (int i = 0; !bad && i < NCOND; i++)
		printf(" %#llx", cond[i]);
	printf("%s\n", bad ? " (failed)" : "");
	cuCtxDestroy(ctx);
	return bad;
}

int main(void)
{
	unsigned long long t[2][NTEX], c[2][NCOND];
	CUdevice dev;

	if (cuInit(0) || cuDeviceGet(&dev, 0))
		return printf("handle_values: no device\n"), 1;
	if (in_context(dev, 1, t[0], c[0]) || in_context(dev, 2, t[1], c[1]))
		return 1;
	printf("handle_values: the same in a fresh context: textures %s, conditionals %s\n",
	       memcmp(t[0], t[1], sizeof(t[0])) ? "no" : "yes", memcmp(c[0], c[1], sizeof(c[0])) ? "no" : "yes");
	return 0;
}
