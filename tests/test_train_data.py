"""The training-data layer (issue 21): folder sources read as fusing reads, the hash-of-stem
split, the bad-data report, and streamed batches equal to preloaded ones bit for bit."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image
from train_data_helpers import as_uint16, real_crop, tiny_config, train_stems, write_folder

from critnet.errors import InputError
from critnet.io import read_image, read_ir
from critnet.io.kinds import from_batch, to_batch
from critnet.io.pairs import match_pairs
from critnet.pipeline.fusion import luma
from critnet.train import TrainConfig
from critnet.train.data.build import build_training_data
from critnet.train.data.reading import ReadOptions, read_training_pair
from critnet.train.data.split import is_validation, split_by_stem, stem_fraction
from critnet.train.data.streamed import StreamedBatches


def build(**data):
    lines: list[str] = []
    built = build_training_data(TrainConfig.from_dict(tiny_config(**data)), log=lines.append)
    return built, lines


def folder(ir_dir, vis_dir, **keys):
    return {"ir": str(ir_dir), "vis": str(vis_dir), **keys}


def test_a_folder_pair_is_read_as_fusing_reads_it(data_dir, tmp_path):
    """16-bit TIFF IR (percentile default), colour JPEG visible → its Y, gray-as-RGB → gray."""
    ir_dir, vis_dir = tmp_path / "ir", tmp_path / "vis"
    ir_dir.mkdir(), vis_dir.mkdir()
    stem, other = train_stems(data_dir, 2)
    as_uint16(real_crop(data_dir, stem, "ir", (60, 50))).save(ir_dir / f"{stem}.tif")
    real_crop(data_dir, stem, "vi", (60, 50)).save(vis_dir / f"{stem}.jpg", quality=95)
    real_crop(data_dir, other, "ir", (70, 40)).save(ir_dir / f"{other}.png")
    real_crop(data_dir, other, "ir", (70, 40)).convert("RGB").save(vis_dir / f"{other}.png")
    options = ReadOptions(crop=24)
    pair = read_training_pair(stem, ir_dir / f"{stem}.tif", vis_dir / f"{stem}.jpg", options)
    ir, info = read_ir(ir_dir / f"{stem}.tif")
    assert info.bit_depth == 16 and pair.ir.dtype == np.float32
    np.testing.assert_array_equal(pair.ir, ir)  # the fusing reader, percentile-stretched
    assert pair.ir.min() == 0.0 and pair.ir.max() == 1.0
    vis, _ = read_image(vis_dir / f"{stem}.jpg")
    assert vis.ndim == 3
    np.testing.assert_array_equal(pair.vis, from_batch(luma(to_batch(vis))))
    grey = read_training_pair(other, ir_dir / f"{other}.png", vis_dir / f"{other}.png", options)
    np.testing.assert_array_equal(grey.vis, grey.ir)  # gray-as-RGB is the same gray
    assert grey.ir.shape == (40, 70)  # mixed sizes and formats in one folder
    assert [p[0] for p in match_pairs(ir_dir, vis_dir).pairs] == sorted([stem, other])


def test_an_image_smaller_than_the_crop_is_mirrored_up_to_it(data_dir, tmp_path):
    ir_dir, vis_dir = write_folder(data_dir, tmp_path, 1, size=(30, 20))
    stem = train_stems(data_dir, 1)[0]
    pair = read_training_pair(stem, ir_dir / f"{stem}.png", vis_dir / f"{stem}.jpg",
                              ReadOptions(crop=24))
    assert pair.ir.shape == pair.sal_vis.shape == (24, 30)
    original, _ = read_ir(ir_dir / f"{stem}.png")
    np.testing.assert_array_equal(pair.ir[:20], original)
    np.testing.assert_array_equal(pair.ir[20:24], original[19:15:-1])  # mirrored rows


def test_resize_ir_resamples_the_ir_to_the_visible_size(data_dir, tmp_path):
    ir_dir, vis_dir = tmp_path / "ir", tmp_path / "vis"
    ir_dir.mkdir(), vis_dir.mkdir()
    stem = train_stems(data_dir, 1)[0]
    real_crop(data_dir, stem, "ir", (40, 30)).save(ir_dir / f"{stem}.png")
    real_crop(data_dir, stem, "vi", (80, 60)).save(vis_dir / f"{stem}.png")
    with pytest.raises(InputError, match=r"IR is 40×30 but visible .* is 80×60 .*--resize-ir"):
        read_training_pair(stem, ir_dir / f"{stem}.png", vis_dir / f"{stem}.png",
                           ReadOptions(crop=24))
    pair = read_training_pair(stem, ir_dir / f"{stem}.png", vis_dir / f"{stem}.png",
                              ReadOptions(resize_ir=True, crop=24))
    assert pair.ir.shape == pair.vis.shape == (60, 80)


def test_split_is_a_hash_of_the_stem_and_stable_when_files_are_added():
    stems = [f"cam_{i:05d}" for i in range(2000)]
    train, val = split_by_stem(stems, stems, 0.1)
    assert 160 <= len(val) <= 240  # ~10 %
    assert all(stem_fraction(s) < 0.1 for s in val) and all(stem_fraction(s) >= 0.1 for s in train)
    more = stems + [f"new_{i}" for i in range(500)]
    train2, val2 = split_by_stem(more, more, 0.1)
    assert set(val) <= set(val2) and set(train) <= set(train2)  # nobody changed sides
    assert is_validation("cam_00000", 0.1) == ("cam_00000" in val)


def test_bad_data_is_listed_one_line_each_then_counted_and_the_good_pairs_train(data_dir,
                                                                               tmp_path):
    ir_dir, vis_dir = write_folder(data_dir, tmp_path, 8)
    stems = train_stems(data_dir, 8)
    truncated = vis_dir / f"{stems[1]}.jpg"
    truncated.write_bytes(truncated.read_bytes()[:400])
    real_crop(data_dir, stems[2], "ir", (50, 48)).save(ir_dir / f"{stems[2]}.png")  # size
    Image.new("L", (56, 48), 90).save(ir_dir / f"{stems[3]}.png")  # all-constant
    Image.new("L", (56, 48), 90).save(ir_dir / "lonely.png")  # no partner
    built, lines = build(sources=[folder(ir_dir, vis_dir)])
    skipped = [line for line in lines if line.startswith("skipped: ")]
    assert len(skipped) == 4 and len(lines) == 5, lines
    assert any(str(ir_dir / "lonely.png") in s and "without a visible partner" in s
               for s in skipped)
    assert any(str(truncated) in s and "truncated" in s for s in skipped)
    assert any(f"{stems[2]}.png" in s and "IR is 50×48 but visible" in s for s in skipped)
    assert any(f"{stems[3]}.png" in s and "all-constant" in s for s in skipped)
    assert lines[-1].startswith("data: 5 training and 0 validation pairs usable, 4 file(s)")
    assert [p.stem for p in built.crops.pairs] == [stems[i] for i in (0, 4, 5, 6, 7)]
    assert built.facts["pairs"] == {"train": 5, "validation": 0, "validation_scored": 0,
                                    "unusable": 4}

    resized, _ = build(sources=[folder(ir_dir, vis_dir, resize_ir=True)])
    assert len(resized.crops) == 6  # the size mismatch resampled
    with pytest.raises(InputError, match=r"^--strict \(data.strict\): 4 unusable .* first "):
        build(sources=[folder(ir_dir, vis_dir)], strict=True)
    with pytest.raises(InputError, match=r"^only 5 usable training pair\(s\), fewer than the 6"):
        build(sources=[folder(ir_dir, vis_dir)], min_pairs=6)


def test_a_small_folder_adapts_the_validation_split_and_says_so(data_dir, tmp_path):
    ir_dir, vis_dir = write_folder(data_dir, tmp_path, 3)
    stems = sorted(train_stems(data_dir, 3), key=stem_fraction)
    below = stem_fraction(stems[0]) * 0.99  # the hash rule holds out no stem
    built, lines = build(sources=[folder(ir_dir, vis_dir)], val_fraction=below)
    note = [line for line in lines if line.startswith("split: ")]
    assert len(note) == 1 and "held out 0 of 3 stems" in note[0], lines
    assert f"held out the 1 stem(s) of smallest hash instead ({stems[0]})" in note[0]
    assert [r.stem for r in built.val] == [stems[0]] and len(built.crops) == 2
    assert built.facts["split"] == note[0].removeprefix("split: ")
    built, lines = build(sources=[folder(ir_dir, vis_dir)], val_fraction=below, min_pairs=3)
    assert len(built.val) == 0 and len(built.crops) == 3  # none to spare: no validation
    assert any("too few to hold any out" in line for line in lines)
    built, lines = build(sources=[folder(ir_dir, vis_dir)],
                         val_fraction=stem_fraction(stems[0]) * 1.01)  # the rule kept
    assert len(built.val) == 1 and len(built.crops) == 2
    assert not any(line.startswith("split: ") for line in lines)


@pytest.mark.parametrize("workers", [0, 2])
def test_streamed_batches_equal_preloaded_batches_bit_for_bit(data_dir, tmp_path, workers):
    ir_dir, vis_dir = write_folder(data_dir, tmp_path, 5)
    small = tmp_path / "small"
    write_folder(data_dir, small, 2, size=(30, 20), first=5)  # mirrored up to the crop
    sources = [folder(ir_dir, vis_dir), folder(small / "ir", small / "vis")]
    preloaded, _ = build(sources=sources, loading="preload")
    streamed, _ = build(sources=sources, loading="stream", workers=workers)
    assert streamed.streamed and not preloaded.streamed and len(streamed.crops) == 7
    assert streamed.fingerprint == preloaded.fingerprint
    plan = [(e, [(3 * e + k) % 7 for k in range(3)]) for e in range(4)]
    batches = StreamedBatches(streamed.crops, torch.device("cpu"), lambda step: plan[step],
                              len(plan), workers=workers)
    for step in (0, 1, 3, 2):  # in order, then a jump and a step back
        epoch, indices = plan[step]
        want = preloaded.crops.batch(epoch, indices)
        got = batches.batch_at(step, epoch, indices)
        for key, value in want.items():
            assert torch.equal(got[key], value), (step, key)
    batches.close()
