"""Folders every node can read: local paths (a shared mount) or fsspec URLs (``s3://bucket/ir``,
``gs://…``), listed, staged and published with the local run's atomic-result rule.

A worker fuses a remote pair through local files: it downloads both inputs into a private
temporary folder (file names kept, so DJI naming and suffixes read as they do locally), runs the
local folder run's per-pair function (:func:`critnet.pipeline.folder.fuse_pair`) and publishes
the result. Publishing is atomic: an object store makes an object visible only once its upload
is complete (one PUT, or a multipart upload completed), so a result exists whole or not at all;
on any other file system the result goes to a hidden temporary name first and is renamed.
"""

from __future__ import annotations

import contextlib
import os
import re
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from critnet.errors import InputError, OutputError

MISSING_FSSPEC = ("URLs of folders need fsspec (and s3fs for s3://, gcsfs for gs://): "
                  "pip install 'critnet[cluster]'")
#: Protocols whose uploads appear whole or not at all (no temporary name needed).
OBJECT_STORES = frozenset({"s3", "s3a", "gs", "gcs", "az", "abfs", "abfss", "adl", "memory"})
_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")


def is_url(location: str | os.PathLike) -> bool:
    """Whether ``location`` is a URL other than ``file://`` (else a local path)."""
    text = os.fspath(location)
    return bool(_URL.match(text)) and not text.startswith("file://")


def local_path(location: str | os.PathLike) -> Path:
    """A local location as a path (``file://`` stripped)."""
    text = os.fspath(location)
    return Path(text[len("file://"):] if text.startswith("file://") else text)


def filesystem(url: str) -> tuple[Any, str]:
    """``(fsspec file system, path in it)`` for ``url``.

    Raises:
        InputError: fsspec (or the protocol's package) is not installed, or an unknown protocol.
    """
    try:
        import fsspec.core
    except ImportError:
        raise InputError(MISSING_FSSPEC) from None
    try:
        return fsspec.core.url_to_fs(url)
    except ImportError as error:
        raise InputError(f"{url}: {error}".split("\n")[0]) from None
    except ValueError as error:
        raise InputError(f"{url}: {error}") from None


def join(folder: str, name: str) -> str:
    """``folder/name`` for a path or a URL."""
    return f"{folder.rstrip('/')}/{name}" if is_url(folder) else str(local_path(folder) / name)


def name_of(location: str | os.PathLike) -> str:
    """The file name at the end of a path or URL."""
    return os.fspath(location).rstrip("/").rsplit("/", 1)[-1]


def list_files(folder: str) -> list[tuple[str, str]]:
    """``(file name, URL)`` of the files directly in the remote ``folder``.

    Raises:
        InputError: the folder does not exist or cannot be listed (one line).
    """
    fs, path = filesystem(folder)
    try:
        entries = fs.ls(path, detail=True)
    except FileNotFoundError:
        raise InputError(f"{folder}: folder not found") from None
    except OSError as error:
        raise InputError(f"{folder}: cannot list it ({_reason(error)})") from None
    return sorted((name_of(entry["name"]), join(folder, name_of(entry["name"])))
                  for entry in entries if entry.get("type") == "file")


def existing_names(folder: str) -> set[str]:
    """Names of the files directly in ``folder`` (local or remote; none when it is missing)."""
    if not is_url(folder):
        path = local_path(folder)
        return {p.name for p in path.iterdir()} if path.is_dir() else set()
    try:
        return {name for name, _ in list_files(folder)}
    except InputError:
        return set()


def ensure_writable_url(folder: str) -> None:
    """Create the remote ``folder`` if needed and prove it accepts objects (a probe, removed).

    Raises:
        OutputError: it cannot be written (one line: URL and reason).
    """
    fs, path = filesystem(folder)
    probe = f"{path.rstrip('/')}/.critnet-probe.{uuid.uuid4().hex[:8]}"
    try:
        fs.makedirs(path, exist_ok=True)
        fs.pipe_file(probe, b"")
        fs.rm_file(probe)
    except OSError as error:
        raise OutputError(f"{folder}: cannot write output here ({_reason(error)})") from None


def exists(location: str) -> bool:
    """Whether the file at ``location`` (path or URL) exists."""
    if not is_url(location):
        return local_path(location).exists()
    fs, path = filesystem(location)
    return fs.exists(path)


@dataclass
class Staged:
    """Local stand-ins of one pair's three locations (:func:`staged`)."""

    ir: Path
    vis: Path
    out: Path

    def as_given(self, message: str, ir: str, vis: str, out: str) -> str:
        """``message`` with the local stand-ins' paths replaced by the locations given."""
        for local, given in ((self.ir, ir), (self.vis, vis), (self.out, out)):
            message = message.replace(str(local), given)
        return message


@contextlib.contextmanager
def staged(ir: str, vis: str, out: str) -> Iterator[Staged]:
    """Local files for a pair whose inputs or output may be remote: remote inputs downloaded
    into a private temporary folder (names kept), a remote output given a local path there.
    Local locations are used as they are. The folder is removed on leaving.

    Raises:
        InputError: a remote input cannot be read (gone since the listing, no permission).
    """
    with tempfile.TemporaryDirectory(prefix="critnet-stage-") as tmp:
        places = []
        for role, location in (("ir", ir), ("vis", vis), ("out", out)):
            if not is_url(location):
                places.append(local_path(location))
                continue
            local = Path(tmp, role, name_of(location))
            local.parent.mkdir()
            if role != "out":
                fs, path = filesystem(location)
                try:
                    fs.get_file(path, str(local))
                except OSError as error:
                    raise InputError(f"{location}: cannot read it ({_reason(error)})") from None
            places.append(local)
        yield Staged(*places)


def publish(local: Path, location: str) -> None:
    """Copy the finished local result to the remote ``location`` so that it appears whole or
    not at all (see the module's note).

    Raises:
        OutputError: the upload failed (one line); nothing is left under ``location``'s name.
    """
    fs, path = filesystem(location)
    protocols = fs.protocol if isinstance(fs.protocol, tuple | list) else (fs.protocol,)
    try:
        if OBJECT_STORES.intersection(protocols):
            fs.put_file(str(local), path)
            return
        folder, name = path.rsplit("/", 1) if "/" in path else ("", path)
        temporary = f"{folder}/.{name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp"
        fs.put_file(str(local), temporary)
        try:
            fs.mv(temporary, path)
        finally:
            if fs.exists(temporary):
                fs.rm_file(temporary)
    except OSError as error:
        raise OutputError(f"{location}: cannot write output here ({_reason(error)})") from None


def _reason(error: BaseException) -> str:
    return " ".join((getattr(error, "strerror", None) or str(error) or type(error).__name__
                     ).split())
