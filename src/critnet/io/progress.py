"""Progress bars: one rule for every command (``fuse`` on folders and video, ``train``,
``evaluate``, data scans).

A bar goes to stderr and is shown only when stderr is a terminal: a redirected log gets no bar
(the commands' own lines say what was done); ``-q`` / ``--no-progress`` turn it off on a
terminal too. A bar is given its total whenever the work knows it (pairs, steps, a video's
frame count), so it shows the rate and the time left.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # tqdm is imported on first use (not by a single-pair fuse)
    from tqdm import tqdm


def progress_bar(*, show: bool | None = None, **options: Any) -> tqdm:
    """A tqdm bar on stderr by the rule above.

    Args:
        show: ``None``: only on a terminal (the default everywhere); ``False``: never (``-q``,
            ``--no-progress``, other ranks); ``True``: always (tests, explicit requests).
        options: tqdm's (``total``, ``desc``, ``unit``, ...).
    """
    from tqdm import tqdm

    return tqdm(file=sys.stderr, disable=None if show is None else not show, **options)


def log_line(line: str) -> None:
    """Print ``line`` on stderr above any bar shown (a warning, a failed pair)."""
    from tqdm import tqdm

    tqdm.write(line, file=sys.stderr)


__all__ = ["log_line", "progress_bar"]
