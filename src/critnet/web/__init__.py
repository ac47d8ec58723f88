"""``critnet serve``: a local web page to fuse a pair and inspect the result (issue 15).

A small Starlette app (served by uvicorn) with one static page and plain JavaScript: upload an
IR and a visible image or pick a built-in scene, see IR / visible / fused side by side, swipe or
blend the fused image against either source, zoom on a region, read the paper's metrics and
download the result; a second tab fuses several pairs and lists them with sortable metrics.

Modules: ``sessions`` (per-browser temporary folders), ``pipeline`` (fusion and metrics for one
pair, through the public API), ``app`` (the HTTP routes), ``run`` (socket, state, clean-up;
what ``critnet serve`` calls), ``static/`` (the page).
The dependencies are the optional extra ``critnet[web]``; :func:`require_web` names it when absent.
"""

from __future__ import annotations

import importlib.util

from critnet.errors import CritnetError

WEB_PACKAGES = ("starlette", "uvicorn")


def require_web() -> None:
    """Raise a one-line :class:`CritnetError` naming the extra when its packages are missing."""
    missing = [name for name in WEB_PACKAGES if importlib.util.find_spec(name) is None]
    if missing:
        raise CritnetError(f"critnet serve needs {', '.join(missing)}: pip install "
                           f"'critnet[web]'")
