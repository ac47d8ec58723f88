"""Exact tiled inference on onnxruntime, numpy only: the two passes of
:mod:`critnet.model.tiled` run on three exported graphs, without torch.

- ``moments`` graph: ``(ir, vis, rows, cols) -> moments``: II + FE on a window, the features'
  core pixels (``rows``, ``cols``: their indices inside the window) and their float64 second
  moments (:func:`critnet.model.tiled.feature_moments`), which add over tiles;
- ``maps`` graph: ``moments -> six maps``: :func:`critnet.model.tiled.attention_maps` of the
  whole image's moments (float64, as in torch tiling), one image at a time;
- ``tile`` graph: ``(ir, vis, six maps) -> fused``: the whole network on a window with every
  attention map given, the decoder output unclamped.

The tile arithmetic (cores, halos, crops) is :mod:`critnet.model.tiled`'s, so the result equals
torch tiling and the untiled forward to float32 rounding (≤ 1e-5; ``tests/test_tiled_runtime.py``).
The graphs are made by :mod:`critnet.pipeline.tiled_onnx` (torch) and shipped with the bundled
weights (``<name>.<kind>.onnx``), so bundled weights tile, and give the raw decoder output
(``normalize="minmax"``: one tile the size of the image), with numpy and onnxruntime only.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from critnet.model.tiled import crop, tile_cores, with_halo
from critnet.pipeline.runtime import HALO_KEY, GraphSession, image_feeds

#: The three graphs, in the order they run.
KINDS = ("moments", "maps", "tile")
#: The ``maps`` graph's outputs, the ``tile`` graph's map inputs.
MAP_NAMES = ("mrl_vis_to_ir", "mrl_ir_to_vis", "sip_ir_a", "sip_ir_b", "sip_vis_a", "sip_vis_b")
#: The ``moments`` graph's window inputs: the core's row and column indices inside the window.
WINDOW_NAMES = ("rows", "cols")
#: Metadata key of the tiling graphs: the receptive radius of the encoders' output.
STATS_HALO_KEY = "statistics_halo"


class TiledGraphs:
    """The three graphs on onnxruntime and the two-pass tiled forward with them.

    Args:
        graph: ``kind -> serialised graph`` for each of :data:`KINDS` (called once per kind).
        threads: intra-op threads of each session (``None``: all cores).
    """

    def __init__(self, graph: Callable[[str], bytes], threads: int | None = None) -> None:
        sessions = {kind: GraphSession(graph(kind), threads) for kind in KINDS}
        self.moments, self.maps, self.tile = (sessions[kind].session for kind in KINDS)
        metadata = sessions["tile"].metadata
        self.config = sessions["tile"].config
        self.stats_halo, self.out_halo = int(metadata[STATS_HALO_KEY]), int(metadata[HALO_KEY])

    def __call__(self, ir: np.ndarray, vis: np.ndarray, tile: int | None = None, *,
                 raw: bool = False) -> np.ndarray:
        """:func:`critnet.model.tiled.tiled_forward` with the default decoder: B×1×H×W float32
        ``ir`` and ``vis`` in [0, 1] → the fused image, in ``tile``×``tile`` cores (``None``:
        one core, the whole image), unclamped when ``raw``."""
        height, width = ir.shape[-2:]
        cores = tile_cores(height, width, tile or max(height, width))
        moments: np.ndarray | int = 0
        for core in cores:  # pass 1: the feature moments
            window = with_halo(core, self.stats_halo, height, width)
            rows = np.arange(core[0] - window[0], core[1] - window[0], dtype=np.int64)
            cols = np.arange(core[2] - window[2], core[3] - window[2], dtype=np.int64)
            feeds = _feeds(ir, vis, window) | dict(zip(WINDOW_NAMES, (rows, cols), strict=True))
            (part,) = self.moments.run(None, feeds)
            moments = moments + part
        per_image = [self.maps.run(None, {"moments": moments[b:b + 1]})
                     for b in range(ir.shape[0])]
        maps = {name: np.concatenate(each) for name, *each in zip(MAP_NAMES, *per_image,
                                                                   strict=True)}
        fused = np.empty(ir.shape, dtype=np.float32)
        for core in cores:  # pass 2: the output
            window = with_halo(core, self.out_halo, height, width)
            (out,) = self.tile.run(None, _feeds(ir, vis, window) | maps)
            top, bottom, left, right = core
            fused[..., top:bottom, left:right] = crop(out, window, core)
        return fused if raw else np.clip(fused, 0.0, 1.0, out=fused)


def _feeds(ir: np.ndarray, vis: np.ndarray, window: tuple[int, int, int, int]
           ) -> dict[str, np.ndarray]:
    top, bottom, left, right = window
    return image_feeds(ir[..., top:bottom, left:right], vis[..., top:bottom, left:right])


__all__ = ["KINDS", "MAP_NAMES", "STATS_HALO_KEY", "WINDOW_NAMES", "TiledGraphs"]
