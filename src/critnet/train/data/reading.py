"""One training pair read from files exactly as ``critnet fuse`` reads it (docs/training.md,
"Training on your own pairs").

* IR: :func:`critnet.io.read_ir` with the fusing default normalisation (``full`` for 8-bit,
  ``percentile`` for 16-bit and float TIFF; or the source's ``ir_normalize``), a colour IR file
  reduced to its BT.601 luma as fusing does (:func:`critnet.pipeline.colour.luma`).
* Visible: :func:`critnet.io.read_image` (÷255, ÷65535), colour → its BT.601 full-range Y, the
  channel the network fuses (gray-as-RGB files read as gray).
* Different sizes: refused, or with ``resize_ir`` the IR image is resampled to the visible size
  (bicubic, :func:`critnet.pipeline.fusion.resample`), as ``critnet fuse --resize-ir``.
* All-constant images are refused (nothing to learn; the saliency map is all zeros).
* Saliency (histogram contrast) is computed on the whole image quantised like the metrics
  (MATLAB ``im2uint8``).
* An image smaller than the crop is mirrored at its bottom / right edges up to the crop size
  (``numpy.pad(mode="symmetric")``, the saliency maps the same way), so every crop is real
  pixels of that pair or their mirror image; nothing is rescaled.

The images are kept as float32 in [0, 1] (:class:`~critnet.train.data.roadscene.GrayPair` accepts
float images; the crops use them unscaled).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

from critnet.errors import InputError
from critnet.io import read_image, read_ir
from critnet.io.kinds import from_batch, to_batch
from critnet.metrics.prepare import to_uint8
from critnet.pipeline.colour import luma
from critnet.pipeline.fusion import resample
from critnet.train.data.roadscene import GrayPair
from critnet.train.saliency import histogram_contrast


class BadPair(InputError):
    """A pair that cannot be trained on; the message names the file and the problem."""


@dataclass(frozen=True)
class ReadOptions:
    """How a source's pairs are read: ``resize_ir`` (``--resize-ir``), ``ir_normalize``
    (``None``: the fusing default for the file's bit depth) and the crop size to pad up to."""

    resize_ir: bool = False
    ir_normalize: str | None = None
    crop: int = 120


def _gray(image: np.ndarray) -> np.ndarray:
    """H×W float32 of an H×W or H×W×3 float image: colour → BT.601 Y (fusion's luma)."""
    if image.ndim == 2:
        return np.ascontiguousarray(image, dtype=np.float32)
    return np.ascontiguousarray(from_batch(luma(to_batch(image))), dtype=np.float32)


def read_pair_images(stem: str, ir_path: str | os.PathLike, vis_path: str | os.PathLike,
                     options: ReadOptions) -> tuple[np.ndarray, np.ndarray]:
    """The two H×W float32 images in [0, 1] as fusing sees them (no padding).

    Raises:
        BadPair: unreadable or truncated file, sizes differ without ``resize_ir``, or an
            all-constant image.
    """
    try:
        ir, _ = read_ir(ir_path, normalize=options.ir_normalize)
        vis, _ = read_image(vis_path)
    except InputError as error:
        raise BadPair(" ".join(str(error).split())) from None
    ir, vis = _gray(ir), _gray(vis)
    if ir.shape != vis.shape:
        if not options.resize_ir:
            (ih, iw), (vh, vw) = ir.shape, vis.shape
            raise BadPair(f"{ir_path}: IR is {iw}×{ih} but visible {vis_path} is {vw}×{vh} "
                          f"(W×H); use --resize-ir to resample the IR image")
        ir = from_batch(resample(to_batch(ir), vis.shape))
    for path, image, role in ((ir_path, ir, "IR"), (vis_path, vis, "visible")):
        if float(image.max()) == float(image.min()):
            raise BadPair(f"{path}: {role} image is all-constant ({float(image.min()):.3g}); "
                          f"nothing to learn from")
    return ir, vis


def read_training_pair(stem: str, ir_path: str | os.PathLike, vis_path: str | os.PathLike,
                       options: ReadOptions) -> GrayPair:
    """One pair as the trainer holds it: both images, both saliency maps, mirrored up to the
    crop size when smaller (see the module docstring).

    Raises:
        BadPair: see :func:`read_pair_images`.
    """
    ir, vis = read_pair_images(stem, ir_path, vis_path, options)
    maps = [ir, vis, histogram_contrast(to_uint8(ir)), histogram_contrast(to_uint8(vis))]
    height, width = ir.shape
    pad = ((0, max(0, options.crop - height)), (0, max(0, options.crop - width)))
    if pad != ((0, 0), (0, 0)):
        maps = [np.pad(m, pad, mode="symmetric") for m in maps]
    return GrayPair(stem, *maps)


def padded(height: int, width: int, crop: int) -> bool:
    """Whether an image of ``height``×``width`` is mirrored up to ``crop``."""
    return height < crop or width < crop
