"""Regenerate the ONNX graphs shipped with the bundled weights (``src/critnet/weights/*.onnx``).

Each bundled ``.safetensors`` file gets critnet's own exports: ``<name>.onnx``, the whole forward
(:func:`critnet.pipeline.export.onnx_bytes`), and ``<name>.<kind>.onnx``, the three graphs of exact
tiled inference (:func:`critnet.pipeline.tiled_onnx.graph_bytes`), each with the file's SHA-256
and the tiling halos in its metadata; the graphs' SHA-256 are then written into
``BUNDLED_GRAPH_SHA256`` of ``src/critnet/weights/__init__.py``. Run after changing a bundled
weights file, the network or the exporter (``tests/test_bundled_graphs.py`` fails until then)::

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
from critnet.pipeline.tiled_onnx import exportable, graph_bytes
from critnet.pipeline.tiled_runtime import KINDS
from critnet.weights import BUNDLED_GRAPH_SHA256, BUNDLED_SHA256, WEIGHTS_DIR, load_weights


def export(name: str) -> dict[str, str]:
    """Write ``<name>.onnx`` and ``<name>.<kind>.onnx`` next to its weights; their SHA-256 by
    :data:`BUNDLED_GRAPH_SHA256` key."""
    model = load_weights(name)
    metadata = {"weights_sha256": BUNDLED_SHA256[name]}
    graphs = {name: onnx_bytes(model, {**metadata,
                                       HALO_KEY: str(halos(model, model.default_decoder)[1])})}
    if exportable(model):
        graphs.update({f"{name}.{kind}": graph_bytes(model, kind, metadata) for kind in KINDS})
    digests = {}
    for key, data in graphs.items():
        (WEIGHTS_DIR / f"{key}.onnx").write_bytes(data)
        digests[key] = hashlib.sha256(data).hexdigest()
        print(f"{key}.onnx: {len(data) / 1024:.0f} KiB, sha256 {digests[key]}")
    return digests


def main(names: list[str]) -> None:
    digests = dict(BUNDLED_GRAPH_SHA256)
    for name in names or sorted(BUNDLED_SHA256):
        digests.update(export(name))
    source = WEIGHTS_DIR / "__init__.py"
    rows = "".join(f'    "{key}": "{digests[key]}",\n' for key in sorted(digests))
    text = re.sub(r"BUNDLED_GRAPH_SHA256 = \{\n.*?\}", f"BUNDLED_GRAPH_SHA256 = {{\n{rows}}}",
                  source.read_text(), count=1, flags=re.S)
    source.write_text(text)


if __name__ == "__main__":
    main(sys.argv[1:])
