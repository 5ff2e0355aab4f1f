#!/usr/bin/env python3
"""A numba program as the idle neighbour of a GPU fault (gpu-check 13).
numba compiles each kernel through the driver's JIT linker (cuLinkCreate,
cuLinkAddData, cuLinkComplete, cuLinkDestroy), so a client that had used
it was let go at a fault. It fills a device array with one kernel, waits
until the file argv[1] exists, finds the array as it was, runs that kernel
again and compiles and runs a second one. Prints "numba neighbour: filled",
then "numba neighbour: PASS" or what it found."""
import os
import sys
import time

import numpy as np

# As in frameworks.py: the GPU machine's numba calls numpy.row_stack, which
# its NumPy (2.x) no longer has.
if not hasattr(np, "row_stack"):
    np.row_stack = np.vstack
from numba import cuda  # noqa: E402

N = 1 << 20


@cuda.jit
def fill(a, k):
    i = cuda.grid(1)
    if i < a.size:
        a[i] = i * 3 + k


def main():
    gate = sys.argv[1]
    d = cuda.device_array(N, dtype=np.int64)
    base = np.arange(N, dtype=np.int64) * 3
    fill[(N + 255) // 256, 256](d, 7)
    if not np.array_equal(d.copy_to_host(), base + 7):
        print("numba neighbour: its kernel's result is wrong before the fault", flush=True)
        return 1
    print("numba neighbour: filled", flush=True)
    while not os.path.exists(gate):
        time.sleep(0.01)
    try:
        kept = np.array_equal(d.copy_to_host(), base + 7)
        fill[(N + 255) // 256, 256](d, 9)

        @cuda.jit
        def twice(a):
            i = cuda.grid(1)
            if i < a.size:
                a[i] *= 2

        twice[(N + 255) // 256, 256](d)
        worked = np.array_equal(d.copy_to_host(), (base + 9) * 2)
    except Exception as e:  # what a program would see
        print(f"numba neighbour: {type(e).__name__}: {str(e).splitlines()[0][:160]}", flush=True)
        return 1
    verdict = "PASS" if kept and worked else ("its array changed" if not kept else "its kernels went wrong after")
    print(f"numba neighbour: {verdict}", flush=True)
    return 0 if kept and worked else 1


if __name__ == "__main__":
    sys.exit(main())
