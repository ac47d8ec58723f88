"""How to fuse: the one option group shared by every entry point (docs/design.md §5)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from critnet.errors import InputError
from critnet.io import MAX_PIXELS, NORMALIZATIONS
from critnet.io.levels import check_value_range
from critnet.model.tiled import resolve_tile
from critnet.pipeline.fusion import OUTPUT_NORMALIZATIONS
from critnet.pipeline.registration.estimate import DEFAULT_METHOD, METHODS


@dataclass(frozen=True)
class FuseOptions:
    """How to fuse, shared by :func:`fuse`, :func:`fuse_arrays`, :func:`fuse_file` and
    :func:`~critnet.pipeline.folder.fuse_folder`.

    Attributes:
        gray: force a gray result for a color visible image (CLI ``--gray``).
        resize_ir: resample IR to the visible size (bicubic) instead of refusing a mismatch.
        ir_normalize: ``full``, ``minmax`` or ``percentile`` for the **IR image only** (see
            :func:`critnet.io.normalize_levels`); ``None``: ``percentile`` for 16-bit IR,
            and float IR, ``full`` otherwise. The visible image is always scaled by its bit depth.
        normalize: ``none`` or ``minmax`` (stretch the raw network output; parity with the
            released code, see :func:`critnet.pipeline.fusion.fuse_tensors`).
        tile: ``auto`` (tile only when the image would not fit in memory), ``off``, or a tile
            size N; tiled results equal untiled ones (see :mod:`critnet.model.tiled`).
        max_pixels: refuse larger input files (checked from the header, before decoding).
        ir_range: ``(low, high)`` in the IR file's units (16-bit levels, or temperatures in a
            float32 TIFF) mapped to 0..1, clipped; instead of ``ir_normalize`` (CLI
            ``--ir-range``).
        bit_depth: 8 or 16 bits per sample of a written file (16: gray PNG / TIFF only;
            :func:`fuse_file`, :func:`~critnet.pipeline.folder.fuse_folder`).
        quality: JPEG quality 1..100 of a written JPEG file (``None``: 95).
        register: ``affine`` or ``homography``: estimate the IR → visible transform and warp
            the IR image onto the visible grid before fusing (:mod:`critnet.pipeline.registration`,
            needs ``critnet[video]``); ``None``: the pair is taken as aligned. The estimate is
            used only when it aligns the edges better than doing nothing.
        register_method: the estimator, ``search`` (default), ``ecc-multi``, ``ecc`` or ``mattes``
            (SimpleITK, ``critnet[register]``); CLI ``--register-method``.
        ir_palette_ok: fuse the luma of a colour IR file without radiometric data instead of
            refusing it as a palette rendering (CLI ``--ir-palette-ok``).

    Raises:
        InputError: an unknown ``ir_normalize`` or ``normalize``, both ``ir_normalize`` and
            ``ir_range``, a bad ``ir_range``, ``bit_depth``, ``quality``, ``tile`` or
            ``register`` or ``register_method``.
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
    register_method: str = DEFAULT_METHOD
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
        if self.register_method not in METHODS:
            raise InputError(f"unknown registration method {self.register_method!r}; choose "
                             f"one of {', '.join(METHODS)}")

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


__all__ = ["FuseOptions"]
