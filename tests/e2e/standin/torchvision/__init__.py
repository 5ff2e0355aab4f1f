"""bench/run --dry's stand-in for torchvision (see ../torch): a ResNet-50 that
takes a second to make, as the real one takes seconds to load and tune, so
that a worker that does not wait for the others' readiness misses its first
windows, and a forward pass of 1 ms a batch of 8."""
import time


class _Model:
    def cuda(self):
        return self

    def eval(self):
        return self

    def half(self):
        return self

    def __call__(self, batch):
        time.sleep(0.001 * max(1, batch // 8))


class models:
    @staticmethod
    def resnet50():
        time.sleep(1.0)
        return _Model()
