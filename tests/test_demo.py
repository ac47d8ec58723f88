"""The built-in demo scene and ``critnet demo``."""

from __future__ import annotations

import numpy as np
import pytest
from fusing_helpers import make_weights, run_cli
from PIL import Image
from scipy.ndimage import binary_dilation, gaussian_filter

import critnet.weights
from critnet.pipeline.demo import UNTRAINED_WARNING, demo_scene

FILES = ["fused.png", "ir.png", "panel.png", "vis.png"]


@pytest.fixture
def no_bundled(tmp_path_factory, monkeypatch):
    empty = tmp_path_factory.mktemp("bundled")
    monkeypatch.setattr(critnet.weights, "WEIGHTS_DIR", empty)
    return empty


def test_scene_is_deterministic_and_in_range():
    first, again, other = demo_scene(), demo_scene(), demo_scene(seed=1)
    np.testing.assert_array_equal(first.ir, again.ir)
    np.testing.assert_array_equal(first.vis, again.vis)
    assert not np.array_equal(first.vis, other.vis)
    assert first.ir.shape == (240, 320) and first.vis.shape == (240, 320, 3)
    for image in (first.ir, first.vis):
        assert image.dtype == np.float32 and 0.0 <= image.min() and image.max() <= 1.0


def test_target_is_bright_in_ir_and_hidden_in_the_visible_image():
    scene = demo_scene()
    person = scene.target > 0.5
    ring = binary_dilation(person, iterations=6) & ~person
    luma = scene.vis @ np.array([0.299, 0.587, 0.114])
    assert scene.ir[person].mean() - scene.ir[ring].mean() > 0.3
    assert abs(luma[person].mean() - luma[ring].mean()) < 0.05
    assert luma.mean() < 0.3  # a dark scene


@pytest.mark.parametrize(("region", "rows", "cols"), [
    ("brick wall", slice(50, 105), slice(10, 80)),
    ("foliage", slice(130, 230), slice(0, 45)),
])
def test_visible_has_fine_texture_that_the_ir_lacks(region, rows, cols):
    scene = demo_scene()
    luma = scene.vis @ np.array([0.299, 0.587, 0.114])

    def texture(image):  # band-pass: finer than 3 px blobs, coarser than pixel noise
        smooth = gaussian_filter(image, 0.7)
        return (smooth - gaussian_filter(smooth, 3))[rows, cols].std()

    assert texture(luma) > 2 * texture(scene.ir), region


def test_demo_without_bundled_weights_says_loudly_that_they_are_untrained(
        capsys, tmp_path, monkeypatch, no_bundled):
    monkeypatch.chdir(tmp_path)
    code, stdout, stderr = run_cli(capsys, "demo", "--device", "cpu")
    assert code == 0, stderr
    out = tmp_path / "critnet-demo"
    assert sorted(p.name for p in out.iterdir()) == FILES
    assert "untrained weights: output is not meaningful" in stdout
    assert UNTRAINED_WARNING in stderr
    with Image.open(out / "panel.png") as panel, Image.open(out / "fused.png") as fused:
        assert panel.mode == "RGB" and panel.width > 3 * 320 and panel.height > 240
        assert fused.size == (320, 240) and fused.mode == "RGB"


def test_demo_with_a_weights_file_names_it_and_does_not_warn(capsys, tmp_path, no_bundled):
    weights = make_weights(tmp_path / "mine.safetensors")
    out = tmp_path / "demo"
    code, stdout, stderr = run_cli(capsys, "demo", "-o", out, "--weights", weights,
                                   "--device", "cpu")
    assert code == 0, stderr
    assert f"weights: weights file {weights}" in stdout
    assert "untrained" not in stdout + stderr
    assert sorted(p.name for p in out.iterdir()) == FILES


def test_demo_picks_up_bundled_weights_when_they_appear(capsys, tmp_path, no_bundled):
    make_weights(no_bundled / "lite.safetensors")
    code, stdout, stderr = run_cli(capsys, "demo", "-o", tmp_path / "d", "--device", "cpu")
    assert code == 0, stderr
    assert "weights: bundled weights 'lite'" in stdout and "untrained" not in stdout + stderr


def test_demo_help_gives_examples(capsys):
    code, stdout, _ = run_cli(capsys, "demo", "--help")
    assert code == 0 and "critnet demo -o" in stdout and "critnet-demo" in stdout
