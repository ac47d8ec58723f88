"""Callable classes for Ray Data's ``map_batches``: the model is loaded once per worker (in
``__init__``), then each batch is fused. They import nothing of Ray, so they work in any
``map_batches``-style loop.

- :class:`FusePairs`: rows of file references (``ir``, ``vis``, ``out``: paths on a shared
  mount or fsspec URLs) → the fused files, written as the local folder run writes them; one
  report row per pair (``state`` ``fused`` / ``skipped`` / ``failed``, ``message``).
- :class:`FuseImages`: rows of arrays (``ir``, ``vis``) → the same rows with a ``fused`` array,
  for a pipeline that reads and writes its own data.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from critnet.errors import CritnetError, InputError
from critnet.pipeline.cluster import storage
from critnet.pipeline.folder import _one_line, fuse_pair
from critnet.pipeline.options import FuseOptions


def load_worker_model(weights: str | None = None, *, preset: str | None = None,
                      backend: str = "auto", precision: str = "fp32", device: str = "cpu",
                      threads: int | None = None) -> Any:
    """The model of one worker, as ``critnet fuse`` loads it, with ``threads`` intra-op threads
    (the worker's CPUs; ``None``: torch's and onnxruntime's defaults) and no notes on stderr."""
    import torch

    from critnet.pipeline.backends import AutoBackend
    from critnet.pipeline.fusion import resolve_device
    from critnet.pipeline.loading import load_model

    model = load_model(weights, device=resolve_device(device), preset=preset, backend=backend,
                       precision=precision)
    if threads:
        torch.set_num_threads(threads)
        if hasattr(model, "with_threads"):
            model = model.with_threads(threads)
    if isinstance(model, AutoBackend):
        model.note = None
    return model


def _options(options: FuseOptions | Mapping[str, Any] | None) -> FuseOptions:
    if isinstance(options, FuseOptions):
        return options
    return FuseOptions(**dict(options or {}))


class FusePairs:
    """Fuse pairs of files, one output file per pair (the ``critnet fuse --engine ray`` step).

    A batch holds the columns ``ir``, ``vis``, ``out`` (paths every worker can read, or fsspec
    URLs such as ``s3://bucket/ir/0001.png``) and optionally ``stem`` (default: the output's
    stem). Each pair goes through :func:`critnet.pipeline.folder.fuse_pair`, the local folder
    run's own per-pair function: an existing output is skipped (unless ``overwrite``), an
    unusable input gives ``state`` ``failed`` and its one-line reason, the output is written
    atomically. Two videos (by suffix) are fused into the video ``out``
    (:func:`critnet.pipeline.video.fuse_video`). Any other error stops the run, as the local
    run stops on it.

    Args:
        weights, preset, backend, precision, device: as ``critnet fuse`` (weights: a bundled
            name or a ``.safetensors`` path every worker can read).
        threads: intra-op threads of the model (give the worker's ``num_cpus``).
        options: a :class:`~critnet.pipeline.options.FuseOptions` or a dict of its fields.
        overwrite: redo outputs that exist.
        video: keyword arguments for :func:`~critnet.pipeline.video.fuse_video` (``pair_by``,
            ``time_tolerance``, ``ir_range``).

    Returns (per batch): columns ``stem``, ``out``, ``state``, ``message``; a
    :class:`~critnet.errors.CritnetError` other than an unusable input (an unwritable output)
    ends the batch with ``state`` ``error:<class name>`` and its line, for the driver to raise.
    """

    def __init__(self, weights: str | None = None, *, preset: str | None = None,
                 backend: str = "auto", precision: str = "fp32", device: str = "cpu",
                 threads: int | None = None,
                 options: FuseOptions | Mapping[str, Any] | None = None,
                 overwrite: bool = False, video: Mapping[str, Any] | None = None) -> None:
        self.model = load_worker_model(weights, preset=preset, backend=backend,
                                       precision=precision, device=device, threads=threads)
        self.options = _options(options)
        self.overwrite = overwrite
        self.video = dict(video or {})

    def __call__(self, batch: Mapping[str, Any]) -> dict[str, list[str]]:
        outs = [str(out) for out in batch["out"]]
        stems = ([str(stem) for stem in batch["stem"]] if "stem" in batch
                 else [os.path.splitext(storage.name_of(out))[0] for out in outs])
        states, messages = [], []
        for stem, ir, vis, out in zip(stems, batch["ir"], batch["vis"], outs, strict=True):
            try:
                state, message = self.fuse_one(stem, str(ir), str(vis), out)
            except CritnetError as error:  # travels as data: Ray's wrappers lose its type
                state, message = f"error:{type(error).__name__}", _one_line(error)
            states.append(state)
            messages.append(message)
            if state.startswith("error:"):  # the run stops on it: no more pairs of this batch
                break
        done = len(states)
        return {"stem": stems[:done], "out": outs[:done], "state": states, "message": messages}

    def fuse_one(self, stem: str, ir: str, vis: str, out: str) -> tuple[str, str]:
        """``(state, message)`` of one pair (see the class)."""
        if not self.overwrite and storage.exists(out):
            return "skipped", ""
        try:
            with storage.staged(ir, vis, out) as local:
                state, message = self._fuse_local(stem, local.ir, local.vis, local.out)
                if state == "fused" and storage.is_url(out):
                    storage.publish(local.out, out)
                return state, local.as_given(message, ir, vis, out)
        except InputError as error:  # a remote input that cannot be read
            return "failed", _one_line(error)

    def _fuse_local(self, stem: str, ir: Path, vis: Path, out: Path) -> tuple[str, str]:
        from critnet.pipeline.video import is_video

        if not (is_video(ir) and is_video(vis)):
            return fuse_pair(self.model, stem, ir, vis, out, self.options,
                             overwrite=self.overwrite)
        from critnet.pipeline.video import fuse_video

        try:
            fuse_video(ir, vis, out, self.model, options=self.options,
                       overwrite=self.overwrite, **self.video)
        except InputError as error:
            return "failed", _one_line(error)
        return "fused", ""


class FuseImages:
    """Fuse arrays in a dataset of your own: adds the column ``fused`` (uint8 like the visible
    image, colour kept) to each batch, fused by :func:`critnet.fuse` with the given options.

    Args:
        ir_column, vis_column, out_column: column names (default ``ir``, ``vis``, ``fused``).
        Others: as :class:`FusePairs`.

    Example (any ``map_batches`` loop; Ray Data gives dicts of columns)::

        >>> fuse = FuseImages("tiny", backend="torch")
        >>> batch = {"ir": [np.zeros((24, 32), np.uint8)], "vis": [np.zeros((24, 32), np.uint8)]}
        >>> fuse(batch)["fused"][0].shape
        (24, 32)
    """

    def __init__(self, weights: str | None = None, *, preset: str | None = None,
                 backend: str = "auto", precision: str = "fp32", device: str = "cpu",
                 threads: int | None = None,
                 options: FuseOptions | Mapping[str, Any] | None = None,
                 ir_column: str = "ir", vis_column: str = "vis",
                 out_column: str = "fused") -> None:
        self.model = load_worker_model(weights, preset=preset, backend=backend,
                                       precision=precision, device=device, threads=threads)
        self.options = _options(options)
        self.columns = ir_column, vis_column, out_column

    def __call__(self, batch: Mapping[str, Any]) -> dict[str, Any]:
        from critnet.pipeline.single import fuse

        ir_column, vis_column, out_column = self.columns
        fused = [fuse(np.asarray(ir), np.asarray(vis), self.model, options=self.options)
                 for ir, vis in zip(batch[ir_column], batch[vis_column], strict=True)]
        return {**batch, out_column: fused}
