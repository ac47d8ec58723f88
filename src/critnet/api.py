"""Fusion for users: load a model, fuse arrays / images / files (docs/design.md §5).

Quick use::

    import critnet
    fused = critnet.fuse("ir.png", "vis.jpg")                 # bundled weights, numpy out
    model = critnet.load_model("path/to/weights.safetensors")
    fused = critnet.fuse(ir_array, vis_array, model, gray=True)

How to fuse is one :class:`FuseOptions` group, given as ``options=`` or as its fields by keyword
(``gray=True``); folders of pairs are fused by :func:`critnet.folder.fuse_folder` (also importable
from here). The command line (``critnet fuse``, ``critnet demo``) calls only these functions.
"""

from __future__ import annotations

import dataclasses
import functools
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from critnet.atomic import ensure_writable
from critnet.errors import InputError, WeightsError
from critnet.fusion import OUTPUT_NORMALIZATIONS, fuse_tensors, resolve_device
from critnet.io import (
    MAX_PIXELS,
    NORMALIZATIONS,
    ImageInfo,
    read_image,
    read_ir,
    write_image,
)
from critnet.io.kinds import ImageLike, from_batch, like, to_batch, to_unit_array
from critnet.io.levels import check_value_range
from critnet.io.write import check_output_options
from critnet.model import CRITNet
from critnet.model.tiled import resolve_tile
from critnet.weights import default_weights_name, load_weights, resolve_weights

NO_BUNDLED_WEIGHTS = (
    "no bundled weights exist yet (no .safetensors file in critnet/weights/); pass --weights "
    "PATH to a trained .safetensors file (Python: critnet.load_model(PATH))"
)


@dataclass(frozen=True)
class FuseOptions:
    """How to fuse, shared by :func:`fuse`, :func:`fuse_arrays`, :func:`fuse_file` and
    :func:`~critnet.folder.fuse_folder`.

    Attributes:
        gray: force a gray result for a color visible image (CLI ``--gray``).
        resize_ir: resample IR to the visible size (bicubic) instead of refusing a mismatch.
        ir_normalize: ``full``, ``minmax`` or ``percentile`` for the **IR image only** (see
            :func:`critnet.io.normalize_levels`); ``None``: ``percentile`` for 16-bit IR,
            and float IR, ``full`` otherwise. The visible image is always scaled by its bit depth.
        normalize: ``none`` or ``minmax`` (stretch the raw network output; parity with the
            released code, see :func:`critnet.fusion.fuse_tensors`).
        tile: ``auto`` (tile only when the image would not fit in memory), ``off``, or a tile
            size N; tiled results equal untiled ones (see :mod:`critnet.model.tiled`).
        max_pixels: refuse larger input files (checked from the header, before decoding).
        ir_range: ``(low, high)`` in the IR file's units (16-bit levels, or temperatures in a
            float32 TIFF) mapped to 0..1, clipped; instead of ``ir_normalize`` (CLI
            ``--ir-range``).
        bit_depth: 8 or 16 bits per sample of a written file (16: gray PNG / TIFF only;
            :func:`fuse_file`, :func:`~critnet.folder.fuse_folder`).
        quality: JPEG quality 1..100 of a written JPEG file (``None``: 95).
        register: ``affine`` or ``homography``: estimate the IR → visible transform and warp
            the IR image onto the visible grid before fusing (:mod:`critnet.registration`,
            needs ``critnet[video]``); ``None``: the pair is taken as aligned.
        ir_palette_ok: fuse the luma of a colour IR file without radiometric data instead of
            refusing it as a palette rendering (CLI ``--ir-palette-ok``).

    Raises:
        InputError: an unknown ``ir_normalize`` or ``normalize``, both ``ir_normalize`` and
            ``ir_range``, a bad ``ir_range``, ``bit_depth``, ``quality``, ``tile`` or
            ``register``.
    """

    gray: bool = False
    resize_ir: bool = False
    ir_normalize: str | None = None
    normalize: str = "none"
    tile: int | str | None = "auto"
    max_pixels: int = MAX_PIXELS
    ir_range: tuple[float, float] | None = None
    bit_depth: int = 8
    quality: int | None = None
    register: str | None = None
    ir_palette_ok: bool = False

    def __post_init__(self) -> None:
        if self.ir_normalize not in (None, *NORMALIZATIONS):
            raise InputError(f"unknown normalisation {self.ir_normalize!r}; choose one of "
                             f"{', '.join(NORMALIZATIONS)}")
        if self.ir_range is not None:
            if self.ir_normalize is not None:
                raise InputError("give an IR normalisation or an IR range (--ir-normalize or "
                                 "--ir-range), not both")
            object.__setattr__(self, "ir_range", check_value_range(self.ir_range))
        if self.bit_depth not in (8, 16):
            raise InputError(f"bit depth must be 8 or 16, got {self.bit_depth}")
        if self.quality is not None and not 1 <= self.quality <= 100:
            raise InputError(f"JPEG quality must be 1..100, got {self.quality}")
        if self.normalize not in OUTPUT_NORMALIZATIONS:
            raise InputError(f"unknown output normalisation {self.normalize!r}; choose one of "
                             f"{', '.join(OUTPUT_NORMALIZATIONS)}")
        if self.tile not in (None, "auto", "off"):
            try:
                resolve_tile(self.tile, None, ())  # a fixed size needs no model or shape
            except ValueError as error:
                raise InputError(str(error)) from None
        if self.register not in (None, "affine", "homography"):
            raise InputError(f"unknown registration {self.register!r}; choose affine or "
                             f"homography")

    @classmethod
    def resolve(cls, options: FuseOptions | None, overrides: dict[str, Any]) -> FuseOptions:
        """``options`` (default: all defaults) with fields replaced by ``overrides``.

        Raises:
            TypeError: an override that is not a field.
        """
        unknown = set(overrides) - {f.name for f in dataclasses.fields(cls)}
        if unknown:
            raise TypeError(f"unknown fusion option(s): {', '.join(sorted(unknown))}")
        return dataclasses.replace(options or cls(), **overrides)


def load_model(
    name_or_path: str | os.PathLike | None = None,
    *,
    device: str | torch.device = "cpu",
    preset: str | None = None,
    backend: str = "torch",
    precision: str = "fp32",
) -> CRITNet | torch.nn.Module:
    """A C-RITNet with weights, in eval mode.

    Args:
        name_or_path: a bundled weights name (see :func:`critnet.weights.bundled_weights`), a
            ``.safetensors`` path, or ``None`` for the bundled default (``lite`` when shipped).
        device: ``cpu``, ``cuda`` or ``auto``.
        preset: if given, refuse weights of any other preset (``lite``, ``paper``).
        backend, precision: ``torch`` / ``onnxruntime`` and ``fp32`` / ``bf16`` / ``fp16``; other
            than ``torch``/``fp32`` the model comes wrapped in a backend of
            :mod:`critnet.backends`, usable wherever a model is.

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
    model = load_weights(name_or_path, preset=preset, device=target)
    if (backend, precision) == ("torch", "fp32"):
        return model
    from critnet.backends import make_backend

    return make_backend(model, backend, precision)


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
    options: FuseOptions | None = None,
    device: str | torch.device | None = None,
    **overrides: Any,
) -> Any:
    """Fuse one infrared and one visible image.

    Inputs may be file paths, numpy arrays, PIL images or torch tensors (see
    :func:`critnet.io.kinds.to_unit_array`). A color visible image gives a color result (its Y
    channel fused, Cb/Cr kept); a color IR image is reduced to luma. The result has the kind of
    ``vis`` (see :func:`critnet.io.kinds.like`): numpy → numpy (``uint8``/``uint16`` kept, else
    float32 in [0, 1]), PIL → PIL, tensor → tensor of the same rank and device, path → numpy
    float32 (nothing is written; see :func:`fuse_file`).

    Args:
        ir, vis: the two images, of equal size unless ``resize_ir``.
        model: from :func:`load_model`; ``None`` loads the bundled default (cached).
        options, overrides: a :class:`FuseOptions` and/or its fields by keyword.
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
    options = FuseOptions.resolve(options, overrides)
    ir_image, ir_name = to_unit_array(ir, "ir", options.ir_normalize, options.ir_range,
                                      ir_palette_ok=options.ir_palette_ok)
    vis_image, vis_name = to_unit_array(vis, "vis")
    fused = fuse_arrays(ready_model(model, device), ir_image, vis_image, options=options,
                        names=(ir_name, vis_name))
    return like(vis, fused)


def fuse_arrays(
    model: CRITNet,
    ir: np.ndarray,
    vis: np.ndarray,
    *,
    options: FuseOptions | None = None,
    names: tuple[str, str] = ("IR image", "visible image"),
    **overrides: Any,
) -> np.ndarray:
    """Fuse float arrays in [0, 1]: ``ir`` H×W or H×W×3, ``vis`` H×W or H×W×3.

    ``options.ir_normalize`` and ``ir_range`` do not apply here (the arrays are already in
    [0, 1]).

    Returns:
        H×W (gray ``vis`` or ``gray``) or H×W×3 float32 in [0, 1], the visible image's size.

    Raises:
        InputError: sizes differ (naming both inputs) and neither ``resize_ir`` nor
            ``register`` is on; a failed registration.
    """
    options = FuseOptions.resolve(options, overrides)
    if options.register is not None:
        from critnet.registration import estimate_transform, warp_ir

        ir = warp_ir(ir, estimate_transform(ir, vis, motion=options.register))
    if ir.shape[:2] != vis.shape[:2] and not options.resize_ir:
        (ih, iw), (vh, vw) = ir.shape[:2], vis.shape[:2]
        raise InputError(f"{names[0]} is {iw}×{ih} but {names[1]} is {vw}×{vh} (W×H): sizes must "
                         f"match; use --resize-ir (resize_ir=True) to resample the IR image to "
                         f"the visible size")
    return from_batch(fuse_tensors(model, to_batch(ir), to_batch(vis), gray=options.gray,
                                   resize_ir=options.resize_ir, normalize=options.normalize,
                                   tile=options.tile))


def fuse_file(
    ir_path: str | os.PathLike,
    vis_path: str | os.PathLike,
    out_path: str | os.PathLike,
    model: CRITNet | None = None,
    *,
    options: FuseOptions | None = None,
    overwrite: bool = False,
    device: str | torch.device | None = None,
    **overrides: Any,
) -> Path:
    """Fuse two image files and write the result (8-bit unless ``bit_depth``; format by
    ``out_path``'s suffix, PNG without one) atomically, the visible image's size.

    Everything is checked before anything is written: on any error ``out_path`` is untouched.
    Options as :func:`fuse`.

    Raises:
        InputError: unreadable inputs, size mismatch, ``out_path`` equal to an input, a folder,
            an unsupported suffix, a bit depth / quality the format lacks, or existing without
            ``overwrite``.
        OutputError: ``out_path``'s folder cannot be created or written (checked before
            fusing), or writing fails.
        WeightsError: ``model`` is ``None`` and no weights are bundled.
    """
    options = FuseOptions.resolve(options, overrides)
    ir_path, vis_path, out_path = Path(ir_path), Path(vis_path), Path(out_path)
    check_output_options(out_path, bit_depth=options.bit_depth, quality=options.quality)
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
    ir_image, ir_info = read_ir(ir_path, normalize=options.ir_normalize,
                                value_range=options.ir_range, max_pixels=options.max_pixels,
                                palette_ok=options.ir_palette_ok)
    vis_image, _ = read_image(vis_path, max_pixels=options.max_pixels)
    ensure_writable(out_path.parent)  # before the (long) fusion, not after
    fused = fuse_arrays(ready_model(model, device), ir_image, vis_image, options=options,
                        names=(f"IR {ir_info.name}", f"visible {vis_path}"))
    return write_image(out_path, fused, bit_depth=options.bit_depth, quality=options.quality)


def ready_model(model: CRITNet | None, device: str | torch.device | None) -> CRITNet:
    """``model`` moved to ``device`` (if given), or the bundled default there (cached).

    Raises:
        WeightsError: ``model`` is ``None`` and no weights are bundled.
    """
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


@functools.lru_cache(maxsize=2)
def _cached_default(path: str, mtime_ns: int, device: str) -> CRITNet:
    return load_weights(path, device=device)


def _same_path(a: Path, b: Path) -> bool:
    if a.exists() and b.exists():
        return os.path.samefile(a, b)
    return a.resolve() == b.resolve()


def __getattr__(name: str) -> Any:
    # critnet.folder builds on this module, so its names are re-exported lazily.
    if name in ("FOLDER_EXTENSIONS", "FolderReport", "fuse_folder"):
        from critnet import folder

        return getattr(folder, name)
    raise AttributeError(f"module 'critnet.api' has no attribute {name!r}")


__all__ = ["FuseOptions", "ImageInfo", "describe_weights", "fuse", "fuse_arrays", "fuse_file",
           "load_model"]
