"""Fusing two folders of pairs matched by file stem: resumable, one failed pair does not stop
the run (docs/design.md §5)."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from PIL import Image
from tqdm import tqdm

from critnet.errors import InputError
from critnet.io.atomic import ensure_writable, release_claim, remove_stale_temps, try_claim
from critnet.io.pairs import match_pairs
from critnet.io.quiet import quiet_decoding
from critnet.io.read import check_single_frame
from critnet.io.write import check_output_options
from critnet.model import CRITNet
from critnet.pipeline.loading import ready_model
from critnet.pipeline.options import FuseOptions
from critnet.pipeline.single import fuse_file

FOLDER_EXTENSIONS = ("png", "jpg", "bmp", "tif")
#: Suffixes of animation formats: not fused, but an animated one is refused as in single mode.
ANIMATION_SUFFIXES = (".gif", ".webp")


@dataclass
class FolderReport:
    """What :func:`fuse_folder` did.

    Attributes:
        fused: outputs written.
        skipped: outputs that existed already (kept; ``overwrite`` redoes them).
        claimed: outputs another live run into the same folder was computing (left to it).
        failed: ``(stem, message)`` for pairs whose input was unusable, and animated GIF / WebP
            files (refused as in single mode).
        unmatched_ir, unmatched_vis: files without a partner (not fused).
    """

    fused: list[Path] = field(default_factory=list)
    skipped: list[Path] = field(default_factory=list)
    claimed: list[Path] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)
    unmatched_ir: list[Path] = field(default_factory=list)
    unmatched_vis: list[Path] = field(default_factory=list)

    def summary(self) -> str:
        """``fused N, skipped M, failed K`` (one line)."""
        text = f"fused {len(self.fused)}, skipped {len(self.skipped)}, failed {len(self.failed)}"
        if self.skipped:
            text += " (skipped outputs exist already; --overwrite redoes them)"
        if self.claimed:
            text += f", left {len(self.claimed)} to a concurrent run"
        return text


def fuse_folder(
    ir_dir: str | os.PathLike,
    vis_dir: str | os.PathLike,
    out_dir: str | os.PathLike,
    model: CRITNet | None = None,
    *,
    options: FuseOptions | None = None,
    ext: str = "png",
    overwrite: bool = False,
    device: str | torch.device | None = None,
    progress: bool | None = False,
    log: Callable[[str], None] | None = None,
    **overrides: Any,
) -> FolderReport:
    """Fuse every pair of ``ir_dir`` / ``vis_dir`` matched by file stem into
    ``out_dir/<stem>.<ext>``.

    Existing outputs are skipped unless ``overwrite`` (an interrupted run resumes where it
    stopped; each output is written atomically). ``out_dir`` is created and probed for
    writing before any fusing; temporary files of killed runs are removed. Each output is
    claimed (an ``O_EXCL`` marker ``.<name>.claim``) before it is computed, so concurrent runs
    into one folder split the work; a claim of a dead process on this host is taken over. A
    pair whose input is unusable (:class:`~critnet.errors.InputError`: unreadable, corrupt,
    sizes differ) is recorded in the report and logged, and the run goes on; any other error
    (a bug, out of memory, an unwritable output or full disk) stops the run. Multi-frame inputs
    (multi-page TIFF, animated GIF / WebP) are refused and reported as failed, with the same
    line as in single mode.

    Args:
        options, overrides: a :class:`~critnet.pipeline.options.FuseOptions` and/or its fields by
            keyword.
        ext: output format, one of ``png`` (default), ``jpg``, ``bmp``, ``tif``.
        progress: show a tqdm bar on stderr (``None``: only on a terminal).
        log: called with one line per warning (unmatched files) and per failed pair.
        Other arguments: as :func:`~critnet.pipeline.single.fuse_file`.

    Raises:
        InputError: a folder is missing or empty, no stems match, ``out_dir`` is an input folder
            or inside one, an unknown ``ext``, or a bit depth / quality ``ext`` lacks.
        OutputError: ``out_dir`` cannot be created or written, or an output cannot be written.
        WeightsError: ``model`` is ``None`` and no weights are bundled.
    """
    options = FuseOptions.resolve(options, overrides)
    ir_dir, vis_dir, out_dir = Path(ir_dir), Path(vis_dir), Path(out_dir)
    if ext not in FOLDER_EXTENSIONS:
        raise InputError(f"unknown output format {ext!r}; choose one of "
                         f"{', '.join(FOLDER_EXTENSIONS)}")
    check_output_options(out_dir / f"STEM.{ext}", bit_depth=options.bit_depth,
                         quality=options.quality)
    for role, folder in (("IR", ir_dir), ("visible", vis_dir)):
        if _inside(out_dir, folder):
            raise InputError(f"{out_dir}: output folder is the {role} input folder or inside it "
                             f"({folder}); choose another -o")
    if out_dir.exists() and not out_dir.is_dir():
        raise InputError(f"{out_dir}: exists and is not a folder")
    animated = _animated(ir_dir) + _animated(vis_dir)
    try:
        match = match_pairs(ir_dir, vis_dir)
    except InputError:
        if animated:
            raise InputError(animated[0][1]) from None
        raise
    ensure_writable(out_dir)
    report = FolderReport(unmatched_ir=match.unmatched_ir, unmatched_vis=match.unmatched_vis,
                          failed=animated)
    say = log or (lambda _message: None)
    for stem, message in animated:
        say(f"failed: {stem}: {message}")
    if stale := remove_stale_temps(out_dir):
        say(f"removed {len(stale)} temporary file(s) left by an interrupted run in {out_dir}")
    for kind, files in (("IR", match.unmatched_ir), ("visible", match.unmatched_vis)):
        if files:
            say(f"warning: {len(files)} {kind} file(s) without a partner, not fused: "
                f"{_name_list(files)}")
    model = ready_model(model, device)
    bar = tqdm(match.pairs, desc="fusing", unit="pair",
               disable=None if progress is None else not progress)
    for stem, ir_path, vis_path in bar:
        out_path = out_dir / f"{stem}.{ext}"
        if out_path.exists() and not overwrite:
            report.skipped.append(out_path)
            continue
        if not try_claim(out_path):
            report.claimed.append(out_path)
            continue
        try:
            if out_path.exists() and not overwrite:  # finished by a concurrent run meanwhile
                report.claimed.append(out_path)
                continue
            fuse_file(ir_path, vis_path, out_path, model, options=options, overwrite=True)
        except InputError as error:
            message = " ".join(str(error).split())
            report.failed.append((stem, message))
            say(f"failed: {stem}: {message}")
            continue
        finally:
            release_claim(out_path)
        report.fused.append(out_path)
    return report


def _animated(folder: Path) -> list[tuple[str, str]]:
    """``(stem, message)`` for each multi-frame GIF / WebP directly in ``folder``."""
    if not folder.is_dir():
        return []
    refused = []
    for path in sorted(folder.iterdir()):
        if path.suffix.lower() in ANIMATION_SUFFIXES and path.is_file():
            try:
                with quiet_decoding(), Image.open(path) as img:
                    check_single_frame(img, str(path))
            except InputError as error:
                refused.append((path.stem, str(error)))
            except (OSError, SyntaxError, ValueError, EOFError, Image.DecompressionBombError):
                # not a readable animation (or over Pillow's pixel guard): left to the reader,
                # which reports it as that pair's failure in one line
                continue
    return refused


def _inside(path: Path, folder: Path) -> bool:
    path, folder = path.resolve(), folder.resolve()
    return path == folder or folder in path.parents


def _name_list(paths: list[Path], limit: int = 10) -> str:
    names = ", ".join(p.name for p in paths[:limit])
    return names + (f", ... ({len(paths) - limit} more)" if len(paths) > limit else "")
