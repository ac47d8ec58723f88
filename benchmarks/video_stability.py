"""Temporal stability and throughput of video fusion on a synthetic moving scene.

Usage: ``python benchmarks/video_stability.py [--frames 24] [--width 640 --height 480]``

The demo scene (``critnet.pipeline.demo.demo_scene``) is animated: the camera pans one pixel per
frame,
the IR sensor drifts in level (a slow 16-bit offset ramp plus a hot spot that moves, as thermal
cameras do), a small very hot object enters halfway (a per-frame min–max would darken the whole
frame there) and both streams get fresh sensor noise each frame. The IR stream is 16-bit and goes
through :func:`critnet.pipeline.video.fuse_frames` (one stream-wide range from the first frames).

Printed: the frame-to-frame change (mean absolute difference in 8-bit levels; the mean over
frame pairs and the worst pair) of the visible luma, of the IR as normalised with the stream-wide
range, of the IR as a per-frame min–max would normalise it, and of the fused video; a fused
change close to the inputs' means no flicker is added. Also the fusion throughput in frames per
second at the given size (model only + pairing, no decoding).
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from critnet.pipeline.demo import demo_scene
from critnet.pipeline.loading import load_model
from critnet.pipeline.video import fuse_frames, levels_to_unit, stream_range


def moving_scene(frames: int, width: int, height: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """``frames`` (uint16 IR H×W, uint8 RGB visible H×W×3) pairs of a panning scene."""
    scene = demo_scene(width + frames, height, seed=0)
    rng = np.random.default_rng(1)
    yy, xx = np.mgrid[0:height, 0:width]
    pairs = []
    for t in range(frames):
        ir = scene.ir[:, t:t + width]
        spot = 0.15 * np.exp(-((xx - width * (0.3 + 0.02 * t)) ** 2 + (yy - height / 2) ** 2)
                             / (2 * (width / 20) ** 2))
        ir16 = 20000 + 8000 * (ir + spot) + 30 * t + rng.normal(0, 15, ir.shape)
        if t >= frames // 2:  # a small, very hot object (an exhaust) enters the view
            top, left = height // 8, width // 2
            ir16[top:top + height // 16, left:left + width // 16] += 30000
        vis = scene.vis[:, t:t + width] + rng.normal(0, 0.01, (height, width, 3))
        pairs.append((np.clip(ir16, 0, 65535).astype(np.uint16),
                      np.clip(np.round(vis * 255), 0, 255).astype(np.uint8)))
    return pairs


def changes(frames: list[np.ndarray]) -> str:
    """Mean and largest (over frame pairs) mean absolute difference between consecutive frames,
    in 8-bit levels."""
    steps = [np.abs(b.astype(np.float64) - a.astype(np.float64)).mean()
             for a, b in zip(frames, frames[1:], strict=False)]
    return f"mean {np.mean(steps):7.3f}  max {np.max(steps):7.3f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=24)
    parser.add_argument("--width", type=int, default=640)
    parser.add_argument("--height", type=int, default=480)
    args = parser.parse_args()
    pairs = moving_scene(args.frames, args.width, args.height)
    model = load_model()
    next(fuse_frames(pairs[:1], model, ir_range=(0.0, 65535.0)))  # warm-up
    start = time.perf_counter()
    fused = list(fuse_frames(pairs, model))
    seconds = time.perf_counter() - start
    fixed = stream_range(ir for ir, _ in pairs[:30])
    ir_stream = [levels_to_unit(ir, fixed) * 255 for ir, _ in pairs]
    ir_per_frame = [levels_to_unit(ir, (float(ir.min()), float(ir.max()))) * 255 for ir, _ in pairs]
    vis_luma = [vis.astype(np.float64) @ [0.299, 0.587, 0.114] for _, vis in pairs]
    fused_luma = [f.astype(np.float64) @ [0.299, 0.587, 0.114] for f in fused]
    print(f"{args.frames} frames {args.width}x{args.height}, mean |frame t+1 - frame t| "
          f"(8-bit levels) over frame pairs, and its largest:")
    print(f"  visible luma             {changes(vis_luma)}")
    print(f"  IR, stream-wide range    {changes(ir_stream)}")
    print(f"  IR, per-frame min-max    {changes(ir_per_frame)}  (not used)")
    print(f"  fused luma               {changes(fused_luma)}")
    print(f"throughput: {args.frames / seconds:.2f} frames/s ({seconds / args.frames:.3f} s/frame) "
          f"on the CPU, {args.width}x{args.height}")


if __name__ == "__main__":
    main()
