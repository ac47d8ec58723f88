"""Input kinds for fusion: path / numpy array / PIL image / torch tensor ↔ float arrays in [0, 1].

:func:`to_unit_array` turns any accepted input into an H×W or H×W×3 float32 array in [0, 1]
(the infrared image with its normalisation, the visible image always scaled by its bit depth,
docs/design.md §5); :func:`like` gives a fused array the kind of the visible input;
:func:`to_batch` / :func:`from_batch` convert between those arrays and 1×C×H×W batches.
Torch is never imported here but for a tensor input (which exists only once torch is imported).
"""

from __future__ import annotations

import os
import sys
import warnings
from typing import Any, Literal

import numpy as np
from PIL import Image

from critnet.errors import FlatInputWarning, InputError
from critnet.io.levels import default_normalization, image_levels, normalize_levels
from critnet.io.read import oriented, read_image, read_ir
from critnet.io.write import to_uint

ImageLike = Any  # str | os.PathLike | np.ndarray | PIL.Image.Image | torch.Tensor
Role = Literal["ir", "vis"]

_PEAKS = {np.dtype(np.uint8): (255.0, 8), np.dtype(np.uint16): (65535.0, 16),
          np.dtype(np.bool_): (1.0, 1)}


def to_unit_array(
    image: ImageLike,
    role: Role,
    ir_normalize: str | None = None,
    ir_range: tuple[float, float] | None = None,
    ir_palette_ok: bool = False,
) -> tuple[np.ndarray, str]:
    """Any accepted input as float32 in [0, 1].

    Args:
        image: a file path; a PIL image (EXIF orientation applied); a numpy array H×W, H×W×1,
            H×W×3 or H×W×4 (alpha dropped) of ``uint8``, ``uint16``, ``bool`` or float in [0, 1];
            or a tensor H×W, C×H×W or 1×C×H×W (C in 1, 3, 4) of those dtypes.
        role: ``ir`` or ``vis``. Only the IR image is normalised by ``ir_normalize`` (``None``:
            ``percentile`` for 16-bit, ``full`` otherwise); the visible image is always divided
            by its bit depth's peak, so 16-bit visible fuses like its 8-bit version.
        ir_range: ``(low, high)`` in the IR input's units mapped to 0..1, instead of
            ``ir_normalize`` (IR only).
        ir_palette_ok: a colour IR **file** without radiometric data is fused (as luma) instead
            of refused as a palette rendering (:func:`~critnet.io.read.read_ir`).

    Returns:
        ``(array, name)``: H×W or H×W×3 float32 in [0, 1], and a name for messages.

    Raises:
        InputError: an unreadable file, an unsupported type, shape or dtype, non-finite values,
            or float values outside [0, 1] where they are not stretched.
    """
    label = "IR" if role == "ir" else "visible"
    method = ir_normalize if role == "ir" else "full"
    span = ir_range if role == "ir" else None
    if isinstance(image, (str, os.PathLike)):
        if role == "vis":
            array, info = read_image(image)
        else:
            array, info = read_ir(image, normalize=method, value_range=span,
                                  palette_ok=ir_palette_ok)
        return array, f"{label} {info.name}"
    if isinstance(image, Image.Image):
        name = f"{label} image"
        levels, info = image_levels(oriented(image, name), name)
        return normalize_levels(levels, info.peak, method or default_normalization(
            info.bit_depth), value_range=span), name
    if is_tensor(image):
        return _numpy_to_unit(_tensor_to_numpy(image, f"{label} tensor"), f"{label} tensor",
                              method, span)
    if isinstance(image, np.ndarray):
        return _numpy_to_unit(image, f"{label} array", method, span)
    raise InputError(f"{label} image: unsupported type {type(image).__name__} (use a path, a "
                     f"numpy array, a PIL image or a torch tensor)")


def like(vis: ImageLike, fused: np.ndarray) -> Any:
    """Give ``fused`` (H×W or H×W×3 float32 in [0, 1]) the kind of ``vis``.

    numpy → numpy of ``vis``'s dtype if ``uint8``/``uint16`` (else float32), H×W×1 kept; PIL →
    mode ``L`` or ``RGB``; tensor → ``vis``'s rank and device, channels first, ``uint8`` kept
    (else float32); a path → ``fused`` as is.
    """
    if isinstance(vis, Image.Image):
        return Image.fromarray(to_uint(fused, 8), mode="RGB" if fused.ndim == 3 else "L")
    if isinstance(vis, np.ndarray):
        if vis.ndim == 3 and fused.ndim == 2 and vis.shape[2] == 1:
            fused = fused[..., None]
        if vis.dtype in (np.uint8, np.uint16):
            return to_uint(fused, 8 if vis.dtype == np.uint8 else 16)
        return fused.astype(np.float32)
    if is_tensor(vis):
        import torch

        out = torch.from_numpy(to_batch(fused)[0])
        if vis.dim() == 2:
            out = out[0] if out.shape[0] == 1 else out
        for _ in range(max(vis.dim() - 3, 0)):
            out = out[None]
        if vis.dtype == torch.uint8:
            out = torch.round(out * 255).to(torch.uint8)
        return out.to(vis.device)
    return fused


def is_tensor(value: Any) -> bool:
    """Whether ``value`` is a torch tensor (without importing torch)."""
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(value, torch.Tensor)


def to_batch(array: np.ndarray) -> np.ndarray:
    """H×W → 1×1×H×W, H×W×3 → 1×3×H×W contiguous float32 array."""
    array = np.asarray(array, dtype=np.float32)
    batch = array[None, None] if array.ndim == 2 else array.transpose(2, 0, 1)[None]
    return np.ascontiguousarray(batch)


def from_batch(batch: Any) -> np.ndarray:
    """1×1×H×W → H×W, 1×3×H×W → H×W×3 numpy array (the inverse of :func:`to_batch`; a CPU
    tensor is read as an array)."""
    image = np.asarray(batch[0])
    return image[0] if image.shape[0] == 1 else image.transpose(1, 2, 0)


def _tensor_to_numpy(tensor: Any, name: str) -> np.ndarray:
    t = tensor.detach()
    while t.dim() > 3 and t.shape[0] == 1:
        t = t[0]
    if t.dim() == 3 and t.shape[0] in (1, 3, 4):
        t = t[0] if t.shape[0] == 1 else t[:3].permute(1, 2, 0)
    if t.dim() not in (2, 3):
        raise InputError(f"{name}: expected H×W, C×H×W or 1×C×H×W with C in 1, 3, 4; got shape "
                         f"{tuple(tensor.shape)} (fuse batches with "
                         f"critnet.pipeline.fusion.fuse_tensors)")
    return t.cpu().numpy()


#: The smallest image fused (each side, pixels): a 1-pixel line has no structure to fuse.
MIN_SIDE = 2


def check_image_size(image: np.ndarray, name: str) -> None:
    """Refuse an H×W(×C) image with a side under :data:`MIN_SIDE` (an empty one included).

    Raises:
        InputError: naming ``name`` and its size.
    """
    height, width = image.shape[:2]
    if min(height, width) < MIN_SIDE:
        what = "empty" if height * width == 0 else "too small to fuse"
        raise InputError(f"{name}: {width}×{height} pixels (W×H) is {what}; images need at "
                         f"least {MIN_SIDE}×{MIN_SIDE}")


def warn_if_flat(image: np.ndarray, name: str) -> None:
    """Warn (:class:`~critnet.errors.FlatInputWarning`) when ``image`` (float in [0, 1]) is one
    value everywhere: it has no detail to contribute."""
    if image.size and float(image.max()) == float(image.min()):
        warnings.warn(f"{name} is one value everywhere ({float(image.flat[0]):.4g} of 0..1): it "
                      f"carries no detail; the fused image shows the other input's only",
                      FlatInputWarning, stacklevel=3)


def _numpy_to_unit(
    array: np.ndarray, name: str, method: str | None, span: tuple[float, float] | None = None
) -> tuple[np.ndarray, str]:
    if array.ndim == 3 and array.shape[2] in (1, 3, 4):
        array = array[..., 0] if array.shape[2] == 1 else array[..., :3]
    if array.ndim != 2 and not (array.ndim == 3 and array.shape[2] == 3):
        raise InputError(f"{name}: expected H×W, H×W×1, H×W×3 or H×W×4, got shape {array.shape}")
    check_image_size(array, name)
    if np.issubdtype(array.dtype, np.floating):
        peak, bit_depth = 1.0, 8
        if not np.isfinite(array).all():
            raise InputError(f"{name}: contains NaN or infinite values")
        if span is None and method in (None, "full") and (array.min() < 0 or array.max() > 1):
            how = ("use ir_normalize='minmax' or scale it" if name.startswith("IR") else
                   "scale it to 0..1")
            raise InputError(f"{name}: float values must lie in [0, 1] (got "
                             f"{array.min():.4g}..{array.max():.4g}); {how}")
    elif array.dtype in _PEAKS:
        peak, bit_depth = _PEAKS[array.dtype]
    else:
        raise InputError(f"{name}: unsupported dtype {array.dtype} (use uint8, uint16, bool or "
                         f"float in [0, 1])")
    return normalize_levels(array, peak, method or default_normalization(bit_depth),
                            value_range=span), name
