#!/usr/bin/env python3
"""What PyTorch needs of openmps (issue 7): a few steps each of ResNet-18
inference and training, pinned-memory copies and a CUDA graph, compared with
the CPU where cheap. Prints one line a step: "torch_probe: <step> ok|FAIL <why>"."""
import sys
import traceback

import torch


def step(name, fn):
    try:
        fn()
        print(f"torch_probe: {name} ok", flush=True)
    except Exception as e:  # report and go on: the point is the list
        print(f"torch_probe: {name} FAIL {type(e).__name__}: {str(e).splitlines()[0][:200]}", flush=True)
        traceback.print_exc(file=sys.stderr)


def basics():
    # Element by element: a sum over the whole product cancels down to a few
    # units, below float32's rounding of a million terms.
    x = torch.randn(1024, 1024, device="cuda")
    y = (x @ x).cpu().double()
    ref = x.cpu().double() @ x.cpu().double()
    err = (y - ref).abs().max().item()
    assert err <= 1e-4 * ref.abs().max().item(), (err, ref.abs().max().item())
    free, total = torch.cuda.mem_get_info()
    assert 0 < free <= total


def pinned():
    h = torch.arange(1 << 20, dtype=torch.float32).pin_memory()
    d = h.to("cuda", non_blocking=True)
    back = d.mul(2).to("cpu", non_blocking=True)
    torch.cuda.synchronize()
    assert torch.equal(back, h * 2)


def streams_events():
    s = torch.cuda.Stream()
    e = torch.cuda.Event(enable_timing=True)
    with torch.cuda.stream(s):
        a = torch.ones(1 << 20, device="cuda") * 3
        e.record()
    torch.cuda.current_stream().wait_event(e)
    assert a.sum().item() == 3 * (1 << 20)


def resnet_inference():
    import torchvision
    torch.backends.cudnn.benchmark = True
    torch.manual_seed(0)
    m = torchvision.models.resnet18().cuda().eval()
    x = torch.randn(8, 3, 224, 224, device="cuda")
    with torch.no_grad():
        y = m(x)
        y16 = m.half()(x.half())
    assert torch.isfinite(y).all() and torch.isfinite(y16).all()


def resnet_training():
    import torchvision
    torch.manual_seed(0)
    m = torchvision.models.resnet18().cuda().train()
    opt = torch.optim.SGD(m.parameters(), lr=0.01)
    x = torch.randn(8, 3, 224, 224, device="cuda")
    t = torch.randint(0, 1000, (8,), device="cuda")
    for _ in range(3):
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(m(x), t)
        loss.backward()
        opt.step()
    assert torch.isfinite(loss).item()


def graph():
    x = torch.ones(1024, device="cuda")
    g = torch.cuda.CUDAGraph()
    s = torch.cuda.Stream()
    s.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(s):
        y = x * 2
    torch.cuda.current_stream().wait_stream(s)
    with torch.cuda.graph(g):
        y = x * 2
    g.replay()
    torch.cuda.synchronize()
    assert y.sum().item() == 2048


for name, fn in [("basics", basics), ("pinned", pinned), ("streams", streams_events),
                 ("resnet18 inference fp32+fp16", resnet_inference), ("resnet18 training", resnet_training),
                 ("cuda graph", graph)]:
    step(name, fn)
