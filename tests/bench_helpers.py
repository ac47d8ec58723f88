"""A tiny synthetic data root for the bench tests (a few small, odd-sized pairs)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

TNO_STEMS = ("01_alpha", "02_beta", "03_gamma")
SIZES = ((40, 56), (33, 47), (36, 36))  # H, W


def _save(path: Path, array: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path)


def make_data_root(root: Path, seed: int = 0) -> Path:
    """``root/tno`` (3 NN_ pairs + 1 extra), ``root/tno_fused/Blur`` (all 3),
    ``root/peer_fused/Half/tno`` (2 of 3) and ``root/peer_fused/Blur/tno`` (duplicate name).
    IR is a bright square on noise (grey PNG); VIS a gradient with texture (RGB PNG)."""
    rng = np.random.default_rng(seed)
    stems = [*TNO_STEMS, "x1_extra"]
    sizes = [*SIZES, (20, 24)]
    for stem, (h, w) in zip(stems, sizes, strict=True):
        ir = (rng.random((h, w)) * 60).astype(np.uint8)
        ir[h // 3:h // 2, w // 3:w // 2] = 230
        yy, xx = np.mgrid[0:h, 0:w]
        vis = ((xx / w) * 150 + 40 * np.sin(yy / 2.0) + 50).clip(0, 255).astype(np.uint8)
        _save(root / "tno" / "ir" / f"{stem}.png", ir)
        _save(root / "tno" / "vi" / f"{stem}.png", np.repeat(vis[..., None], 3, axis=2))
        fused = ((ir.astype(np.float64) + vis) / 2).astype(np.uint8)
        if stem in TNO_STEMS:
            _save(root / "tno_fused" / "Blur" / f"{stem}.png", fused)
            _save(root / "peer_fused" / "Blur" / "tno" / f"{stem}.png", fused)
            if stem != TNO_STEMS[-1]:
                _save(root / "peer_fused" / "Half" / "tno" / f"{stem}.png", fused)
    return root
