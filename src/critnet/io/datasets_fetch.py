"""``critnet data fetch``: the public benchmark datasets from their repositories at pinned commits.

Each fetchable dataset has a registry, ``fetch_data/<name>/files.csv``, built from the shared
copy by ``scripts/build_fetch_registry.py``: one row per file with the source repository, the
pinned commit, the upstream path, and the SHA-256 of the upstream bytes. The tables we made
(``roadscene/subsets.csv``, ``tno/pairs.csv``) are shipped in the package beside it
(``repo = critnet``). Rows with ``convert = bmp-png`` are BMPs upstream that critnet keeps as
PNG: the BMP is checked against its SHA-256, converted losslessly, and the PNG checked by the
SHA-256 of its decoded pixels (``pixels_sha256``).

The dataset is assembled in ``<root>/.<name>.part/`` and renamed to ``<root>/<name>/`` only
when every file is verified, so the folder critnet reads never exists half-done. An interrupted
or failed fetch resumes from the ``.part`` folder: files there with the right hash are kept.
An existing ``<root>/<name>/`` is only verified, never written to.

Quick use::

    from critnet.io.datasets_fetch import fetch_dataset
    result = fetch_dataset("tno", "/data/critnet")   # -> /data/critnet/tno/{ir,vi,pairs.csv}
"""

from __future__ import annotations

import csv
import os
import shutil
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from critnet.errors import InputError
from critnet.io.atomic import atomic_path, ensure_writable
from critnet.io.download import (
    DownloadError,
    UnreachableError,
    bmp_to_png,
    download,
    file_sha256,
    pixels_sha256,
    require_pooch,
)
from critnet.io.paths import data_root

#: Fetchable datasets: folder name -> one-line description.
FETCHABLE = {
    "roadscene": "RoadScene, 221 pairs (hanna-xu/RoadScene), 9 MB",
    "tno": "TNO, 42 + 2 pairs (Linfeng-Tang/Image-Fusion, yanyanchun/TNO_Image_Fusion_Dataset), "
           "20 MB",
}
#: Tables critnet made and ships in the package, per dataset (not downloaded).
SHIPPED = {"roadscene": ("subsets.csv",), "tno": ("pairs.csv",)}
REGISTRY_COLUMNS = ("file", "repo", "commit", "upstream", "bytes", "sha256", "convert",
                    "pixels_sha256")
REGISTRY_DIR = Path(__file__).resolve().parent / "fetch_data"
RAW_URL = "https://raw.githubusercontent.com"
#: Environment variable replacing :data:`RAW_URL` (a mirror serving ``/<repo>/<commit>/<path>``).
URL_ENV = "CRITNET_FETCH_URL"

__all__ = ["FETCHABLE", "DownloadError", "Entry", "FetchResult", "fetch_dataset",
           "file_sha256", "missing_dataset_message", "pixels_sha256", "read_registry",
           "verify_folder"]


@dataclass(frozen=True)
class Entry:
    """One registry row: ``file`` (relative to the dataset folder) and where it comes from."""

    file: str
    repo: str
    commit: str
    upstream: str
    bytes: int
    sha256: str
    convert: str = ""
    pixels_sha256: str = ""

    @property
    def shipped(self) -> bool:
        return self.repo == "critnet"

    def url(self, base: str | None = None) -> str:
        base = (base or os.environ.get(URL_ENV) or RAW_URL).rstrip("/")
        return f"{base}/{self.repo}/{self.commit}/{urllib.parse.quote(self.upstream)}"

    def matches(self, path: Path) -> bool:
        """``path`` holds this entry's content (pixels for converted files, else bytes)."""
        if not path.is_file():
            return False
        if self.convert:
            try:
                return pixels_sha256(path) == self.pixels_sha256
            except OSError:  # PIL: not a readable image
                return False
        return path.stat().st_size == self.bytes and file_sha256(path) == self.sha256


@dataclass
class FetchResult:
    """What :func:`fetch_dataset` did.

    Attributes:
        name: the dataset (``roadscene``, ``tno``).
        folder: ``<root>/<name>``, complete and verified.
        downloaded: files downloaded (or written from the package) in this call.
        present: files already present with the right hash (kept, not downloaded).
        already_complete: the folder existed and was only verified.
    """

    name: str
    folder: Path
    downloaded: int = 0
    present: int = 0
    already_complete: bool = False
    failed: list[str] = field(default_factory=list)


def read_registry(name: str, registry_dir: str | os.PathLike | None = None) -> list[Entry]:
    """The registry rows of dataset ``name``.

    Raises:
        InputError: unknown dataset, or a registry file that is missing or malformed.
    """
    folder = Path(registry_dir) if registry_dir is not None else REGISTRY_DIR
    table = folder / name / "files.csv"
    if not table.is_file():
        known = sorted(p.name for p in folder.iterdir() if (p / "files.csv").is_file())
        raise InputError(f"unknown dataset {name!r}; fetchable: {', '.join(known)}")
    with table.open(newline="") as handle:
        reader = csv.DictReader(handle)
        if tuple(reader.fieldnames or ()) != REGISTRY_COLUMNS:
            raise InputError(f"{table}: expected columns {','.join(REGISTRY_COLUMNS)}")
        return [Entry(**{**row, "bytes": int(row["bytes"])}) for row in reader]


def verify_folder(folder: Path, entries: list[Entry]) -> list[str]:
    """Files of ``folder`` missing or differing from ``entries`` (relative names, in order)."""
    return [e.file for e in entries if not e.matches(folder / e.file)]


def default_root() -> Path:
    """Where ``critnet data fetch`` puts datasets without ``--dir``: :func:`data_root`."""
    return data_root()


def missing_dataset_message(name: str, root: str | os.PathLike | None = None) -> str:
    """One line for a dataset folder ``name`` (``roadscene``, ``tno``, ...) absent from ``root``.

    For ``critnet bench``, ``critnet train`` and anything else that reads a dataset: it names
    where the folder was looked for and, for a fetchable dataset, the command that downloads it.

    >>> missing_dataset_message("tno", "/data").startswith("/data/tno: dataset folder not found; ")
    True
    """
    root = Path(root) if root is not None else data_root()
    folder = root / name
    if name in FETCHABLE:
        where = "" if root == default_root() else f" --dir {root}"
        how = f"download it with: critnet data fetch {name}{where}"
    else:
        how = "critnet cannot download it; put its ir/ and vi/ folders there"
    return (f"{folder}: dataset folder not found; {how} (or set CRITNET_DATA to a data root "
            f"holding it)")


def fetch_dataset(name: str, root: str | os.PathLike | None = None, *,
                  registry_dir: str | os.PathLike | None = None, base_url: str | None = None,
                  progress: bool = True, log: Callable[[str], None] = print, retries: int = 2,
                  timeout: float = 60.0) -> FetchResult:
    """Download dataset ``name`` into ``root/name`` (default root: :func:`default_root`).

    Args:
        name: a key of :data:`FETCHABLE` (or of ``registry_dir``).
        root: the data root; ``root/name`` is created.
        registry_dir: registries to use instead of the package's (tests).
        base_url: server to use instead of :data:`RAW_URL` / ``$CRITNET_FETCH_URL``.
        progress: show a progress bar (bytes, on stderr).
        log: receives one line per failed file.
        retries: further attempts per file after a network error or a checksum mismatch.
        timeout: seconds without data before a request is abandoned.

    Raises:
        InputError: unknown dataset, or ``root/name`` exists and is not the published set.
        DownloadError: the extra is missing, or some files failed (each was logged); the
            verified files stay in ``root/.name.part`` for the next run.
    """
    entries = read_registry(name, registry_dir)
    root = Path(root) if root is not None else default_root()
    target = root / name
    result = FetchResult(name, target)
    if target.exists():
        bad = verify_folder(target, entries)
        if bad:
            raise InputError(f"{target}: exists, but {len(bad)} of {len(entries)} files are "
                             f"missing or not the published ones (first: {bad[0]}); move it "
                             f"away or fetch into another --dir")
        result.present, result.already_complete = len(entries), True
        return result
    require_pooch()
    staging = ensure_writable(root) / f".{name}.part"
    _clean_staging(staging, entries)
    source_dir = registry_dir if registry_dir is not None else REGISTRY_DIR
    unreachable = False
    from tqdm import tqdm

    with tqdm(total=sum(e.bytes for e in entries), desc=name, unit="B", unit_scale=True,
              disable=not progress, leave=False) as bar:
        for entry in entries:
            dest = staging / entry.file
            try:
                if entry.matches(dest):
                    result.present += 1
                else:
                    _get(entry, dest, staging, Path(source_dir) / name, base_url, retries,
                         timeout)
                    result.downloaded += 1
            except DownloadError as error:
                result.failed.append(str(error))
                with tqdm.external_write_mode():
                    log(str(error))
                if isinstance(error, UnreachableError):
                    unreachable = True
                    break
            bar.update(entry.bytes)
    if result.failed:
        _prune_empty(staging)
        kept = result.downloaded + result.present
        untried = len(entries) - kept - len(result.failed)
        rest = f", {untried} not tried" if untried else ""
        kept_line = (f"{kept} verified files are kept in {staging}" if kept else
                     "nothing was kept")
        again = "run the same command again" + (" to resume from them" if kept else "")
        if unreachable:  # nothing to gain from retrying at once
            again = f"the server could not be reached (offline?); {again} once it can be"
        raise DownloadError(f"{name}: {len(result.failed)} of {len(entries)} files failed (listed "
                            f"above){rest}; {kept_line}; {again}")
    shutil.rmtree(staging / ".sources", ignore_errors=True)
    os.replace(staging, target)
    return result


def _get(entry: Entry, dest: Path, staging: Path, shipped_dir: Path, base_url: str | None,
         retries: int, timeout: float) -> None:
    dest.unlink(missing_ok=True)  # a wrong file from an earlier run
    if entry.shipped:
        with atomic_path(dest) as tmp:
            shutil.copyfile(shipped_dir / entry.upstream, tmp)
            if file_sha256(tmp) != entry.sha256:
                raise DownloadError(f"{shipped_dir / entry.upstream}: the packaged table is "
                                    f"damaged (SHA-256 differs from the registry)")
        return
    if not entry.convert:
        download(entry.url(base_url), dest, entry.sha256, retries=retries, timeout=timeout)
        return
    if entry.convert != "bmp-png":
        raise DownloadError(f"{entry.file}: unknown conversion {entry.convert!r} in the registry")
    source = staging / ".sources" / (entry.file.replace("/", "__") + ".bmp")
    download(entry.url(base_url), source, entry.sha256, retries=retries, timeout=timeout)
    bmp_to_png(source, dest, entry.pixels_sha256)
    source.unlink()


def _clean_staging(staging: Path, entries: list[Entry]) -> None:
    """Remove from our own ``.part`` folder anything that is not a registry file (temp files of
    a killed run); files with a registry name are checked, and kept if right, on the way."""
    expected = {staging / e.file for e in entries}
    if staging.is_dir():
        for path in staging.rglob("*"):
            if path.is_file() and path not in expected:
                path.unlink()
        _prune_empty(staging)


def _prune_empty(folder: Path) -> None:
    """Remove the empty folders under ``folder``, and ``folder`` itself when it ends up empty."""
    for path in sorted((p for p in folder.rglob("*") if p.is_dir()), reverse=True):
        if not any(path.iterdir()):
            path.rmdir()
    if folder.is_dir() and not any(folder.iterdir()):
        folder.rmdir()
