"""Fuzz the command line: random option combinations and damaged files for ``critnet fuse`` and
``critnet evaluate``, run in-process through the CLI's own entry point (issue 33).

Usage: ``python benchmarks/fuzz_cli.py [--cases 10000] [--seed 0] [--timeout 60]``

Each case draws inputs (valid grey / colour / 16-bit images, zero-byte, truncated or
byte-flipped files, missing paths, folders of pairs, a folder that is an input) and up to three
options with random values (valid, out of range, NaN, infinite, wrong type), and runs
``critnet.cli._main`` on them. A case passes when:

- it ends by ``SystemExit`` (any code: a refusal is a pass when it is one line), never by another
  exception (a traceback);
- its stderr has no ``Traceback`` and an error is one line (``critnet: error: …`` or click's usage
  message);
- it ends within ``--timeout`` seconds (an alarm stops it: a hang);
- the output folder holds only finished outputs: no hidden temporaries or claim files, and no
  file left in an input folder or the system temporary folder.

Prints the counts per outcome and the first few failures with their command lines.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import shutil
import signal
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import numpy as np
from PIL import Image

from critnet.cli import _main

#: Option values: plausible ones twice as often as out-of-range, NaN, infinite or non-numbers.
NUMBERS = ["1", "7", "64", "96", "0.5", "100"] * 2 + [
    "0", "-1", "1e9", "nan", "inf", "-inf", "abc", "101"]
FUSE_OPTIONS = {
    "--gray": None, "--resize-ir": None, "--overwrite": None, "-q": None, "--no-progress": None,
    "--ir-palette-ok": None,
    "--ir-normalize": ["auto", "full", "percentile", "minmax", "bogus"],
    "--ir-range": "pair", "--normalize": ["none", "minmax", "x"],
    "--ext": ["png", "jpg", "bmp", "tif", "gif"], "--bit-depth": ["8", "16", "12"],
    "--quality": NUMBERS, "--tile": ["auto", "off", *NUMBERS], "--max-pixels": NUMBERS,
    "--register": ["affine", "homography", "none"], "--register-method": ["ecc", "x"],
    "--pair-by": ["time", "index"], "--time-tolerance": NUMBERS,
    "--weights": ["tiny", "lite", "nope", "BADWEIGHTS"], "--backend": ["auto", "torch", "x"],
    "--precision": ["fp32", "bf16", "fp16"], "--device": ["cpu", "cuda", "auto"],
    "--preset": ["tiny", "paper", "x"],
}
EVAL_OPTIONS = {
    "--metrics": ["paper", "all", "CC,EN", "XX", ""], "--mode": ["gray", "vifb"],
    "--convention": ["matlab", "cddfuse", "tang"], "--digits": NUMBERS, "-j": ["1", "0", "x"],
    "--table": "OUTFILE", "--csv": "OUTFILE", "--json": "OUTFILE", "--per-image": "OUTFILE",
    "--skip-missing": None, "--masks": "MASKS",
}


def _image(rng: np.random.Generator, kind: str, h: int, w: int) -> Image.Image:
    if kind == "rgb":
        return Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8))
    if kind == "16":
        return Image.fromarray(rng.integers(0, 65536, (h, w), dtype=np.uint16))
    if kind == "flat":
        return Image.fromarray(np.full((h, w), 7, dtype=np.uint8))
    return Image.fromarray(rng.integers(0, 256, (h, w), dtype=np.uint8))


def _file(rng: np.random.Generator, path: Path, h: int, w: int) -> Path:
    """A valid, damaged or empty image at ``path`` (suffix chosen here)."""
    kind = rng.choice(["gray", "rgb", "16", "flat", "empty", "truncated", "flipped", "missing"])
    suffix = ".tif" if kind == "16" else str(rng.choice([".png", ".jpg", ".bmp"]))
    path = path.with_suffix(suffix)
    if kind == "missing":
        return path
    if kind == "empty":
        path.write_bytes(b"")
        return path
    _image(rng, kind if kind in ("rgb", "16", "flat") else "gray", h, w).save(path)
    data = bytearray(path.read_bytes())
    if kind == "truncated":
        data = data[: max(1, int(len(data) * rng.uniform(0.1, 0.9)))]
    elif kind == "flipped":
        for at in rng.integers(0, len(data), 8):
            data[at] ^= 0xFF
    path.write_bytes(bytes(data))
    return path


def _options(rng: np.random.Generator, table: dict, work: Path) -> list[str]:
    args: list[str] = []
    for name in rng.choice(list(table), size=int(rng.integers(0, 4)), replace=False):
        values = table[name]
        if values is None:
            args.append(name)
        elif values == "pair":
            args += [name, str(rng.choice(NUMBERS)), str(rng.choice(NUMBERS))]
        elif values == "OUTFILE":
            args += [name, str(work / "out" / f"t{rng.integers(9)}.txt")]
        elif values == "MASKS":
            args += [name, str(work / "ir")]
        else:
            args += [name, str(rng.choice(values))]
    return [a.replace("BADWEIGHTS", str(work / "bad.safetensors")) for a in args]


def make_case(rng: np.random.Generator, work: Path) -> list[str]:
    """Files under ``work`` and the argument list of one case."""
    for sub in ("ir", "vi", "out", "fused"):
        (work / sub).mkdir(parents=True, exist_ok=True)
    (work / "bad.safetensors").write_bytes(rng.bytes(int(rng.integers(0, 64))))
    h, w = int(rng.integers(1, 48)), int(rng.integers(1, 48))
    if rng.random() < 0.3:  # evaluate on folders of pairs and fused images
        for i in range(int(rng.integers(1, 3))):
            for sub in ("ir", "vi", "fused"):
                _file(rng, work / sub / f"p{i}", h, w)
        return ["evaluate", "--ir", str(work / "ir"), "--vis", str(work / "vi"),
                "--fused", str(work / "fused"), *_options(rng, EVAL_OPTIONS, work)]
    if rng.random() < 0.3:  # folders
        for i in range(int(rng.integers(1, 4))):
            _file(rng, work / "ir" / f"p{i}", h, w)
            _file(rng, work / "vi" / f"p{i}", h, w)
        out = str(rng.choice([work / "out", work / "ir", work / "out" / "x.png"]))
        inputs = ["--ir", str(work / "ir"), "--vis", str(work / "vi")]
    else:
        inputs = [str(_file(rng, work / sub / "a", h, w)) for sub in ("ir", "vi")]
        out = str(work / "out" / str(rng.choice(["f.png", "f.jpg", "f.tif", "f", "f.mp4", "sub/"])))
    return ["fuse", *inputs, "-o", out, *_options(rng, FUSE_OPTIONS, work)]


class Hang(Exception):
    pass


def _alarm(_signum, _frame):
    raise Hang


def run_case(args: list[str], timeout: int) -> tuple[str, str]:
    """``(outcome, detail)``: ``ok, exit N``, ``traceback``, ``hang``, ``multi-line error``."""
    err = io.StringIO()
    signal.signal(signal.SIGALRM, _alarm)
    signal.alarm(timeout)
    try:
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
            _main(args)
        code = 0
    except SystemExit as done:
        code = done.code or 0
    except Hang:
        return "hang", ""
    except BaseException as error:  # noqa: BLE001 - a traceback is the finding
        return "traceback", f"{type(error).__name__}: {error}"
    finally:
        signal.alarm(0)
    text = err.getvalue()
    if "Traceback" in text:
        return "traceback", text[-300:]
    errors = [line for line in text.splitlines() if line.startswith("critnet: error")]
    if code not in (0, 1) and code != 2 and not text.strip():
        return "silent failure", f"exit {code}"
    if len(errors) > 1:
        return "multi-line error", text[-300:]
    return f"ok, exit {code}", ""


def leftovers(work: Path, before_tmp: set[str]) -> list[str]:
    """Hidden temporaries or claims anywhere in the case's folders, new files in the system
    temporary folder, and files written into the input folders other than the inputs."""
    found = [str(p) for p in work.rglob(".*") if p.is_file()]
    found += [str(p) for p in work.rglob("*.tmp*")]
    new_tmp = set(os.listdir(tempfile.gettempdir())) - before_tmp
    found += [f"TMP/{n}" for n in new_tmp if "critnet" in n or n.endswith(".tmp")]
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=10000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--timeout", type=int, default=60)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    counts: Counter[str] = Counter()
    failures: list[tuple[str, list[str], str]] = []
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as scratch:
        for case in range(args.cases):
            work = Path(scratch) / f"c{case}"
            argv = make_case(rng, work)
            before_tmp = set(os.listdir(tempfile.gettempdir()))
            outcome, detail = run_case(argv, args.timeout)
            if outcome.startswith("ok") and (left := leftovers(work, before_tmp)):
                outcome, detail = "left behind", ", ".join(left[:3])
            counts[outcome] += 1
            if not outcome.startswith("ok"):
                failures.append((outcome, argv, detail))
            shutil.rmtree(work, ignore_errors=True)
    seconds = time.perf_counter() - started
    print(f"{args.cases} cases in {seconds:.0f} s: " +
          ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))
    for outcome, argv, detail in failures[:15]:
        print(f"- {outcome}: critnet {' '.join(argv)}\n    {detail}")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
