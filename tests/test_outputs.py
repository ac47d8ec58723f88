"""The output-file checks shared by single fusion, video and export (critnet.io.outputs)."""

from __future__ import annotations

import os

import pytest

from critnet.errors import InputError
from critnet.io.checksum import file_sha256
from critnet.io.outputs import check_output_file


def test_an_input_reached_through_a_hard_link_is_refused(tmp_path):
    source = tmp_path / "ir.png"
    source.write_bytes(b"x")
    os.link(source, tmp_path / "alias.png")
    with pytest.raises(InputError, match=r"alias\.png: output path is the IR input"):
        check_output_file(tmp_path / "alias.png", {"IR": source}, overwrite=True)


def test_a_folder_and_an_existing_file_are_refused_unless_overwrite(tmp_path):
    with pytest.raises(InputError, match=r"is a folder; .* such as .*fused\.mp4"):
        check_output_file(tmp_path, overwrite=True, example="fused.mp4")
    target = tmp_path / "out.png"
    target.write_bytes(b"old")
    with pytest.raises(InputError, match="already exists .*--overwrite"):
        check_output_file(target, {"visible": tmp_path / "vis.png"})
    assert check_output_file(target, {"visible": tmp_path / "vis.png"}, overwrite=True) == target
    assert target.read_bytes() == b"old"  # a check writes nothing


def test_file_sha256_is_the_known_digest(tmp_path):
    (tmp_path / "empty").write_bytes(b"")
    (tmp_path / "abc").write_bytes(b"abc")
    assert file_sha256(tmp_path / "empty") == (
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
    assert file_sha256(tmp_path / "abc") == (
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
