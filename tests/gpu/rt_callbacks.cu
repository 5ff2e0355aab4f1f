// Host functions and stream callbacks: they run in this process, in stream
// order, after the work before them and before the work after them.
#define NAME "rt_callbacks"
#include "check.cuh"

static int order[8], norder;
static int *host_view;

static void CUDART_CB first(void *arg)
{
	order[norder++] = *(int *)arg;
}

static void CUDART_CB second(cudaStream_t s, cudaError_t status, void *arg)
{
	(void)s;
	order[norder++] = status == cudaSuccess ? *(int *)arg : -1;
}

__global__ void set(int *x, int v)
{
	*x = v;
}

static void CUDART_CB check_value(void *arg)
{
	order[norder++] = *host_view == 42 ? *(int *)arg : -2;
}

int main(void)
{
	int one = 1, two = 2, three = 3, *d;
	cudaStream_t s;

	CK(cudaStreamCreate(&s));
	CK(cudaMallocHost(&host_view, sizeof(int)));
	*host_view = 0;
	CK(cudaMalloc(&d, sizeof(int)));
	spin<<<1, 1, 0, s>>>(10 * 1000 * 1000);
	CK(cudaLaunchHostFunc(s, first, &one));
	CK(cudaStreamAddCallback(s, second, &two, 0));
	set<<<1, 1, 0, s>>>(d, 42);
	CK(cudaMemcpyAsync(host_view, d, sizeof(int), cudaMemcpyDeviceToHost, s));
	CK(cudaLaunchHostFunc(s, check_value, &three));
	CK(cudaStreamSynchronize(s));
	EXPECT(norder == 3 && order[0] == 1 && order[1] == 2 && order[2] == 3);
	return pass();
}
