#!/usr/bin/env python3
"""The frameworks as users run them, each checked against a CPU result:
    frameworks.py NAME      runs one check; prints "frameworks NAME: PASS" or "... FAIL <why>"
    frameworks.py --list    the names
Each check computes on the GPU and compares with NumPy (or PyTorch on the CPU).
scripts/gpu-check section 12 runs each natively, through openmps, and 4 at once.
A framework that is not installed is reported as "SKIP", not as a pass."""
import sys

import numpy as np


def close(a, b, tol=1e-3):
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.shape != b.shape or not np.allclose(a, b, rtol=tol, atol=tol):
        raise AssertionError(f"GPU and CPU differ: max |diff| {np.max(np.abs(a - b)) if a.shape == b.shape else a.shape}")


def torch_eager():
    import torch
    x = torch.randn(256, 256)
    w = torch.randn(256, 256)
    y = torch.nn.functional.gelu(x @ w).sum(0)
    yg = torch.nn.functional.gelu(x.cuda() @ w.cuda()).sum(0).cpu()
    close(yg, y, 1e-2)
    conv = torch.nn.Conv2d(3, 8, 3)
    img = torch.randn(2, 3, 32, 32)
    close(conv.cuda()(img.cuda()).detach().cpu(), conv.cpu()(img).detach(), 1e-3)


def torch_compile():
    import torch
    f = torch.compile(lambda x: (x * 2 + 1).sin() @ x.T)
    x = torch.randn(128, 128)
    close(f(x.cuda()).cpu(), (x * 2 + 1).sin() @ x.T, 1e-2)


def torch_cuda_graphs():
    import torch
    x = torch.randn(1024, device="cuda")
    s = torch.cuda.Stream()
    s.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(s):
        for _ in range(3):
            y = x * 3 + 1
    torch.cuda.current_stream().wait_stream(s)
    g = torch.cuda.CUDAGraph()
    with torch.cuda.graph(g):
        y = x * 3 + 1
    for v in (1.0, 2.0, 5.0):
        x.fill_(v)
        g.replay()
        torch.cuda.synchronize()
        close(y.cpu(), np.full(1024, v * 3 + 1))


def jax_jit_grad_vmap():
    import jax
    import jax.numpy as jnp
    if not any(d.platform == "gpu" for d in jax.devices()):
        raise AssertionError(f"no GPU device in JAX: {jax.devices()}")
    jax.config.update("jax_default_matmul_precision", "highest")  # not TF32: compared with float32 NumPy
    f = jax.jit(lambda w, x: jnp.tanh(x @ w).sum())
    w = np.random.RandomState(0).randn(64, 32).astype(np.float32)
    x = np.random.RandomState(1).randn(16, 64).astype(np.float32)
    close(f(w, x), np.tanh(x @ w).sum(), 1e-2)
    gw = jax.grad(f)(w, x)
    t = np.tanh(x @ w)
    close(gw, x.T @ (1 - t * t), 1e-2)
    close(jax.vmap(lambda r: jnp.dot(r, r))(x), (x * x).sum(1), 1e-2)


def cupy_all():
    import cupy as cp
    import cupyx.scipy.sparse as sp
    a = cp.arange(1000, dtype=cp.float32)
    close((a * 2 + 1).get(), np.arange(1000) * 2 + 1)
    k = cp.RawKernel(r'extern "C" __global__ void k(float *x) { x[threadIdx.x] += 1; }', "k")
    k((1,), (32,), (a,))
    close(a[:32].get(), np.arange(32) + 1)
    m = cp.random.RandomState(3).rand(64, 64, dtype=cp.float32)
    mh = m.get()
    close((m @ m).get(), mh @ mh, 1e-3)
    close(cp.fft.fft(m[0]).get(), np.fft.fft(mh[0]), 1e-3)
    close((sp.csr_matrix(m) @ m).get(), mh @ mh, 1e-3)
    s = cp.cuda.Stream(non_blocking=True)
    e = cp.cuda.Event()
    with s:
        b = m * 2
        e.record(s)
    e.synchronize()
    close(b.get(), mh * 2)


def cuda_libraries():
    """cuDNN, cuSOLVER, Thrust/CUB and cuRAND, each named by the call that
    reaches it: a convolution with cuDNN required, linear solves and a
    symmetric eigensolver, sort and prefix sums, a seeded generator."""
    import cupy as cp
    import torch
    if not torch.backends.cudnn.is_available():
        raise AssertionError("cuDNN is not available to PyTorch")
    torch.backends.cudnn.enabled = True
    conv = torch.nn.Conv2d(4, 8, 5, padding=2)
    img = torch.randn(3, 4, 40, 40)
    ref = conv(img).detach()  # on the CPU, before .cuda() moves the module
    with torch.backends.cudnn.flags(enabled=True, deterministic=True):
        close(conv.cuda()(img.cuda()).detach().cpu(), ref, 1e-3)
    rs = np.random.RandomState(7)
    a = rs.rand(96, 96).astype(np.float64) + 96 * np.eye(96)
    b = rs.rand(96, 3).astype(np.float64)
    close(cp.linalg.solve(cp.asarray(a), cp.asarray(b)).get(), np.linalg.solve(a, b), 1e-8)
    sym = a + a.T
    close(torch.linalg.eigvalsh(torch.from_numpy(sym).cuda()).cpu(), np.linalg.eigvalsh(sym), 1e-6)
    v = rs.rand(100000).astype(np.float32)
    close(cp.sort(cp.asarray(v)).get(), np.sort(v), 0)
    close(cp.cumsum(cp.asarray(v, dtype=cp.float64)).get(), np.cumsum(v.astype(np.float64)), 1e-9)
    close(torch.sort(torch.from_numpy(v).cuda()).values.cpu(), np.sort(v), 0)
    g1, g2 = cp.random.RandomState(11).rand(1000), cp.random.RandomState(11).rand(1000)
    u = g1.get()
    if not (np.array_equal(u, g2.get()) and 0 <= u.min() and u.max() < 1 and abs(u.mean() - 0.5) < 0.05):
        raise AssertionError(f"cuRAND's uniform numbers: mean {u.mean()}, not repeatable or out of [0, 1)")


def triton_add():
    import torch
    import triton
    import triton.language as tl

    @triton.jit
    def add(x, y, out, n, BLOCK: tl.constexpr):
        i = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
        tl.store(out + i, tl.load(x + i, mask=i < n) + tl.load(y + i, mask=i < n), mask=i < n)

    x, y = torch.randn(10000), torch.randn(10000)
    out = torch.empty(10000, device="cuda")
    add[(10000 + 1023) // 1024,](x.cuda(), y.cuda(), out, 10000, BLOCK=1024)
    close(out.cpu(), x + y)


def numba_kernel():
    # The GPU machine's numba calls numpy.row_stack, which its NumPy (2.x) no
    # longer has; vstack is what it was an alias of. Without this numba fails
    # natively too, before any CUDA call.
    if not hasattr(np, "row_stack"):
        np.row_stack = np.vstack
    from numba import cuda

    @cuda.jit
    def axpy(a, x, y):
        i = cuda.grid(1)
        if i < x.size:
            y[i] = a * x[i] + y[i]

    x = np.arange(4096, dtype=np.float32)
    y = np.ones(4096, dtype=np.float32)
    d = cuda.to_device(y)
    axpy[16, 256](2.0, cuda.to_device(x), d)
    close(d.copy_to_host(), 2 * x + 1)


CHECKS = {"torch_eager": torch_eager, "torch_compile": torch_compile, "torch_cuda_graphs": torch_cuda_graphs,
          "jax": jax_jit_grad_vmap, "cupy": cupy_all, "cuda_libraries": cuda_libraries, "triton": triton_add,
          "numba": numba_kernel}


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    if sys.argv[1] == "--list":
        print(" ".join(CHECKS))
        return
    name = sys.argv[1]
    try:
        CHECKS[name]()
    except ImportError as e:
        print(f"frameworks {name}: SKIP ({e})")
        return
    except Exception as e:  # noqa: BLE001 - any failure is the check's answer
        print(f"frameworks {name}: FAIL {type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}")
        sys.exit(1)
    print(f"frameworks {name}: PASS")


if __name__ == "__main__":
    main()
