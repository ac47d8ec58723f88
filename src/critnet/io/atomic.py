"""Atomic file writes and output-location safety: temporary files beside the target renamed
over it, a writability probe run before any computing, stale temporary files of crashed runs
removed, and per-output claims so concurrent runs into one folder split the work."""

from __future__ import annotations

import contextlib
import errno
import glob
import os
import re
import socket
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from critnet.errors import OutputError

#: Temporary files are named ``.<stem>.<pid>.<random>.tmp<suffix>`` (the PID finds stale ones).
_TEMP_NAME = re.compile(r"^\..+\.(?P<pid>\d+)\.[A-Za-z0-9_]{8}\.tmp(\.[A-Za-z0-9]+)?$")
#: A temporary file untouched this long is stale even if its PID is alive (a reused PID).
STALE_SECONDS = 6 * 3600
_HOST = socket.gethostname()
#: errno values of a full disk, a quota or a file-size limit.
_FULL = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def output_error(path: str | os.PathLike, error: OSError) -> OutputError:
    """One-line :class:`OutputError` for an output that cannot be written (path and reason)."""
    reason = "a file, not a folder, is in the way" if isinstance(error, FileExistsError) else (
        error.strerror or str(error))
    return OutputError(f"{path}: cannot write output here ({reason})")


def ensure_writable(folder: str | os.PathLike) -> Path:
    """Create ``folder`` if needed and prove it accepts files (a probe file, removed at once).

    Call before computing, so an unwritable output fails in a second, not after the work.

    Raises:
        OutputError: the folder cannot be created or written (one line: path and reason).
    """
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=f".critnet-probe.{os.getpid()}.", dir=folder)
        os.close(fd)
        os.unlink(probe)
    except OSError as error:
        raise output_error(folder, error) from None
    return folder


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_stale_temps(folder: str | os.PathLike,
                       target: str | os.PathLike | None = None) -> list[Path]:
    """Remove this package's temporary files in ``folder`` left by crashed runs (only those of
    the output file ``target`` when given: a one-file command cleans up after itself only).

    Only names made by :func:`atomic_path` count, and only when their process is gone (or
    they are older than :data:`STALE_SECONDS`), so a concurrent live run is never disturbed.

    Returns:
        The removed paths.
    """
    removed = []
    pattern = ".*.tmp*"
    if target is not None:
        target = Path(target)
        pattern = f".{glob.escape(target.stem)}.*.tmp{glob.escape(target.suffix)}"
    for path in Path(folder).glob(pattern):
        match = _TEMP_NAME.match(path.name)
        if match is None or not path.is_file():
            continue
        try:
            old = time.time() - path.stat().st_mtime > STALE_SECONDS
            if old or (int(match["pid"]) != os.getpid() and not _pid_alive(int(match["pid"]))):
                path.unlink()
                removed.append(path)
        except OSError:
            continue
    return removed


@contextlib.contextmanager
def atomic_path(target: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path in ``target``'s folder; on success rename it to ``target``.

    On an exception the temporary file is removed and ``target`` is left untouched, so a
    crash never leaves a half-written output or checkpoint. A failure to write the temporary
    file (a full disk) is an :class:`OutputError` naming ``target``. The temporary name keeps the
    target's suffix (libraries such as PIL pick the format from it) and carries the PID, so
    :func:`remove_stale_temps` can clean up after a killed process.

    Raises:
        OutputError: the folder or temporary file cannot be created (one line).
    """
    target = Path(target)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{target.stem}.{os.getpid()}.",
                                   suffix=f".tmp{target.suffix}", dir=target.parent)
    except OSError as error:
        raise output_error(target, error) from None
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        os.chmod(tmp_path, 0o666 & ~_umask())  # mkstemp makes 0600; give the usual mode
        os.replace(tmp_path, target)
    except OSError as error:
        tmp_path.unlink(missing_ok=True)
        if isinstance(error, OutputError) or not (
                error.filename in (str(tmp_path), tmp_path) or error.errno in _FULL):
            raise
        raise output_error(target, error) from None  # the output, not its temporary name
    except BaseException:
        tmp_path.unlink(missing_ok=True)
        raise


def claim_path(target: Path) -> Path:
    """The claim file of ``target``: ``.<name>.claim`` beside it."""
    return target.with_name(f".{target.name}.claim")


def try_claim(target: str | os.PathLike) -> bool:
    """Claim ``target`` for this process with an ``O_EXCL`` marker file (``pid@host``).

    A claim held by a dead process on this host is taken over. Release with
    :func:`release_claim`.

    Returns:
        ``True`` when this process now holds the claim, ``False`` when another live run does.
    """
    marker = claim_path(Path(target))
    for _ in range(2):
        try:
            fd = os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            if not _claim_stale(marker):
                return False
            marker.unlink(missing_ok=True)
            continue
        with os.fdopen(fd, "w") as handle:
            handle.write(f"{os.getpid()}@{_HOST}\n")
        return True
    return False


def release_claim(target: str | os.PathLike) -> None:
    """Remove this process's claim on ``target`` (no error if it is gone)."""
    claim_path(Path(target)).unlink(missing_ok=True)


def _claim_stale(marker: Path) -> bool:
    try:
        owner = marker.read_text().strip()
        age = time.time() - marker.stat().st_mtime
    except OSError:
        return False
    pid, _, host = owner.partition("@")
    if host == _HOST and pid.isdigit():
        return not _pid_alive(int(pid))
    return age > STALE_SECONDS or not pid.isdigit() and age > 60
