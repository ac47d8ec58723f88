"""Fusion and metrics for one pair, as the page shows them (public API only).

Each result is a folder with three 8-bit PNG files: ``ir.png`` (the IR image as the network
sees it: normalised, resampled to the visible size when ``resize_ir``), ``vis.png`` and
``fused.png`` (exactly ``critnet.fuse`` quantised to 8 bits). The metrics are computed on these
three images, so for 8-bit inputs of one size they equal ``critnet evaluate`` on the download.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image, UnidentifiedImageError

import critnet
from critnet.errors import InputError
from critnet.io import read_image, read_ir, to_uint, write_image
from critnet.metrics import compute_metrics
from critnet.pipeline.demo import demo_scene
from critnet.weights import bundled_weights, default_weights_name

if TYPE_CHECKING:
    from critnet.model import CRITNet

SCENES = {"night-road": 0, "night-road-2": 1, "night-road-3": 2}  # name -> demo_scene seed
METRIC_SETS = ("paper", "all")
IMAGE_NAMES = ("ir", "vis", "fused")


@dataclass(frozen=True)
class FuseOptions:
    """What the page lets a user choose (see :func:`critnet.fuse` for their meaning)."""

    weights: str = ""
    gray: bool = False
    resize_ir: bool = False
    ir_normalize: str | None = None
    normalize: str = "none"
    metrics: str = "paper"


@dataclass(frozen=True)
class Source:
    """An input file and the name to show for it in messages and tables."""

    path: Path
    name: str


class Models:
    """The weights the page offers, loaded once each on first use (thread-safe).

    ``choices`` maps an id shown on the page to a bundled name or a ``.safetensors`` path; the
    first entry is the default: ``extra`` if given, else the default weights of ``critnet fuse``
    (:func:`critnet.weights.default_weights_name`), then the other bundled files. ``backend``
    is that of :func:`critnet.load_model` (``auto``: onnxruntime when installed, its exported
    graph cached on disk).
    """

    def __init__(self, extra: str | os.PathLike | None = None, device: str = "cpu",
                 backend: str = "auto") -> None:
        self.choices: dict[str, str] = {}
        if extra is not None:
            self.choices[f"{Path(extra).name}"] = str(extra)
        default = default_weights_name()  # then the default weights of critnet fuse
        self.choices.update({name: name for name in sorted(bundled_weights(),
                                                          key=lambda n: n != default)})
        self.device = device
        self.backend = backend
        self._loaded: dict[str, CRITNet] = {}
        self._lock = threading.Lock()
        self.run_lock = threading.Lock()  # one fusion at a time: the CPU is shared

    def get(self, choice: str) -> CRITNet:
        """The model for ``choice`` ('' = the default).

        Raises:
            InputError: an unknown choice.
            WeightsError: the weights cannot be loaded.
        """
        choice = choice or self.default
        if choice not in self.choices:
            raise InputError(f"unknown weights {choice!r}; choose one of "
                             f"{', '.join(self.choices)}")
        with self._lock:
            if choice not in self._loaded:
                self._loaded[choice] = critnet.load_model(
                    self.choices[choice], device=self.device, backend=self.backend)
            return self._loaded[choice]

    @property
    def default(self) -> str:
        """The first choice (``--weights`` when given, else the bundled default)."""
        if not self.choices:
            raise InputError("no weights: pass --weights PATH to a .safetensors file")
        return next(iter(self.choices))


def write_scene(name: str, folder: Path) -> tuple[Source, Source]:
    """Write built-in scene ``name`` as ``ir.png``/``vis.png`` into ``folder`` (both or, on a
    write error, neither).

    Raises:
        InputError: an unknown scene name.
        OutputError: a file cannot be written (a full disk).
    """
    if name not in SCENES:
        raise InputError(f"unknown scene {name!r}; choose one of {', '.join(SCENES)}")
    scene = demo_scene(seed=SCENES[name])
    ir, vis = folder / f"{name}-ir.png", folder / f"{name}-vis.png"
    try:
        write_image(ir, scene.ir)
        write_image(vis, scene.vis)
    except BaseException:
        ir.unlink(missing_ok=True)
        raise
    return Source(ir, ir.name), Source(vis, vis.name)


def check_pixels(source: Source, max_pixels: int) -> None:
    """Refuse an image of more than ``max_pixels`` from its header, before decoding it.

    Raises:
        InputError: not an image, or too many pixels (a decompression bomb or just too big).
    """
    try:
        with Image.open(source.path) as img:
            width, height = img.size
    except Image.DecompressionBombError:
        raise InputError(f"{source.name}: too many pixels to open safely (a decompression "
                         f"bomb?); this server's limit is {max_pixels:,}") from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
        raise InputError(f"{source.name}: not an image (PNG, JPEG, BMP or TIFF expected)") from None
    if width * height > max_pixels:
        raise InputError(f"{source.name}: {width}×{height} is {width * height:,} pixels, more "
                         f"than this server's limit of {max_pixels:,} (--max-pixels)")


def fuse_pair(
    ir: Source, vis: Source, model: CRITNet, options: FuseOptions, out_dir: Path,
    *, max_pixels: int,
) -> dict[str, float]:
    """Fuse one pair into ``out_dir/{ir,vis,fused}.png`` and return its metrics.

    Returns:
        ``{metric: value}`` for ``options.metrics`` (``paper`` or ``all``), NaN where undefined.

    Raises:
        InputError: an unreadable or oversized input or mismatched sizes, the message naming
            the user's file names (never the temporary paths).
    """
    if options.metrics not in METRIC_SETS:
        raise InputError(f"unknown metric set {options.metrics!r}; use paper or all")
    try:
        for source in (ir, vis):
            check_pixels(source, max_pixels)
        fused = critnet.fuse(ir.path, vis.path, model, gray=options.gray,
                             resize_ir=options.resize_ir, ir_normalize=options.ir_normalize,
                             normalize=options.normalize)
        ir_seen = read_ir(ir.path, normalize=options.ir_normalize)[0]
        vis_seen = read_image(vis.path)[0]
    except InputError as error:
        message = str(error).replace(str(ir.path), ir.name).replace(str(vis.path), vis.name)
        raise InputError(message) from None
    if ir_seen.shape[:2] != fused.shape[:2]:
        size = (fused.shape[1], fused.shape[0])
        ir_seen = np.asarray(Image.fromarray(_luma(ir_seen)).resize(size, Image.Resampling.BICUBIC))
    images = {"ir": to_uint(ir_seen), "vis": to_uint(vis_seen), "fused": to_uint(fused)}
    out_dir.mkdir(parents=True, exist_ok=True)
    for name, image in images.items():
        Image.fromarray(image).save(out_dir / f"{name}.png", format="PNG")
    return compute_metrics(images["ir"], images["vis"], images["fused"], options.metrics)


def _luma(image: np.ndarray) -> np.ndarray:
    """H×W float32 (H×W×3 reduced with BT.601 weights), for PIL's float resampling."""
    if image.ndim == 3:
        image = image @ np.array([0.299, 0.587, 0.114], np.float32)
    return image.astype(np.float32)
