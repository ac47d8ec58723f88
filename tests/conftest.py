"""Shared fixtures. Tests needing the shared datasets skip with a reason when they are absent."""

from __future__ import annotations

from pathlib import Path

import pytest

from critnet.io.paths import data_root

try:  # the runtime-only install (pytest -m runtime) has no torch
    import torch
except ImportError:
    pass
else:
    torch.set_num_threads(2)


@pytest.fixture(scope="session", autouse=True)
def graph_cache_dir(tmp_path_factory) -> Path:
    """The exported ONNX graphs of ``--backend auto`` go to a temporary cache, not the user's."""
    root = tmp_path_factory.mktemp("critnet-cache")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("CRITNET_CACHE", str(root))
        yield root


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """The shared data root (``CRITNET_DATA`` or ``../shared/data``); skips if absent."""
    root = data_root()
    if not root.is_dir():
        pytest.skip(f"shared data not found at {root} (set CRITNET_DATA)")
    return root


def need(data_dir: Path, *parts: str) -> Path:
    """``data_dir / parts``, skipping the test with a reason when it does not exist."""
    path = data_dir.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"{path} not found in the shared data")
    return path
