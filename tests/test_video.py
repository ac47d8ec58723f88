"""critnet.pipeline.video: stream pairing, one stream-wide IR range, atomic video writing, bad
input.

Every video here is made by the test with PyAV (a few frames, 32×48), so no data is needed.
"""

from __future__ import annotations

import sys
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from critnet.cli import main
from critnet.errors import InputError
from critnet.pipeline.loading import load_model
from critnet.pipeline.single import fuse_arrays

av = pytest.importorskip("av", reason="video needs critnet[video] (PyAV)")
pytest.importorskip("cv2", reason="video needs critnet[video] (OpenCV)")

from critnet.pipeline.video import (  # noqa: E402
    Frame,
    fuse_frames,
    fuse_video,
    levels_to_unit,
    pair_frames,
    read_frames,
    stream_range,
)

H, W = 32, 48


def _write(path: Path, frames: list[np.ndarray], rate: int = 10) -> Path:
    """A video of ``frames``: RGB uint8 → H.264 MP4, grey uint16 → lossless FFV1 in MKV."""
    container = av.open(str(path), "w")
    sixteen = frames[0].dtype == np.uint16
    stream = container.add_stream("ffv1" if sixteen else "libx264", rate=rate)
    stream.width, stream.height = frames[0].shape[1], frames[0].shape[0]
    stream.pix_fmt = "gray16le" if sixteen else "yuv420p"
    for frame in frames:
        fmt = "gray16le" if sixteen else ("rgb24" if frame.ndim == 3 else "gray")
        container.mux(stream.encode(av.VideoFrame.from_ndarray(frame, format=fmt)))
    container.mux(stream.encode(None))
    container.close()
    return path


def _vis_frames(count: int) -> list[np.ndarray]:
    yy, xx = np.mgrid[0:H, 0:W]
    return [np.stack([(xx * 5 + 8 * i) % 256, (yy * 7) % 256, np.full((H, W), 200)],
                     -1).astype(np.uint8) for i in range(count)]


def _ir16_frames(count: int) -> list[np.ndarray]:
    yy, xx = np.mgrid[0:H, 0:W]
    return [(3000 + 10 * xx + 5 * yy + 40 * i).astype(np.uint16) for i in range(count)]


@pytest.fixture(scope="module")
def model():
    return load_model()


@pytest.fixture()
def videos(tmp_path):
    return (_write(tmp_path / "ir.mkv", _ir16_frames(4)),
            _write(tmp_path / "vis.mp4", _vis_frames(4)))


def test_fuse_video_writes_every_frame_at_the_visible_rate_keeping_colour(videos, tmp_path,
                                                                          model):
    ir, vis = videos
    report = fuse_video(ir, vis, tmp_path / "out.mp4", model)
    frames = list(read_frames(tmp_path / "out.mp4", "vis"))
    assert report.frames == len(frames) == 4
    assert report.rate == Fraction(10)
    out_rgb = frames[0].levels.astype(float)
    vis_rgb = next(read_frames(vis, "vis")).levels.astype(float)
    # chroma kept: blue minus luma of the output follows the (strongly blue) visible frame
    assert abs((out_rgb[..., 2] - out_rgb.mean(-1)).mean()
               - (vis_rgb[..., 2] - vis_rgb.mean(-1)).mean()) < 8
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_time_pairing_pairs_streams_of_different_frame_rates(tmp_path, model):
    ir = _write(tmp_path / "ir.mkv", _ir16_frames(3), rate=4)  # t = 0, 0.25, 0.5
    vis = _write(tmp_path / "vis.mp4", _vis_frames(6), rate=10)  # t = 0, 0.1, ..., 0.5
    pairs = list(pair_frames(read_frames(ir, "ir"), read_frames(vis, "vis"), ir_rate=4.0))
    expected = _ir16_frames(3)
    assert len(pairs) == 6
    for (ir_frame, _), nearest in zip(pairs, [0, 0, 1, 1, 2, 2], strict=True):
        assert np.array_equal(ir_frame, expected[nearest])


def test_index_pairing_refuses_different_lengths_naming_both_counts():
    ir = [Frame(i / 10, np.zeros((2, 2), np.uint8)) for i in range(3)]
    vis = [Frame(i / 10, np.zeros((2, 2), np.uint8)) for i in range(5)]
    with pytest.raises(InputError, match="has 3 frames but .* has 5"):
        list(pair_frames(ir, vis, pair_by="index"))


def test_time_pairing_refuses_a_gap_beyond_the_tolerance():
    ir = [Frame(i / 10, np.zeros((2, 2), np.uint8)) for i in range(3)]
    vis = [Frame(i / 10, np.zeros((2, 2), np.uint8)) for i in range(6)]
    with pytest.raises(InputError, match="frame at 0.300 s has no IR frame within 0.050 s"):
        list(pair_frames(ir, vis, time_tolerance=0.05))


def test_stream_range_is_pooled_once_not_per_frame(model):
    frames = _ir16_frames(3)
    vis = _vis_frames(3)
    fused = list(fuse_frames(zip(frames, vis, strict=True), model, range_frames=3))
    fixed = stream_range(frames)
    for ir, v, out in zip(frames, vis, fused, strict=True):
        expected = fuse_arrays(model, levels_to_unit(ir, fixed), v.astype(np.float32) / 255)
        assert np.abs(out.astype(float) - np.round(expected * 255)).max() <= 1
    # per-frame min-max would make these IR frames identical (they differ by an offset)
    per_frame = [levels_to_unit(f, (float(f.min()), float(f.max()))) for f in frames]
    assert np.allclose(per_frame[0], per_frame[2])
    assert not np.allclose(levels_to_unit(frames[0], fixed), levels_to_unit(frames[2], fixed))


def test_user_ir_range_is_used_for_every_frame(model):
    frames, vis = _ir16_frames(2), _vis_frames(2)
    fused = list(fuse_frames(zip(frames, vis, strict=True), model, ir_range=(0.0, 65535.0)))
    expected = fuse_arrays(model, frames[1].astype(np.float32) / 65535, vis[1] / 255.0)
    assert np.abs(fused[1].astype(float) - np.round(expected * 255)).max() <= 1


def test_generator_registers_once_and_reuses_the_estimate(model, monkeypatch):
    import critnet.pipeline.video.frames as video

    calls = []
    real = video.estimate_transform

    def counting(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(video, "estimate_transform", counting)
    yy, xx = np.mgrid[0:64, 0:80]
    vis = ((np.sin(xx / 5) * np.cos(yy / 7) + 1) * 120).astype(np.uint8)
    ir = np.roll(255 - vis, (2, 3), axis=(0, 1))
    out = list(fuse_frames([(ir, vis)] * 3, model, register="affine"))
    assert len(out) == 3 and out[0].shape == (64, 80)
    assert len(calls) == 1


def _cli(args: list[str], capsys) -> tuple[int, str]:
    with pytest.raises(SystemExit) as exit_:
        main(["fuse", *args])
    return exit_.value.code, capsys.readouterr().err


def test_cli_fuses_two_videos(videos, tmp_path):
    ir, vis = videos
    out = tmp_path / "cli.mp4"
    main(["fuse", str(ir), str(vis), "-o", str(out), "--pair-by", "index"])
    assert len(list(read_frames(out, "vis"))) == 4


@pytest.mark.parametrize("case", ["not_video", "zero_frames", "truncated", "lengths"])
def test_bad_video_input_is_one_line_and_writes_nothing(case, videos, tmp_path, capsys):
    ir, vis = videos
    bad = tmp_path / "bad.mp4"
    if case == "not_video":
        bad.write_text("not a video")
    elif case == "zero_frames":
        container = av.open(str(bad), "w")
        stream = container.add_stream("libx264", rate=10)
        stream.width, stream.height, stream.pix_fmt = W, H, "yuv420p"
        container.close()
    elif case == "truncated":
        data = vis.read_bytes()
        bad.write_bytes(data[: len(data) // 2])
    else:
        bad = _write(tmp_path / "short.mp4", _vis_frames(2))
    out = tmp_path / "out.mp4"
    extra = ["--pair-by", "index"] if case == "lengths" else []
    code, err = _cli([str(ir), str(bad), "-o", str(out), *extra], capsys)
    assert code == 2
    lines = [line for line in err.splitlines() if line.startswith("critnet: error")]
    assert len(lines) == 1 and str(bad) in lines[0]
    assert not out.exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_unwritable_output_is_one_line(videos, tmp_path, capsys):
    ir, vis = videos
    blocker = tmp_path / "file"
    blocker.write_text("x")
    code, err = _cli([str(ir), str(vis), "-o", str(blocker / "out.mp4")], capsys)
    assert code == 2 and "cannot write the output video" in err


def test_missing_pyav_names_the_extra(videos, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "av", None)
    ir, vis = videos
    with pytest.raises(InputError, match=r"critnet\[video\]"):
        fuse_video(ir, vis, tmp_path / "out.mp4")


def test_size_mismatch_names_the_videos_and_suggests_the_fixes(tmp_path, capsys):
    ir = _write(tmp_path / "ir.mkv", [f[:16, :24].copy() for f in _ir16_frames(2)])
    vis = _write(tmp_path / "vis.mp4", _vis_frames(2))
    out = tmp_path / "out.mp4"
    code, err = _cli([str(ir), str(vis), "-o", str(out)], capsys)
    assert code == 2 and str(ir) in err and "--resize-ir" in err
    assert not out.exists()


def test_register_composes_with_a_smaller_ir_video(tmp_path, model):
    yy, xx = np.mgrid[0:64, 0:80]
    vis = [((np.sin(xx / 5) * np.cos(yy / 7) + 1) * 120).astype(np.uint8)] * 2
    ir = [np.ascontiguousarray((255 - v)[::2, ::2]).astype(np.uint16) * 200 for v in vis]
    ir_path = _write(tmp_path / "ir.mkv", ir)
    vis_path = _write(tmp_path / "vis.mp4", [np.repeat(v[..., None], 3, -1) for v in vis])
    report = fuse_video(ir_path, vis_path, tmp_path / "out.mp4", model, register="affine")
    assert report.frames == 2
    assert next(read_frames(tmp_path / "out.mp4", "vis")).levels.shape == (64, 80, 3)


def test_onnxruntime_streams_fuse_two_frames_at_once_exactly_like_one_by_one(model, monkeypatch):
    """With an onnxruntime backend the frames of a stream go two at a time to one-thread
    sessions (critnet.pipeline.backends.for_streams), in order and with the same pixels."""
    pytest.importorskip("onnxruntime", reason="needs critnet[onnx]")
    import os

    from critnet.pipeline.backends import OnnxRuntimeBackend, for_streams, make_backend

    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    backend = make_backend(model, "onnxruntime")
    stream_backend, workers = for_streams(backend)
    assert workers == 2 and isinstance(stream_backend, OnnxRuntimeBackend)
    assert stream_backend.threads == 1 and backend.threads is None
    assert for_streams(model) == (model, 1)  # torch: one frame at a time
    vis = _vis_frames(6)
    ir = [frame[..., 0] for frame in reversed(vis)]
    pairs = list(zip(ir, vis, strict=True))
    together = list(fuse_frames(pairs, backend))
    monkeypatch.setattr(os, "cpu_count", lambda: 1)
    one_by_one = list(fuse_frames(pairs, backend))
    assert len(together) == 6
    for a, b in zip(together, one_by_one, strict=True):
        assert np.array_equal(a, b)
    assert not all(np.array_equal(together[0], frame) for frame in together[1:])


def test_index_pairing_of_files_refuses_different_lengths_before_fusing(tmp_path):
    """The containers record their frame counts: refused before any frame is fused (the model
    here fails on use)."""
    from critnet.pipeline.video.streams import frame_count

    ir = _write(tmp_path / "ir.mp4", [f[..., 0] for f in _vis_frames(3)])
    vis = _write(tmp_path / "vis.mp4", _vis_frames(5))
    assert frame_count(ir) == (3, True) and frame_count(vis) == (5, True)

    class Unusable:
        def run_arrays(self, *args, **kwargs):
            raise AssertionError("fused before the lengths were checked")

    with pytest.raises(InputError, match="has 3 frames but .* has 5"):
        fuse_video(ir, vis, tmp_path / "out.mp4", Unusable(), pair_by="index")
    assert not (tmp_path / "out.mp4").exists()


def test_video_progress_follows_the_one_rule(videos, tmp_path, capsys):
    """No bar in a redirected log (stderr is not a terminal here); a shown bar has the visible
    stream's frame count as its total, hence a rate and the time left."""
    from critnet.io.progress import progress_bar
    from critnet.pipeline.video.streams import frame_count

    ir, vis = videos
    try:
        main(["fuse", str(ir), str(vis), "-o", str(tmp_path / "out.mp4")])
    except SystemExit as exit_:
        assert not exit_.code
    assert "frame/s" not in capsys.readouterr().err
    total, exact = frame_count(vis)
    assert (total, exact) == (4, True)
    assert progress_bar(total=total).disable  # not a terminal
    with progress_bar(show=True, total=total, unit="frame") as bar:
        bar.update(2)
    assert "2/4" in capsys.readouterr().err
