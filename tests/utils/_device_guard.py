"""Catch device mistakes on a machine without a GPU.

CI has no GPU, so a tensor created on the default device (the CPU) next to a
net on ``cuda`` cannot fail there by itself. :func:`device_guard` makes the
mistake visible on the CPU: while it is active, a torch factory call
(``torch.tensor``, ``as_tensor``, ``zeros``, ``randn``, ``eye``, ...) made
*directly by skpoison code* without an explicit ``device=`` is recorded, and
so is a host copy (``Tensor.numpy``) made anywhere in skpoison but the one
helper that moves tensors to the host first
(:func:`skpoison.utils._torch.to_numpy`). Calls made by torch, skorch or
other libraries on skpoison's behalf are theirs, not checked.

The block fails with an AssertionError listing each such call by file and
line. (``with torch.device("meta")`` around the whole path was the first
idea; it also catches torch's own CPU-side tensors, such as Adam's step
counter, so it cannot run a training loop.)
"""

import os
import sys
from contextlib import contextmanager

import torch
from torch.overrides import TorchFunctionMode

import skpoison

_PACKAGE = os.path.dirname(os.path.abspath(skpoison.__file__)) + os.sep
_ALLOWED = {os.path.join(_PACKAGE, "utils", "_torch.py")}
_HERE = os.path.abspath(__file__)

FACTORIES = {
    torch.tensor, torch.as_tensor, torch.asarray, torch.zeros, torch.ones,
    torch.empty, torch.full, torch.rand, torch.randn, torch.randint,
    torch.randperm, torch.arange, torch.linspace, torch.eye, torch.scalar_tensor,
}


def _caller():
    """File and line of the code that called the torch function.

    torch's own Python wrappers (``torch/overrides.py``, ``torch/_tensor.py``)
    are skipped; any other torch frame means torch itself made the call.
    """
    frame = sys._getframe(2)
    while frame is not None:
        name = os.path.abspath(frame.f_code.co_filename)
        if name == _HERE or name.endswith(("overrides.py", "_tensor.py")):
            frame = frame.f_back
            continue
        return name, frame.f_lineno
    return "", 0


class _Guard(TorchFunctionMode):
    def __init__(self, package):
        super().__init__()
        self.package = package
        self.violations = []

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if func in FACTORIES and kwargs.get("device") is None:
            name, line = _caller()
            if name.startswith(self.package) and name not in _ALLOWED:
                self.violations.append(
                    f"{os.path.relpath(name, self.package)}:{line}: "
                    f"torch.{func.__name__} without device=")
        elif func is torch.Tensor.numpy:
            name, line = _caller()
            if name.startswith(self.package) and name not in _ALLOWED:
                self.violations.append(
                    f"{os.path.relpath(name, self.package)}:{line}: Tensor.numpy() "
                    "outside utils._torch.to_numpy")
        return func(*args, **kwargs)


@contextmanager
def device_guard(package=_PACKAGE):
    """Run the block; fail listing the tensors ``package`` made without a device.

    ``package`` is a directory (default: skpoison's); calls made by code in
    files under it are checked.
    """
    guard = _Guard(os.path.join(os.path.abspath(package), ""))
    try:
        with guard:
            yield guard.violations
    finally:
        if guard.violations:
            found = sorted(set(guard.violations))
            raise AssertionError(
                "tensors created or copied to the host without the net's "
                "device:\n  " + "\n  ".join(found))
