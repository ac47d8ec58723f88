"""Helpers shared by the fusing tests (CLI runs in-process, small weights files)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from critnet.cli import main
from critnet.model import build_model
from critnet.weights import save_weights


def run_cli(capsys: pytest.CaptureFixture[str], *args: object) -> tuple[int, str, str]:
    """Run ``critnet ARGS`` in this process; return ``(exit code, stdout, stderr)``."""
    capsys.readouterr()
    try:
        main([str(a) for a in args])
        code = 0
    except SystemExit as exit_:
        code = exit_.code if isinstance(exit_.code, int) else 1
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def make_weights(path: Path, preset: str = "lite", seed: int = 0) -> Path:
    """A seeded, randomly initialised weights file of ``preset`` whose output is mid-grey.

    An untrained network outputs nearly black images, which push every colour out of gamut;
    shrinking the last layer and biasing it to tanh(0.55) ≈ 0.5 keeps outputs mid-range (still
    image-dependent) so colour and contrast checks on real pairs mean something.
    """
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = build_model(preset)
    last = model.decoder_fuse.body[-1]
    with torch.no_grad():
        last.weight.mul_(0.2)
        last.bias.fill_(0.55)
    return save_weights(model, path)


def seeded_lite():
    """A seeded random ``lite`` model in eval mode."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        return build_model("lite").eval()
