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


def check_output_folder(
    out_dir: str | os.PathLike,
    inputs: dict[str, str | os.PathLike],
    *,
    option: str = "-o",
) -> Path:
    """Refuse (:class:`InputError`, one line) an output folder that is one of ``inputs`` (role →
    folder) or inside one: its outputs would be read back as inputs. ``option`` is the flag that
    names the output (``-o``, ``--out``). Returns ``out_dir`` as a path."""
    out_dir = Path(out_dir)
    resolved = out_dir.resolve()
    for role, folder in inputs.items():
        folder_resolved = Path(folder).resolve()
        if resolved == folder_resolved or folder_resolved in resolved.parents:
            raise InputError(f"{out_dir}: output folder is the {role} folder or inside it "
                             f"({folder}); choose another {option}")
    return out_dir


__all__ = ["check_output_file", "check_output_folder", "same_path"]
