"""The rows of a benchmark comparison: published outputs, classic baselines and C-RITNet
models (:class:`Method`), how a row list is chosen, and the fused images of the computed rows,
cached in ``OUT/fused/<method>/`` (:func:`materialise`).

Everything is grey (paper §4.2): sources are read with :func:`load_gray` (MATLAB ``rgb2gray``, as
:mod:`critnet.metrics`) and fused images are written as 8-bit grey PNGs.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from critnet.errors import InputError
from critnet.evaluation.baselines import BASELINES
from critnet.evaluation.bench.datasets import Dataset
from critnet.io import read_gray_uint8, write_image
from critnet.io.atomic import atomic_path

GrayFusion = Callable[[np.ndarray, np.ndarray], np.ndarray]

KINDS = ("published", "baseline", "ours")


@dataclass
class Method:
    """One row of a comparison.

    Attributes:
        name: row label (``"LRRNet"``, ``"LP"``, ``"C-RITNet (lite)"``).
        kind: ``published`` (fused files exist), ``baseline`` or ``ours`` (fused here).
        source: what produced the images (folder, rule, weights file + hash); a change of source
            invalidates the cached images and scores of that method.
        files: ``{stem: path}`` for published methods.
        fuse: for computed methods, ``(ir, vis) -> fused``: ``(H, W)`` float in [0, 1] each.
    """

    name: str
    kind: str
    source: str
    files: dict[str, Path] | None = None
    fuse: GrayFusion | None = None

    @property
    def slug(self) -> str:
        """File-system-safe folder name (``w/o MIT`` → ``w_o_MIT``)."""
        return re.sub(r"[^A-Za-z0-9.+-]+", "_", self.name).strip("_") or "method"


def load_gray(path: str | os.PathLike) -> np.ndarray:
    """An image file as ``(H, W) uint8`` grey (colour via MATLAB ``rgb2gray``, as the metrics)."""
    return read_gray_uint8(path)


def baseline_methods(names: Iterable[str] | None = None) -> list[Method]:
    """The classic rules of :mod:`critnet.evaluation.baselines` as rows (all of them by default)."""
    chosen = list(BASELINES) if names is None else list(names)
    return [Method(n, "baseline", f"critnet.evaluation.baselines.{BASELINES[n].__name__}",
                   fuse=BASELINES[n]) for n in chosen]


def published_methods(dataset: Dataset) -> list[Method]:
    """Rows for the published outputs found for ``dataset`` (see
    :mod:`critnet.evaluation.bench.datasets`)."""
    rows = []
    for name, files in dataset.fused_methods.items():
        folder = next(iter(files.values())).parent
        try:
            source = folder.relative_to(dataset.root).as_posix()
        except ValueError:
            source = str(folder)
        rows.append(Method(name, "published", source, files=files))
    return rows


def file_digest(path: str | os.PathLike) -> str:
    """First 12 hex digits of a file's SHA-256."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()[:12]


def model_method(name: str, weights: str | os.PathLike, *, device: str = "cpu") -> Method:
    """A row fused by C-RITNet with ``weights`` (bundled name or ``.safetensors`` path); the model
    is loaded on first use and fuses the grey sources (paper §4.2)."""
    from critnet.weights import resolve_weights

    path = resolve_weights(weights)
    cache: dict[str, object] = {}

    def fuse(ir: np.ndarray, vis: np.ndarray) -> np.ndarray:
        from critnet.pipeline.loading import load_model
        from critnet.pipeline.single import fuse_arrays

        if "model" not in cache:
            cache["model"] = load_model(path, device=device)
        return fuse_arrays(cache["model"], ir.astype(np.float32), vis.astype(np.float32),
                           gray=True)

    return Method(name, "ours", f"weights {path.name} sha256:{file_digest(path)}", fuse=fuse)


def bundled_model_methods(device: str = "cpu") -> list[Method]:
    """One row per bundled weights file (``C-RITNet`` alone, ``C-RITNet (<name>)`` if several)."""
    from critnet.weights import bundled_weights

    bundled = bundled_weights()
    single = len(bundled) == 1
    return [model_method("C-RITNet" if single else f"C-RITNet ({n})", n, device=device)
            for n in bundled]


def select_methods(methods: Sequence[Method], wanted: str | Iterable[str] | None) -> list[Method]:
    """Keep the methods named in ``wanted`` (comma list or names; case-insensitive; the kinds
    ``published``, ``baseline``, ``ours`` select whole groups); ``None`` keeps all.

    Raises:
        InputError: a name that matches nothing (the message lists what is available).
    """
    if wanted is None:
        return list(methods)
    if isinstance(wanted, str):
        wanted = [w for w in wanted.split(",") if w.strip()]
    keep: list[Method] = []
    for token in (w.strip().lower() for w in wanted):
        group = [m for m in methods if token in (m.name.lower(), m.kind, m.kind + "s")]
        if not group:
            names = ", ".join(m.name for m in methods)
            raise InputError(f"unknown method {token!r}; available: {names} "
                             f"(or a kind: {', '.join(KINDS)})")
        keep += [m for m in group if m not in keep]
    return [m for m in methods if m in keep]


def weights_label(weights: str, count: int) -> tuple[str, str]:
    """``(row name, weights)`` for one ``--weights`` value: ``LABEL=PATH`` names the row
    ``C-RITNet (LABEL)``; otherwise the file's stem names it, or its folder's name for a run's
    ``weights.safetensors``; a single unlabelled file is plain ``C-RITNet``. An existing file
    whose name contains ``=`` is taken as a path."""
    text = str(weights)
    label, sep, labelled = text.partition("=")
    if sep and label and labelled and not Path(text).exists():
        return f"C-RITNet ({label})", labelled
    path = Path(text)
    stem = path.parent.name if path.stem == "weights" and path.parent.name else path.stem
    return ("C-RITNet" if count == 1 else f"C-RITNet ({stem})"), text



def materialise(method: Method, dataset: Dataset, out_dir: Path, *, progress: bool = True
                ) -> dict[str, Path]:
    """``{stem: fused file}`` for ``method`` on ``dataset``; computed methods are fused into
    ``out_dir/fused/<slug>/<stem>.png`` (atomic writes) unless already cached from the same
    source. Published files are returned as they are (never written to)."""
    if method.files is not None:
        return dict(method.files)
    if method.fuse is None:
        raise InputError(f"method {method.name!r} has neither files nor a fusion function")
    folder = out_dir / "fused" / method.slug
    marker = folder / "SOURCE.txt"
    if marker.is_file() and marker.read_text().strip() != method.source:
        for stale in folder.glob("*.png"):
            stale.unlink()
    folder.mkdir(parents=True, exist_ok=True)
    with atomic_path(marker) as tmp:
        tmp.write_text(method.source + "\n")
    paths = {stem: folder / f"{stem}.png" for stem in dataset.stems}
    todo = [(stem, ir, vis) for stem, ir, vis in dataset.pairs if not paths[stem].exists()]
    for stem, ir_path, vis_path in tqdm(todo, desc=f"fuse {method.name}", unit="pair",
                                        disable=not progress or not todo, leave=False):
        ir = load_gray(ir_path).astype(np.float64) / 255.0
        vis = load_gray(vis_path).astype(np.float64) / 255.0
        fused = np.asarray(method.fuse(ir, vis), dtype=np.float64)
        if fused.shape != ir.shape:
            raise InputError(f"{method.name} returned shape {fused.shape} for {stem} "
                             f"({ir.shape} expected)")
        write_image(paths[stem], fused)
    return paths
