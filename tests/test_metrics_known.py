"""Known answers: each metric on tiny hand-made images with values worked out by hand, the
input conventions, and the edge cases of METRICS.md on ``metric_cases/``."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from conftest import need
from PIL import Image

from critnet.errors import InputError
from critnet.metrics import (
    METRICS,
    PAPER_METRICS,
    FusionTriple,
    compute_metrics,
    get_metric,
    resolve_metric_names,
    rgb2gray,
    to_gray_uint8,
    to_uint8,
)
from critnet.metrics.gradient import qabf_scaled

_TG, _TA = 0.9994, 0.9879


def one(name: str, ir, vis, fused) -> float:
    return compute_metrics(np.asarray(ir, np.uint8), np.asarray(vis, np.uint8),
                           np.asarray(fused, np.uint8), [name])[name]


def half(h: int = 8, w: int = 8, lo: int = 0, hi: int = 255) -> np.ndarray:
    """Left half ``lo``, right half ``hi``."""
    img = np.full((h, w), lo, np.uint8)
    img[:, w // 2:] = hi
    return img


@pytest.fixture
def textured() -> np.ndarray:
    return np.random.default_rng(7).integers(0, 256, (48, 56), dtype=np.uint8)


# --- conventions ----------------------------------------------------------------------------

def test_rgb2gray_uses_matlab_coefficients_and_rounding() -> None:
    rgb = np.array([[[255, 0, 0], [0, 255, 0], [0, 0, 255], [10, 20, 30]]], np.uint8)
    # 76.228..., 149.696..., 29.075..., 0.2989*10 + 0.5870*20 + 0.1140*30 = 18.1565
    assert rgb2gray(rgb).tolist() == [[76, 150, 29, 18]]


def test_rgb2gray_differs_from_pil_where_pil_rounds_differently() -> None:
    # PIL uses integer 299/587/114 arithmetic: on a grid of colours some pixels differ by one.
    values = np.array(np.meshgrid(range(0, 256, 3), range(0, 256, 5), range(0, 256, 7)))
    rgb = values.reshape(3, -1).T.astype(np.uint8)[None]
    pil = np.asarray(Image.fromarray(rgb).convert("L"))
    assert (rgb2gray(rgb) != pil).any()
    assert np.abs(rgb2gray(rgb).astype(int) - pil).max() == 1


def test_float_inputs_are_quantised_like_im2uint8() -> None:
    x = np.array([0.0, 0.5, 1.0, 1.2, -0.1, 0.5 / 255, np.nan])
    assert to_uint8(x).tolist() == [0, 128, 255, 255, 0, 1, 0]
    assert to_uint8(np.array([257 * 3, 65535], np.uint16)).tolist() == [3, 255]


def test_float_uint8_and_rgb_inputs_agree(textured: np.ndarray) -> None:
    fused = np.roll(textured, 1, axis=1)
    as_uint8 = compute_metrics(textured, textured[::-1], fused, "paper")
    as_float = compute_metrics(textured / 255.0, textured[::-1] / 255.0, fused / 255.0, "paper")
    as_rgb = compute_metrics(np.dstack([textured] * 3), textured[::-1], fused, "paper")
    assert as_uint8 == as_float == as_rgb


def test_unsupported_inputs_raise_input_error() -> None:
    with pytest.raises(InputError, match="dtype"):
        to_gray_uint8(np.zeros((4, 4), np.int32))
    with pytest.raises(InputError, match=r"must be in \[0, 1\]"):
        to_gray_uint8(np.full((4, 4), 200.0))
    with pytest.raises(InputError, match="sizes differ"):
        compute_metrics(np.zeros((4, 4)), np.zeros((4, 4)), np.zeros((4, 5)), ["EN"])
    with pytest.raises(InputError, match="unknown metric"):
        compute_metrics(np.zeros((4, 4)), np.zeros((4, 4)), np.zeros((4, 4)), ["Nope"])


# --- registry -------------------------------------------------------------------------------

def test_registry_has_every_requested_metric_with_metadata() -> None:
    expected = {"CC", "EN", "Qabf", "Qcv", "SCD", "SSIM", "AG", "CE", "EI", "MI", "PSNR", "Qcb",
                "RMSE", "SD", "SF", "VIF", "Nabf", "MI_tang", "PSNR_tang", "SF_tang",
                "Qabf_tang"}
    assert set(METRICS) == expected
    assert {n for n, m in METRICS.items() if m.lower_better} == {"Qcv", "CE", "RMSE", "Nabf"}
    for metric in METRICS.values():
        assert metric.reference and metric.typical_range[0] < metric.typical_range[1]
    assert PAPER_METRICS == ("CC", "EN", "Qabf", "Qcv", "SCD", "SSIM")


def test_metric_names_resolve_from_keywords_and_lists() -> None:
    assert resolve_metric_names("paper") == list(PAPER_METRICS)
    assert resolve_metric_names("all") == list(METRICS)
    assert resolve_metric_names("qabf, EN,EN") == ["Qabf", "EN"]
    assert get_metric("mi_TANG").name == "MI_tang"


def test_shared_cache_gives_the_same_values_as_separate_calls(textured: np.ndarray) -> None:
    fused = (textured // 2 + 40).astype(np.uint8)
    together = compute_metrics(textured, textured[::-1], fused, "all")
    for name, value in together.items():
        alone = compute_metrics(textured, textured[::-1], fused, [name])[name]
        assert alone == value or (math.isnan(alone) and math.isnan(value)), name


# --- hand-worked answers --------------------------------------------------------------------

def test_en_of_two_equal_halves_is_one_bit_and_constant_is_negative_zero() -> None:
    assert one("EN", half(), half(), half()) == 1.0
    value = one("EN", half(), half(), np.full((8, 8), 9))
    assert value == 0.0 and math.copysign(1.0, value) == -1.0


def test_ce_is_zero_for_identical_histograms_and_skips_empty_fused_bins() -> None:
    assert one("CE", half(), half(), half()) == 0.0
    # Sources half 0 / half 255, F all 0: only bin 0 counts: 0.5·log2(0.5/1) = -0.5.
    assert one("CE", half(), half(), np.zeros((8, 8))) == -0.5


def test_mi_vifb_is_two_ln2_nats_for_a_copied_binary_image() -> None:
    assert one("MI", half(), half(), half()) == pytest.approx(2 * math.log(2), abs=1e-15)
    # Stretching makes MI invariant to the fused image's gray range.
    assert one("MI", half(), half(), half(lo=100, hi=101)) == pytest.approx(2 * math.log(2))


def test_mi_tang_is_bits_and_merges_254_255_in_the_joint_histogram() -> None:
    assert one("MI_tang", half(), half(), half()) == pytest.approx(2.0, abs=1e-15)
    src = half(lo=254, hi=255)
    # H(S) = 1 bit, H(F) = 0, H(F, S) = 0 because 254 and 255 share a joint bin: MI = 1 each.
    assert one("MI_tang", src, src, np.full((8, 8), 128)) == pytest.approx(2.0)


def test_psnr_rmse_vifb_use_sqrt_sse_over_n() -> None:
    ir = np.full((4, 4), 10)
    vis = ir + 1
    # e(VIS, F) = sqrt(16)/16 = 0.25, e(IR, F) = 0 -> E = 0.125.
    assert one("RMSE", ir, vis, ir) == 0.125
    assert one("PSNR", ir, vis, ir) == pytest.approx(20 * math.log10(255 / math.sqrt(0.125)))
    # Tang: MSE = 0.5 · (1/255)² -> standard PSNR + 20·log10(255).
    mse = 0.5 / 255**2
    assert one("PSNR_tang", ir, vis, ir) == pytest.approx(20 * math.log10(255 / math.sqrt(mse)))
    assert one("PSNR", ir, ir, ir) == math.inf


def test_sd_sf_ag_ei_on_small_patterns() -> None:
    checker = np.indices((4, 4)).sum(axis=0) % 2 * 2  # values 0/2
    assert one("SD", checker, checker, checker) == 1.0
    f = np.array([[0, 1], [0, 1]])
    assert one("SF", f, f, f) == pytest.approx(math.sqrt(2 / 4))  # two row diffs of 1, ÷ N = 4
    assert one("SF_tang", f, f, f) == 1.0  # row diffs averaged over their count, 2
    ramp = np.tile(np.arange(5) * 3, (4, 1))  # gx = 3 everywhere, gy = 0
    assert one("AG", ramp, ramp, ramp) == pytest.approx(20 * 3 / math.sqrt(2) / (3 * 4))
    # Sobel with replicated borders: interior |gy| = 4·(2·3) = 24, border columns 4·3 = 12.
    assert one("EI", ramp, ramp, ramp) == pytest.approx((3 * 24 + 2 * 12) / 5)
    flat = np.full((6, 6), 77)
    for name in ("SD", "SF", "SF_tang", "AG", "EI"):
        assert one(name, half(6, 6), half(6, 6), flat) == 0.0


def test_cc_and_scd_on_linear_combinations(textured: np.ndarray) -> None:
    ir = textured.astype(float)
    vis = 255 - ir
    assert one("CC", ir, vis, ir) == pytest.approx(0.0, abs=1e-12)  # (1 + (-1)) / 2
    assert one("CC", ir, ir, ir) == pytest.approx(1.0)
    other = np.random.default_rng(8).integers(0, 128, ir.shape)
    small = (ir // 2).astype(np.uint8)
    # F = IR + VIS: F - VIS = IR and F - IR = VIS, so both correlations are 1.
    assert one("SCD", small, other, small.astype(int) + other) == pytest.approx(2.0)


def test_ssim_vif_qcb_qcv_nabf_for_a_perfect_copy(textured: np.ndarray) -> None:
    t = (textured, textured, textured)
    assert one("SSIM", *t) == pytest.approx(2.0)
    assert one("VIF", *np.tile(t, (1, 2, 2))) == pytest.approx(2.0)
    assert one("Qcv", *t) == 0.0
    assert one("Qcb", *t) == pytest.approx(1.0)
    assert one("Nabf", *t) == 0.0


def test_qabf_equality_branch_vifb_vs_tang() -> None:
    delta = np.zeros((7, 7), np.uint8)
    delta[3, 3] = 1
    # Sobel of a unit impulse: g = sqrt(2) at the 4 diagonal neighbours, 2 at the other 4, with
    # F = IR = VIS every strength matches exactly and every angle agrees (Aα = 1).
    qa = _TA / (1 + math.exp(-22 * (1 - 0.8)))
    # VIFB (×255): G = 255·g -> Qg = Tg/(1 + e^{-15(255g - 0.5)}) = Tg to double precision.
    assert one("Qabf", delta, delta, delta) == pytest.approx(_TG * qa, rel=1e-15)

    def qg(g: float) -> float:
        return _TG / (1 + math.exp(-15 * (g - 0.5)))

    r2 = math.sqrt(2)
    expected = qa * (4 * r2 * qg(r2) + 4 * 2 * qg(2)) / (4 * r2 + 8)
    assert one("Qabf_tang", delta, delta, delta) == pytest.approx(expected, rel=1e-12)


def test_nabf_counts_only_pixels_where_fused_edges_are_stronger() -> None:
    src = half(6, 8, 0, 32)           # vertical step: g = 16 in 2 columns, 0 elsewhere
    fused = half(6, 8, 0, 64)         # same edge, twice as strong: G = 0.5, angles equal
    q = math.sqrt(0.9999 / 2 * 0.9995 / (1 + math.exp(-22 * 0.5)))
    w_edge, w_flat = 16**1.5, 0.001
    expected = (1 - q) * (2 * 6 * w_edge) / (2 * 6 * w_edge + 6 * 6 * w_flat)
    assert one("Nabf", src, src, fused) == pytest.approx(expected, rel=1e-12)


# --- metric_cases edge cases (METRICS.md) ---------------------------------------------------

def load_case(data_dir: Path, name: str) -> FusionTriple:
    folder = need(data_dir, "metric_cases", name)
    return FusionTriple(*(np.asarray(Image.open(folder / f"{k}.png")) for k in ("ir", "vi",
                                                                                  "fused")))


def as_uint8(t: FusionTriple) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return tuple(x.astype(np.uint8) for x in (t.ir, t.vis, t.fused))


def test_constant_fused_edge_case_matches_reference_behaviour(data_dir: Path) -> None:
    t = load_case(data_dir, "edge_tno_05_bench__fused_const128")
    r = compute_metrics(*as_uint8(t), "all")
    for name in ("CC", "Qcb", "Qcv"):
        assert math.isnan(r[name]), name
    assert r["EN"] == 0.0 and math.copysign(1, r["EN"]) == -1
    assert r["SD"] == r["SF"] == r["AG"] == r["EI"] == 0.0
    assert r["SCD"] == pytest.approx(0.94, abs=0.005)          # -2·corr(IR, VIS)
    assert r["MI_tang"] == pytest.approx(0.0144, abs=5e-5)     # 254/255 joint-bin merge
    assert r["CE"] == pytest.approx(-0.021, abs=5e-4)          # empty F bins skipped
    assert r["Qabf"] == pytest.approx(0.045, abs=5e-4)         # the zero-padded frame


def test_qabf_copy_cases_match_the_quoted_reference_values(data_dir: Path) -> None:
    """METRICS.md §3 quotes the reference values (and what a 'G = 1' port would give)."""
    eq_ir = load_case(data_dir, "edge_tno_05_bench__fused_eq_ir")
    farm_max = load_case(data_dir, "tno_41_Farm__max")
    assert get_metric("Qabf").compute(eq_ir) == pytest.approx(0.30714625, abs=5e-9)
    assert get_metric("Qabf").compute(farm_max) == pytest.approx(0.61125066, abs=5e-9)
    assert get_metric("Qabf_tang").compute(farm_max) == pytest.approx(0.61125066, abs=1e-8)
    # Tang 2022 on [0, 1] images gives copied pixels almost no credit.
    assert qabf_scaled(farm_max, 1 / 255) == pytest.approx(0.393, abs=5e-4)
    assert qabf_scaled(eq_ir, 1 / 255) == pytest.approx(0.099, abs=5e-4)


@pytest.mark.parametrize("case", ["synth_97x131__avg", "tno_05_bench__w73",
                                  "vifb_fight__avg", "roadscene_FLIR_00211__max"])
def test_metric_case_rule_fusions_follow_matlab_rounding(data_dir: Path, case: str) -> None:
    t = load_case(data_dir, case)
    rule = case.rsplit("__", 1)[1]
    mix = {"avg": (t.ir + t.vis) / 2, "max": np.maximum(t.ir, t.vis),
           "w73": 0.7 * t.ir + 0.3 * t.vis}[rule]
    np.testing.assert_array_equal(np.floor(mix + 0.5), t.fused)
    r = compute_metrics(*as_uint8(t), "all")
    assert all(math.isfinite(v) for v in r.values()), r


def test_metric_case_vis_is_matlab_rgb2gray_of_the_colour_source(data_dir: Path) -> None:
    t = load_case(data_dir, "vifb_fight__avg")
    colour = np.asarray(Image.open(need(data_dir, "vifb", "vi", "fight.jpg")))
    np.testing.assert_array_equal(rgb2gray(colour), t.vis)
