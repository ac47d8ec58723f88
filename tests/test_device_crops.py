"""Training crops cut on the device: the same samples, bit for bit, as RoadSceneCrops."""

from __future__ import annotations

import pytest
import torch

from critnet.train.data.device_crops import DeviceCrops
from critnet.train.data.roadscene import RoadSceneCrops
from critnet.train.data.synthetic import synthetic_pairs


def crops(**kwargs) -> RoadSceneCrops:
    # pairs of two sizes, so the flat table's offsets and widths differ between pairs
    pairs = synthetic_pairs(3, 32, 36) + synthetic_pairs(3, 41, 29, seed=1)
    return RoadSceneCrops(pairs, crop=24, **kwargs)


@pytest.mark.parametrize("flips", [True, False])
def test_device_batch_equals_host_batch_bit_for_bit(flips):
    host = crops(flips=flips, seed=3)
    device = DeviceCrops(host, "cpu")
    for epoch in range(4):
        indices = [5, 0, 3, 2, 4, 1][:4 + epoch % 3]
        want = host.batch(epoch, indices)
        got = device.batch(epoch, indices)
        assert set(got) == set(want)
        for key, value in want.items():
            assert got[key].shape == value.shape and got[key].dtype == torch.float32
            assert torch.equal(got[key], value), (epoch, key)


def test_flips_are_exercised():
    host = crops(seed=0)
    windows = [host.window(e, i) for e in range(6) for i in range(len(host))]
    assert {(w.flip_h, w.flip_v) for w in windows} == {(False, False), (False, True),
                                                       (True, False), (True, True)}


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_batch_equals_host_batch():
    host = crops(seed=1)
    device = DeviceCrops(host, "cuda")
    want = host.batch(2, [1, 4, 5])
    got = device.batch(2, [1, 4, 5])
    for key, value in want.items():
        assert torch.equal(got[key].cpu(), value)
