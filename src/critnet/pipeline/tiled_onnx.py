"""The three graphs of exact tiled inference on onnxruntime (:mod:`critnet.pipeline.tiled_runtime`,
which runs them without torch), exported from a torch C-RITNet:

- ``moments``: :class:`MomentsGraph`, II + FE on a window and the float64 moments of its core
  (:func:`critnet.model.tiled.feature_moments`);
- ``maps``: :class:`MapsGraph`, :func:`critnet.model.tiled.attention_maps` traced in float64
  (onnxruntime has no float64 convolution, so the 1×1 convolutions it runs on its probe are
  traced as the same products written as ``einsum``, :class:`Pointwise`);
- ``tile``: :class:`TileGraph`, the network on a window with every attention map given.

Only the full network (MRL, both SIPRIAs, ``D_fuse``, cosine attention) is exported; ablated
models tile on torch. Graphs of a user's weights are cached like the whole-frame one
(:mod:`critnet.pipeline.graph_cache`); those of the bundled weights are shipped
(``scripts/export_bundled_graphs.py``).
"""

from __future__ import annotations

import copy
from collections.abc import Callable

import torch
from torch import Tensor, nn

from critnet.model import CRITNet
from critnet.model.tiled import attention_maps, feature_moments, halos
from critnet.pipeline.export import (
    INPUT_NAMES,
    export_form,
    optimization_metadata,
    trace_graph,
    with_metadata,
)
from critnet.pipeline.export_affine import AffineForm
from critnet.pipeline.export_form import InferenceForm
from critnet.pipeline.graph_cache import cached_graph
from critnet.pipeline.runtime import HALO_KEY
from critnet.pipeline.tiled_runtime import (
    KINDS,
    MAP_NAMES,
    STATS_HALO_KEY,
    WINDOW_NAMES,
    TiledGraphs,
)

_IMAGE_AXES = {0: "batch", 2: "height", 3: "width"}


def exportable(model: CRITNet) -> bool:
    """Whether the three graphs exist for ``model``: the full network with cosine attention."""
    config = model.config
    return (config.attention_norm == "cosine" and model.mrl is not None and config.sipria
            and model.default_decoder == "fuse")


class MomentsGraph(nn.Module):
    """``(ir, vis, rows, cols) -> moments``: the feature moments of a window's core."""

    def __init__(self, form: InferenceForm | AffineForm) -> None:
        super().__init__()
        self.form = form

    def forward(self, ir: Tensor, vis: Tensor, rows: Tensor, cols: Tensor) -> Tensor:
        f_ir, f_vis = (f.index_select(2, rows).index_select(3, cols)
                       for f in self.form.features(ir, vis))
        return feature_moments(f_ir, f_vis)


class Pointwise(nn.Module):
    """A 1×1, ungrouped ``nn.Conv2d`` as ``einsum`` (the same products, any dtype)."""

    def __init__(self, conv: nn.Conv2d) -> None:
        super().__init__()
        self.weight = nn.Parameter(conv.weight.detach()[:, :, 0, 0].clone(), requires_grad=False)
        self.bias = nn.Parameter(conv.bias.detach().clone(), requires_grad=False)

    def forward(self, x: Tensor) -> Tensor:
        return torch.einsum("oc,bchw->bohw", self.weight, x) + self.bias[:, None, None]


def _pointwise(module: nn.Module) -> None:
    for name, child in module.named_children():
        if (isinstance(child, nn.Conv2d) and child.kernel_size == (1, 1) and child.groups == 1
                and child.bias is not None):
            setattr(module, name, Pointwise(child))
        else:
            _pointwise(child)


class MapsGraph(nn.Module):
    """``moments -> six maps`` of one image (1×K×K; the probe's batch is traced as a constant):
    :func:`~critnet.model.tiled.attention_maps` (cosine attention does not read the pixel
    count)."""

    def __init__(self, model: CRITNet) -> None:
        super().__init__()
        self.model = copy.deepcopy(model).double().cpu().eval().requires_grad_(False)
        for part in (self.model.mrl, self.model.sipria_ir, self.model.sipria_vis):
            _pointwise(part)

    def forward(self, moments: Tensor) -> tuple[Tensor, ...]:
        mrl_maps, sip_maps = attention_maps(self.model, moments, 0, "fuse")
        return (*mrl_maps, *sip_maps[0], *sip_maps[1])


class TileGraph(nn.Module):
    """``(ir, vis, maps...) -> fused`` (unclamped) with every attention map given."""

    def __init__(self, form: InferenceForm | AffineForm) -> None:
        super().__init__()
        self.form = form

    def forward(self, ir: Tensor, vis: Tensor, m1: Tensor, m2: Tensor, s1: Tensor, s2: Tensor,
                s3: Tensor, s4: Tensor) -> Tensor:
        return self.form.tile(ir, vis, (m1, m2), ((s1, s2), (s3, s4)))


def graph_bytes(model: CRITNet, kind: str, metadata: dict[str, str] | None = None) -> bytes:
    """The serialised ``kind`` graph (one of :data:`~critnet.pipeline.tiled_runtime.KINDS`) of
    ``model``, with critnet's metadata, both halos and ``metadata``."""
    channels = model.config.channels
    example = torch.rand(1, 1, 32, 32)
    if kind == "moments":
        index = torch.arange(2, 30)
        data = trace_graph(MomentsGraph(export_form(model)), (example, example, index, index),
                           (*INPUT_NAMES, *WINDOW_NAMES), ("moments",),
                           {**{name: _IMAGE_AXES for name in INPUT_NAMES},
                            **{name: {0: "size"} for name in WINDOW_NAMES},
                            "moments": {0: "batch"}})
    elif kind == "maps":
        size = 2 * channels + 1
        data = trace_graph(MapsGraph(model), (torch.rand(1, size, size, dtype=torch.float64),),
                           ("moments",), MAP_NAMES, {})  # one image: the probe's batch
    elif kind == "tile":
        maps = tuple(torch.softmax(torch.rand(1, channels // g, channels // g), -1)
                     for g in (1, 1, 2, 2, 2, 2))
        axes = {name: _IMAGE_AXES for name in (*INPUT_NAMES, "fused")}
        axes.update({name: {0: "batch"} for name in MAP_NAMES})
        form = export_form(model)
        data = trace_graph(TileGraph(form), (example, example, *maps),
                           (*INPUT_NAMES, *MAP_NAMES), ("fused",), axes)
        metadata = {**optimization_metadata(form), **(metadata or {})}
    else:
        raise ValueError(f"unknown tiling graph {kind!r} (one of {', '.join(KINDS)})")
    stats_halo, out_halo = halos(model, "fuse")
    return with_metadata(data, model, {STATS_HALO_KEY: str(stats_halo), HALO_KEY: str(out_halo),
                                       **(metadata or {})})


def tiled_runtime(model: CRITNet, threads: int | None = None, weights_sha256: str | None = None,
                  note: Callable[[str], None] | None = None) -> TiledGraphs:
    """:class:`~critnet.pipeline.tiled_runtime.TiledGraphs` of ``model``, its graphs from the
    cache (exported once)."""
    metadata = {} if weights_sha256 is None else {"weights_sha256": weights_sha256}
    return TiledGraphs(lambda kind: cached_graph(
        model, weights_sha256, note=note, kind=kind,
        build=lambda: graph_bytes(model, kind, metadata)), threads)


@torch.no_grad()
def tiled_tensors(graphs: TiledGraphs, ir: Tensor, vis: Tensor, tile: int, *,
                  raw: bool = False) -> Tensor:
    """:class:`~critnet.pipeline.tiled_runtime.TiledGraphs` on CPU tensors."""
    return torch.from_numpy(graphs(ir.cpu().numpy(), vis.cpu().numpy(), tile, raw=raw))


__all__ = ["MapsGraph", "MomentsGraph", "Pointwise", "TileGraph", "exportable", "graph_bytes",
           "tiled_runtime", "tiled_tensors"]
