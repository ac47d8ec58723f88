"""Keep image decoders from writing to the terminal: the reader reports problems as one line.

libtiff (inside Pillow) prints its warnings and errors straight to the process's stderr (file
descriptor 2), naming a ``tempfile.tif`` that does not exist, and Pillow issues Python warnings
about broken tags or large images; the reader then raises its own clean error or loads the image
anyway. Neither reaches the user.

libtiff is quieted at its source: its warning and error handlers are unset in the copy of libtiff
that Pillow loaded (Pillow detects failures from return codes, not from these messages). Never
by pointing file descriptor 2 or ``sys.stderr`` elsewhere: that is process-wide, and the lines
other threads print meanwhile (a folder run's failures) would be lost.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import threading
import warnings
from collections.abc import Iterator
from pathlib import Path

_LOCK = threading.Lock()
_LIBTIFF_QUIETED = False


def _loaded_libtiff() -> str | None:
    """The path of the libtiff that Pillow's ``_imaging`` module loaded (Linux: from
    ``/proc/self/maps``), else the system's libtiff, else ``None``."""
    from PIL import Image  # noqa: F401  (loads _imaging, and with it libtiff)

    try:
        maps = Path("/proc/self/maps").read_text().splitlines()
    except OSError:
        maps = []
    for line in maps:
        path = line.split(maxsplit=5)[-1] if line.count(" ") >= 5 else ""
        if Path(path).name.startswith("libtiff") and ".so" in path:
            return path
    return ctypes.util.find_library("tiff")


def quiet_libtiff() -> None:
    """Unset libtiff's default warning and error handlers (which print to file descriptor 2),
    once per process. Does nothing where libtiff cannot be found."""
    global _LIBTIFF_QUIETED
    if _LIBTIFF_QUIETED:
        return
    _LIBTIFF_QUIETED = True
    path = _loaded_libtiff()
    if path is None:
        return
    try:
        lib = ctypes.CDLL(path)
        for name in ("TIFFSetWarningHandler", "TIFFSetErrorHandler"):
            setter = getattr(lib, name)
            setter.restype = ctypes.c_void_p
            setter.argtypes = [ctypes.c_void_p]
            setter(None)
    except (OSError, AttributeError):
        pass


@contextlib.contextmanager
def quiet_decoding() -> Iterator[None]:
    """While the block (or decorated function) runs, ignore Pillow's Python warnings; libtiff's
    messages are unset for good (:func:`quiet_libtiff`).

    Warning filters are process-wide: the sections are serialised by a lock. Nothing else is
    silenced: another thread's stderr output always appears.
    """
    quiet_libtiff()
    with _LOCK, warnings.catch_warnings():
        warnings.filterwarnings("ignore", module=r"PIL\.")
        yield
