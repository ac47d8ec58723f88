"""critnet.evaluation.evaluate and the ``critnet evaluate`` command, on tiny generated folders."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from critnet.cli import main
from critnet.errors import InputError
from critnet.evaluation.evaluate import evaluate_methods, parse_methods
from critnet.evaluation.summary import nan_notes, summarize
from critnet.metrics import compute_metrics


def _save(path: Path, array: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path)


@pytest.fixture
def folders(tmp_path: Path) -> Path:
    rng = np.random.default_rng(3)
    for stem in ("a", "b", "c"):
        ir = rng.integers(0, 256, (40, 48), dtype=np.uint8)
        vis = rng.integers(0, 256, (40, 48, 3), dtype=np.uint8)
        _save(tmp_path / "ir" / f"{stem}.png", ir)
        _save(tmp_path / "vi" / f"{stem}.jpg" if stem == "a" else tmp_path / "vi" / f"{stem}.png",
              vis)
        _save(tmp_path / "avg" / f"{stem}.png", ((ir.astype(int) + vis[..., 1]) // 2)
              .astype(np.uint8))
        _save(tmp_path / "copy" / f"{stem}.png", ir)
    return tmp_path


def test_evaluate_methods_matches_compute_metrics(folders: Path) -> None:
    result = evaluate_methods(folders / "ir", folders / "vi",
                              {"avg": folders / "avg", "copy": folders / "copy"}, "CC,EN,Qabf")
    assert result.images == ["a", "b", "c"] and result.methods == ["avg", "copy"]
    ir = np.asarray(Image.open(folders / "ir" / "b.png"))
    vis = np.asarray(Image.open(folders / "vi" / "b.png"))
    fused = np.asarray(Image.open(folders / "avg" / "b.png"))
    assert result.per_image["avg"]["b"] == compute_metrics(ir, vis, fused, ["CC", "EN", "Qabf"])
    expected = np.mean([result.per_image["copy"][s]["EN"] for s in "abc"])
    assert result.means["copy"]["EN"] == pytest.approx(expected)


def test_parallel_jobs_give_identical_results(folders: Path) -> None:
    methods = {"avg": folders / "avg"}
    serial = evaluate_methods(folders / "ir", folders / "vi", methods, "all")
    parallel = evaluate_methods(folders / "ir", folders / "vi", methods, "all", jobs=2)
    assert json.dumps(serial.per_image, sort_keys=True) == json.dumps(parallel.per_image,
                                                                     sort_keys=True)


def test_missing_fused_file_raises_naming_it_or_is_skipped(folders: Path) -> None:
    (folders / "avg" / "c.png").unlink()
    with pytest.raises(InputError, match=r"avg lacks 1 fused image\(s\) for pairs: c"):
        evaluate_methods(folders / "ir", folders / "vi", {"avg": folders / "avg"})
    with pytest.warns(UserWarning, match="lacks 1"):
        result = evaluate_methods(folders / "ir", folders / "vi",
                                  {"avg": folders / "avg", "copy": folders / "copy"},
                                  skip_missing=True)
    assert result.images == ["a", "b"]  # means over the images every method has
    assert result.skipped == {"avg": ["c"]}


def test_size_mismatch_names_the_file(folders: Path) -> None:
    _save(folders / "avg" / "b.png", np.zeros((10, 10), np.uint8))
    with pytest.raises(InputError, match=r"b\.png: size 10x10 differs"):
        evaluate_methods(folders / "ir", folders / "vi", {"avg": folders / "avg"})


def test_nan_rule_leaves_nan_pairs_out_and_counts_them() -> None:
    per_image = {"A": {"p": {"CC": 0.2, "PSNR": 60.0}, "q": {"CC": math.nan, "PSNR": 62.0},
                       "r": {"CC": 0.4, "PSNR": math.inf}},
                 "B": {"p": {"CC": math.nan, "PSNR": 1.0}, "q": {"CC": math.nan, "PSNR": 3.0},
                       "r": {"CC": math.nan, "PSNR": 5.0}}}
    summary = summarize(per_image, ["CC", "PSNR"])
    assert summary.mean["A"]["CC"] == pytest.approx(0.3)  # over the two defined pairs
    assert summary.std["A"]["CC"] == pytest.approx(0.1)
    assert summary.nan_pairs == {"A": {"CC": 1, "PSNR": 0}, "B": {"CC": 3, "PSNR": 0}}
    assert math.isnan(summary.mean["B"]["CC"])  # no defined pair: NaN
    assert summary.mean["A"]["PSNR"] == math.inf  # inf is a value and propagates
    assert summary.mean["B"]["PSNR"] == 3.0
    assert nan_notes(summary.nan_pairs) == [
        "A: CC undefined (NaN) on 1 pair(s), left out of its mean",
        "B: CC undefined (NaN) on 3 pair(s), left out of its mean"]


def test_constant_fused_image_gives_nan_cc_reported_by_the_cli(folders: Path, tmp_path: Path,
                                                                capsys) -> None:
    _save(folders / "flat" / "a.png", np.full((40, 48), 128, np.uint8))  # CC undefined
    for stem in "bc":
        _save(folders / "flat" / f"{stem}.png",
              np.asarray(Image.open(folders / "avg" / f"{stem}.png")))
    result = evaluate_methods(folders / "ir", folders / "vi", {"flat": folders / "flat"}, "CC")
    assert math.isnan(result.per_image["flat"]["a"]["CC"])
    assert result.nan_pairs == {"flat": {"CC": 1}}
    assert result.means["flat"]["CC"] == pytest.approx(
        (result.per_image["flat"]["b"]["CC"] + result.per_image["flat"]["c"]["CC"]) / 2)
    out = tmp_path / "all.json"
    main(["evaluate", "--ir", str(folders / "ir"), "--vis", str(folders / "vi"),
          "--fused", str(folders / "flat"), "--metrics", "CC", "--no-progress",
          "--json", str(out)])
    assert "flat: CC undefined (NaN) on 1 pair(s)" in capsys.readouterr().err
    assert json.loads(out.read_text())["nan_pairs"] == {"flat": {"CC": 1}}


def test_parse_methods_names_by_folder_or_prefix(tmp_path: Path) -> None:
    assert parse_methods(["out/SeAFusion/", "Ours=runs/x"]) == {
        "SeAFusion": Path("out/SeAFusion/"), "Ours": Path("runs/x")}
    with pytest.raises(InputError, match="both named"):
        parse_methods(["a/x", "b/x"])


def test_cli_writes_every_output(folders: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "out"
    main(["evaluate", "--ir", str(folders / "ir"), "--vis", str(folders / "vi"),
          "--fused", str(folders / "avg"), "--fused", f"IR={folders / 'copy'}",
          "--metrics", "CC,EN,Qcv", "--per-image", str(out / "p.csv"),
          "--table", str(out / "t.md"), "--latex", str(out / "t.tex"),
          "--csv", str(out / "m.csv"), "--json", str(out / "r.json"), "--no-progress"])
    printed = capsys.readouterr().out
    assert "| Method | CC ↑ | EN ↑ | Qcv ↓ |" in printed and "| IR |" in printed
    with (out / "p.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert [r["method"] for r in rows] == ["avg"] * 3 + ["IR"] * 3
    assert set(rows[0]) == {"method", "image", "CC", "EN", "Qcv"}
    assert (out / "t.md").read_text() in printed
    assert "\\begin{tabular}" in (out / "t.tex").read_text()
    assert json.loads((out / "r.json").read_text())["images"] == ["a", "b", "c"]
    assert (out / "m.csv").read_text().startswith("method,CC,EN,Qcv")


def test_cli_missing_file_is_one_line_exit_2(folders: Path, capsys) -> None:
    (folders / "avg" / "a.png").unlink()
    with pytest.raises(SystemExit) as exit_info:
        main(["evaluate", "--ir", str(folders / "ir"), "--vis", str(folders / "vi"),
              "--fused", str(folders / "avg"), "--no-progress"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "lacks 1 fused image(s) for pairs: a" in err


def test_cli_unknown_metric_is_one_line_exit_2(folders: Path, capsys) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["evaluate", "--ir", str(folders / "ir"), "--vis", str(folders / "vi"),
              "--fused", str(folders / "avg"), "--metrics", "CC,Bogus"])
    assert exit_info.value.code == 2
    assert "unknown metric 'Bogus'" in capsys.readouterr().err
