"""Forward hooks that record what each named submodule of a model receives and returns."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import torch
from torch import Tensor, nn

from critnet.model import build_model


@dataclass
class Call:
    """One call of a module: its positional and keyword arguments and its output."""

    args: tuple
    kwargs: dict
    output: object


@dataclass
class Recorder:
    """Calls per submodule name, in call order."""

    calls: dict[str, list[Call]] = field(default_factory=dict)

    def input(self, name: str, index: int = 0) -> Tensor:
        """The first positional argument of the only call of ``name``."""
        return self.only(name).args[index]

    def output(self, name: str) -> object:
        return self.only(name).output

    def only(self, name: str) -> Call:
        calls = self.calls.get(name, [])
        assert len(calls) == 1, f"{name} was called {len(calls)} times, expected once"
        return calls[0]

    def called(self, name: str) -> bool:
        return bool(self.calls.get(name))


@contextmanager
def record(model: nn.Module, names: list[str]) -> Iterator[Recorder]:
    """Record every call of the submodules ``names`` (dotted, as ``model.get_submodule``)."""
    recorder = Recorder({name: [] for name in names})
    handles = []
    for name in names:
        def hook(_module, args, kwargs, output, name=name):
            recorder.calls[name].append(Call(args, kwargs, output))
        handles.append(model.get_submodule(name).register_forward_hook(hook, with_kwargs=True))
    try:
        yield recorder
    finally:
        for handle in handles:
            handle.remove()


#: The network shapes the wiring tests run on, one per shipped preset: ``lite`` stands for the
#: lite/paper topology (three dense layers per RDB) at a narrow width; ``tiny`` is the tiny
#: preset itself; ``paper`` is the paper preset at its own width (C = G = 64; the wiring tests'
#: images are a few pixels, so it stays fast). ``CRITNET_WIRING_PRESETS=tiny`` (comma list)
#: restricts them, for the mutation check (``benchmarks/mutation_check.py --preset tiny``).
WIRING_PRESETS = tuple(os.environ.get("CRITNET_WIRING_PRESETS", "lite,tiny,paper").split(","))
SHAPES = {"lite": ("lite", {"channels": 8, "growth": 4}), "tiny": ("tiny", {}),
          "paper": ("paper", {})}


def tiny_model(seed: int = 0, preset: str = "lite", **overrides) -> nn.Module:
    """A small random C-RITNet of ``preset``'s shape (:data:`SHAPES`) whose temperatures are not
    1, in eval mode."""
    torch.manual_seed(seed)
    name, shape = SHAPES[preset]
    model = build_model(name, **{**shape, **overrides}).eval()
    with torch.no_grad():
        for index, module in enumerate(m for m in model.modules() if hasattr(m, "temperature")):
            module.temperature.fill_(1.5 + 0.25 * index)
    return model


def tiny_images(seed: int = 0, size: tuple[int, int] = (12, 10)) -> tuple[Tensor, Tensor]:
    """Two different 1×1×H×W images in [0, 1]."""
    generator = torch.Generator().manual_seed(seed)
    return (torch.rand(1, 1, *size, generator=generator),
            torch.rand(1, 1, *size, generator=generator))


def close(actual: Tensor, expected: Tensor) -> None:
    torch.testing.assert_close(actual, expected, rtol=1e-5, atol=1e-6)
