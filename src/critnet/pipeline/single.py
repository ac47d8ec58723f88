"""Fusion for users: fuse one pair of arrays, images or files (docs/design.md §5).

Quick use::

    import critnet
    fused = critnet.fuse("ir.png", "vis.jpg")                 # bundled weights, numpy out
    model = critnet.load_model("path/to/weights.safetensors")
    fused = critnet.fuse(ir_array, vis_array, model, gray=True)

How to fuse is one :class:`~critnet.pipeline.options.FuseOptions` group, given as ``options=``
or as its fields by keyword (``gray=True``); folders of pairs are fused by
:func:`critnet.pipeline.folder.fuse_folder`, videos by :mod:`critnet.pipeline.video`. The command
line (``critnet fuse``, ``critnet demo``) calls only these functions.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from critnet.errors import InputError
from critnet.io import ImageInfo, read_image, read_ir, write_image
from critnet.io.atomic import ensure_writable, remove_stale_temps
from critnet.io.kinds import (
    ImageLike,
    check_image_size,
    from_batch,
    like,
    to_batch,
    to_unit_array,
    warn_if_flat,
)
from critnet.io.outputs import check_output_file
from critnet.io.write import check_output_options
from critnet.pipeline.fusion import fuse_batch
from critnet.pipeline.loading import describe_weights, load_model, ready_model
from critnet.pipeline.options import FuseOptions

if TYPE_CHECKING:
    import torch

    from critnet.model import CRITNet


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
        InputError: unreadable input; an unsupported, empty or under 2×2 array, of a wrong
            dtype or with NaN / infinite values; sizes differ without ``resize_ir``.
        WeightsError: ``model`` is ``None`` and no weights are bundled.

    Warns:
        FlatInputWarning: an input that is one value everywhere (no detail to fuse).

    Example:
        >>> from critnet.model import build_model
        >>> ir = np.tile(np.arange(64, dtype=np.uint8), (48, 1))
        >>> vis = np.dstack([255 - ir] * 3)
        >>> fuse(ir, vis, build_model("lite").eval()).shape
        (48, 64, 3)
    """
    options = FuseOptions.resolve(options, overrides)
    ir_image, ir_name = to_unit_array(ir, "ir", options.ir_normalize, options.ir_range,
                                      ir_palette_ok=options.ir_palette_ok)
    vis_image, vis_name = to_unit_array(vis, "vis")
    for image, name in ((ir_image, ir_name), (vis_image, vis_name)):
        check_image_size(image, name)
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

    Warns:
        FlatInputWarning: an input that is one value everywhere (no detail to fuse).
    """
    options = FuseOptions.resolve(options, overrides)
    resize_ir = options.resize_ir
    if options.register is not None:
        from critnet.pipeline.registration import estimate_transform, warp_ir

        registration = estimate_transform(ir, vis, motion=options.register,
                                          method=options.register_method)
        if registration.kept_identity:  # exactly the unregistered fusion (plain resize)
            resize_ir = True
        else:
            ir = warp_ir(ir, registration)
    if ir.shape[:2] != vis.shape[:2] and not resize_ir:
        (ih, iw), (vh, vw) = ir.shape[:2], vis.shape[:2]
        raise InputError(f"{names[0]} is {iw}×{ih} but {names[1]} is {vw}×{vh} (W×H): sizes must "
                         f"match; use --resize-ir (resize_ir=True) to resample the IR image to "
                         f"the visible size")
    for image, name in zip((ir, vis), names, strict=True):
        warn_if_flat(image, name)
    return from_batch(fuse_batch(model, to_batch(ir), to_batch(vis), gray=options.gray,
                                 resize_ir=resize_ir, normalize=options.normalize,
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
    Temporary files of ``out_path`` left by a killed run are removed.
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
    ir_image, vis_image, names = read_for_output(ir_path, vis_path, out_path, options,
                                                 overwrite=overwrite)
    remove_stale_temps(Path(out_path).parent, out_path)  # of this output, by a killed run
    fused = fuse_arrays(ready_model(model, device), ir_image, vis_image, options=options,
                        names=names)
    del ir_image, vis_image  # free before encoding
    return write_image(out_path, fused, bit_depth=options.bit_depth, quality=options.quality)


def read_for_output(
    ir_path: str | os.PathLike,
    vis_path: str | os.PathLike,
    out_path: str | os.PathLike,
    options: FuseOptions,
    *,
    overwrite: bool = False,
) -> tuple[np.ndarray, np.ndarray, tuple[str, str]]:
    """The checks and reading of :func:`fuse_file`, before its fusion: ``(ir, vis, names)``
    as :func:`fuse_arrays` takes them. ``out_path``'s folder is probed for writing.

    Raises:
        InputError, OutputError: as :func:`fuse_file`.
    """
    ir_path, vis_path, out_path = Path(ir_path), Path(vis_path), Path(out_path)
    check_output_options(out_path, bit_depth=options.bit_depth, quality=options.quality)
    check_output_file(out_path, {"IR": ir_path, "visible": vis_path}, overwrite=overwrite,
                      example=vis_path.stem + ".png")
    ir_image, ir_info = read_ir(ir_path, normalize=options.ir_normalize,
                                value_range=options.ir_range, max_pixels=options.max_pixels,
                                palette_ok=options.ir_palette_ok)
    vis_image, _ = read_image(vis_path, max_pixels=options.max_pixels)
    for image, name in ((ir_image, ir_path), (vis_image, vis_path)):
        check_image_size(image, str(name))
    ensure_writable(out_path.parent)  # before the (long) fusion, not after
    return ir_image, vis_image, (f"IR {ir_info.name}", f"visible {vis_path}")


__all__ = ["FuseOptions", "ImageInfo", "describe_weights", "fuse", "fuse_arrays", "fuse_file",
           "load_model", "read_for_output", "ready_model"]
