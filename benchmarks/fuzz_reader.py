"""Fuzz the image reader: every mutated PNG/JPEG/TIFF/BMP file must either load or raise the
package's clean :class:`~critnet.errors.InputError`, writing nothing to stderr.

Usage: ``python benchmarks/fuzz_reader.py [--cases 10000] [--seed 0]``

Each case is a small valid image (grey, colour, 16-bit, 1-bit; TIFF raw/LZW/deflate/PackBits/
JPEG/Group 4) damaged by one to three mutations (flipped bytes, a truncation, a random span
overwritten, random bytes inserted, bytes flipped in the header), written to a file and read
with :func:`critnet.io.read_image`. Prints the counts of loaded / clean error / other exception
and of cases that wrote to stderr, with the first few of the last two. ``tests/test_fuzz_reader.py``
runs a few hundred of the same cases.

``--cameras`` fuzzes the radiometric JPEG fixtures instead (a FLIR E40 file and a DJI M3T
R-JPEG from ``tests/fixtures/cameras``), damaged in their header segments (where the FFF record
and the APP3 raw frame are) or anywhere, and read as IR with :func:`critnet.io.read_ir` (a
damaged file that is no longer radiometric falls back to the image reader, whose palette
refusal is also a clean error). Needs ``critnet[thermal]``.
"""

from __future__ import annotations

import argparse
import io
import os
import sys
import tempfile
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import numpy as np
from PIL import Image

from critnet.errors import InputError
from critnet.io import read_image, read_ir

#: Radiometric JPEG fixtures the camera cases start from.
CAMERA_FIXTURES = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "cameras"
CAMERA_SEEDS = ("flir_e40.jpg", "DJI_0002_T.JPG")

#: (suffix, PIL save options, image mode) of the valid files the cases start from.
SEEDS = [
    (".png", {}, "L"), (".png", {}, "RGB"), (".png", {}, "I;16"),
    (".jpg", {"quality": 90}, "L"), (".jpg", {"quality": 90}, "RGB"),
    (".bmp", {}, "L"), (".bmp", {}, "RGB"),
    (".tif", {"compression": "raw"}, "L"), (".tif", {"compression": "tiff_lzw"}, "RGB"),
    (".tif", {"compression": "tiff_adobe_deflate"}, "L"),
    (".tif", {"compression": "packbits"}, "RGB"), (".tif", {"compression": "jpeg"}, "RGB"),
    (".tif", {"compression": "tiff_lzw"}, "I;16"), (".tif", {"compression": "group4"}, "1"),
]


def seed_file(index: int) -> tuple[str, bytes]:
    """``(suffix, bytes)`` of valid seed file ``index`` (a 24×20 image of random levels)."""
    suffix, options, mode = SEEDS[index]
    rng = np.random.default_rng(index)
    if mode == "RGB":
        img = Image.fromarray(rng.integers(0, 256, (20, 24, 3), dtype=np.uint8))
    elif mode == "I;16":
        img = Image.fromarray(rng.integers(0, 65536, (20, 24), dtype=np.uint16))
    else:
        img = Image.fromarray(rng.integers(0, 256, (20, 24), dtype=np.uint8)).convert(mode)
    buffer = io.BytesIO()
    img.save(buffer, format=Image.registered_extensions()[suffix], **options)
    return suffix, buffer.getvalue()


def mutate(data: bytes, rng: np.random.Generator) -> bytes:
    """``data`` damaged by one to three random mutations."""
    out = bytearray(data)
    for _ in range(int(rng.integers(1, 4))):
        kind = int(rng.integers(0, 5))
        size = len(out)
        if kind == 0 and size:  # flip a few bytes anywhere
            for offset in rng.integers(0, size, int(rng.integers(1, 17))):
                out[offset] ^= int(rng.integers(1, 256))
        elif kind == 1 and size > 1:  # truncate
            del out[int(rng.integers(1, size)):]
        elif kind == 2 and size:  # overwrite a span with random bytes
            start = int(rng.integers(0, size))
            span = int(rng.integers(1, 65))
            out[start:start + span] = rng.integers(0, 256, min(span, size - start),
                                                   dtype=np.uint8).tobytes()
        elif kind == 3:  # insert random bytes
            start = int(rng.integers(0, size + 1))
            out[start:start] = rng.integers(0, 256, int(rng.integers(1, 33)),
                                            dtype=np.uint8).tobytes()
        elif size:  # flip bytes in the header, where the structure is
            for offset in rng.integers(0, min(size, 64), int(rng.integers(1, 5))):
                out[offset] ^= int(rng.integers(1, 256))
    return bytes(out)


def cases(count: int, seed: int = 0) -> Iterator[tuple[int, str, bytes]]:
    """``(case, suffix, bytes)`` of ``count`` mutated files, cycling through :data:`SEEDS`."""
    seeds = [seed_file(i) for i in range(len(SEEDS))]
    for case in range(count):
        suffix, data = seeds[case % len(seeds)]
        yield case, suffix, mutate(data, np.random.default_rng([seed, case]))


def camera_cases(count: int, seed: int = 0) -> Iterator[tuple[int, str, bytes]]:
    """``(case, suffix, bytes)`` of ``count`` mutated radiometric JPEGs: every other case is
    mutated in its header segments only (the first 64 KiB: the FLIR record, the DJI raw frame's
    first segments), the rest anywhere."""
    seeds = [(CAMERA_FIXTURES / name).read_bytes() for name in CAMERA_SEEDS]
    for case in range(count):
        data = seeds[case % len(seeds)]
        rng = np.random.default_rng([seed, case, 7])
        if case % 4 < 2:
            head = min(len(data), 65536)
            data = mutate(data[:head], rng) + data[head:]
        else:
            data = mutate(data, rng)
        yield case, ".jpg", data


def outcome(path: Path, reader=read_image) -> str:
    """``loaded``, ``clean`` (an InputError) or ``other: <exception>`` for one file."""
    try:
        reader(path)
    except InputError:
        return "clean"
    except Exception as error:  # noqa: BLE001 - counting what the reader lets through
        return f"other: {type(error).__name__}: {error}"
    return "loaded"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--cameras", action="store_true",
                        help="Fuzz the FLIR / DJI radiometric JPEG fixtures, read as IR.")
    args = parser.parse_args()
    make, reader = (camera_cases, read_ir) if args.cameras else (cases, read_image)
    counts: Counter[str] = Counter()
    others, noisy = [], []
    with tempfile.TemporaryDirectory() as folder, tempfile.TemporaryFile() as captured:
        saved = os.dup(2)
        for case, suffix, data in make(args.cases, args.seed):
            path = Path(folder) / f"case{case}{suffix}"
            path.write_bytes(data)
            sys.stderr.flush()
            os.dup2(captured.fileno(), 2)
            try:
                result = outcome(path, reader)
                sys.stderr.flush()
            finally:
                os.dup2(saved, 2)
            counts[result.split(":")[0]] += 1
            if result.startswith("other"):
                others.append(f"case {case} ({suffix}) {result}")
            if captured.tell():
                captured.seek(0)
                text = captured.read().decode(errors="replace").strip().splitlines()
                noisy.append(f"case {case} ({suffix}): {len(text)} lines, first: {text[0]!r}")
                captured.seek(0)
                captured.truncate()
            path.unlink()
        os.close(saved)
    print(f"{args.cases} cases (seed {args.seed}): loaded {counts['loaded']}, "
          f"clean error {counts['clean']}, other {counts['other']}, "
          f"wrote to stderr {len(noisy)}")
    for line in (others[:10] + noisy[:10]):
        print("  " + line)


if __name__ == "__main__":
    main()
