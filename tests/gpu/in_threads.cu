// A suite program's main run by N threads of one process: one context, as
// every client of an openmps server shares one. Where "8 at once" through
// openmps fails, this tells whether one context fails natively too (the
// driver's), or whether openmps does worse than a process of threads.
//   nvcc -Dmain=suite_main -c PROGRAM.cu -o p.o && nvcc in_threads.cu p.o -o t && ./t 8
// Prints "in_threads: all N passed", or the first failing thread's line
// (the program exits the process on its first failure).
#include <cstdio>
#include <cstdlib>
#include <thread>
#include <vector>

#include <cuda_runtime.h>

int suite_main(void);

int main(int argc, char **argv)
{
	int n = argc > 1 ? atoi(argv[1]) : 8;
	std::vector<std::thread> threads;

	setvbuf(stdout, NULL, _IOLBF, 0);
	cudaFree(0); // the context, before the threads race to make it
	for (int i = 0; i < n; i++)
		threads.emplace_back([] { suite_main(); });
	for (auto &t : threads)
		t.join();
	printf("in_threads: all %d passed\n", n);
	return 0;
}
