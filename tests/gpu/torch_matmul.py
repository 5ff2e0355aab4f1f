#!/usr/bin/env python3
"""A 512x512 matmul in PyTorch against the CPU's, in double: the smallest
real framework program (scripts/gpu-check sections 3 and 4)."""
import torch

torch.manual_seed(0)
x = torch.randn(512, 512, device="cuda")
y = (x @ x).sum().item()
ref = (x.cpu().double() @ x.cpu().double()).sum().item()
ok = abs(y - ref) <= 1e-3 * max(1.0, abs(ref))
print(f"torch_matmul: {'PASS' if ok else 'FAIL'} ({y:.3f} vs {ref:.3f})")
