"""What a user waits for: ``critnet`` commands timed as processes, start included (issue 31).

Usage::

    python benchmarks/startup.py [--repeat 5] [--frames 90] [--steady-frames 900]
    # several installs in one run, their runs interleaved (ratios on a loaded machine); a
    # baseline from an older commit: git archive REV src | tar -x -C /tmp/before
    python benchmarks/startup.py --variant runtime=/path/to/venv-runtime/bin/python \\
        --variant before=/path/to/full-venv/bin/python:/tmp/before/src

Each row is the median (and min) wall time of ``--repeat`` runs of ``python -m critnet`` of each
``--variant LABEL=PYTHON[:PYTHONPATH]`` (default: the interpreter running this script), on
inputs made here in a temporary folder: a 640×480 pair (the demo scene, 8-bit IR, RGB visible)
and two 640×480 videos (the scene panning, MPEG-4, 30 frames/s). Printed: ``critnet --help``;
``critnet fuse`` of the pair with ``tiny`` and ``steep``; the video with ``tiny`` end to end
(frames/s) and, with ``--steady-frames``, the steady-state rate (the difference of two lengths,
so start-up cancels); the peak resident memory of one fuse (``ru_maxrss`` of the child);
whether the fuse imported torch (``-X importtime``); each variant's site-packages size.

The targets of issue 31: ``--help`` ≤ 0.3 s, ``tiny`` pair ≤ 0.5 s, ``steep`` ≤ 0.8 s, video
≥ 20 frames/s. Timings on a loaded machine are noisy: compare variants within one run.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image


class Variant:
    """``python -m critnet`` of one install: ``LABEL=PYTHON[:PYTHONPATH]``."""

    def __init__(self, spec: str) -> None:
        self.label, _, rest = spec.partition("=")
        python, _, path = rest.partition(":")
        self.python = python or sys.executable
        self.env = dict(os.environ)
        if path:
            self.env["PYTHONPATH"] = path

    def run(self, args: list[str], **kwargs) -> subprocess.CompletedProcess:
        return subprocess.run([self.python, *args], check=True, env=self.env, **kwargs)

    def seconds(self, args: list[str]) -> float:
        start = time.perf_counter()
        self.run(["-m", "critnet", *args], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        return time.perf_counter() - start

    def peak_rss_mb(self, args: list[str]) -> float:
        """Peak resident memory (MB) of one run (a fresh child)."""
        code = ("import resource, subprocess, sys; subprocess.run(sys.argv[1:], check=True, "
                "stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL); "
                "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)")
        out = self.run(["-c", code, self.python, "-m", "critnet", *args], capture_output=True,
                       text=True).stdout
        return int(out.split()[-1]) / 1024

    def imports_torch(self, args: list[str]) -> bool:
        run = self.run(["-X", "importtime", "-m", "critnet", *args], capture_output=True,
                       text=True)
        return any(line.split("|")[-1].strip() == "torch" for line in run.stderr.splitlines()
                   if line.startswith("import time:"))

    def site_packages_mb(self) -> float:
        root = Path(self.run(["-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                             capture_output=True, text=True).stdout.strip())
        total = sum(p.stat().st_size for p in root.rglob("*")
                    if p.is_file() and not p.is_symlink())
        return total / 2**20


def timed(variants: list[Variant], args: list[str], repeat: int) -> dict[str, list[float]]:
    """Wall times of ``critnet args`` per variant, the variants' runs interleaved."""
    times: dict[str, list[float]] = {v.label: [] for v in variants}
    for _ in range(repeat):
        for variant in variants:
            times[variant.label].append(variant.seconds(args))
    return times


def write_pair(folder: Path) -> tuple[Path, Path]:
    from critnet.pipeline.demo import demo_scene

    scene = demo_scene(640, 480, seed=0)
    ir, vis = folder / "ir.png", folder / "vis.png"
    Image.fromarray(np.round(scene.ir * 255).astype(np.uint8)).save(ir)
    Image.fromarray(np.round(scene.vis * 255).astype(np.uint8)).save(vis)
    return ir, vis


def write_videos(folder: Path, frames: int) -> tuple[Path, Path]:
    import av

    from critnet.pipeline.demo import demo_scene

    scene = demo_scene(640 + frames, 480, seed=0)
    paths = folder / f"ir{frames}.mp4", folder / f"vis{frames}.mp4"
    for path, image, fmt in ((paths[0], scene.ir, "gray"), (paths[1], scene.vis, "rgb24")):
        with av.open(str(path), "w") as container:
            stream = container.add_stream("mpeg4", rate=30)
            stream.width, stream.height, stream.pix_fmt = 640, 480, "yuv420p"
            for t in range(frames):
                crop = np.round(image[:, t:t + 640] * 255).astype(np.uint8)
                frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(crop), format=fmt)
                container.mux(stream.encode(frame))
            container.mux(stream.encode())
    return paths


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--frames", type=int, default=90)
    parser.add_argument("--steady-frames", type=int, default=0,
                        help="also time a video this long (e.g. 900) for the steady rate")
    parser.add_argument("--variant", action="append", default=[],
                        metavar="LABEL=PYTHON[:PYTHONPATH]")
    args = parser.parse_args()
    variants = [Variant(spec) for spec in args.variant or ["this="]]
    print(f"{os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f} at start; median (min) of "
          f"{args.repeat} runs (videos: half as many), variants interleaved")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        ir, vis = write_pair(folder)
        pair = [str(ir), str(vis), "-o", str(folder / "fused.png"), "--overwrite", "-q",
                "--weights"]
        rows = [("critnet --help", ["--help"], "<= 0.3 s"),
                ("fuse 640x480 pair, tiny", ["fuse", *pair, "tiny"], "<= 0.5 s"),
                ("fuse 640x480 pair, steep", ["fuse", *pair, "steep"], "<= 0.8 s")]
        videos = [args.frames] + ([args.steady_frames] if args.steady_frames else [])
        for frames in videos:
            ir_video, vis_video = write_videos(folder, frames)
            rows.append((f"video {frames} frames, tiny",
                         ["fuse", str(ir_video), str(vis_video), "-o", str(folder / "f.mp4"),
                          "--weights", "tiny", "--overwrite", "-q"], ">= 20 frames/s"))
        medians: dict[str, dict[str, float]] = {}
        for name, command, target in rows:
            video = name.startswith("video")
            times = timed(variants, command, max(1, args.repeat // 2) if video else args.repeat)
            medians[name] = {label: statistics.median(t) for label, t in times.items()}
            for label, values in times.items():
                median = medians[name][label]
                rate = f" = {int(name.split()[1]) / median:5.1f} frames/s" if video else ""
                print(f"{name:28s} {label:10s} {median:7.3f} s ({min(values):.3f}){rate}"
                      f"   [target {target}]", flush=True)
        if args.steady_frames:
            for variant in variants:
                short = medians[f"video {args.frames} frames, tiny"][variant.label]
                long = medians[f"video {args.steady_frames} frames, tiny"][variant.label]
                print(f"{'video steady state, tiny':28s} {variant.label:10s} "
                      f"{(args.steady_frames - args.frames) / (long - short):5.1f} frames/s")
        for variant in variants:
            tiny, steep = rows[1][1], rows[2][1]
            print(f"{'fuse tiny / steep peak RSS':28s} {variant.label:10s} "
                  f"{variant.peak_rss_mb(tiny):5.0f} / {variant.peak_rss_mb(steep):5.0f} MB, "
                  f"imports torch: {variant.imports_torch(tiny)}")
    for variant in variants:
        print(f"{'site-packages':28s} {variant.label:10s} {variant.site_packages_mb():6.0f} MB")


if __name__ == "__main__":
    main()
