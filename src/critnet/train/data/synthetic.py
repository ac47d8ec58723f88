"""Small synthetic grey pairs (smooth blobs + edges) for tests and smoke runs without data."""

from __future__ import annotations

import numpy as np

from critnet.train.data.roadscene import GrayPair
from critnet.train.saliency import histogram_contrast


def synthetic_pairs(count: int, height: int = 48, width: int = 56, seed: int = 0
                    ) -> list[GrayPair]:
    """``count`` pairs of H×W uint8 images: a warm blob in ``ir``, a textured scene in ``vis``."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float64)
    pairs = []
    for index in range(count):
        cy, cx = rng.uniform(0.2, 0.8, size=2) * (height, width)
        blob = np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * (0.15 * height) ** 2))
        ir = 40 + 180 * blob + rng.normal(0, 4, (height, width))
        stripes = 0.5 + 0.5 * np.sin(xx / rng.uniform(2, 6) + yy / rng.uniform(3, 9))
        vis = 60 + 120 * stripes + 40 * (xx > rng.uniform(0.3, 0.7) * width)
        ir_u8 = np.clip(ir, 0, 255).astype(np.uint8)
        vis_u8 = np.clip(vis, 0, 255).astype(np.uint8)
        pairs.append(GrayPair(f"synthetic_{index:03d}", ir_u8, vis_u8,
                              histogram_contrast(ir_u8), histogram_contrast(vis_u8)))
    return pairs
