"""Label files and ONNX metadata labels."""

from __future__ import annotations

from pathlib import Path

import pytest

from designer.core.models.errors import LabelError
from designer.core.models.labels import labels_from_metadata, read_label_file


def test_label_file_with_bom_crlf_and_blank_lines(tmp_path: Path) -> None:
    path = tmp_path / "labels.txt"
    path.write_bytes("\ufeffperson\r\n\r\n  fork lift \r\n\n\ncafé\r\n".encode())
    assert read_label_file(path) == ["person", "fork lift", "café"]


def test_label_file_in_wrong_encoding_names_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "labels.txt"
    path.write_bytes("person\ncaf\xe9\n".encode("latin-1"))
    with pytest.raises(LabelError) as err:
        read_label_file(path)
    assert str(path) in str(err.value)
    assert "line 2" in str(err.value) and "UTF-8" in str(err.value)


def test_missing_and_empty_label_files(tmp_path: Path) -> None:
    with pytest.raises(LabelError, match="cannot read"):
        read_label_file(tmp_path / "nope.txt")
    empty = tmp_path / "empty.txt"
    empty.write_text("\n\n  \n", encoding="utf-8")
    with pytest.raises(LabelError, match="no labels"):
        read_label_file(empty)


@pytest.mark.parametrize(
    "value",
    [
        "person, car,bus",
        '["person", "car", "bus"]',
        "{0: 'person', 1: 'car', 2: 'bus'}",
        '{"0": "person", "1": "car", "2": "bus"}',
        "['person', 'car', 'bus']",
    ],
)
def test_metadata_label_formats(value: str) -> None:
    assert labels_from_metadata({"names": value}, "m") == ["person", "car", "bus"]


def test_metadata_without_labels() -> None:
    assert labels_from_metadata({"author": "me"}, "m") is None


def test_metadata_dict_with_gaps_is_refused() -> None:
    with pytest.raises(LabelError, match="without gaps"):
        labels_from_metadata({"names": "{0: 'a', 2: 'b'}"}, "model x.onnx")


def test_metadata_is_never_evaluated(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    code = f"__import__('pathlib').Path({str(marker)!r}).touch()"
    with pytest.raises(LabelError, match="cannot read labels"):
        labels_from_metadata({"names": "{0: " + code + "}"}, "m")
    assert labels_from_metadata({"names": code}, "m") == [code]
    assert not marker.exists()
