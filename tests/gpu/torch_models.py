#!/usr/bin/env python3
"""Real models through openmps (issue 7): the same script runs natively and
through openmps, saves what it computed, and the two are compared.

    torch_models.py run OUT.pt       the steps; one line each: "torch_models: STEP ok|FAIL why"
    torch_models.py compare NATIVE.pt OPENMPS.pt
                                     "torch_models: compare STEP ok|FAIL" a step, then PASS or FAIL

Steps (seeded, so that both runs compute the same):
  resnet50-fp32   ResNet-50 inference, batch 8 (cudnn.benchmark, TF32 off): relative error <= 1e-4
  resnet50-fp16   the same in half precision: relative error <= 1e-2
  bert            a BERT-base-sized encoder from a config with random weights, batch 4 x 128 tokens
                  (fp32): relative error <= 1e-4
  train           ResNet-18, 50 steps of SGD with momentum, deterministic algorithms: every loss within 1e-3
  graph           ResNet-18 inference captured with torch.cuda.graph and replayed on new inputs:
                  equal to eager within 1e-4, in the same run
  along the way   torch.cuda.mem_get_info, pinned non_blocking copies, several streams and events,
                  an NVRTC-compiled kernel (jiterator), device properties
"""
import os
import sys
import traceback

os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")  # deterministic cuBLAS (train), before CUDA starts

import torch

RESULTS = {}


def step(name, fn):
    try:
        RESULTS[name] = fn()
        print(f"torch_models: {name} ok", flush=True)
    except Exception as e:  # report and go on: the point is the whole list
        print(f"torch_models: {name} FAIL {type(e).__name__}: {str(e).splitlines()[0][:200]}", flush=True)
        traceback.print_exc(file=sys.stderr)


def images(n, seed):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, 3, 224, 224, generator=g)


def resnet50(dtype):
    import torchvision
    torch.manual_seed(0)
    m = torchvision.models.resnet50().cuda().eval().to(dtype)
    x = images(8, 1).cuda().to(dtype)
    with torch.no_grad():
        for _ in range(2):  # the first picks cuDNN's algorithms
            y = m(x)
    torch.cuda.synchronize()
    return y.float().cpu()


def bert():
    from transformers import BertConfig, BertModel
    torch.manual_seed(0)
    m = BertModel(BertConfig()).cuda().eval()  # BERT-base: 12 layers, 768 wide, 12 heads
    g = torch.Generator().manual_seed(2)
    ids = torch.randint(0, 30522, (4, 128), generator=g).cuda()
    with torch.no_grad():
        out = m(input_ids=ids).last_hidden_state
    return out.cpu()


def train():
    """Deterministic algorithms only: otherwise two native runs already differ
    (cuDNN's fastest backward kernels add with atomics), and the comparison
    would show the GPU's nondeterminism instead of openmps's faithfulness."""
    import torchvision
    torch.backends.cudnn.benchmark = False
    torch.backends.cudnn.deterministic = True
    torch.use_deterministic_algorithms(True, warn_only=True)
    torch.manual_seed(0)
    m = torchvision.models.resnet18().cuda().train()
    opt = torch.optim.SGD(m.parameters(), lr=0.01, momentum=0.9)
    g = torch.Generator().manual_seed(3)
    losses = []
    for _ in range(50):
        x = torch.randn(16, 3, 224, 224, generator=g).pin_memory().cuda(non_blocking=True)
        t = torch.randint(0, 1000, (16,), generator=g).cuda(non_blocking=True)
        opt.zero_grad(set_to_none=True)
        loss = torch.nn.functional.cross_entropy(m(x), t)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    torch.use_deterministic_algorithms(False)
    torch.backends.cudnn.deterministic = False
    torch.backends.cudnn.benchmark = True
    return torch.tensor(losses)


def graph():
    import torchvision
    torch.manual_seed(0)
    m = torchvision.models.resnet18().cuda().eval()
    static = images(8, 4).cuda()
    s = torch.cuda.Stream()
    s.wait_stream(torch.cuda.current_stream())
    with torch.no_grad(), torch.cuda.stream(s):
        for _ in range(3):  # warm-up on a side stream, as PyTorch's documentation does it
            m(static)
    torch.cuda.current_stream().wait_stream(s)
    g = torch.cuda.CUDAGraph()
    with torch.no_grad(), torch.cuda.graph(g):
        out = m(static)
    worst = 0.0
    for seed in (5, 6, 7):
        x = images(8, seed).cuda()
        static.copy_(x)
        g.replay()
        with torch.no_grad():
            ref = m(x)
        torch.cuda.synchronize()
        worst = max(worst, ((out - ref).abs().max() / ref.abs().max()).item())
    assert worst <= 1e-4, f"replayed output differs from eager by {worst:.2e} (relative)"
    return out.cpu()


def along_the_way():
    free, total = torch.cuda.mem_get_info()
    assert 0 < free <= total
    props = torch.cuda.get_device_properties(0)
    assert props.multi_processor_count > 0 and props.total_memory > 0
    h = torch.arange(1 << 20, dtype=torch.float32).pin_memory()
    streams = [torch.cuda.Stream() for _ in range(4)]
    outs = []
    for i, s in enumerate(streams):
        with torch.cuda.stream(s):
            d = h.to("cuda", non_blocking=True)
            e = torch.cuda.Event()
            outs.append((d * (i + 1)).to("cpu", non_blocking=True))
            e.record()
        torch.cuda.current_stream().wait_event(e)
    torch.cuda.synchronize()
    for i, o in enumerate(outs):
        assert torch.equal(o, h * (i + 1))
    # jiterator: scalar arguments are declared, with a default, when the kernel is made
    fn = torch.cuda.jiterator._create_jit_fn("template <typename T> T axpy(T x, T y, T a) { return a * x + y; }", a=1.0)
    x = torch.rand(1 << 16, device="cuda")
    y = torch.rand(1 << 16, device="cuda")
    assert torch.allclose(fn(x, y, a=2.0), 2 * x + y)
    return torch.tensor([float(props.multi_processor_count)])


def run(out):
    torch.backends.cudnn.benchmark = True
    torch.backends.cudnn.allow_tf32 = False  # fp32 means fp32: the 1e-4 comparison needs it
    torch.backends.cuda.matmul.allow_tf32 = False
    step("resnet50-fp32", lambda: resnet50(torch.float32))
    step("resnet50-fp16", lambda: resnet50(torch.float16))
    step("bert", bert)
    step("train", train)
    step("graph", graph)
    step("along-the-way", along_the_way)
    torch.save(RESULTS, out)
    print(f"torch_models: {len(RESULTS)} of 6 steps ok", flush=True)


def rel(a, b):
    return ((a - b).abs().max() / b.abs().max().clamp_min(1e-30)).item()


def compare(native_path, openmps_path):
    native, mine = torch.load(native_path), torch.load(openmps_path)
    bounds = {"resnet50-fp32": 1e-4, "resnet50-fp16": 1e-2, "bert": 1e-4, "graph": 1e-4, "along-the-way": 0}
    fails = 0
    for name in ["resnet50-fp32", "resnet50-fp16", "bert", "train", "graph", "along-the-way"]:
        if name not in native or name not in mine:
            print(f"torch_models: compare {name} FAIL (native: {name in native}, openmps: {name in mine})")
            fails += 1
            continue
        a, b = mine[name], native[name]
        if name == "train":
            d = (a - b).abs().max().item()
            ok = d <= 1e-3
            print(f"torch_models: compare {name} {'ok' if ok else 'FAIL'}: losses {b[0]:.4f} .. {b[-1]:.4f}, "
                  f"largest difference {d:.2e} (bound 1e-3)")
        else:
            d = rel(a, b)
            ok = d <= bounds[name]
            print(f"torch_models: compare {name} {'ok' if ok else 'FAIL'}: relative error {d:.2e} "
                  f"(bound {bounds[name]:.0e})")
        fails += not ok
    print("torch_models: PASS" if not fails else f"torch_models: FAIL ({fails} of 6)")
    return 1 if fails else 0


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "run":
        run(sys.argv[2])
    elif len(sys.argv) == 4 and sys.argv[1] == "compare":
        sys.exit(compare(sys.argv[2], sys.argv[3]))
    else:
        sys.exit(__doc__)
