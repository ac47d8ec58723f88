"""Training data and the metrics read the same gray image (MATLAB ``rgb2gray``, critnet.io)."""

from __future__ import annotations

import numpy as np
from conftest import need
from PIL import Image

from critnet.evaluation.bench.methods import load_gray
from critnet.evaluation.evaluate import read_image as evaluate_read_image
from critnet.io import read_gray_uint8
from critnet.metrics.prepare import rgb2gray, to_gray_uint8
from critnet.train.data.roadscene import load_gray_pair

STEM = "FLIR_00018"  # a pair where MATLAB rgb2gray and PIL convert("L") differ on some pixels


def test_training_gray_is_the_metrics_gray(data_dir):
    root = need(data_dir, "roadscene")
    vis_path = need(root, "vi", f"{STEM}.jpg")
    with Image.open(vis_path) as image:
        rgb = np.asarray(image.convert("RGB"))
        pil_l = np.asarray(image.convert("L"))
    matlab = rgb2gray(rgb)
    assert np.any(matlab != pil_l)  # otherwise this pair could not tell the two apart
    pair = load_gray_pair(root, STEM)
    np.testing.assert_array_equal(pair.vis, matlab)
    np.testing.assert_array_equal(pair.vis, read_gray_uint8(vis_path))
    np.testing.assert_array_equal(pair.vis, load_gray(vis_path))
    np.testing.assert_array_equal(pair.vis, to_gray_uint8(evaluate_read_image(vis_path)))
    with Image.open(root / "ir" / f"{STEM}.jpg") as image:
        np.testing.assert_array_equal(pair.ir, to_gray_uint8(np.asarray(image)))
