// One worker of the N-body benchmark: all-pairs gravitation in float, tiled
// through shared memory as the CUDA sample does, stepping BODIES bodies from
// a common start time for a fixed time. Several workers run as processes, or
// as THREADS threads of one process, each with its own stream and bodies.
//   nbody START DURATION_SECONDS BODIES [THREADS]   (START: as bench.h's bench_start)
// Prints "interactions N seconds S" (body pairs computed, all workers).
#include <cuda_runtime.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "bench.h"

#define TILE 256

static struct bench_line line; // arg and threads set by main
static double duration;
static int bodies;

/* Wall-clock time: the workers, separate processes, start at one instant. */
static double now(void)
{
	return bench_now(CLOCK_REALTIME);
}

__global__ void step(const float4 *pos, float4 *next, float4 *vel, int n, float dt)
{
	__shared__ float4 tile[TILE];
	int i = blockIdx.x * blockDim.x + threadIdx.x;
	float4 p = i < n ? pos[i] : make_float4(0, 0, 0, 0);
	float3 a = make_float3(0, 0, 0);

	for (int base = 0; base < n; base += TILE) {
		int j = base + threadIdx.x;
		tile[threadIdx.x] = j < n ? pos[j] : make_float4(0, 0, 0, 0);
		__syncthreads();
#pragma unroll 8
		for (int k = 0; k < TILE; k++) {
			float4 q = tile[k];
			float3 r = make_float3(q.x - p.x, q.y - p.y, q.z - p.z);
			float d2 = r.x * r.x + r.y * r.y + r.z * r.z + 0.01f;
			float inv = rsqrtf(d2);
			float s = q.w * inv * inv * inv;
			a.x += r.x * s;
			a.y += r.y * s;
			a.z += r.z * s;
		}
		__syncthreads();
	}
	if (i < n) {
		float4 v = vel[i];
		v.x += a.x * dt;
		v.y += a.y * dt;
		v.z += a.z * dt;
		vel[i] = v;
		next[i] = make_float4(p.x + v.x * dt, p.y + v.y * dt, p.z + v.z * dt, p.w);
	}
}

static void *worker(void *out)
{
	long long *pairs = (long long *)out;
	size_t bytes = (size_t)bodies * sizeof(float4);
	float4 *h = (float4 *)malloc(bytes), *pos[2], *vel;
	cudaStream_t s;
	int cur = 0, blocks = (bodies + TILE - 1) / TILE, warm;
	double start;

	for (int i = 0; i < bodies; i++)
		h[i] = make_float4(rand() / (float)RAND_MAX, rand() / (float)RAND_MAX, rand() / (float)RAND_MAX, 1.0f);
	warm = !cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking) && !cudaMalloc(&pos[0], bytes) &&
	       !cudaMalloc(&pos[1], bytes) && !cudaMalloc(&vel, bytes) &&
	       !cudaMemcpy(pos[0], h, bytes, cudaMemcpyHostToDevice) && !cudaMemset(vel, 0, bytes);
	if (warm) {
		step<<<blocks, TILE, 0, s>>>(pos[0], pos[1], vel, bodies, 0.001f); // warm up
		warm = !cudaStreamSynchronize(s);
	}
	start = bench_line_wait(&line);
	if (!warm)
		return NULL;
	while (now() < start + duration) {
		for (int k = 0; k < 4; k++, cur ^= 1)
			step<<<blocks, TILE, 0, s>>>(pos[cur], pos[cur ^ 1], vel, bodies, 0.001f);
		if (cudaStreamSynchronize(s))
			return NULL;
		*pairs += 4LL * bodies * bodies;
	}
	cudaFree(pos[0]);
	cudaFree(pos[1]);
	cudaFree(vel);
	cudaStreamDestroy(s);
	free(h);
	return out;
}

int main(int argc, char **argv)
{
	pthread_t tid[64];
	long long pairs[64] = {0}, total = 0;
	int threads = argc > 4 ? atoi(argv[4]) : 1, failed = 0;
	void *ok;

	if (argc < 4 || threads < 1 || threads > 64) {
		fprintf(stderr, "usage: nbody START DURATION_SECONDS BODIES [THREADS]\n");
		return 2;
	}
	line.arg = argv[1];
	line.threads = threads;
	duration = atof(argv[2]);
	bodies = atoi(argv[3]);
	if (cudaFree(0)) {
		fprintf(stderr, "nbody: no CUDA device\n");
		return 1;
	}
	for (int i = 0; i < threads; i++)
		pthread_create(&tid[i], NULL, worker, &pairs[i]);
	for (int i = 0; i < threads; i++) {
		pthread_join(tid[i], &ok);
		failed |= !ok;
		total += pairs[i];
	}
	if (failed) {
		fprintf(stderr, "nbody: a CUDA call failed: %s\n", cudaGetErrorString(cudaGetLastError()));
		return 1;
	}
	printf("interactions %lld seconds %.3f\n", total, now() - line.start);
	return 0;
}
