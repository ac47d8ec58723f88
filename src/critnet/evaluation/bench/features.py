"""Fig. 4: channel-averaged feature maps before and after mutual information transfer.

For one image pair, ``F_ir`` and ``F_vis`` (the encoders' outputs) and ``F_vis↔ir`` and
``F_ir↔vis`` (MRL's outputs, Eq. 2–3) are averaged over their C channels and drawn as the
paper's Fig. 4: one row per modality (source image, before, after), the two feature maps of a
row on one shared colour scale. Beside each figure a JSON file gives, per map, its Pearson
correlation with each source image: if MRL transfers the other modality's content, the "after"
map of a row correlates more with the other modality's image than the "before" map does.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from torch import Tensor

from critnet.errors import InputError
from critnet.io import read_image
from critnet.io.atomic import atomic_path
from critnet.model import CRITNet
from critnet.pipeline.colour import luma

#: (key, label) of the four maps, in the order of the paper's Fig. 4.
MAPS = (("f_ir", "$F_{ir}$"), ("f_vis_ir", r"$F_{vis\leftrightarrow ir}$"),
        ("f_vis", "$F_{vis}$"), ("f_ir_vis", r"$F_{ir\leftrightarrow vis}$"))


@dataclass
class FeatureMaps:
    """One pair's source images and channel-averaged feature maps, each H×W float32."""

    ir: np.ndarray
    vis: np.ndarray
    f_ir: np.ndarray
    f_vis_ir: np.ndarray
    f_vis: np.ndarray
    f_ir_vis: np.ndarray


def feature_maps(model: CRITNet, ir: Tensor, vis: Tensor) -> FeatureMaps:
    """Run ``model`` on one pair and average ``F_ir``, ``F_vis``, ``F_vis↔ir``, ``F_ir↔vis``
    over channels.

    The maps are recorded by forward hooks on ``encoder_ir``, ``encoder_vis`` and ``mrl`` during
    an ordinary forward pass (``decoder='fuse0'``: SIPRIA is not needed), so they are exactly what
    the network computes.

    Args:
        model: a C-RITNet with MRL (``config.mit``).
        ir, vis: 1×1×H×W grey images in [0, 1].

    Raises:
        InputError: the model has no MRL (the ``mit: false`` ablation).
    """
    if model.mrl is None:
        raise InputError("these weights have no MRL (mit: false): nothing to show for Fig. 4")
    seen: dict[str, object] = {}
    handles = [getattr(model, name).register_forward_hook(
        lambda _m, _args, output, name=name: seen.__setitem__(name, output))
        for name in ("encoder_ir", "encoder_vis", "mrl")]
    try:
        with torch.inference_mode():
            model(ir, vis, decoder="fuse0")
    finally:
        for handle in handles:
            handle.remove()
    f_vis_ir, f_ir_vis = seen["mrl"]

    def mean(features: Tensor) -> np.ndarray:
        return features[0].float().mean(dim=0).cpu().numpy()

    return FeatureMaps(ir=ir[0, 0].cpu().numpy(), vis=vis[0, 0].cpu().numpy(),
                       f_ir=mean(seen["encoder_ir"]), f_vis_ir=mean(f_vis_ir),
                       f_vis=mean(seen["encoder_vis"]), f_ir_vis=mean(f_ir_vis))


def correlations(maps: FeatureMaps) -> dict[str, dict[str, float]]:
    """Pearson correlation of each feature map with each source image:
    ``{"f_ir": {"ir": r, "vis": r}, ...}`` (0 for a flat map)."""

    def pearson(a: np.ndarray, b: np.ndarray) -> float:
        a, b = a.ravel() - a.mean(), b.ravel() - b.mean()
        norm = float(np.linalg.norm(a) * np.linalg.norm(b))
        return float(a @ b) / norm if norm > 0 else 0.0

    return {key: {"ir": pearson(getattr(maps, key), maps.ir),
                  "vis": pearson(getattr(maps, key), maps.vis)} for key, _ in MAPS}


def plot_feature_maps(maps: FeatureMaps, path: str | os.PathLike, title: str) -> Path:
    """Draw Fig. 4 for one pair: row 1 IR, ``F_ir``, ``F_vis↔ir``; row 2 visible, ``F_vis``,
    ``F_ir↔vis``; each row's two maps share one colour scale (one colour bar per row)."""
    h, w = maps.ir.shape
    fig = Figure(figsize=(3 * 3.2, 2 * 3.2 * h / w + 0.6), layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(2, 3)
    rows = (("ir", "infrared", MAPS[0], MAPS[1]), ("vis", "visible", MAPS[2], MAPS[3]))
    for row, (image_key, image_label, before, after) in zip(axes, rows, strict=True):
        row[0].imshow(getattr(maps, image_key), cmap="gray", vmin=0, vmax=1)
        row[0].set_title(image_label)
        pair = [getattr(maps, before[0]), getattr(maps, after[0])]
        low = min(float(m.min()) for m in pair)
        high = max(float(m.max()) for m in pair)
        for ax, values, (_, label) in zip(row[1:], pair, (before, after), strict=True):
            shown = ax.imshow(values, cmap="viridis", vmin=low, vmax=high)
            ax.set_title(label)
        fig.colorbar(shown, ax=list(row[1:]), shrink=0.8)
        for ax in row:
            ax.set_axis_off()
    fig.suptitle(title)
    path = Path(path)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=100)
    return path


def read_grey(path: str | os.PathLike) -> Tensor:
    """An image file as a 1×1×H×W float tensor in [0, 1] (colour reduced to BT.601 luma)."""
    image, _ = read_image(path)
    tensor = torch.from_numpy(np.ascontiguousarray(image))
    tensor = tensor.permute(2, 0, 1)[None] if tensor.dim() == 3 else tensor[None, None]
    return luma(tensor)


def bench_features(model: CRITNet, pairs: list[tuple[str, Path, Path]],
                   out_dir: str | os.PathLike, *, title: str = "") -> list[Path]:
    """Write ``<stem>.png`` (Fig. 4) and ``<stem>.json`` (correlations) per pair.

    Args:
        model: a C-RITNet with MRL, in eval mode.
        pairs: ``(stem, ir path, visible path)``; the two images must have equal sizes.
        out_dir: output folder (created).
        title: prefix of each figure's title (e.g. the dataset's name).

    Raises:
        InputError: unreadable image, sizes differ, or the model has no MRL.
    """
    out = Path(out_dir)
    written = []
    device = next(model.parameters()).device
    for stem, ir_path, vis_path in pairs:
        ir, vis = read_grey(ir_path), read_grey(vis_path)
        if ir.shape != vis.shape:
            raise InputError(f"{ir_path}: {ir.shape[-1]}×{ir.shape[-2]} but {vis_path} is "
                             f"{vis.shape[-1]}×{vis.shape[-2]}; a pair must have one size")
        maps = feature_maps(model, ir.to(device), vis.to(device))
        label = f"{title}: {stem}" if title else stem
        written.append(plot_feature_maps(maps, out / f"{stem}.png", label))
        record = {"stem": stem, "ir": str(ir_path), "vis": str(vis_path),
                  "size": list(maps.ir.shape[::-1]), "correlation": correlations(maps),
                  "range": {k: [float(getattr(maps, k).min()), float(getattr(maps, k).max())]
                            for k, _ in MAPS}}
        with atomic_path(out / f"{stem}.json") as tmp:
            tmp.write_text(json.dumps(record, indent=2) + "\n")
        written.append(out / f"{stem}.json")
    return written

