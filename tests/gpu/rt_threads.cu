// Host threads, each with a stream of its own, page-locked memory, a kernel
// and a stream callback that starts another thread, which checks the result
// and frees it all (as NVIDIA's simpleCallback sample does): the program
// that hung a server that had served 21 programs before it (issue 23).
// nvcc: -lpthread
#define NAME "rt_threads"
#include <pthread.h>

#include "check.cuh"

#define WORKLOADS 8
#define ELEMENTS  (1 << 20)

struct workload {
	int id;
	cudaStream_t stream;
	int *d, *h;
	int ok;
	pthread_t post;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t all_done = PTHREAD_COND_INITIALIZER;
static int done;

__global__ void inc(int *x, int n)
{
	int i = blockIdx.x * blockDim.x + threadIdx.x;

	if (i < n)
		x[i]++;
}

static void *postprocess(void *arg)
{
	struct workload *w = (struct workload *)arg;
	int i;

	w->ok = 1;
	for (i = 0; i < ELEMENTS; i++)
		w->ok &= w->h[i] == w->id + i + 1;
	CK(cudaFree(w->d));
	CK(cudaFreeHost(w->h));
	CK(cudaStreamDestroy(w->stream));
	pthread_mutex_lock(&lock);
	done++;
	pthread_cond_signal(&all_done);
	pthread_mutex_unlock(&lock);
	return NULL;
}

static void CUDART_CB callback(cudaStream_t s, cudaError_t status, void *arg)
{
	struct workload *w = (struct workload *)arg;

	(void)s;
	if (status != cudaSuccess || pthread_create(&w->post, NULL, postprocess, w)) {
		printf("%s: FAIL callback status %s\n", NAME, cudaGetErrorName(status));
		exit(1);
	}
}

static void *launch(void *arg)
{
	struct workload *w = (struct workload *)arg;
	int i;

	CK(cudaSetDevice(0));
	CK(cudaStreamCreate(&w->stream));
	CK(cudaMalloc(&w->d, ELEMENTS * sizeof(int)));
	CK(cudaHostAlloc(&w->h, ELEMENTS * sizeof(int), cudaHostAllocPortable));
	for (i = 0; i < ELEMENTS; i++)
		w->h[i] = w->id + i;
	CK(cudaMemcpyAsync(w->d, w->h, ELEMENTS * sizeof(int), cudaMemcpyHostToDevice, w->stream));
	inc<<<(ELEMENTS + 511) / 512, 512, 0, w->stream>>>(w->d, ELEMENTS);
	CK(cudaMemcpyAsync(w->h, w->d, ELEMENTS * sizeof(int), cudaMemcpyDeviceToHost, w->stream));
	CK(cudaStreamAddCallback(w->stream, callback, w, 0));
	return NULL;
}

int main(void)
{
	static struct workload w[WORKLOADS];
	pthread_t t[WORKLOADS];
	int i, ok = 1;

	for (i = 0; i < WORKLOADS; i++) {
		w[i].id = i;
		EXPECT(pthread_create(&t[i], NULL, launch, &w[i]) == 0);
	}
	for (i = 0; i < WORKLOADS; i++)
		pthread_join(t[i], NULL);
	pthread_mutex_lock(&lock);
	while (done < WORKLOADS)
		pthread_cond_wait(&all_done, &lock);
	pthread_mutex_unlock(&lock);
	for (i = 0; i < WORKLOADS; i++) {
		pthread_join(w[i].post, NULL);
		ok &= w[i].ok;
	}
	EXPECT(ok);
	return pass();
}
