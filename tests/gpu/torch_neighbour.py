#!/usr/bin/env python3
"""A PyTorch program as the idle neighbour of a GPU fault (gpu-check 13):
ResNet-18 inference once, its output kept, then it waits until the file
argv[1] exists, runs the same inference again and compares, bit for bit.
Prints "torch neighbour: filled", then "torch neighbour: PASS" or what it
found. Through openmps after another client's fault, server.log says
whether the server kept it, or why not."""
import os
import sys
import time

import torch
import torchvision


def main():
    gate = sys.argv[1]
    torch.backends.cudnn.benchmark = False
    torch.backends.cudnn.deterministic = True
    torch.manual_seed(0)
    m = torchvision.models.resnet18().cuda().eval()
    x = torch.randn(8, 3, 224, 224, device="cuda")
    with torch.no_grad():
        y0 = m(x).cpu()
    print("torch neighbour: filled", flush=True)
    while not os.path.exists(gate):
        time.sleep(0.01)
    try:
        with torch.no_grad():
            y1 = m(x).cpu()
    except Exception as e:  # what a program would see
        print(f"torch neighbour: {type(e).__name__}: {str(e).splitlines()[0][:160]}", flush=True)
        return 1
    same = torch.equal(y0, y1)
    print(f"torch neighbour: {'PASS' if same else 'CHANGED, max difference %g' % (y0 - y1).abs().max().item()}",
          flush=True)
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
