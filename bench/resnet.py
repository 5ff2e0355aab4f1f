#!/usr/bin/env python3
"""One worker of the ResNet-50 benchmark (issue 7): fp16 inference in eager
mode with cudnn.benchmark. Every worker follows one wall-clock schedule: for
each batch size, REPS windows of SECONDS (half a second apart), the first at
START; in each it runs batches until the window ends. Several workers run as
processes, or as THREADS threads of this one process, each with a stream of
its own (the model shared).
    resnet.py START SECONDS BATCHES REPS [THREADS]    (BATCHES: 1,8,32)
START: the first window's wall-clock epoch, or a file that will hold it: once
every thread has warmed up, the worker says "ready" and waits for it (as
bench/bench.h's bench_start: bench/run writes it when every worker is ready).
Prints "resnet BATCH REP images N seconds S" for each window."""
import sys
import threading
import time

import torch
import torchvision


def common_start(arg):
    if "/" not in arg:
        return float(arg)
    print("ready", flush=True)
    for _ in range(120000):
        try:
            with open(arg) as f:
                return float(f.read())
        except (OSError, ValueError):
            time.sleep(0.005)
    return 0.0


def main():
    secs = float(sys.argv[2])
    batches = [int(b) for b in sys.argv[3].split(",")]
    reps = int(sys.argv[4])
    threads = int(sys.argv[5]) if len(sys.argv) > 5 else 1
    torch.backends.cudnn.benchmark = True
    model = torchvision.models.resnet50().cuda().eval().half()
    windows = [(b, r) for b in batches for r in range(reps)]
    counts = [[0] * len(windows) for _ in range(threads)]
    ends = [0.0] * len(windows)
    failed = []
    start = []  # set by the last thread to warm up, for all
    ready = threading.Barrier(threads, action=lambda: start.append(common_start(sys.argv[1])))

    def worker(i):
        try:
            s = torch.cuda.Stream()
            xs = {b: torch.randn(b, 3, 224, 224, device="cuda", dtype=torch.half) for b in batches}
            with torch.no_grad(), torch.cuda.stream(s):
                for b in batches:  # warm-up: cuDNN picks its algorithms for each shape
                    for _ in range(3):
                        model(xs[b])
                s.synchronize()
                ready.wait()
                for k, (b, _) in enumerate(windows):
                    begin = start[0] + k * (secs + 0.5)
                    while time.time() < begin:
                        time.sleep(0.001)
                    while time.time() < begin + secs:
                        for _ in range(2):
                            model(xs[b])
                        s.synchronize()
                        counts[i][k] += 2 * b
                    ends[k] = max(ends[k], time.time() - begin)
        except Exception as e:  # counted as a failure, said on stderr
            ready.abort()  # the others must not wait for this one
            failed.append(repr(e))

    ts = [threading.Thread(target=worker, args=(i,)) for i in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    if failed:
        print("resnet: " + failed[0], file=sys.stderr)
        sys.exit(1)
    for k, (b, r) in enumerate(windows):
        print(f"resnet {b} {r} images {sum(c[k] for c in counts)} seconds {ends[k]:.3f}")


if __name__ == "__main__":
    main()
