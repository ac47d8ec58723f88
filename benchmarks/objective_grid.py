"""Issue 23's figure: IR, VIS, ``lite``, the new weights and three peers on the smoke scene, a
Kaptein scene and two RoadScene-50 scenes, one zoomed inset per row.

Usage::

    python benchmarks/objective_grid.py [--weights steep] [--out docs/images/objective_grid.png]

The C-RITNet columns are read from the comparison folders ``docs/results/{tno42,roadscene50}/
fused/C-RITNet_<name>/`` (``critnet bench compare`` writes them); the peers from
``$CRITNET_DATA/peer_fused/<method>/{tno,roadscene}/``. The inset is given for the smoke scene
(the soldier), else centred on the IR image's largest warm region
(``objective_study.pseudo_targets``: the target the figure is about), else where the columns
disagree most (:func:`critnet.evaluation.bench.grid.auto_zoom`).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from objective_study import pseudo_targets
from scipy import ndimage

from critnet.evaluation.bench.grid import Box, auto_zoom, draw_grid, with_inset, zoom_side
from critnet.evaluation.bench.methods import load_gray
from critnet.io.paths import data_root

SCENES = (("tno", "02_soldier_behind_smoke_3"), ("tno", "15_Kaptein_01"),
          ("roadscene", "FLIR_00211"), ("roadscene", "FLIR_04269"))
#: Insets placed by hand: the soldier lying behind the smoke (read off the IR image; the warm
#: smoke trail at the left is the larger warm region).
BOXES: dict[str, Box] = {"02_soldier_behind_smoke_3": (185, 300, 240, 160)}
PEERS = ("SeAFusion", "MMDRFuse", "SAGE")
COMPARISON = {"tno": "tno42", "roadscene": "roadscene50"}


def target_box(ir: np.ndarray) -> Box | None:
    """A square zoom box centred on the IR image's largest warm region, or ``None``."""
    labels, count = ndimage.label(pseudo_targets(ir))
    if not count:
        return None
    sizes = ndimage.sum(np.ones(labels.shape), labels, index=np.arange(1, count + 1))
    cy, cx = ndimage.center_of_mass(labels == int(np.argmax(sizes)) + 1)
    side = zoom_side(ir.shape)
    x = int(np.clip(round(cx - side / 2), 0, ir.shape[1] - side))
    y = int(np.clip(round(cy - side / 2), 0, ir.shape[0] - side))
    return x, y, side, side


def source(dataset: str, role: str, stem: str) -> Path:
    folder = data_root() / dataset / role
    found = sorted(folder.glob(stem + ".*"))
    if not found:
        raise FileNotFoundError(f"{folder}/{stem}.*: missing (set CRITNET_DATA)")
    return found[0]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--weights", default="steep", help="the new bundled weights' name")
    parser.add_argument("--results", default="docs/results")
    parser.add_argument("--out", default="docs/images/objective_grid.png")
    args = parser.parse_args(argv)
    rows = []
    try:
        for dataset, stem in SCENES:
            fused = Path(args.results) / COMPARISON[dataset] / "fused"
            columns = [("IR", load_gray(source(dataset, "ir", stem))),
                       ("VIS", load_gray(source(dataset, "vi", stem)))]
            for name in ("lite", args.weights):
                columns.append((f"C-RITNet ({name})",
                                load_gray(fused / f"C-RITNet_{name}" / f"{stem}.png")))
            for peer in PEERS:
                columns.append((peer, load_gray(data_root() / "peer_fused" / peer / dataset
                                                / f"{stem}.png")))
            box = (BOXES.get(stem) or target_box(columns[0][1])
                   or auto_zoom([image for _, image in columns[2:]]))
            rows.append((stem, [(name, with_inset(image, box)) for name, image in columns]))
    except (FileNotFoundError, OSError) as error:
        print(f"objective_grid: {error}", file=sys.stderr)
        return 2
    print(draw_grid(rows, args.out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
