"""A stand-in for the few parts of PyTorch that bench/resnet.py uses, for
bench/run --dry (e2e_bench): no GPU, no CUDA; a "model" sleeps in proportion
to its batch. Never on the path outside --dry."""
import contextlib
import types

half = "float16"
backends = types.SimpleNamespace(cudnn=types.SimpleNamespace(benchmark=False))


class _Stream:
    def synchronize(self):
        pass


class cuda:
    Stream = _Stream

    @staticmethod
    def stream(s):
        return contextlib.nullcontext(s)


def randn(*shape, **kwargs):
    return shape[0]  # the batch: all the stand-in model looks at


def no_grad():
    return contextlib.nullcontext()
