"""Regenerate the ONNX graphs shipped with the bundled weights (``src/critnet/weights/*.onnx``).

Each graph is critnet's own export (:func:`critnet.pipeline.export.onnx_bytes`) of the bundled
``.safetensors`` file, with the file's SHA-256 and the output halo of exact tiling in its
metadata; the graphs' SHA-256 are then written into ``BUNDLED_GRAPH_SHA256`` of
``src/critnet/weights/__init__.py``. Run after changing a bundled weights file, the network or
the exporter (``tests/test_bundled_graphs.py`` fails until then)::

    python scripts/export_bundled_graphs.py            # all bundled weights
    python scripts/export_bundled_graphs.py tiny       # some
"""

from __future__ import annotations

import hashlib
import re
import sys

from critnet.model.tiled import halos
from critnet.pipeline.export import onnx_bytes
from critnet.pipeline.runtime import HALO_KEY
from critnet.weights import BUNDLED_GRAPH_SHA256, BUNDLED_SHA256, WEIGHTS_DIR, load_weights


def export(name: str) -> str:
    """Write ``<name>.onnx`` next to its weights; its SHA-256."""
    model = load_weights(name)
    metadata = {"weights_sha256": BUNDLED_SHA256[name],
                HALO_KEY: str(halos(model, model.default_decoder)[1])}
    data = onnx_bytes(model, metadata)
    (WEIGHTS_DIR / f"{name}.onnx").write_bytes(data)
    digest = hashlib.sha256(data).hexdigest()
    print(f"{name}.onnx: {len(data) / 1024:.0f} KiB, sha256 {digest}")
    return digest


def main(names: list[str]) -> None:
    digests = dict(BUNDLED_GRAPH_SHA256)
    for name in names or sorted(BUNDLED_SHA256):
        digests[name] = export(name)
    source = WEIGHTS_DIR / "__init__.py"
    rows = "".join(f'    "{name}": "{digests[name]}",\n' for name in sorted(digests))
    text = re.sub(r"BUNDLED_GRAPH_SHA256 = \{\n.*?\}", f"BUNDLED_GRAPH_SHA256 = {{\n{rows}}}",
                  source.read_text(), count=1, flags=re.S)
    source.write_text(text)


if __name__ == "__main__":
    main(sys.argv[1:])
