"""Registration on known misalignments: move real IR images by known shifts, rotations and scales,
register them back, and fuse the misaligned, the registered and the original aligned pair.

Usage: ``python benchmarks/registration.py [--dataset roadscene|tno] [--pairs 4] [--motion affine]``

Data from ``critnet.io.paths.data_root()`` (``CRITNET_DATA``). For every pair and every known move
it
prints the mean corner error (pixels) of the identity (no registration) and of the estimate, and
the paper's six metrics (``critnet.metrics``, grey mode, scored against the aligned IR and the
visible image) of the fusion of each version, averaged
over the pairs. Needs ``critnet[video]`` (OpenCV) and the bundled weights.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from critnet.errors import InputError
from critnet.io import read_image
from critnet.io.paths import data_root
from critnet.metrics import compute_metrics
from critnet.metrics.registry import PAPER_METRICS
from critnet.pipeline.loading import load_model
from critnet.pipeline.registration import corner_error, cv2_module, estimate_transform, warp_ir
from critnet.pipeline.single import fuse_arrays

#: (name, shift x/y in pixels, rotation in degrees, scale): the known IR moves. "none" shows
#: how far from the identity the estimate is on the pair as published (its own misalignment).
MOVES = [("none", (0.0, 0.0), 0.0, 1.0), ("shift 8,-5", (8.0, -5.0), 0.0, 1.0),
         ("rot 3 deg", (0.0, 0.0), 3.0, 1.0), ("scale 1.05", (0.0, 0.0), 0.0, 1.05),
         ("all three", (6.0, 4.0), 2.0, 0.96)]


def move_matrix(size: tuple[int, int], shift: tuple[float, float], angle: float,
                scale: float) -> np.ndarray:
    """3×3 similarity about the image centre followed by ``shift`` (aligned → moved coords)."""
    cv2 = cv2_module()
    width, height = size
    matrix = np.vstack([cv2.getRotationMatrix2D((width / 2, height / 2), angle, scale),
                        [0.0, 0.0, 1.0]])
    matrix[:2, 2] += shift
    return matrix


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", choices=("roadscene", "tno"), default="roadscene")
    parser.add_argument("--pairs", type=int, default=4)
    parser.add_argument("--motion", choices=("affine", "homography"), default="affine")
    args = parser.parse_args()
    cv2 = cv2_module()
    root = data_root() / args.dataset
    vis_dir = root / ("vi" if (root / "vi").is_dir() else "vis")
    names = sorted(p.name for p in (root / "ir").iterdir())[: args.pairs]
    model = load_model()
    rows: dict[str, list] = {move[0]: [] for move in MOVES}
    for name in names:
        ir, _ = read_image(root / "ir" / name)
        vis, _ = read_image(vis_dir / name)
        ir = ir.mean(axis=2) if ir.ndim == 3 else ir
        vis_gray = vis.mean(axis=2) if vis.ndim == 3 else vis
        size = (ir.shape[1], ir.shape[0])
        aligned = fuse_arrays(model, ir, vis_gray)
        for label, shift, angle, scale in MOVES:
            move = move_matrix(size, shift, angle, scale)
            truth = np.linalg.inv(move)
            moved = cv2.warpPerspective(ir.astype(np.float32), move, size,
                                        borderMode=cv2.BORDER_REPLICATE)
            start = time.perf_counter()
            try:
                registration = estimate_transform(moved, vis_gray, motion=args.motion)
            except InputError as error:
                print(f"{name} {label}: {error}")
                continue
            seconds = time.perf_counter() - start
            registered = warp_ir(moved, registration)
            scores = [compute_metrics(ir, vis_gray, fused, "paper") for fused in (
                fuse_arrays(model, moved, vis_gray), fuse_arrays(model, registered, vis_gray),
                aligned)]
            rows[label].append((corner_error(np.eye(3), truth, size),
                                corner_error(registration.matrix, truth, size), seconds, scores))
    print(f"{args.dataset}, {len(names)} pairs, {args.motion}: corner error in pixels "
          f"(mean over pairs), time per estimate; metrics misaligned / registered / aligned")
    for label, results in rows.items():
        if not results:
            print(f"{label:11s}: every estimate refused")
            continue
        before, after, seconds = (np.mean([r[i] for r in results]) for i in range(3))
        print(f"{label:11s}: {len(results)}/{len(names)} registered, error {before:6.2f} -> "
              f"{after:5.2f} px, {seconds:.2f} s")
        for metric in PAPER_METRICS:
            values = [np.mean([r[3][k][metric] for r in results]) for k in range(3)]
            print(f"    {metric:5s} {values[0]:9.4f} {values[1]:9.4f} {values[2]:9.4f}")


if __name__ == "__main__":
    main()
