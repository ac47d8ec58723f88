"""Fusion for users: load a model, fuse arrays / images / files / folders (SPEC §5).

Quick use::

    import critnet
    fused = critnet.fuse("ir.png", "vis.jpg")                 # bundled weights, numpy out
    model = critnet.load_model("path/to/weights.safetensors")
    fused = critnet.fuse(ir_array, vis_array, model, gray=True)

The command line (``critnet fuse``, ``critnet demo``) calls only what is defined here.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image, ImageOps
from tqdm import tqdm

from critnet.data.pairs import match_pairs
from critnet.errors import CritnetError, InputError, WeightsError
from critnet.fusion import fuse_tensors, resolve_device
from critnet.io import (
    MAX_PIXELS,
    ImageInfo,
    check_output_suffix,
    default_normalization,
    image_levels,
    normalize_levels,
    read_image,
    to_uint,
    write_image,
)
from critnet.model import CRITNet
from critnet.weights import default_weights_name, load_weights, resolve_weights

NO_BUNDLED_WEIGHTS = (
    "no bundled weights exist yet (no .safetensors file in critnet/weights/); pass --weights "
    "PATH to a trained .safetensors file (Python: critnet.load_model(PATH))"
)
FOLDER_EXTENSIONS = ("png", "jpg", "bmp", "tif")

ImageLike = Any  # str | os.PathLike | np.ndarray | PIL.Image.Image | torch.Tensor


def load_model(
    name_or_path: str | os.PathLike | None = None,
    *,
    device: str | torch.device = "cpu",
    preset: str | None = None,
) -> CRITNet:
    """A C-RITNet with weights, in eval mode.

    Args:
        name_or_path: a bundled weights name (see :func:`critnet.weights.bundled_weights`), a
            ``.safetensors`` path, or ``None`` for the bundled default (``lite`` when shipped).
        device: ``cpu``, ``cuda`` or ``auto``.
        preset: if given, refuse weights of any other preset (``lite``, ``paper``).

    Raises:
        WeightsError: nothing bundled (for ``None``), unknown name, missing or corrupted file,
            wrong preset.
        InputError: an unknown or unavailable device.
    """
    target = resolve_device(device)
    if name_or_path is None:
        name_or_path = default_weights_name()
        if name_or_path is None:
            raise WeightsError(NO_BUNDLED_WEIGHTS)
    return load_weights(name_or_path, preset=preset, device=target)


def describe_weights(name_or_path: str | os.PathLike | None = None) -> str:
    """One line saying which weights :func:`load_model` would use (for logs and the CLI)."""
    if name_or_path is None:
        name_or_path = default_weights_name()
        if name_or_path is None:
            raise WeightsError(NO_BUNDLED_WEIGHTS)
        return f"bundled weights {name_or_path!r} ({resolve_weights(name_or_path)})"
    path = resolve_weights(name_or_path)
    if str(name_or_path) == path.stem and not Path(str(name_or_path)).exists():
        return f"bundled weights {path.stem!r} ({path})"
    return f"weights file {path}"


def fuse(
    ir: ImageLike,
    vis: ImageLike,
    model: CRITNet | None = None,
    *,
    gray: bool = False,
    resize_ir: bool = False,
    ir_normalize: str | None = None,
    normalize: str = "none",
    tile: int | str | None = "auto",
    device: str | torch.device | None = None,
) -> Any:
    """Fuse one infrared and one visible image.

    Inputs may be file paths, numpy arrays (H×W, H×W×1, H×W×3, H×W×4 with alpha dropped;
    ``uint8``, ``uint16``, ``bool`` or float in [0, 1]), PIL images, or torch tensors (H×W,
    C×H×W or B×C×H×W, float in [0, 1] or ``uint8``). A colour visible image gives a colour
    result (its Y channel fused, Cb/Cr kept); a colour IR image is reduced to luma.

    The result has the kind of ``vis``:

    - numpy → numpy, H×W (grey) or H×W×3 (colour); ``uint8``/``uint16`` in → the same dtype,
      otherwise float32 in [0, 1];
    - PIL → PIL, mode ``L`` or ``RGB``;
    - tensor → tensor of the same rank on ``vis``'s device, channels 1 or 3; ``uint8`` in →
      ``uint8``, otherwise float32 in [0, 1];
    - path → numpy float32 in [0, 1] (nothing is written; see :func:`fuse_file`). Grey-as-RGB
      files count as grey.

    Args:
        ir, vis: the two images, of equal size unless ``resize_ir``.
        model: from :func:`load_model`; ``None`` loads the bundled default (cached).
        gray: force a grey result.
        resize_ir: resample IR to the visible size (bicubic) instead of refusing a mismatch.
        ir_normalize: ``full``, ``minmax`` or ``percentile`` (see
            :func:`critnet.io.normalize_levels`); ``None``: ``percentile`` for 16-bit IR,
            ``full`` otherwise (float input is taken as is).
        normalize: ``none`` or ``minmax`` (stretch the output; parity with the released code).
        tile: ``auto`` (tile only when the image would not fit in memory), ``off``, or a tile
            size N; tiled results equal untiled ones (see :mod:`critnet.model.tiled`).
        device: ``cpu``/``cuda``/``auto``; ``None`` keeps ``model``'s device (CPU when the
            bundled model is loaded). A given ``model`` is moved there.

    Raises:
        InputError: unreadable input, unsupported array, sizes differ without ``resize_ir``.
        WeightsError: ``model`` is ``None`` and no weights are bundled.

    Example:
        >>> from critnet.model import build_model
        >>> ir = np.zeros((48, 64), np.uint8)
        >>> vis = np.full((48, 64, 3), 128, np.uint8)
        >>> fuse(ir, vis, build_model("lite").eval()).shape
        (48, 64, 3)
    """
    ir_image, ir_name = _as_array(ir, "ir", ir_normalize)
    vis_image, vis_name = _as_array(vis, "vis", None)
    model = _ready_model(model, device)
    fused = fuse_arrays(model, ir_image, vis_image, gray=gray, resize_ir=resize_ir,
                        normalize=normalize, tile=tile, names=(ir_name, vis_name))
    return _like(vis, fused)


def fuse_arrays(
    model: CRITNet,
    ir: np.ndarray,
    vis: np.ndarray,
    *,
    gray: bool = False,
    resize_ir: bool = False,
    normalize: str = "none",
    tile: int | str | None = "auto",
    names: tuple[str, str] = ("IR image", "visible image"),
) -> np.ndarray:
    """Fuse float arrays in [0, 1]: ``ir`` H×W or H×W×3, ``vis`` H×W or H×W×3.

    Returns:
        H×W (grey ``vis`` or ``gray``) or H×W×3 float32 in [0, 1], the visible image's size.

    Raises:
        InputError: sizes differ (naming both inputs) and ``resize_ir`` is off.
    """
    if ir.shape[:2] != vis.shape[:2] and not resize_ir:
        (ih, iw), (vh, vw) = ir.shape[:2], vis.shape[:2]
        raise InputError(f"{names[0]} is {iw}×{ih} but {names[1]} is {vw}×{vh} (W×H): sizes must "
                         f"match; use --resize-ir (resize_ir=True) to resample the IR image to "
                         f"the visible size")
    fused = fuse_tensors(model, _chw(ir), _chw(vis), gray=gray, resize_ir=resize_ir,
                         normalize=normalize, tile=tile)[0]
    return fused[0].numpy() if fused.shape[0] == 1 else fused.permute(1, 2, 0).numpy()


def fuse_file(
    ir_path: str | os.PathLike,
    vis_path: str | os.PathLike,
    out_path: str | os.PathLike,
    model: CRITNet | None = None,
    *,
    gray: bool = False,
    resize_ir: bool = False,
    ir_normalize: str | None = None,
    normalize: str = "none",
    tile: int | str | None = "auto",
    max_pixels: int = MAX_PIXELS,
    overwrite: bool = False,
    device: str | torch.device | None = None,
) -> Path:
    """Fuse two image files and write the result (8-bit; format by ``out_path``'s suffix,
    PNG without one) atomically, the visible image's size.

    Everything is checked before anything is written: on any error ``out_path`` is untouched.
    ``tile``: as :func:`fuse`; ``max_pixels``: refuse larger inputs (checked from the header).

    Raises:
        InputError: unreadable inputs, size mismatch, ``out_path`` equal to an input, a folder,
            an unsupported suffix, or existing without ``overwrite``.
        WeightsError: ``model`` is ``None`` and no weights are bundled.
    """
    ir_path, vis_path, out_path = Path(ir_path), Path(vis_path), Path(out_path)
    check_output_suffix(out_path)
    for role, source in (("IR", ir_path), ("visible", vis_path)):
        if _same_path(out_path, source):
            raise InputError(f"{out_path}: output path is the {role} input; refusing to "
                             f"overwrite an input (choose another -o)")
    if out_path.is_dir():
        raise InputError(f"{out_path}: is a folder; give an output file name such as "
                         f"{out_path / (vis_path.stem + '.png')}")
    if out_path.exists() and not overwrite:
        raise InputError(f"{out_path}: already exists (use --overwrite / overwrite=True to "
                         f"replace it)")
    ir_image, ir_info = read_image(ir_path, normalize=ir_normalize, max_pixels=max_pixels)
    vis_image, _ = read_image(vis_path, max_pixels=max_pixels)
    model = _ready_model(model, device)
    fused = fuse_arrays(model, ir_image, vis_image, gray=gray, resize_ir=resize_ir,
                        normalize=normalize, tile=tile,
                        names=(f"IR {ir_info.name}", f"visible {vis_path}"))
    return write_image(out_path, fused)


@dataclass
class FolderReport:
    """What :func:`fuse_folder` did.

    Attributes:
        fused: outputs written.
        skipped: outputs that existed already (kept; ``overwrite`` redoes them).
        failed: ``(stem, message)`` for pairs that could not be fused.
        unmatched_ir, unmatched_vis: files without a partner (not fused).
    """

    fused: list[Path] = field(default_factory=list)
    skipped: list[Path] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)
    unmatched_ir: list[Path] = field(default_factory=list)
    unmatched_vis: list[Path] = field(default_factory=list)

    def summary(self) -> str:
        """``fused N, skipped M, failed K`` (one line)."""
        text = f"fused {len(self.fused)}, skipped {len(self.skipped)}, failed {len(self.failed)}"
        if self.skipped:
            text += " (skipped outputs exist already; --overwrite redoes them)"
        return text


def fuse_folder(
    ir_dir: str | os.PathLike,
    vis_dir: str | os.PathLike,
    out_dir: str | os.PathLike,
    model: CRITNet | None = None,
    *,
    ext: str = "png",
    gray: bool = False,
    resize_ir: bool = False,
    ir_normalize: str | None = None,
    normalize: str = "none",
    tile: int | str | None = "auto",
    max_pixels: int = MAX_PIXELS,
    overwrite: bool = False,
    device: str | torch.device | None = None,
    progress: bool | None = False,
    log: Callable[[str], None] | None = None,
) -> FolderReport:
    """Fuse every pair of ``ir_dir`` / ``vis_dir`` matched by file stem into
    ``out_dir/<stem>.<ext>``.

    Existing outputs are skipped unless ``overwrite`` (an interrupted run resumes where it
    stopped; each output is written atomically). A pair that fails is recorded in the report
    (and logged) and the run goes on.

    Args:
        ext: output format, one of ``png`` (default), ``jpg``, ``bmp``, ``tif``.
        progress: show a tqdm bar on stderr (``None``: only on a terminal).
        log: called with one line per warning (unmatched files) and per failed pair.
        Other arguments: as :func:`fuse_file`.

    Raises:
        InputError: a folder is missing or empty, no stems match, ``out_dir`` is an input folder
            or inside one, or an unknown ``ext``.
        WeightsError: ``model`` is ``None`` and no weights are bundled.
    """
    ir_dir, vis_dir, out_dir = Path(ir_dir), Path(vis_dir), Path(out_dir)
    if ext not in FOLDER_EXTENSIONS:
        raise InputError(f"unknown output format {ext!r}; choose one of "
                         f"{', '.join(FOLDER_EXTENSIONS)}")
    for role, folder in (("IR", ir_dir), ("visible", vis_dir)):
        if _inside(out_dir, folder):
            raise InputError(f"{out_dir}: output folder is the {role} input folder or inside it "
                             f"({folder}); choose another -o")
    if out_dir.exists() and not out_dir.is_dir():
        raise InputError(f"{out_dir}: exists and is not a folder")
    match = match_pairs(ir_dir, vis_dir)
    report = FolderReport(unmatched_ir=match.unmatched_ir, unmatched_vis=match.unmatched_vis)
    say = log or (lambda _message: None)
    for kind, files in (("IR", match.unmatched_ir), ("visible", match.unmatched_vis)):
        if files:
            say(f"warning: {len(files)} {kind} file(s) without a partner, not fused: "
                f"{_name_list(files)}")
    model = _ready_model(model, device)
    bar = tqdm(match.pairs, desc="fusing", unit="pair",
               disable=None if progress is None else not progress)
    for stem, ir_path, vis_path in bar:
        out_path = out_dir / f"{stem}.{ext}"
        if out_path.exists() and not overwrite:
            report.skipped.append(out_path)
            continue
        try:
            fuse_file(ir_path, vis_path, out_path, model, gray=gray, resize_ir=resize_ir,
                      ir_normalize=ir_normalize, normalize=normalize, tile=tile,
                      max_pixels=max_pixels, overwrite=True)
        except (CritnetError, OSError, RuntimeError) as error:
            message = " ".join(str(error).split()) or type(error).__name__
            report.failed.append((stem, message))
            say(f"failed: {stem}: {message}")
            continue
        report.fused.append(out_path)
    return report


@functools.lru_cache(maxsize=2)
def _cached_default(path: str, mtime_ns: int, device: str) -> CRITNet:
    return load_weights(path, device=device)


def _ready_model(model: CRITNet | None, device: str | torch.device | None) -> CRITNet:
    if model is None:
        name = default_weights_name()
        if name is None:
            raise WeightsError(NO_BUNDLED_WEIGHTS)
        path = resolve_weights(name)
        target = resolve_device(device or "cpu")
        return _cached_default(str(path), path.stat().st_mtime_ns, str(target))
    if device is not None:
        model.to(resolve_device(device))
    return model


def _as_array(image: ImageLike, role: str, ir_normalize: str | None) -> tuple[np.ndarray, str]:
    """Any accepted input → (H×W or H×W×3 float32 in [0, 1], name for messages)."""
    label = "IR" if role == "ir" else "visible"
    if isinstance(image, (str, os.PathLike)):
        array, info = read_image(image, normalize=ir_normalize if role == "ir" else None)
        return array, f"{label} {info.name}"
    if isinstance(image, Image.Image):
        try:
            image.load()
            image = ImageOps.exif_transpose(image)
        except (OSError, SyntaxError, ValueError) as error:
            raise InputError(f"{label} image: truncated or corrupt ({error})") from None
        levels, info = image_levels(image, f"{label} image")
        method = (ir_normalize if role == "ir" else None) or default_normalization(info.bit_depth)
        return normalize_levels(levels, info.peak, method), f"{label} image"
    if isinstance(image, torch.Tensor):
        return _tensor_to_array(image, label, ir_normalize if role == "ir" else None)
    if isinstance(image, np.ndarray):
        return _numpy_to_array(image, label, ir_normalize if role == "ir" else None)
    raise InputError(f"{label} image: unsupported type {type(image).__name__} (use a path, a "
                     f"numpy array, a PIL image or a torch tensor)")


def _numpy_to_array(
    array: np.ndarray, label: str, method: str | None
) -> tuple[np.ndarray, str]:
    name = f"{label} array"
    if array.ndim == 3 and array.shape[2] in (1, 3, 4):
        array = array[..., 0] if array.shape[2] == 1 else array[..., :3]
    if array.ndim != 2 and not (array.ndim == 3 and array.shape[2] == 3):
        raise InputError(f"{name}: expected H×W, H×W×1, H×W×3 or H×W×4, got shape {array.shape}")
    if array.dtype == np.uint8:
        peak = 255.0
    elif array.dtype == np.uint16:
        peak = 65535.0
    elif array.dtype == np.bool_:
        peak = 1.0
    elif np.issubdtype(array.dtype, np.floating):
        peak = 1.0
        if not np.isfinite(array).all():
            raise InputError(f"{name}: contains NaN or infinite values")
        if method in (None, "full") and (array.min() < 0 or array.max() > 1):
            raise InputError(f"{name}: float values must lie in [0, 1] (got "
                             f"{array.min():.4g}..{array.max():.4g}); use ir_normalize="
                             f"'minmax' or scale it")
    else:
        raise InputError(f"{name}: unsupported dtype {array.dtype} (use uint8, uint16, bool or "
                         f"float in [0, 1])")
    default = "percentile" if array.dtype == np.uint16 else "full"
    return normalize_levels(array, peak, method or default), name


def _tensor_to_array(
    tensor: torch.Tensor, label: str, method: str | None
) -> tuple[np.ndarray, str]:
    name = f"{label} tensor"
    t = tensor.detach()
    while t.dim() > 3 and t.shape[0] == 1:
        t = t[0]
    if t.dim() == 3 and t.shape[0] in (1, 3, 4):
        t = t[0] if t.shape[0] == 1 else t[:3].permute(1, 2, 0)
    if t.dim() not in (2, 3):
        raise InputError(f"{name}: expected H×W, C×H×W or 1×C×H×W with C in 1, 3, 4; got shape "
                         f"{tuple(tensor.shape)} (fuse batches with critnet.fusion.fuse_tensors)")
    return _numpy_to_array(t.cpu().numpy(), label, method)[0], name


def _chw(array: np.ndarray) -> torch.Tensor:
    t = torch.from_numpy(np.ascontiguousarray(array, dtype=np.float32))
    return t[None, None] if t.dim() == 2 else t.permute(2, 0, 1)[None]


def _like(vis: ImageLike, fused: np.ndarray) -> Any:
    """Give ``fused`` (H×W or H×W×3 float in [0, 1]) the kind of ``vis``."""
    if isinstance(vis, Image.Image):
        return Image.fromarray(to_uint(fused, 8), mode="RGB" if fused.ndim == 3 else "L")
    if isinstance(vis, np.ndarray):
        if vis.ndim == 3 and fused.ndim == 2 and vis.shape[2] == 1:
            fused = fused[..., None]
        if vis.dtype == np.uint8:
            return to_uint(fused, 8)
        if vis.dtype == np.uint16:
            return to_uint(fused, 16)
        return fused.astype(np.float32)
    if isinstance(vis, torch.Tensor):
        out = torch.from_numpy(fused)
        out = out[None] if out.dim() == 2 else out.permute(2, 0, 1)
        if vis.dim() == 2:
            out = out[0] if out.shape[0] == 1 else out
        for _ in range(max(vis.dim() - 3, 0)):
            out = out[None]
        if vis.dtype == torch.uint8:
            out = torch.round(out * 255).to(torch.uint8)
        return out.to(vis.device)
    return fused


def _same_path(a: Path, b: Path) -> bool:
    if a.exists() and b.exists():
        return os.path.samefile(a, b)
    return a.resolve() == b.resolve()


def _inside(path: Path, folder: Path) -> bool:
    path, folder = path.resolve(), folder.resolve()
    return path == folder or folder in path.parents


def _name_list(paths: list[Path], limit: int = 10) -> str:
    names = ", ".join(p.name for p in paths[:limit])
    return names + (f", ... ({len(paths) - limit} more)" if len(paths) > limit else "")


__all__ = ["FolderReport", "ImageInfo", "describe_weights", "fuse", "fuse_arrays", "fuse_file",
           "fuse_folder", "load_model"]
