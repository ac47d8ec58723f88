"""What a Ray run fuses: the local run's checks and pairing for folders given as URLs, and
pairs of videos (:func:`~critnet.pipeline.cluster.run.fuse_folder_ray`)."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from critnet.errors import InputError
from critnet.io.pairs import PairMatch, images_by_stem, match_listed
from critnet.io.write import check_output_options
from critnet.pipeline.cluster import storage
from critnet.pipeline.folder import (
    ANIMATION_SUFFIXES,
    FOLDER_EXTENSIONS,
    FolderReport,
    announce_plan,
    refused_animations,
)
from critnet.pipeline.options import FuseOptions


def plan_output(out: str, ext: str, options: FuseOptions) -> None:
    if ext not in (*FOLDER_EXTENSIONS, "mp4"):
        raise InputError(f"unknown output format {ext!r}; choose one of "
                         f"{', '.join(FOLDER_EXTENSIONS)}")
    if ext != "mp4":
        check_output_options(f"STEM.{ext}", bit_depth=options.bit_depth, quality=options.quality)
    if storage.is_url(out):
        storage.ensure_writable_url(out)
    else:
        from critnet.io.atomic import ensure_writable

        if storage.local_path(out).exists() and not storage.local_path(out).is_dir():
            raise InputError(f"{out}: exists and is not a folder")
        ensure_writable(storage.local_path(out))


def plan_urls(ir: str, vis: str, out: str, options: FuseOptions, ext: str,
               say: Callable[[str], None]) -> tuple[PairMatch, FolderReport]:
    """:func:`~critnet.pipeline.folder.plan_folder` where a folder is a URL."""
    for role, folder in (("IR", ir), ("visible", vis)):
        if _normal(out) == _normal(folder) or _normal(out).startswith(_normal(folder) + "/"):
            raise InputError(f"{out}: output folder is the {role} input folder or inside it "
                             f"({folder}); choose another -o")
    files = {folder: _listing(folder) for folder in (ir, vis)}
    animated = [refusal for folder in (ir, vis) for refusal in _animated(files[folder])]
    try:
        match = match_listed(*(images_by_stem(folder, files[folder]) for folder in (ir, vis)),
                             ir, vis)
    except InputError:
        if animated:
            raise InputError(animated[0][1]) from None
        raise
    plan_output(out, ext, options)
    report = FolderReport(unmatched_ir=match.unmatched_ir, unmatched_vis=match.unmatched_vis,
                          failed=animated)
    announce_plan(match, animated, say)
    return match, report


def _animated(files: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """The local run's refusal of animated GIF / WebP files, for a listing of URLs."""
    found = []
    for name, location in files:
        stem, suffix = os.path.splitext(name)
        if suffix.lower() in ANIMATION_SUFFIXES and not name.startswith("."):
            if storage.is_url(location):
                fs, path = storage.filesystem(location)
                found.append((stem, location, lambda fs=fs, path=path: fs.open(path, "rb")))
            else:
                found.append((stem, location, Path(location)))
    return refused_animations(found)


def _normal(location: str) -> str:
    return location.rstrip("/") if storage.is_url(location) else str(
        storage.local_path(location).resolve())


def _listing(folder: str) -> list[tuple[str, str]]:
    if storage.is_url(folder):
        return storage.list_files(folder)
    path = storage.local_path(folder)
    if not path.is_dir():
        raise InputError(f"{folder}: folder not found")
    return [(p.name, str(p)) for p in sorted(path.iterdir()) if p.is_file()]


def video_pairs(ir: str, vis: str) -> PairMatch | None:
    """Pairs of videos matched by stem when both folders hold videos and no images, else
    ``None`` (an image run)."""
    from critnet.io.pairs import IMAGE_SUFFIXES
    from critnet.pipeline.video import VIDEO_SUFFIXES

    listings = []
    for folder in (ir, vis):
        try:
            files = _listing(folder)
        except InputError:
            return None  # the image run's planning names the problem
        suffixes = {os.path.splitext(name)[1].lower() for name, _ in files}
        if suffixes & IMAGE_SUFFIXES or not suffixes & set(VIDEO_SUFFIXES):
            return None
        listings.append({os.path.splitext(name)[0]: ref for name, ref in files
                         if os.path.splitext(name)[1].lower() in VIDEO_SUFFIXES
                         and not name.startswith(".")})
    irs, viss = listings
    common = sorted(irs.keys() & viss.keys())
    if not common:
        raise InputError(f"{ir} and {vis}: no video file stems in common")
    return PairMatch(pairs=[(stem, irs[stem], viss[stem]) for stem in common],
                     unmatched_ir=[irs[s] for s in sorted(irs.keys() - viss.keys())],
                     unmatched_vis=[viss[s] for s in sorted(viss.keys() - irs.keys())])
