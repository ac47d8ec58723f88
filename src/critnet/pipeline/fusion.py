"""Tensor-in, tensor-out fusion for users: the network (or a backend) on a colour or grey pair,
IR resampling, tiling, devices (docs/design.md §5).

A colour visible image is fused through its luma: the network fuses the IR image with the
visible Y channel, and the visible Cb/Cr are kept (:mod:`critnet.pipeline.colour`). Grey visible
images, or ``gray=True``, give a grey output.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from critnet.errors import InputError
from critnet.model import CRITNet, tiled
from critnet.model.config import CRITNetConfig
from critnet.model.tiled import resolve_tile, tiled_forward
from critnet.pipeline.colour import luma, rgb_to_ycbcr, ycbcr_to_rgb

DEVICES = ("cpu", "cuda", "auto")
OUTPUT_NORMALIZATIONS = ("none", "minmax")



def resolve_device(device: str | torch.device | None = "auto") -> torch.device:
    """``cpu``, ``cuda`` (or ``cuda:N``), or ``auto`` / ``None`` (CUDA when available, else CPU).

    Raises:
        InputError: an unknown device name, or CUDA requested but not available.
    """
    if isinstance(device, torch.device):
        return device
    name = (device or "auto").strip().lower()
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cpu":
        return torch.device("cpu")
    if name == "cuda" or name.startswith("cuda:"):
        if not torch.cuda.is_available():
            raise InputError(f"device {device!r} requested but CUDA is not available "
                             f"(use --device cpu or auto)")
        return torch.device(name)
    raise InputError(f"unknown device {device!r}; choose one of {', '.join(DEVICES)}")


def resample_to(image: Tensor, size: tuple[int, int]) -> Tensor:
    """Bicubic resampling (antialiased when shrinking) of B×C×h×w to B×C×H×W, clipped to [0, 1].

    ``size`` is ``(H, W)``. Used for ``resize_ir``: the IR image follows the visible image's grid.
    """
    if tuple(image.shape[-2:]) == tuple(size):
        return image
    out = F.interpolate(image, size=size, mode="bicubic", align_corners=False, antialias=True)
    return out.clamp(0.0, 1.0)


def stretch_minmax(image: Tensor) -> Tensor:
    """Per-image stretch of B×C×H×W to [0, 1] (each batch item by its own min and max).

    The released C-RITNet code stretches its output this way; it is kept only for parity with
    it (``normalize="minmax"``), since it changes the image's brightness. A flat image is kept.
    """
    flat = image.flatten(1)
    lo = flat.min(dim=1).values.view(-1, 1, 1, 1)
    hi = flat.max(dim=1).values.view(-1, 1, 1, 1)
    span = hi - lo
    return torch.where(span > 0, (image - lo) / span.clamp_min(1e-12), image)


def fuse_batch(
    model: CRITNet,
    ir: Tensor,
    vis: Tensor,
    *,
    gray: bool = False,
    resize_ir: bool = False,
    normalize: str = "none",
    tile: int | str | None = "auto",
) -> Tensor:
    """:func:`fuse_tensors` without its final copy: the result may be an inference tensor (fine
    for ``.numpy()`` and reading, not for autograd); what the numpy entry points use."""
    if normalize not in OUTPUT_NORMALIZATIONS:
        raise InputError(f"unknown output normalisation {normalize!r}; choose one of "
                         f"{', '.join(OUTPUT_NORMALIZATIONS)}")
    for name, image in (("ir", ir), ("vis", vis)):
        if image.dim() != 4 or image.shape[1] not in (1, 3):
            raise InputError(f"{name} must be B×1×H×W or B×3×H×W, got {tuple(image.shape)}")
    if ir.shape[0] != vis.shape[0]:
        raise InputError(f"ir and vis batch sizes differ: {ir.shape[0]} and {vis.shape[0]}")
    size = tuple(vis.shape[-2:])
    if tuple(ir.shape[-2:]) != size and not resize_ir:
        raise InputError(f"IR is {ir.shape[-1]}×{ir.shape[-2]} but visible is {size[1]}×{size[0]} "
                         f"(W×H); sizes must match, or use --resize-ir / resize_ir=True")
    param = next(model.parameters(), None)
    device = param.device if param is not None else torch.device("cpu")
    out_device = vis.device
    with torch.inference_mode():
        ir_y = luma(ir.to(device, torch.float32))
        if resize_ir:
            ir_y = resample_to(ir_y, size)
        vis = vis.to(device, torch.float32)
        color = vis.shape[1] == 3 and not gray
        ycc = rgb_to_ycbcr(vis) if vis.shape[1] == 3 else None
        # a copy, not a view of ycc: the fused Y is written into ycc below, and what the network
        # was given must not change under it
        vis_y = ycc[:, :1].clone() if ycc is not None else vis
        # The auto backend tiles with its torch model; other modules (explicit backends,
        # baselines) are fused whole.
        tiler = getattr(model, "torch_model", model)
        try:
            if isinstance(tiler, CRITNet):
                tile_size = resolve_tile(tile, tiler, vis_y.shape)
            else:
                tile_size = None
                _check_whole_fits(model, tile, vis_y.shape)
        except ValueError as error:
            raise InputError(str(error)) from None
        raw = normalize == "minmax"  # the released code stretches the raw decoder output
        if tile_size is not None and hasattr(model, "tiled_forward"):  # the auto backend
            fused = model.tiled_forward(ir_y, vis_y, tile_size, raw=raw)
        elif tile_size is not None:
            fused = tiled_forward(tiler, ir_y, vis_y, tile_size, raw=raw)
        elif raw:
            fused = model(ir_y, vis_y, aux=True).fused
        else:
            fused = model(ir_y, vis_y)
        if raw:
            fused = stretch_minmax(fused)
        if color:  # Y fused, Cb/Cr kept, written into ycc: no full-frame copy
            ycc[:, :1] = fused
            del vis_y, fused
            fused = ycbcr_to_rgb(ycc, inplace=True).clamp_(0.0, 1.0)
        del ycc
        return fused.to(out_device)


def fuse_tensors(
    model: CRITNet,
    ir: Tensor,
    vis: Tensor,
    *,
    gray: bool = False,
    resize_ir: bool = False,
    normalize: str = "none",
    tile: int | str | None = "auto",
) -> Tensor:
    """Fuse an infrared and a visible image batch with ``model``.

    Runs under :func:`torch.inference_mode` on the model's device; the result comes back on
    ``vis``'s device as an ordinary tensor. The whole image goes through the network at once.

    Args:
        model: a :class:`~critnet.model.CRITNet` (e.g. from :func:`critnet.load_model`).
        ir: B×1×H×W (or B×3×H×W, reduced to luma) infrared image in [0, 1].
        vis: B×1×H×W grey or B×3×H×W RGB visible image in [0, 1].
        gray: return a grey image even for a colour ``vis``.
        resize_ir: resample ``ir`` to ``vis``'s H×W (bicubic, see :func:`resample_to`) instead of
            refusing different sizes.
        normalize: ``none`` (the network's output, clamped to [0, 1]) or ``minmax`` (stretch
            the raw, unclamped decoder output of each image to [0, 1], as the released code
            does; parity only).
        tile: ``auto`` (tile only when the whole image would not fit in memory), ``off``, or a
            tile size N: exact tiled inference (:mod:`critnet.model.tiled`), same result; models
            other than a :class:`CRITNet` are fused whole (a :mod:`critnet.pipeline.backends`
            wrapper other than ``auto`` refuses a tile size, and an image too large to fuse
            whole, with an ``InputError``).

    Returns:
        B×1×H×W (grey) or B×3×H×W (colour ``vis``, Y fused, visible Cb/Cr kept), float32 in
        [0, 1], ``vis``'s H×W.

    Raises:
        InputError: bad shapes, different sizes without ``resize_ir``, unknown ``normalize``.

    Example:
        >>> from critnet.model import build_model
        >>> fused = fuse_tensors(build_model("lite"), torch.rand(1, 1, 32, 48),
        ...                      torch.rand(1, 3, 32, 48))
        >>> fused.shape
        torch.Size([1, 3, 32, 48])
    """
    fused = fuse_batch(model, ir, vis, gray=gray, resize_ir=resize_ir, normalize=normalize,
                       tile=tile)
    return fused.clone()  # a normal tensor, usable outside inference mode


def _check_whole_fits(model: torch.nn.Module, tile: int | str | None,
                      shape: tuple[int, ...]) -> None:
    """Exact tiling runs on the torch fp32 path only (docs/inference.md): a backend wrapper
    given a tile size, or an image whose whole-frame forward would not fit in memory under
    ``auto``, is refused in one line rather than ignored or left to run out of memory."""
    config = getattr(model, "config", None)  # critnet.pipeline.backends wrappers carry it
    if not isinstance(config, CRITNetConfig) or tile is None or tile == "off":
        return
    if tile != "auto":
        raise InputError(f"tile {tile}: tiled inference runs on the torch backend in fp32 "
                         f"only; use --backend torch --precision fp32, or --tile off")
    need = tiled.untiled_bytes_per_pixel(config) * shape[0] * shape[-2] * shape[-1]
    free = tiled.available_bytes()
    if need > tiled.AUTO_SHARE * free:
        raise InputError(f"{shape[-1]}×{shape[-2]}: too large to fuse whole here (about "
                         f"{need / 2**30:.1f} GB needed, {free / 2**30:.1f} GB free), and tiled "
                         f"inference runs on the torch backend in fp32 only: use --backend "
                         f"torch --precision fp32")
