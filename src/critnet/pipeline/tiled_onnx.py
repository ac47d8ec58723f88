"""Exact tiled inference on onnxruntime: the two passes of :mod:`critnet.model.tiled` as two
exported graphs, the small whole-image steps between them in torch.

- ``encoder`` graph: ``(ir, vis) -> (f_ir, f_vis)``, II + FE on a window (pass 1: the feature
  moments are accumulated from its cropped output, in float64, by
  :func:`critnet.model.tiled.feature_moments`);
- ``tile`` graph: ``(ir, vis, six C×C maps) -> fused``, the whole network on a window with the
  attention maps of the whole image given (pass 2), the decoder output unclamped.

The maps come from :func:`critnet.model.tiled.attention_maps` exactly as in torch tiling, so
the result equals the untiled forward to float32 rounding (≤ 1e-5, as torch tiling). Only the
full network (MRL, both SIPRIAs, ``D_fuse``, cosine attention) is exported; ablated models tile
on torch. Both graphs are cached like the whole-frame one (:mod:`critnet.pipeline.graph_cache`).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from torch import Tensor, nn

from critnet.model import CRITNet
from critnet.model.tiled import attention_maps, crop, feature_moments, halos, tile_cores, with_halo
from critnet.pipeline.export import INPUT_NAMES, export_form, trace_graph
from critnet.pipeline.export_affine import AffineForm
from critnet.pipeline.export_form import InferenceForm
from critnet.pipeline.graph_cache import cached_graph

MAP_NAMES = ("mrl_vis_to_ir", "mrl_ir_to_vis", "sip_ir_a", "sip_ir_b", "sip_vis_a", "sip_vis_b")
_IMAGE_AXES = {0: "batch", 2: "height", 3: "width"}


def exportable(model: CRITNet) -> bool:
    """Whether the two graphs exist for ``model``: the full network with cosine attention."""
    config = model.config
    return (config.attention_norm == "cosine" and model.mrl is not None and config.sipria
            and model.default_decoder == "fuse")


class EncoderGraph(nn.Module):
    """``(ir, vis) -> (F_ir, F_vis)`` (II + FE)."""

    def __init__(self, form: InferenceForm | AffineForm) -> None:
        super().__init__()
        self.form = form

    def forward(self, ir: Tensor, vis: Tensor) -> tuple[Tensor, Tensor]:
        return self.form.features(ir, vis)


class TileGraph(nn.Module):
    """``(ir, vis, maps...) -> fused`` (unclamped) with every attention map given."""

    def __init__(self, form: InferenceForm | AffineForm) -> None:
        super().__init__()
        self.form = form

    def forward(self, ir: Tensor, vis: Tensor, m1: Tensor, m2: Tensor, s1: Tensor, s2: Tensor,
                s3: Tensor, s4: Tensor) -> Tensor:
        return self.form.tile(ir, vis, (m1, m2), ((s1, s2), (s3, s4)))


def encoder_bytes(model: CRITNet) -> bytes:
    """The serialised ``encoder`` graph of ``model``."""
    example = torch.rand(1, 1, 32, 32)
    axes = {name: _IMAGE_AXES for name in (*INPUT_NAMES, "f_ir", "f_vis")}
    return trace_graph(EncoderGraph(export_form(model)), (example, example), INPUT_NAMES,
                       ("f_ir", "f_vis"), axes)


def tile_bytes(model: CRITNet) -> bytes:
    """The serialised ``tile`` graph of ``model``."""
    channels = model.config.channels
    example = torch.rand(1, 1, 32, 32)
    maps = tuple(torch.softmax(torch.rand(1, channels // g, channels // g), -1)
                 for g in (1, 1, 2, 2, 2, 2))
    axes = {name: _IMAGE_AXES for name in (*INPUT_NAMES, "fused")}
    axes.update({name: {0: "batch"} for name in MAP_NAMES})
    return trace_graph(TileGraph(export_form(model)), (example, example, *maps),
                       (*INPUT_NAMES, *MAP_NAMES), ("fused",), axes)


class TiledRuntime:
    """The two graphs of ``model`` on onnxruntime, and the two-pass tiled forward with them.

    Args:
        open_session: ``bytes -> onnxruntime.InferenceSession`` (the backend's settings).
        weights_sha256, note: as :func:`~critnet.pipeline.graph_cache.cached_graph`.
    """

    def __init__(self, model: CRITNet, open_session: Callable[[bytes], object],
                 weights_sha256: str | None = None,
                 note: Callable[[str], None] | None = None) -> None:
        self.model = model
        self.encoder = open_session(cached_graph(model, weights_sha256, note=note,
                                                 kind="encoder",
                                                 build=lambda: encoder_bytes(model)))
        self.tile = open_session(cached_graph(model, weights_sha256, note=note, kind="tile",
                                              build=lambda: tile_bytes(model)))

    @torch.no_grad()
    def __call__(self, ir: Tensor, vis: Tensor, tile: int, *, raw: bool = False) -> Tensor:
        """:func:`critnet.model.tiled.tiled_forward` for the default decoder, on onnxruntime."""
        height, width = ir.shape[-2:]
        cores = tile_cores(height, width, tile)
        stats_halo, out_halo = halos(self.model, "fuse")
        moments = 0
        for core in cores:  # pass 1: the feature moments
            window = with_halo(core, stats_halo, height, width)
            f_ir, f_vis = (crop(torch.from_numpy(f), window, core)
                           for f in self.encoder.run(None, _feeds(ir, vis, window)))
            moments = moments + feature_moments(f_ir, f_vis)
        mrl_maps, sip_maps = attention_maps(self.model, moments, height * width, "fuse")
        maps = [m.numpy() for m in (*mrl_maps, *sip_maps[0], *sip_maps[1])]
        fused = torch.empty(ir.shape, dtype=torch.float32)
        for core in cores:  # pass 2: the output
            window = with_halo(core, out_halo, height, width)
            feeds = _feeds(ir, vis, window) | dict(zip(MAP_NAMES, maps, strict=True))
            (out,) = self.tile.run(None, feeds)
            top, bottom, left, right = core
            fused[..., top:bottom, left:right] = crop(torch.from_numpy(out), window, core)
        return fused if raw else fused.clamp_(0.0, 1.0)


def _feeds(ir: Tensor, vis: Tensor, window: tuple[int, int, int, int]) -> dict[str, np.ndarray]:
    top, bottom, left, right = window
    return {name: np.ascontiguousarray(image[..., top:bottom, left:right].cpu().numpy(),
                                       dtype=np.float32)
            for name, image in zip(INPUT_NAMES, (ir, vis), strict=True)}


__all__ = ["EncoderGraph", "TileGraph", "TiledRuntime", "encoder_bytes", "exportable",
           "tile_bytes"]
