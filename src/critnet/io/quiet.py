"""Keep image decoders from writing to the terminal: the reader reports problems as one line.

libtiff (inside Pillow) prints its warnings and errors straight to the process's stderr (file
descriptor 2), naming a ``tempfile.tif`` that does not exist, and Pillow issues Python warnings
about broken tags or large images; the reader then raises its own clean error or loads the image
anyway. Neither reaches the user.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
import warnings
from collections.abc import Iterator

_LOCK = threading.Lock()


@contextlib.contextmanager
def quiet_decoding() -> Iterator[None]:
    """While the block (or decorated function) runs, send file descriptor 2 to ``os.devnull``
    and ignore Pillow's Python warnings.

    File descriptors and warning filters are process-wide: the sections are serialised by a
    lock, and another thread's stderr output during one (a few milliseconds) is dropped too.
    """
    with _LOCK, warnings.catch_warnings():
        warnings.filterwarnings("ignore", module=r"PIL\.")
        sys.stderr.flush()
        saved = os.dup(2)
        devnull = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(devnull, 2)
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            os.close(devnull)
