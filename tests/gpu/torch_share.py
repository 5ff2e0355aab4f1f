#!/usr/bin/env python3
"""Matrix products in fp16, bf16 and fp32, and attention, each against the
CPU: run with an SM share through openmps (qos-check), where cuBLAS and
PyTorch must pick kernels whose clusters fit the client's SMs."""
import torch
import torch.nn.functional as F

torch.manual_seed(0)
fails = []
for dtype in (torch.float16, torch.bfloat16, torch.float32):
    for m, n, k in ((1024, 1024, 1024), (4096, 2048, 1024)):
        a = torch.randn(m, k) / k ** 0.5
        b = torch.randn(k, n)
        ref = a @ b
        got = (a.to("cuda", dtype) @ b.to("cuda", dtype)).float().cpu()
        err = (got - ref).abs().max().item()
        if err > (0.05 if dtype != torch.float32 else 1e-2):
            fails.append(f"{dtype} {m}x{n}x{k}: {err:.4f}")
q, k, v = (torch.randn(4, 8, 512, 64) for _ in range(3))
ref = F.scaled_dot_product_attention(q, k, v)
got = F.scaled_dot_product_attention(*(t.to("cuda", torch.float16) for t in (q, k, v))).float().cpu()
err = (got - ref).abs().max().item()
if err > 0.02:
    fails.append(f"attention: {err:.4f}")
print("torch_share: " + ("PASS" if not fails else "FAIL " + "; ".join(fails)))
