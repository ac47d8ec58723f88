"""The checks every writer makes on an output file name before any work starts.

One place for the three refusals a single fusion, a video and an export share: the output is one
of the inputs, the output is a folder, the output exists without ``overwrite``. (A folder run's
output *folder* has its own check in :mod:`critnet.pipeline.folder`.)
"""

from __future__ import annotations

import os
from pathlib import Path

from critnet.errors import InputError


def same_path(a: str | os.PathLike, b: str | os.PathLike) -> bool:
    """Whether ``a`` and ``b`` name one file (hard links and symlinks included)."""
    a, b = Path(a), Path(b)
    if a.exists() and b.exists():
        return os.path.samefile(a, b)
    return a.resolve() == b.resolve()


def check_output_file(
    out_path: str | os.PathLike,
    inputs: dict[str, str | os.PathLike] | None = None,
    *,
    overwrite: bool = False,
    example: str = "fused.png",
) -> Path:
    """Refuse (:class:`InputError`, one line naming ``out_path``) an output that is one of
    ``inputs`` (role → path), is a folder, or exists without ``overwrite``. Returns the path.
    ``example`` is the file name suggested inside a folder."""
    out_path = Path(out_path)
    for role, source in (inputs or {}).items():
        if same_path(out_path, source):
            raise InputError(f"{out_path}: output path is the {role} input; refusing to "
                             f"overwrite an input (choose another -o)")
    if out_path.is_dir():
        raise InputError(f"{out_path}: is a folder; give an output file name such as "
                         f"{out_path / example}")
    if out_path.exists() and not overwrite:
        raise InputError(f"{out_path}: already exists (use --overwrite / overwrite=True to "
                         f"replace it)")
    return out_path


__all__ = ["check_output_file", "same_path"]
