"""Build the SHA-256 registries that ``critnet data fetch`` checks downloads against.

Maintainers only; run once when a pinned commit changes. It reads the shared data copy (the
files MANIFEST.md describes) and writes, per fetchable dataset, ``files.csv`` plus the tables we
made (``roadscene/subsets.csv``, ``tno/pairs.csv``) into ``src/critnet/io/fetch_data/``::

    python scripts/build_fetch_registry.py --data ../shared/data --mirrors /work/.mirror

``--mirrors`` is a folder of bare git snapshots named ``owner+name/repo`` (or ``owner+name``)
of the source repositories. With it, every copied file is proved byte-identical to the blob at
the pinned commit (git's blob id of the local file equals the tree's), and the two TNO extras,
which the shared copy holds as PNG converted from BMP, get the SHA-256 of the upstream BMP read
from the snapshot. Without it the extras cannot be registered and the script stops.
"""

from __future__ import annotations

import argparse
import csv
import shutil
import subprocess
import sys
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"
sys.path.insert(0, str(SRC))

from critnet.io.datasets_fetch import (  # noqa: E402  (after the path insert)
    REGISTRY_COLUMNS,
    SHIPPED,
    file_sha256,
    pixels_sha256,
)

ROADSCENE = ("hanna-xu/RoadScene", "ab71420f8fc96396eeb97eecf3694909b3feb656")
TANG = ("Linfeng-Tang/Image-Fusion", "dba5bf3d507e09227993ca9743776bf05ce35c51")
TNO_MIRROR = ("yanyanchun/TNO_Image_Fusion_Dataset", "1f0f275324e1892a6f088d8bca4e967010661164")
TANG_TNO = "General Evaluation Metric/Image/Source-Image/TNO"
OUT = SRC / "critnet" / "io" / "fetch_data"


def roadscene_rows(data: Path) -> list[dict]:
    """``ir/<stem>.jpg`` ← ``cropinfrared/``, ``vi/<stem>.jpg`` ← ``crop_LR_visible/``."""
    rows = []
    for kind, upstream in (("ir", "cropinfrared"), ("vi", "crop_LR_visible")):
        for path in sorted((data / "roadscene" / kind).iterdir()):
            rows.append(_row(data / "roadscene", f"{kind}/{path.name}", ROADSCENE,
                             f"{upstream}/{path.name}"))
    return rows


def tno_rows(data: Path) -> list[dict]:
    """The 42 ``NN_<scene>.png`` ← Tang's ``TNO/{ir,vi}/NN.png``; the 2 extras ← mirror BMPs."""
    with (data / "tno" / "pairs.csv").open(newline="") as handle:
        table = list(csv.DictReader(handle))
    rows = []
    for kind in ("ir", "vi"):
        for entry in table:
            stem, local = entry["stem"], f"{kind}/{entry['stem']}.png"
            if entry["lt42_index"]:
                rows.append(_row(data / "tno", local, TANG,
                                 f"{TANG_TNO}/{kind}/{entry['lt42_index']}.png"))
            else:  # an extra: upstream BMP, converted losslessly to PNG
                upstream = entry[f"tno_mirror_{kind}"]
                assert upstream.endswith(".bmp"), (stem, upstream)
                rows.append(_row(data / "tno", local, TNO_MIRROR, upstream, convert="bmp-png"))
    return rows


def _row(folder: Path, local: str, source: tuple[str, str], upstream: str,
         convert: str = "") -> dict:
    path = folder / local
    return {"file": local, "repo": source[0], "commit": source[1], "upstream": upstream,
            "bytes": path.stat().st_size, "sha256": file_sha256(path), "convert": convert,
            "pixels_sha256": pixels_sha256(path) if convert else ""}


def check_against_mirrors(rows: list[dict], folder: Path, mirrors: Path) -> int:
    """Prove copies byte-identical to the pinned blobs; give extras their upstream BMP hash."""
    checked = 0
    for row in rows:
        git_dir = _git_dir(mirrors, row["repo"])
        spec = f"{row['commit']}:{row['upstream']}"
        blob = _git(git_dir, "rev-parse", spec).strip()
        if row["convert"]:
            content = subprocess.run(["git", "--git-dir", str(git_dir), "cat-file", "blob", blob],
                                     check=True, capture_output=True).stdout
            tmp = OUT / ".upstream.bmp"
            tmp.write_bytes(content)
            try:
                if pixels_sha256(tmp) != row["pixels_sha256"]:
                    raise SystemExit(f"{row['file']}: pixels differ from {spec}")
                row["bytes"], row["sha256"] = len(content), file_sha256(tmp)
            finally:
                tmp.unlink()
        else:
            local = subprocess.run(["git", "hash-object", str(folder / row["file"])], check=True,
                                   capture_output=True, text=True).stdout.strip()
            if local != blob:
                raise SystemExit(f"{row['file']}: not byte-identical to {row['repo']}@{spec}")
        checked += 1
    return checked


def _git_dir(mirrors: Path, repo: str) -> Path:
    base = mirrors / repo.replace("/", "+")
    return base / "repo" if (base / "repo").is_dir() else base


def _git(git_dir: Path, *args: str) -> str:
    return subprocess.run(["git", "--git-dir", str(git_dir), *args], check=True,
                          capture_output=True, text=True).stdout


def shipped_rows(data: Path, name: str) -> list[dict]:
    rows = []
    for table in SHIPPED[name]:
        path = data / name / table
        (OUT / name).mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, OUT / name / table)
        rows.append({"file": table, "repo": "critnet", "commit": "", "upstream": table,
                     "bytes": path.stat().st_size, "sha256": file_sha256(path), "convert": "",
                     "pixels_sha256": ""})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path("../shared/data"))
    parser.add_argument("--mirrors", type=Path, required=True)
    args = parser.parse_args()
    for name, build in (("roadscene", roadscene_rows), ("tno", tno_rows)):
        rows = build(args.data)
        checked = check_against_mirrors(rows, args.data / name, args.mirrors)
        rows += shipped_rows(args.data, name)
        (OUT / name).mkdir(parents=True, exist_ok=True)
        with (OUT / name / "files.csv").open("w", newline="") as handle:
            writer = csv.DictWriter(handle, REGISTRY_COLUMNS, lineterminator="\n")
            writer.writeheader()
            writer.writerows(rows)
        print(f"{name}: {len(rows)} files registered, {checked} checked against the pinned "
              f"commits")


if __name__ == "__main__":
    main()
