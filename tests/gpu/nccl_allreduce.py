#!/usr/bin/env python3
"""NCCL all-reduce over two GPUs through PyTorch, checked against the sum
it must give (scripts/gpu-check section 17).
  nccl_allreduce.py two   two processes, one GPU each (torch.distributed)
  nccl_allreduce.py one   one process over both GPUs (torch.cuda.nccl)
NVLink multicast stays off (NCCL_NVLS_ENABLE=0)."""
import os
import sys
import tempfile

os.environ.setdefault("NCCL_NVLS_ENABLE", "0")
import torch  # noqa: E402
import torch.distributed as dist  # noqa: E402
import torch.multiprocessing as mp  # noqa: E402

N = 1 << 22


def rank_main(rank, path, q):
    torch.cuda.set_device(rank)
    dist.init_process_group("nccl", init_method=f"file://{path}", rank=rank, world_size=2)
    x = torch.full((N,), float(rank + 1), device="cuda")
    dist.all_reduce(x)
    torch.cuda.synchronize()
    q.put((rank, bool((x == 3.0).all().item())))
    dist.destroy_process_group()


def two():
    path = tempfile.mktemp(prefix="nccl-rdzv.")
    q = mp.get_context("spawn").SimpleQueue()
    mp.spawn(rank_main, args=(path, q), nprocs=2, join=True)
    results = sorted(q.get() for _ in range(2))
    return all(ok for _, ok in results), f"ranks {results}"


def one():
    import torch.cuda.nccl as nccl

    xs = [torch.full((N,), float(d + 1), device=f"cuda:{d}") for d in range(2)]
    nccl.all_reduce(xs)
    for d in range(2):
        torch.cuda.synchronize(d)
    oks = [bool((x == 3.0).all().item()) for x in xs]
    return all(oks), f"devices {oks}"


if __name__ == "__main__":
    mode = sys.argv[1] if len(sys.argv) > 1 else "two"
    if torch.cuda.device_count() < 2:
        print(f"nccl_allreduce {mode}: SKIP ({torch.cuda.device_count()} GPU)")
        sys.exit(0)
    ok, what = two() if mode == "two" else one()
    print(f"nccl_allreduce {mode}: {'PASS' if ok else 'FAIL'} ({what})")
    sys.exit(0 if ok else 1)
