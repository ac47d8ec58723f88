"""End-to-end throughput of ``critnet fuse``: frames per second with the process start included.

Usage: ``python benchmarks/throughput.py [--frames 24] [--repeat 2] [--backends torch,onnxruntime]
[--weights lite,...] [--src LABEL=PATH ...] [--out docs/results/throughput.md]``

- Inputs, made once in a temporary folder from RoadScene (``$CRITNET_DATA``): a **6-pair
  folder** (the first six RoadScene pairs by name, about 500×340 JPEG) and a **640×480 video
  pair** (``--frames`` RoadScene pairs resized to 640×480, IR and visible each encoded as
  H.264 MP4 at 24 fps with PyAV).
- Each case is one ``critnet fuse`` child process (``--device cpu``, outputs overwritten), timed
  by wall clock from its start to its exit: importing torch, loading the weights, decoding,
  fusing, encoding. Frames per second = frames / wall seconds; the best of ``--repeat`` runs.
- Weights: every bundled weights file (:func:`critnet.weights.bundled_weights`) unless
  ``--weights``. Backends: ``torch`` and ``onnxruntime`` (``auto`` picks the latter when it is
  installed). The exported graphs go to a fresh ``$CRITNET_CACHE``; the first onnxruntime run
  of each weights (the one-time export) is timed separately as ``cold``.
- ``--src LABEL=PATH`` runs the same cases with another source tree first on ``PYTHONPATH``
  (e.g. an older checkout, for before/after); the default is the importable critnet.
- The machine's 1-minute load average is printed with each row: other processes on these
  cores slow every number down.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

VIDEO_SIZE = (640, 480)


def make_inputs(folder: Path, frames: int) -> dict[str, tuple[Path, Path, int]]:
    """``{"folder": (ir_dir, vis_dir, 6), "video": (ir.mp4, vis.mp4, frames)}`` in ``folder``."""
    import av
    import numpy as np
    from PIL import Image

    from critnet.io.paths import data_root

    source = data_root() / "roadscene"
    stems = sorted(p.stem for p in (source / "vi").glob("*.jpg"))
    ir_dir, vis_dir = folder / "ir", folder / "vi"
    for target, role in ((ir_dir, "ir"), (vis_dir, "vi")):
        target.mkdir(parents=True, exist_ok=True)
        for stem in stems[:6]:
            (target / f"{stem}.jpg").write_bytes((source / role / f"{stem}.jpg").read_bytes())
    videos = {}
    for role, mode in (("ir", "L"), ("vi", "RGB")):
        path = folder / f"{role}.mp4"
        videos[role] = path
        if path.exists():
            continue
        with av.open(str(path), mode="w") as container:
            stream = container.add_stream("libx264", rate=24)
            stream.width, stream.height, stream.pix_fmt = *VIDEO_SIZE, "yuv420p"
            for index in range(frames):
                stem = stems[index % len(stems)]
                with Image.open(source / role / f"{stem}.jpg") as image:
                    frame = image.convert(mode).convert("RGB").resize(VIDEO_SIZE)
                picture = av.VideoFrame.from_ndarray(np.asarray(frame), format="rgb24")
                container.mux(stream.encode(picture))
            container.mux(stream.encode(None))
    return {"folder": (ir_dir, vis_dir, 6), "video": (videos["ir"], videos["vi"], frames)}


def run_case(ir: Path, vis: Path, out: Path, weights: str, backend: str,
             env: dict[str, str]) -> float:
    """Wall seconds of one ``critnet fuse`` child process."""
    command = [sys.executable, "-c", "from critnet.cli import main; main()", "fuse", str(ir),
               str(vis), "-o", str(out), "--weights", weights, "--backend", backend,
               "--device", "cpu", "--overwrite", "--quiet"]
    start = time.perf_counter()
    done = subprocess.run(command, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"critnet fuse failed: {done.stderr.strip()}")
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--frames", type=int, default=24)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--backends", default="torch,onnxruntime")
    parser.add_argument("--weights", help="comma-separated [default: every bundled one]")
    parser.add_argument("--cases", default="folder,video")
    parser.add_argument("--src", action="append", default=[], metavar="LABEL=PATH")
    parser.add_argument("--keep", type=Path, help="folder for inputs and outputs (kept)")
    parser.add_argument("--out", type=Path, help="also write the table (Markdown) here")
    args = parser.parse_args()
    from critnet.weights import bundled_weights

    weights = args.weights.split(",") if args.weights else sorted(bundled_weights())
    folder = args.keep or Path(tempfile.mkdtemp(prefix="critnet-throughput-"))
    inputs = make_inputs(folder, args.frames)
    trees = [tuple(s.split("=", 1)) for s in args.src] or [("this tree", "")]
    lines = ["| source | case | weights | backend | frames | cold s | best s | frames/s | "
             "load |", "|---|---|---|---|---:|---:|---:|---:|---:|"]
    print("\n".join(lines), flush=True)
    exported: set[tuple[str, str]] = set()
    for label, path in trees:
        env = dict(os.environ, CRITNET_CACHE=tempfile.mkdtemp(prefix="critnet-cache-"))
        if path:
            env["PYTHONPATH"] = os.pathsep.join(filter(None, [path, env.get("PYTHONPATH")]))
        for case in args.cases.split(","):
            ir, vis, frames = inputs[case]
            out = folder / (f"out-{case}/" if case == "folder" else "out.mp4")
            for name in weights:
                for backend in args.backends.split(","):
                    cold = ""
                    if backend == "onnxruntime" and (label, name) not in exported:
                        cold = f"{run_case(ir, vis, out, name, backend, env):.1f}"
                        exported.add((label, name))
                    best = min(run_case(ir, vis, out, name, backend, env)
                               for _ in range(args.repeat))
                    row = (f"| {label} | {case} | {name} | {backend} | {frames} | {cold or '–'} "
                           f"| {best:.1f} | {frames / best:.2f} | {os.getloadavg()[0]:.1f} |")
                    lines.append(row)
                    print(row, flush=True)
    if args.out is not None:
        args.out.write_text(__doc__.split("\n")[0] + "\n\n" + "\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
