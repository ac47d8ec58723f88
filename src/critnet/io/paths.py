"""Where the shared datasets live: one setting, never a hard-coded absolute path."""

from __future__ import annotations

import os
from pathlib import Path

ENV_VAR = "CRITNET_DATA"
_REPO_ROOT = Path(__file__).resolve().parents[3]


def data_root() -> Path:
    """Root of the shared data (``roadscene/``, ``tno/``, ...).

    Order: the ``CRITNET_DATA`` environment variable; else ``../shared/data`` relative to the
    current directory; else ``../shared/data`` beside the source checkout. The returned path may
    not exist; callers (tests, benchmarks) check and skip with a reason.
    """
    env = os.environ.get(ENV_VAR)
    if env:
        return Path(env).expanduser()
    here = Path.cwd() / ".." / "shared" / "data"
    if here.is_dir():
        return here.resolve()
    return (_REPO_ROOT / ".." / "shared" / "data").resolve()
