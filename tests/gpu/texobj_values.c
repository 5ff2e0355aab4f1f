/* A learning aid for keeping CUDA arrays and texture objects across a GPU
 * fault (issue 15): kernels take a texture or surface object's value as an
 * argument, so a successor can keep such a client only if its new context
 * gives the same values. Does a fresh context number them the same way?
 * It makes five texture objects over one array, destroys the second, makes
 * two more and a surface object, and prints each value; then it does the
 * same in a second context of its own process (made after the first is
 * destroyed), and says whether the values repeat.
 *   texobj_values
 * Prints "texobj_values: context N: v1 v2 ..." and "texobj_values: the same
 * in a fresh context: yes|no". */
#include <cuda.h>
#include <stdio.h>
#include <string.h>

#define N 8

static int values(unsigned long long out[N])
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
		return printf("texobj_values: cuArrayCreate: error %d\n", (int)r), -1;
	res.resType = CU_RESOURCE_TYPE_ARRAY;
	res.res.array.hArray = a;
	for (int i = 0; i < 5; i++)
		if ((r = cuTexObjectCreate(&t[i], &res, &td, NULL)))
			return printf("texobj_values: cuTexObjectCreate: error %d\n", (int)r), -1;
	cuTexObjectDestroy(t[1]);
	if ((r = cuTexObjectCreate(&t[1], &res, &td, NULL)) || (r = cuTexObjectCreate(&t[5], &res, &td, NULL)) ||
	    (r = cuSurfObjectCreate(&s, &res)))
		return printf("texobj_values: after a destroy: error %d\n", (int)r), -1;
	for (int i = 0; i < 6; i++)
		out[i] = t[i];
	out[6] = s;
	out[7] = 0;
	return 0;
}

static int in_context(CUdevice dev, int which, unsigned long long out[N])
{
	CUcontext ctx;
	int bad;

	if (cuCtxCreate(&ctx, NULL, 0, dev))
		return printf("texobj_values: no context\n"), -1;
	bad = values(out);
	printf("texobj_values: context %d:", which);
	for (int i = 0; !bad && i < 7; i++)
		printf(" %#llx", out[i]);
	printf("%s\n", bad ? " (failed)" : " (textures 1-6, the second made again after its destroy; a surface)");
	cuCtxDestroy(ctx);
	return bad;
}

int main(void)
{
	unsigned long long a[N], b[N];
	CUdevice dev;

	if (cuInit(0) || cuDeviceGet(&dev, 0))
		return printf("texobj_values: no device\n"), 1;
	if (in_context(dev, 1, a) || in_context(dev, 2, b))
		return 1;
	printf("texobj_values: the same in a fresh context: %s\n", memcmp(a, b, sizeof(a)) ? "no" : "yes");
	return 0;
}
