"""Golden output of the bundled ``lite`` weights: what ``critnet fuse`` gives on a fixed input.

The input is generated here (``critnet.train.data.synthetic``, seeded), the expected output is
stored
in ``tests/data/golden_lite.npz``. Any change that alters what the bundled model produces (a
wiring change, a changed default, new weights) fails here. If the change is intended, regenerate
the fixture and say why in the commit::

    python tests/test_golden.py
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import critnet
from critnet.train.data.synthetic import synthetic_pairs
from critnet.weights import bundled_weights

FIXTURE = Path(__file__).parent / "data" / "golden_lite.npz"
HEIGHT, WIDTH = 40, 48
ATOL = 1e-5


def golden_inputs() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(ir, vis_grey, vis_colour)`` float32 in [0, 1]: a seeded synthetic pair, and the visible
    image tinted (R up, B down) as a colour visible image."""
    pair = synthetic_pairs(1, HEIGHT, WIDTH, seed=7)[0]
    ir = pair.ir.astype(np.float32) / 255
    vis = pair.vis.astype(np.float32) / 255
    colour = np.stack([vis * 0.9 + 0.1, vis, vis * 0.8], axis=-1).astype(np.float32)
    return ir, vis, colour


def golden_outputs() -> dict[str, np.ndarray]:
    """``critnet.fuse`` with the bundled ``lite`` weights on :func:`golden_inputs`."""
    model = critnet.load_model("lite")
    ir, vis, colour = golden_inputs()
    return {"grey": critnet.fuse(ir, vis, model), "colour": critnet.fuse(ir, colour, model)}


@pytest.fixture(scope="module")
def outputs():
    if "lite" not in bundled_weights():
        pytest.skip("the bundled 'lite' weights are not installed")
    return golden_outputs()


@pytest.mark.parametrize("kind", ["grey", "colour"])
def test_bundled_lite_weights_reproduce_the_golden_output(outputs, kind):
    stored = np.load(FIXTURE)[kind]
    actual = outputs[kind]
    assert actual.shape == stored.shape and actual.dtype == np.float32
    np.testing.assert_allclose(actual, stored, rtol=0, atol=ATOL)


def test_golden_output_is_not_trivial(outputs):
    """A flat or input-copying output would make the golden test weak."""
    ir, vis, _ = golden_inputs()
    grey = outputs["grey"]
    assert grey.std() > 0.05
    assert np.abs(grey - ir).mean() > 0.01 and np.abs(grey - vis).mean() > 0.01


if __name__ == "__main__":
    FIXTURE.parent.mkdir(exist_ok=True)
    np.savez_compressed(FIXTURE, **golden_outputs())
    print(f"wrote {FIXTURE}")
