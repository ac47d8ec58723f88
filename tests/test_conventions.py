"""critnet.metrics.conventions and ``critnet evaluate --convention``: each convention against the
values its reference code gave on the metric cases (tests/fixtures/conventions/*.json, provenance
inside), absent metrics, and the CLI."""

from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from critnet.cli import main
from critnet.errors import InputError
from critnet.evaluation.evaluate import evaluate_methods, result_json
from critnet.io import read_raw
from critnet.io.paths import data_root
from critnet.metrics import compute_metrics
from critnet.metrics.conventions import (
    CONVENTIONS,
    compute_convention,
    convention_metrics,
    cv2_gray,
    get_convention,
)
from critnet.metrics.prepare import FusionTriple

FIXTURES = Path(__file__).parent / "fixtures" / "conventions"
CASES = data_root() / "metric_cases"
# 1e-6 relative, as the registry's reference test: the references return float32 for SD, SF,
# AG, MSE, CC, SCD and Qabf (CDDFuse), which critnet computes in float64 (measured ≤ 4e-7).
RTOL = 1e-6
# The cases checked here (every kind: edge, synthetic, TNO, VIFB, RoadScene, published fusions);
# the CDDFuse fixture holds all 55, kept out of the default run for time (about 1 s a case).
CHECKED = ("edge_tno_05_bench__fused_const128", "edge_tno_05_bench__fused_eq_ir",
           "synth_97x131__avg", "synth_97x131__w73", "tno_05_bench__SeAFusion",
           "vifb_peopleshadow__max", "tno_37_helicopter__DenseFuse", "roadscene_FLIR_00211__w73")


def _fixture(convention: str) -> dict:
    return json.loads((FIXTURES / f"{convention}.json").read_text(encoding="utf-8"))


def _reference_cases() -> list[tuple[str, str]]:
    return [(convention, case) for convention in ("cddfuse", "tang")
            for case in _fixture(convention)["cases"] if case in CHECKED]


def _triple(convention: str, case: str) -> FusionTriple:
    if not CASES.is_dir():
        pytest.skip(f"metric cases not found at {CASES} (set CRITNET_DATA)")
    gray = get_convention(convention).gray
    return FusionTriple(*(gray(read_raw(CASES / case / f"{name}.png"))
                          for name in ("ir", "vi", "fused")))


@pytest.mark.parametrize(("convention", "case"), _reference_cases())
def test_convention_equals_its_reference_code(convention: str, case: str) -> None:
    expected = _fixture(convention)["cases"][case]
    got = compute_convention(_triple(convention, case), expected, convention)
    assert set(got) == set(expected)
    for name, value in expected.items():
        if value is None:  # the reference gave NaN or inf
            assert not math.isfinite(got[name]), (name, got[name])
        else:
            assert got[name] == pytest.approx(value, rel=RTOL, abs=1e-12), name


def test_fixtures_cover_every_metric_their_convention_defines() -> None:
    for convention in ("cddfuse", "tang"):
        fixture = _fixture(convention)
        assert {"repo", "commit", "file", "command", "date"} <= set(fixture["provenance"])
        for values in fixture["cases"].values():
            assert set(values) == set(CONVENTIONS[convention].metrics), convention


def test_cddfuse_gray_equals_opencv_on_colour_images() -> None:
    reference = _fixture("cddfuse")["gray"]
    folder = data_root() / reference["folder"]
    if not folder.is_dir():
        pytest.skip(f"{folder} not found (set CRITNET_DATA)")
    for name, expected in reference["images"].items():
        gray = cv2_gray(read_raw(folder / name))
        assert list(gray.shape) == expected["shape"] and int(gray.sum()) == expected["sum"]
        assert hashlib.sha256(np.ascontiguousarray(gray).tobytes()).hexdigest() == \
            expected["sha256_uint8"]


def test_conventions_differ_where_the_references_do() -> None:
    rng = np.random.default_rng(5)
    ir = rng.integers(0, 256, (32, 40), dtype=np.uint8)
    vis = rng.integers(0, 256, (32, 40), dtype=np.uint8)
    fused = ((ir.astype(int) + vis) // 2).astype(np.uint8)
    triple = FusionTriple(ir, vis, fused)
    matlab = compute_metrics(ir, vis, fused, "SSIM,MI,AG,EN")
    cddfuse = compute_convention(triple, ["SSIM", "MI", "AG", "EN"], "cddfuse")
    tang = compute_convention(triple, ["MI", "AG", "EN"], "tang")
    assert cddfuse["EN"] == pytest.approx(matlab["EN"]) == pytest.approx(tang["EN"])
    assert cddfuse["SSIM"] != pytest.approx(matlab["SSIM"], rel=1e-3)
    assert tang["MI"] != pytest.approx(cddfuse["MI"], rel=1e-3)  # bits vs nats
    assert cddfuse["AG"] == pytest.approx(tang["AG"] * 31 * 39 / (32 * 40))


def test_convention_metrics_reports_absent_names() -> None:
    assert convention_metrics("paper", "cddfuse") == (
        ["CC", "EN", "Qabf", "Qcv", "SCD", "SSIM"], ["Qcv"])
    assert convention_metrics("SSIM,MSE,Nabf", "tang") == (["SSIM", "MSE", "Nabf"], ["SSIM"])
    assert convention_metrics("all", "tang")[0] == list(CONVENTIONS["tang"].metrics)
    with pytest.raises(InputError, match="unknown metric 'XYZ'"):
        convention_metrics("XYZ", "cddfuse")
    with pytest.raises(InputError, match="unknown metric convention 'ieee'"):
        get_convention("ieee")


@pytest.fixture
def folders(tmp_path: Path) -> Path:
    rng = np.random.default_rng(7)
    for stem in ("a", "b"):
        ir = rng.integers(0, 256, (24, 30), dtype=np.uint8)
        vis = rng.integers(0, 256, (24, 30, 3), dtype=np.uint8)
        for folder, image in (("ir", ir), ("vi", vis), ("avg", (ir // 2 + vis[..., 0] // 2))):
            (tmp_path / folder).mkdir(exist_ok=True)
            Image.fromarray(image.astype(np.uint8)).save(tmp_path / folder / f"{stem}.png")
    return tmp_path


def test_evaluate_methods_scores_with_the_convention(folders: Path) -> None:
    result = evaluate_methods(folders / "ir", folders / "vi", {"avg": folders / "avg"},
                              "paper", convention="cddfuse")
    assert result.convention == "cddfuse" and result.absent == ["Qcv"]
    assert "Qcv" not in result.per_image["avg"]["a"] and "Qcv" not in result.means["avg"]
    images = [read_raw(folders / d / "b.png") for d in ("ir", "vi", "avg")]
    triple = FusionTriple(*(cv2_gray(image) for image in images))
    assert result.per_image["avg"]["b"] == compute_convention(
        triple, ["CC", "EN", "Qabf", "SCD", "SSIM"], "cddfuse")
    payload = json.loads(result_json(result))
    assert payload["convention"] == "cddfuse" and payload["absent"] == ["Qcv"]
    assert payload["means"]["avg"]["Qcv"] is None and payload["means"]["avg"]["SSIM"] is not None
    default = evaluate_methods(folders / "ir", folders / "vi", {"avg": folders / "avg"}, "paper")
    matlab = evaluate_methods(folders / "ir", folders / "vi", {"avg": folders / "avg"}, "paper",
                              convention="matlab")
    assert default.per_image == matlab.per_image and matlab.absent == []
    with pytest.raises(InputError, match="mode 'vifb'"):
        evaluate_methods(folders / "ir", folders / "vi", {"avg": folders / "avg"}, "paper",
                         mode="vifb", convention="tang")


def test_cli_shows_absent_metrics_as_dash(folders: Path, tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    out_csv = tmp_path / "means.csv"
    main(["evaluate", "--ir", str(folders / "ir"), "--vis", str(folders / "vi"),
          "--fused", str(folders / "avg"), "--metrics", "SSIM,MSE,Nabf",
          "--convention", "tang", "--no-progress", "--csv", str(out_csv)])
    captured = capsys.readouterr()
    assert "convention tang does not define SSIM" in captured.err
    row = next(line for line in captured.out.splitlines() if line.startswith("| avg"))
    assert row.split("|")[2].strip() == "—" and row.split("|")[3].strip() != "—"
    assert out_csv.read_text(encoding="utf-8").splitlines()[1].split(",")[1] == ""
