"""Pack what a GPU run needs into the checkout (docs/training.md, "GPU run").

Usage: ``python scripts/pack_gpu_data.py [--data DATA_ROOT] [--dest gpu_data] [--wheels .whl]
[--no-wheels]``

Copies, laid out like the shared data root (so ``CRITNET_DATA=gpu_data`` works for training,
``critnet bench compare`` and ``scripts/gpu_train.py``):

- ``roadscene/``: ``subsets.csv`` and every pair it lists (``ir/``, ``vi/``): the 171 training
  pairs and the 50 test pairs (RoadScene-50);
- ``tno/``: ``pairs.csv`` and the TNO-42 pairs (the stems the ``tno42`` registry entry selects).

and downloads the wheels the GPU machine lacks (kornia 0.9.0 and kornia_rs 0.2.0 for CPython
3.12 on manylinux x86-64) into ``--wheels``. Both folders are git-ignored and travel to the
device with the ``carry`` list. Prints the sizes (the carried paths must stay within 64 MiB).
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from pathlib import Path

from critnet.evaluation.bench.registry import DATASETS
from critnet.io.pairs import match_pairs
from critnet.io.paths import data_root
from critnet.train.data.roadscene import roadscene_split

WHEELS = ("kornia==0.9.0", "kornia_rs==0.2.0")
PLATFORMS = ("manylinux_2_28_x86_64", "manylinux_2_17_x86_64", "manylinux2014_x86_64")
DATA_LIMIT_MB = 40


def copy_pairs(source: Path, dest: Path, stems: list[str], tables: tuple[str, ...]) -> int:
    """Copy ``tables`` and the ``ir/``, ``vi/`` files of ``stems`` from ``source`` to ``dest``;
    returns the number of pairs."""
    match = match_pairs(source / "ir", source / "vi")
    files = {stem: (ir, vis) for stem, ir, vis in match.pairs}
    missing = sorted(set(stems) - set(files))
    if missing:
        raise SystemExit(f"{source}: no pair for {missing[:5]}")
    for folder in ("ir", "vi"):
        (dest / folder).mkdir(parents=True, exist_ok=True)
    for table in tables:
        shutil.copy2(source / table, dest / table)
    for stem in stems:
        for path, folder in zip(files[stem], ("ir", "vi"), strict=True):
            shutil.copy2(path, dest / folder / path.name)
    return len(stems)


def size_mb(folder: Path) -> float:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) / 2**20


def download_wheels(dest: Path) -> None:
    dest.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
               "--python-version", "3.12", "--implementation", "cp", "-d", str(dest)]
    for platform in PLATFORMS:
        command += ["--platform", platform]
    subprocess.run([*command, *WHEELS], check=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=None, help="data root (default: CRITNET_DATA)")
    parser.add_argument("--dest", type=Path, default=Path("gpu_data"))
    parser.add_argument("--wheels", type=Path, default=Path(".whl"))
    parser.add_argument("--no-wheels", action="store_true", help="skip the wheel download")
    args = parser.parse_args()
    root = args.data or data_root()
    if args.dest.exists():
        shutil.rmtree(args.dest)

    roadscene = root / "roadscene"
    stems = roadscene_split(roadscene, "train") + roadscene_split(roadscene, "test")
    count = copy_pairs(roadscene, args.dest / "roadscene", sorted(stems), ("subsets.csv",))
    print(f"roadscene: {count} pairs (train + RoadScene-50)")
    tno = root / DATASETS["tno42"].folder
    all_tno = [stem for stem, _, _ in match_pairs(tno / "ir", tno / "vi").pairs]
    tno_stems = DATASETS["tno42"].select(tno, all_tno)
    count = copy_pairs(tno, args.dest / "tno", tno_stems, ("pairs.csv",))
    print(f"tno: {count} pairs (TNO-42)")
    data_mb = size_mb(args.dest)
    print(f"{args.dest}: {data_mb:.1f} MiB")
    if data_mb > DATA_LIMIT_MB:
        raise SystemExit(f"{args.dest} is {data_mb:.1f} MiB, over the {DATA_LIMIT_MB} MiB budget")
    if not args.no_wheels:
        download_wheels(args.wheels)
        print(f"{args.wheels}: {', '.join(sorted(p.name for p in args.wheels.glob('*.whl')))}, "
              f"{size_mb(args.wheels):.1f} MiB")


if __name__ == "__main__":
    main()
