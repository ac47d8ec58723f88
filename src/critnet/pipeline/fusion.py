"""Array-in, array-out fusion for users: the network (or a backend) on a colour or grey pair,
IR resampling, tiling, devices (docs/design.md §5).

A colour visible image is fused through its luma: the network fuses the IR image with the
visible Y channel, and the visible Cb/Cr are kept (:mod:`critnet.pipeline.colour`). Grey visible
images, or ``gray=True``, give a grey output.

Everything here is numpy, so the runtime-only install (no torch) fuses through the same code as
torch: :func:`fuse_batch` reads, splits and merges the colour on numpy arrays and hands the two
grey planes to the network: a model with ``run_arrays`` (the onnxruntime models of
:mod:`critnet.pipeline.bundled` and :mod:`critnet.pipeline.runtime`) takes them as they are, a
torch module through
:func:`critnet.pipeline.backends.torch_forward` (torch imported then). :func:`fuse_tensors` is the
same for tensors.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

import numpy as np
from PIL import Image

from critnet.errors import InputError
from critnet.pipeline.colour import luma, rgb_to_ycbcr, ycbcr_to_rgb
from critnet.pipeline.runtime import installed

if TYPE_CHECKING:
    import torch

DEVICES = ("cpu", "cuda", "auto")
OUTPUT_NORMALIZATIONS = ("none", "minmax")


def cuda_possible() -> bool:
    """Whether CUDA could be available: torch installed and an NVIDIA driver present. Checked
    without importing torch, so that ``--device auto`` costs nothing on a CPU-only machine."""
    return installed("torch") and os.path.exists("/proc/driver/nvidia/version")


def device_name(device: Any = "auto") -> str:
    """``cpu``, ``cuda`` / ``cuda:N``; ``auto`` / ``None`` is ``cpu`` unless CUDA may be there
    (:func:`cuda_possible`), when torch decides. Torch is imported only for CUDA.

    Raises:
        InputError: as :func:`resolve_device`.
    """
    if not isinstance(device, str | None):
        return str(device)  # a torch.device
    name = (device or "auto").strip().lower()
    if name == "cpu" or (name == "auto" and not cuda_possible()):
        return "cpu"
    return str(resolve_device(name))


def resolve_device(device: str | torch.device | None = "auto") -> torch.device:
    """``cpu``, ``cuda`` (or ``cuda:N``), or ``auto`` / ``None`` (CUDA when available, else CPU).

    Raises:
        InputError: an unknown device name, or CUDA requested but not available.
    """
    import torch

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


def resample(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Bicubic resampling (antialiased when shrinking) of B×C×h×w float32 to B×C×H×W, clipped
    to [0, 1]: PIL's ``"F"``-mode resize of each plane (torch's ``interpolate(bicubic,
    antialias=True)`` to 5e-6). ``size`` is ``(H, W)``. Used for ``resize_ir`` (the IR image
    follows the visible image's grid) and by training's reader."""
    if tuple(image.shape[-2:]) == tuple(size):
        return image
    height, width = size
    out = np.empty((*image.shape[:2], height, width), dtype=np.float32)
    for b, c in np.ndindex(*image.shape[:2]):
        plane = Image.fromarray(np.ascontiguousarray(image[b, c], dtype=np.float32), mode="F")
        out[b, c] = np.asarray(plane.resize((width, height), Image.BICUBIC))
    return np.clip(out, 0.0, 1.0, out=out)


def stretch_minmax(image: np.ndarray) -> np.ndarray:
    """Per-image stretch of B×C×H×W to [0, 1] (each batch item by its own min and max).

    The released C-RITNet code stretches its output this way; it is kept only for parity with
    it (``normalize="minmax"``), since it changes the image's brightness. A flat image is kept.
    """
    flat = image.reshape(image.shape[0], -1)
    lo = flat.min(axis=1).reshape(-1, 1, 1, 1)
    span = flat.max(axis=1).reshape(-1, 1, 1, 1) - lo
    return np.where(span > 0, (image - lo) / np.maximum(span, 1e-12), image).astype(np.float32)


def fuse_batch(
    model: Any,
    ir: np.ndarray,
    vis: np.ndarray,
    *,
    gray: bool = False,
    resize_ir: bool = False,
    normalize: str = "none",
    tile: int | str | None = "auto",
) -> np.ndarray:
    """:func:`fuse_tensors` on numpy arrays: B×1×H×W or B×3×H×W float32 in [0, 1] in and out;
    what every entry point uses."""
    if normalize not in OUTPUT_NORMALIZATIONS:
        raise InputError(f"unknown output normalisation {normalize!r}; choose one of "
                         f"{', '.join(OUTPUT_NORMALIZATIONS)}")
    for name, image in (("ir", ir), ("vis", vis)):
        if image.ndim != 4 or image.shape[1] not in (1, 3):
            raise InputError(f"{name} must be B×1×H×W or B×3×H×W, got {tuple(image.shape)}")
    if ir.shape[0] != vis.shape[0]:
        raise InputError(f"ir and vis batch sizes differ: {ir.shape[0]} and {vis.shape[0]}")
    size = tuple(vis.shape[-2:])
    if tuple(ir.shape[-2:]) != size and not resize_ir:
        raise InputError(f"IR is {ir.shape[-1]}×{ir.shape[-2]} but visible is {size[1]}×{size[0]} "
                         f"(W×H); sizes must match, or use --resize-ir / resize_ir=True")
    ir_y = luma(np.asarray(ir, dtype=np.float32))
    if resize_ir:
        ir_y = resample(ir_y, size)
    vis = np.asarray(vis, dtype=np.float32)
    color = vis.shape[1] == 3 and not gray
    ycc = rgb_to_ycbcr(vis) if vis.shape[1] == 3 else None
    # a copy, not a view of ycc: the fused Y is written into ycc below, and what the network
    # was given must not change under it
    vis_y = ycc[:, :1].copy() if ycc is not None else vis
    raw = normalize == "minmax"  # the released code stretches the raw decoder output
    run = getattr(model, "run_arrays", None)
    if run is None:  # a torch module
        from critnet.pipeline.backends import torch_forward

        run = lambda a, b, **kw: torch_forward(model, a, b, **kw)  # noqa: E731
    fused = run(np.ascontiguousarray(ir_y), np.ascontiguousarray(vis_y), tile=tile, raw=raw)
    if raw:
        fused = stretch_minmax(fused)
    if color:  # Y fused, Cb/Cr kept, written into ycc: no full-frame copy
        ycc[:, :1] = fused
        del vis_y, fused
        fused = ycbcr_to_rgb(ycc, inplace=True)
        np.clip(fused, 0.0, 1.0, out=fused)
    return fused


def fuse_tensors(
    model: Any,
    ir: torch.Tensor,
    vis: torch.Tensor,
    *,
    gray: bool = False,
    resize_ir: bool = False,
    normalize: str = "none",
    tile: int | str | None = "auto",
) -> torch.Tensor:
    """Fuse an infrared and a visible image batch with ``model``.

    The network runs on the model's device under :func:`torch.inference_mode`; the colour split
    and merge and the IR resampling run on numpy (:func:`fuse_batch`, shared with the runtime
    install). The result comes back on ``vis``'s device as an ordinary tensor.

    Args:
        model: a :class:`~critnet.model.CRITNet` (e.g. from :func:`critnet.load_model`).
        ir: B×1×H×W (or B×3×H×W, reduced to luma) infrared image in [0, 1].
        vis: B×1×H×W grey or B×3×H×W RGB visible image in [0, 1].
        gray: return a grey image even for a colour ``vis``.
        resize_ir: resample ``ir`` to ``vis``'s H×W (bicubic, see :func:`resample`) instead of
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
        >>> import torch
        >>> from critnet.model import build_model
        >>> fused = fuse_tensors(build_model("lite"), torch.rand(1, 1, 32, 48),
        ...                      torch.rand(1, 3, 32, 48))
        >>> fused.shape
        torch.Size([1, 3, 32, 48])
    """
    import torch

    for name, image in (("ir", ir), ("vis", vis)):
        if image.dim() != 4:
            raise InputError(f"{name} must be B×1×H×W or B×3×H×W, got {tuple(image.shape)}")
    arrays = (image.detach().to("cpu", torch.float32).numpy() for image in (ir, vis))
    fused = fuse_batch(model, *arrays, gray=gray, resize_ir=resize_ir, normalize=normalize,
                       tile=tile)
    return torch.from_numpy(fused).to(vis.device)
