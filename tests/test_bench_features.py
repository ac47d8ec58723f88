"""``critnet bench features`` (Fig. 4) on a tiny synthetic pair."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image
from wiring_helpers import tiny_images, tiny_model

from critnet.cli import main
from critnet.evaluation.bench.features import correlations, feature_maps
from critnet.train.data.synthetic import synthetic_pairs


@pytest.fixture
def pair(tmp_path):
    synthetic = synthetic_pairs(1, 32, 40, seed=3)[0]
    ir, vis = tmp_path / "ir" / "scene.png", tmp_path / "vi" / "scene.png"
    for path, image in ((ir, synthetic.ir), (vis, synthetic.vis)):
        path.parent.mkdir()
        Image.fromarray(image).save(path)
    return ir, vis


def test_command_writes_the_figure_and_correlations(tmp_path, pair, capsys):
    out = tmp_path / "out"
    main(["bench", "features", "--pair", str(pair[0]), str(pair[1]), "--out", str(out)])
    assert "scene.png" in capsys.readouterr().out
    with Image.open(out / "scene.png") as figure:
        assert figure.size[0] > 300 and figure.size[1] > 200
    record = json.loads((out / "scene.json").read_text())
    assert record["size"] == [40, 32]
    assert set(record["correlation"]) == {"f_ir", "f_vis_ir", "f_vis", "f_ir_vis"}
    assert all(-1 <= r <= 1 for c in record["correlation"].values() for r in c.values())
    assert sorted(p.name for p in out.iterdir()) == ["scene.json", "scene.png"]


def test_bad_pair_is_one_line_and_writes_nothing(tmp_path, pair, capsys):
    small = tmp_path / "small.png"
    Image.fromarray(np.zeros((10, 12), np.uint8)).save(small)
    out = tmp_path / "out"
    with pytest.raises(SystemExit) as exit_:
        main(["bench", "features", "--pair", str(pair[0]), str(small), "--out", str(out)])
    assert exit_.value.code == 2
    error = capsys.readouterr().err.strip()
    assert error.count("\n") == 0 and "small.png" in error
    assert not out.exists() or not any(out.iterdir())


def test_maps_are_the_channel_means_of_the_encoder_and_mrl_outputs():
    model = tiny_model()
    ir, vis = tiny_images()
    maps = feature_maps(model, ir, vis)
    with torch.no_grad():
        f_ir = model.encoder_ir(torch.cat([ir, 1 - ir], 1))
        f_vis = model.encoder_vis(torch.cat([vis, 1 - vis], 1))
        f_vis_ir, f_ir_vis = model.mrl(f_ir, f_vis)
    for name, features in (("f_ir", f_ir), ("f_vis", f_vis), ("f_vis_ir", f_vis_ir),
                           ("f_ir_vis", f_ir_vis)):
        np.testing.assert_allclose(getattr(maps, name), features[0].mean(0).numpy(), atol=1e-5)
    scores = correlations(maps)
    flat = maps.ir.ravel() - maps.ir.mean()
    own = maps.f_ir.ravel() - maps.f_ir.mean()
    expected = float(flat @ own / (np.linalg.norm(flat) * np.linalg.norm(own)))
    assert scores["f_ir"]["ir"] == pytest.approx(expected, rel=1e-4)
