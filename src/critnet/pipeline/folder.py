"""Fusing two folders of pairs matched by file stem: resumable, one failed pair does not stop
the run (docs/design.md §5)."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PIL import Image

from critnet.errors import InputError
from critnet.io.atomic import ensure_writable, release_claim, remove_stale_temps, try_claim
from critnet.io.outputs import check_output_folder
from critnet.io.pairs import PairMatch, StemClashError, match_pairs
from critnet.io.progress import progress_bar
from critnet.io.quiet import quiet_decoding
from critnet.io.read import check_single_frame
from critnet.io.write import check_output_options, write_image
from critnet.pipeline import single
from critnet.pipeline.loading import ready_model
from critnet.pipeline.options import FuseOptions
from critnet.pipeline.overlap import Writer, prefetched

if TYPE_CHECKING:
    import torch

    from critnet.model import CRITNet

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
    report: FolderReport | None = None,
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
        report: a :class:`FolderReport` to fill as the run goes (and return), so that a caller
            still has what was done when the run stops on an error (a full disk).
        Other arguments: as :func:`~critnet.pipeline.single.fuse_file`.

    Raises:
        InputError: a folder is missing or empty, no stems match, ``out_dir`` is an input folder
            or inside one, an unknown ``ext``, or a bit depth / quality ``ext`` lacks.
        OutputError: ``out_dir`` cannot be created or written, or an output cannot be written.
        WeightsError: ``model`` is ``None`` and no weights are bundled.
    """
    options = FuseOptions.resolve(options, overrides)
    say = log or (lambda _message: None)
    match, report = plan_folder(ir_dir, vis_dir, out_dir, options, ext, say, report)
    out_dir = Path(out_dir)
    model = ready_model(model, device)
    bar = progress_bar(show=progress, total=len(match.pairs), desc="fusing", unit="pair")
    run = _Run(out_dir, ext, options, overwrite, report, say, bar)
    try:
        with bar, Writer() as writer:  # read ahead in a thread, write behind in another
            for pair in prefetched(run.read(*pair) for pair in match.pairs):
                if pair.state == "read":
                    run.fuse(model, pair)
                writer.submit(run.finish, pair)
    finally:
        for path in list(run.held):  # claims of pairs read ahead when a run stops
            release_claim(path)
    return report


def plan_folder(
    ir_dir: str | os.PathLike,
    vis_dir: str | os.PathLike,
    out_dir: str | os.PathLike,
    options: FuseOptions,
    ext: str,
    say: Callable[[str], None],
    report: FolderReport | None = None,
) -> tuple[PairMatch, FolderReport]:
    """The checks and pairing of a folder run before any fusing (:func:`fuse_folder`, and the
    Ray run of :mod:`critnet.pipeline.cluster`): the pairs, and a report holding the unmatched
    files and the refused animations (each logged through ``say``). ``out_dir`` is created and
    probed for writing; temporary files of killed runs in it are removed. ``report``: the
    report to fill (default: a new one).

    Raises:
        InputError, OutputError: as :func:`fuse_folder`.
    """
    ir_dir, vis_dir, out_dir = Path(ir_dir), Path(vis_dir), Path(out_dir)
    if ext not in FOLDER_EXTENSIONS:
        raise InputError(f"unknown output format {ext!r}; choose one of "
                         f"{', '.join(FOLDER_EXTENSIONS)}")
    check_output_options(out_dir / f"STEM.{ext}", bit_depth=options.bit_depth,
                         quality=options.quality)
    check_output_folder(out_dir, {"IR input": ir_dir, "visible input": vis_dir})
    if out_dir.exists() and not out_dir.is_dir():
        raise InputError(f"{out_dir}: exists and is not a folder")
    animated = _animated(ir_dir) + _animated(vis_dir)
    try:
        match = match_pairs(ir_dir, vis_dir)
    except StemClashError:
        raise
    except InputError:
        if animated:
            raise InputError(animated[0][1]) from None
        raise
    ensure_writable(out_dir)
    report = report if report is not None else FolderReport()
    report.unmatched_ir, report.unmatched_vis = match.unmatched_ir, match.unmatched_vis
    report.failed.extend(animated)
    if stale := remove_stale_temps(out_dir):
        say(f"removed {len(stale)} temporary file(s) left by an interrupted run in {out_dir}")
    announce_plan(match, animated, say)
    return match, report


def announce_plan(match: PairMatch, refused: list[tuple[str, str]],
                  say: Callable[[str], None]) -> None:
    """The lines a folder run logs before fusing: refused files, files without a partner."""
    for stem, message in refused:
        say(f"failed: {stem}: {message}")
    for kind, files in (("IR", match.unmatched_ir), ("visible", match.unmatched_vis)):
        if files:
            say(f"warning: {len(files)} {kind} file(s) without a partner, not fused: "
                f"{_name_list(files)}")


@dataclass
class _Pair:
    """One pair on its way through the run: ``state`` is ``skipped``, ``claimed``, ``failed``,
    ``read`` (``data`` holds the images) or ``fused`` (``fused`` holds the result)."""

    stem: str
    out_path: Path
    state: str
    message: str = ""
    data: tuple | None = None
    fused: Any = None


@dataclass
class _Run:
    """The three steps of one pair: :meth:`read` (reader thread: skip, claim, read), :meth:`fuse`
    (this thread), :meth:`finish` (writer thread: write, release, report, in order)."""

    out_dir: Path
    ext: str
    options: FuseOptions
    overwrite: bool
    report: FolderReport
    say: Callable[[str], None]
    bar: Any = None
    claims: bool = True  # off where a scheduler gives each pair to one worker (Ray)
    held: set[Path] = field(default_factory=set)

    def read(self, stem: str, ir_path: Path, vis_path: Path) -> _Pair:
        out_path = self.out_dir / f"{stem}.{self.ext}"
        if out_path.exists() and not self.overwrite:
            return _Pair(stem, out_path, "skipped")
        if self.claims:
            if not try_claim(out_path):
                return _Pair(stem, out_path, "claimed")
            self.held.add(out_path)
            if out_path.exists() and not self.overwrite:  # finished by a concurrent run meanwhile
                return _Pair(stem, out_path, "claimed")
        try:
            data = single.read_for_output(ir_path, vis_path, out_path, self.options,
                                          overwrite=True)
        except InputError as error:
            return _Pair(stem, out_path, "failed", _one_line(error))
        return _Pair(stem, out_path, "read", data=data)

    def fuse(self, model: Any, pair: _Pair) -> None:
        (ir, vis, names), pair.data = pair.data, None
        try:
            pair.fused = single.fuse_arrays(model, ir, vis, options=self.options, names=names)
            pair.state = "fused"
        except InputError as error:
            pair.state, pair.message = "failed", _one_line(error)

    def finish(self, pair: _Pair) -> None:
        try:
            if pair.state == "fused":
                write_image(pair.out_path, pair.fused, bit_depth=self.options.bit_depth,
                            quality=self.options.quality)
        except InputError as error:
            pair.state, pair.message = "failed", _one_line(error)
        finally:
            pair.fused = None
            if pair.out_path in self.held:
                self.held.discard(pair.out_path)
                release_claim(pair.out_path)
        if self.bar is not None:
            self.bar.update(1)
        if pair.state == "fused":
            self.report.fused.append(pair.out_path)
        elif pair.state == "skipped":
            self.report.skipped.append(pair.out_path)
        elif pair.state == "claimed":
            self.report.claimed.append(pair.out_path)
        else:
            self.report.failed.append((pair.stem, pair.message))
            self.say(f"failed: {pair.stem}: {pair.message}")


def fuse_pair(
    model: Any,
    stem: str,
    ir_path: str | os.PathLike,
    vis_path: str | os.PathLike,
    out_path: str | os.PathLike,
    options: FuseOptions,
    *,
    overwrite: bool = False,
) -> tuple[str, str]:
    """One pair of a folder run, start to end in this thread, without a claim: the same
    steps :func:`fuse_folder` overlaps in its reader and writer threads (skip an existing
    output, read, fuse, write atomically). Used by the Ray run, whose scheduler gives each pair
    to one worker.

    Returns:
        ``(state, message)``: ``fused``, ``skipped``, or ``failed`` with the one-line reason.

    Raises:
        OutputError: the output cannot be written; any error other than an unusable input.
    """
    out_path = Path(out_path)
    run = _Run(out_path.parent, out_path.suffix[1:], options, overwrite, FolderReport(),
               lambda _message: None, claims=False)
    pair = run.read(stem, Path(ir_path), Path(vis_path))
    if pair.state == "read":
        run.fuse(model, pair)
    run.finish(pair)
    return pair.state, pair.message


def _one_line(error: BaseException) -> str:
    return " ".join(str(error).split())


def _animated(folder: Path) -> list[tuple[str, str]]:
    """``(stem, message)`` for each multi-frame GIF / WebP directly in ``folder``."""
    if not folder.is_dir():
        return []
    return refused_animations([(p.stem, str(p), p) for p in sorted(folder.iterdir())
                               if p.suffix.lower() in ANIMATION_SUFFIXES and p.is_file()])


def refused_animations(files: list[tuple[str, str, Any]]) -> list[tuple[str, str]]:
    """``(stem, message)`` for each multi-frame file among ``(stem, name, source)``, where
    ``source`` is a path or a callable opening the file for binary reading (a remote file)."""
    refused = []
    for stem, name, source in files:
        try:
            with contextlib.ExitStack() as stack:
                stack.enter_context(quiet_decoding())
                handle = stack.enter_context(source()) if callable(source) else source
                img = stack.enter_context(Image.open(handle))
                check_single_frame(img, name)
        except InputError as error:
            refused.append((stem, str(error)))
        except (OSError, SyntaxError, ValueError, EOFError, Image.DecompressionBombError):
            # not a readable animation (or over Pillow's pixel guard): left to the reader,
            # which reports it as that pair's failure in one line
            continue
    return refused


def _name_list(paths: list[Path] | list[str], limit: int = 10) -> str:
    names = ", ".join(os.fspath(p).rsplit("/", 1)[-1] for p in paths[:limit])
    return names + (f", ... ({len(paths) - limit} more)" if len(paths) > limit else "")
