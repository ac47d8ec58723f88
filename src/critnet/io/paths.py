"""Where the shared datasets live: one setting, never a hard-coded absolute path."""

from __future__ import annotations

import errno
import os
from pathlib import Path

ENV_VAR = "CRITNET_DATA"
_REPO_ROOT = Path(__file__).resolve().parents[3]


def data_root() -> Path:
    """Root of the shared data (``roadscene/``, ``tno/``, ...).

    Order: the ``CRITNET_DATA`` environment variable; else ``../shared/data`` relative to the
    current directory; else ``../shared/data`` beside the source checkout, if it exists; else the
    per-user data folder (:func:`user_data_root`, where ``critnet data fetch`` puts datasets by
    default). The returned path may not exist; callers (tests, benchmarks) check and skip with a
    reason.
    """
    env = os.environ.get(ENV_VAR)
    if env:
        return Path(env).expanduser()
    here = Path.cwd() / ".." / "shared" / "data"
    if here.is_dir():
        return here.resolve()
    beside = (_REPO_ROOT / ".." / "shared" / "data").resolve()
    return beside if beside.is_dir() else user_data_root() or beside


def user_data_root() -> Path | None:
    """The per-user data folder (``~/.local/share/critnet`` on Linux; platformdirs decides per
    OS), or ``None`` without platformdirs (it comes with the ``critnet[data]`` extra)."""
    try:
        import platformdirs
    except ImportError:
        return None
    return Path(platformdirs.user_data_dir("critnet", appauthor=False))


def broken_link(path: str | os.PathLike) -> str | None:
    """Why ``path`` cannot resolve when it is a symbolic link that leads nowhere (a loop, or a
    missing target), as words for a one-line message; ``None`` otherwise."""
    path = Path(path)
    if not path.is_symlink() or path.exists():
        return None
    try:
        os.stat(path)
    except OSError as error:
        if error.errno == errno.ELOOP:
            return "a symbolic link loop (it never reaches a file)"
    try:
        target = os.readlink(path)
    except OSError:
        target = "?"
    return f"a symbolic link to {target}, which does not exist"
