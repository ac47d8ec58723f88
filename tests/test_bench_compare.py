"""bench compare: dataset discovery, cached fusion and scores (resume), outputs, our-model rows."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from bench_helpers import TNO_STEMS, make_data_root
from click.testing import CliRunner
from PIL import Image

from critnet.errors import InputError
from critnet.evaluation.bench import scores as scores_module
from critnet.evaluation.bench.compare import RunOptions, compare
from critnet.evaluation.bench.datasets import load_dataset
from critnet.evaluation.bench.methods import Method, select_methods, weights_label


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_data_root(tmp_path_factory.mktemp("data"))


def _snapshot(folder: Path) -> dict[Path, int]:
    return {p: p.stat().st_mtime_ns for p in folder.rglob("*") if p.is_file()}


def test_tno42_takes_numbered_stems_and_complete_method_folders(root: Path) -> None:
    ds = load_dataset("tno42", root)
    assert ds.stems == list(TNO_STEMS)
    # peer_fused comes first; the tno_fused copy of the same name is a duplicate.
    assert list(ds.fused_methods) == ["Blur"]
    assert ds.fused_methods["Blur"][TNO_STEMS[0]].parent == root / "peer_fused/Blur/tno"
    assert any("Half" in s and "covers 2 of 3" in s for s in ds.skipped)
    assert any("tno_fused/Blur" in s and "duplicate" in s for s in ds.skipped)


def test_unknown_dataset_and_missing_folder_are_clear(root: Path, tmp_path: Path) -> None:
    with pytest.raises(InputError, match="unknown dataset 'tno'.*tno42"):
        load_dataset("tno", root)
    with pytest.raises(InputError, match="dataset folder not found"):
        load_dataset("msrs", tmp_path)


def test_compare_writes_every_output_and_resumes(root: Path, tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("critnet.weights.bundled_weights", lambda: {})
    calls: list[tuple[int, int]] = []

    def darker(ir: np.ndarray, vis: np.ndarray) -> np.ndarray:
        calls.append(ir.shape)
        return vis * 0.5

    extra = Method("Darker", "baseline", "test rule v1", fuse=darker)
    before = _snapshot(root)
    out = tmp_path / "out"
    result = compare("tno42", out, extra_methods=[extra],
                     options=RunOptions(data_root=root, progress=False))

    assert [m.name for m in result.methods] == ["Blur", "Average", "Maximum", "LP", "Darker"]
    assert len(calls) == 3
    for name in ["table.md", "table.csv", "table.tex", "scores.csv", "results.json",
                 "distributions.png", "curves.png", "grid.png"]:
        assert (out / name).is_file(), name
    for slug in ["Average", "Maximum", "LP", "Darker"]:
        files = sorted(p.stem for p in (out / "fused" / slug).glob("*.png"))
        assert files == list(TNO_STEMS)
    fused = np.asarray(Image.open(out / "fused/Darker/02_beta.png"))
    assert fused.shape == (33, 47) and fused.dtype == np.uint8
    assert _snapshot(root) == before, "inputs must never be written"

    table = (out / "table.md").read_text()
    assert "| Method | CC ↑ | EN ↑ | Qabf ↑ | Qcv ↓ | SCD ↑ | SSIM ↑ |" in table
    assert "**" in table and "No C-RITNet weights are bundled" in table
    fragment = json.loads((out / "results.json").read_text())
    assert fragment["dataset"] == "tno42" and fragment["pairs"] == 3
    assert fragment["paper_table"] == "table3"
    assert set(fragment["mean"]) == {"Blur", "Average", "Maximum", "LP", "Darker"}
    scores = (out / "scores.csv").read_text().splitlines()
    assert len(scores) == 1 + 5 * 3 * 6

    # Rerun: nothing fused or scored again.
    def fail(*_args, **_kwargs):
        raise AssertionError("score recomputed on resume")

    monkeypatch.setattr(scores_module, "score_pair", fail)
    again = compare("tno42", out, extra_methods=[extra],
                    options=RunOptions(data_root=root, plots=False, progress=False))
    assert len(calls) == 3
    assert again.mean == result.mean


def test_changed_source_recomputes_that_method(root: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    one = Method("Rule", "baseline", "v1", fuse=lambda ir, vis: ir)
    compare("tno42", out, methods="Rule", weights=[], extra_methods=[one],
            options=RunOptions(data_root=root, plots=False, progress=False))
    two = Method("Rule", "baseline", "v2", fuse=lambda ir, vis: vis)
    result = compare("tno42", out, methods="Rule", weights=[], extra_methods=[two],
                     options=RunOptions(data_root=root, plots=False, progress=False))
    vis = np.asarray(Image.open(root / "tno/vi/01_alpha.png"))[..., 0]
    assert np.array_equal(np.asarray(Image.open(out / "fused/Rule/01_alpha.png")), vis)
    assert (out / "fused/Rule/SOURCE.txt").read_text().strip() == "v2"
    assert result.mean["Rule"]["SSIM"] > 1.0  # recomputed for the visible image itself


def test_output_inside_an_input_folder_is_refused(root: Path) -> None:
    with pytest.raises(InputError, match="is the input folder or inside it"):
        compare("tno42", root / "tno" / "bench",
                options=RunOptions(data_root=root, plots=False, progress=False))


def test_select_methods_by_name_or_kind() -> None:
    rows = [Method("A", "published", "a"), Method("LP", "baseline", "b"),
            Method("C-RITNet", "ours", "c")]
    assert [m.name for m in select_methods(rows, "lp,ours")] == ["LP", "C-RITNet"]
    assert [m.name for m in select_methods(rows, ["published"])] == ["A"]
    with pytest.raises(InputError, match="unknown method 'nope'; available: A, LP, C-RITNet"):
        select_methods(rows, "nope")


def test_our_model_row_from_a_weights_file(root: Path, tmp_path: Path) -> None:
    from critnet.model import build_model
    from critnet.weights import save_weights

    weights = save_weights(build_model("lite"), tmp_path / "tiny.safetensors")
    out = tmp_path / "out"
    result = compare("tno42", out, weights=[str(weights)], methods="ours,LP", metrics="CC,EN",
                     options=RunOptions(data_root=root, zoom=(2, 2, 10, 10), progress=False))
    assert [m.name for m in result.methods] == ["LP", "C-RITNet"]
    assert "sha256:" in result.methods[1].source
    assert sorted(p.stem for p in (out / "fused/C-RITNet").glob("*.png")) == list(TNO_STEMS)
    assert set(result.mean["C-RITNet"]) == {"CC", "EN"}


def test_cli_compare_prints_the_table(root: Path, tmp_path: Path,
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    from critnet.cli import cli

    monkeypatch.setenv("CRITNET_DATA", str(root))
    out = tmp_path / "cli"
    runner = CliRunner()
    done = runner.invoke(cli, ["bench", "compare", "--dataset", "tno42", "--out", str(out),
                               "--methods", "baseline", "--metrics", "CC,Qcv", "--no-progress",
                               "--pairs", "02_beta", "--zoom", "1,1,9,9"])
    assert done.exit_code == 0, done.output
    assert "| Method | CC ↑ | Qcv ↓ |" in done.output
    assert (out / "grid.png").is_file()
    bad = runner.invoke(cli, ["bench", "compare", "--dataset", "tno42", "--out", str(out),
                              "--zoom", "1,2,3"])
    assert bad.exit_code != 0 and "x,y,w,h" in bad.output


def test_weights_rows_are_named_by_label_run_folder_or_stem() -> None:

    assert weights_label("ratio=runs/a/weights.safetensors", 2) == (
        "C-RITNet (ratio)", "runs/a/weights.safetensors")
    assert weights_label("docs/results/runs/lambda_50/weights.safetensors", 2) == (
        "C-RITNet (lambda_50)", "docs/results/runs/lambda_50/weights.safetensors")
    assert weights_label("lite", 2) == ("C-RITNet (lite)", "lite")
    assert weights_label("x/tiny.safetensors", 1) == ("C-RITNet", "x/tiny.safetensors")


def test_an_existing_file_with_equals_in_its_path_is_not_a_label(tmp_path, monkeypatch) -> None:

    monkeypatch.chdir(tmp_path)
    (tmp_path / "a=b").mkdir()
    (tmp_path / "a=b" / "w.safetensors").write_bytes(b"")
    assert weights_label("a=b/w.safetensors", 2) == ("C-RITNet (w)", "a=b/w.safetensors")
