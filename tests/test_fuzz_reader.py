"""Mutated PNG/JPEG/TIFF/BMP files either load or raise the clean InputError, silently.

The cases come from ``benchmarks/fuzz_reader.py`` (which runs 10,000 of them).
"""

from __future__ import annotations

import importlib.util
import warnings
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from critnet.errors import InputError
from critnet.io import read_image

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "fuzz_reader.py"


@pytest.fixture(scope="module")
def fuzz():
    spec = importlib.util.spec_from_file_location("fuzz_reader", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_mutated_images_load_or_raise_the_clean_error_with_nothing_on_stderr(
        fuzz, tmp_path, capfd):
    bad = []
    results = set()
    for case, suffix, data in fuzz.cases(300, seed=1):
        path = tmp_path / f"case{case}{suffix}"
        path.write_bytes(data)
        capfd.readouterr()
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # a warning that escapes is a failure too
            result = fuzz.outcome(path)
        err = capfd.readouterr().err
        results.add(result)
        if result.startswith("other") or err:
            bad.append(f"case {case} ({suffix}): {result}; stderr {err[:200]!r}")
    assert not bad, "\n".join(bad[:10])
    assert {"loaded", "clean"} <= results  # the cases exercise both outcomes


def test_mutated_radiometric_jpegs_read_as_ir_or_raise_the_clean_error_silently(
        fuzz, tmp_path, capfd):
    pytest.importorskip("flyr", reason="needs critnet[thermal]")
    bad = []
    results = set()
    for case, suffix, data in fuzz.camera_cases(120, seed=1):
        path = tmp_path / f"case{case}{suffix}"
        path.write_bytes(data)
        capfd.readouterr()
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            result = fuzz.outcome(path, fuzz.read_ir)
        err = capfd.readouterr().err
        results.add(result)
        if result.startswith("other") or err:
            bad.append(f"case {case}: {result}; stderr {err[:200]!r}")
    assert not bad, "\n".join(bad[:10])
    assert {"loaded", "clean"} <= results


def test_a_corrupt_tiff_is_one_clean_error_and_no_libtiff_noise(tmp_path, capfd):
    path = tmp_path / "broken.tif"
    image = Image.fromarray(np.arange(480, dtype=np.uint8).reshape(20, 24))
    image.save(path, compression="tiff_adobe_deflate")
    data = bytearray(path.read_bytes())
    data[20:40] = bytes(20)  # zero part of the deflate stream (the image data follows the header)
    path.write_bytes(bytes(data))
    capfd.readouterr()
    with pytest.raises(InputError, match=r"broken\.tif: truncated or corrupt image"):
        read_image(path)
    assert capfd.readouterr().err == ""
