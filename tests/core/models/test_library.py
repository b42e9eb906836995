"""The model library with local files: add, inspect, resolve, remove, verify."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

from designer.core.models.errors import LabelError, ModelError
from designer.core.models.library import (
    BUNDLED_ID,
    DuplicateModelError,
    ModelLibrary,
    ModelNotFoundError,
)
from designer.core.models.registry import LibraryError, LocalSource
from designer.core.models.session import OnnxModel


def cached_files(library: ModelLibrary) -> list[Path]:
    return sorted(library.cache.files.glob("*")) if library.cache.files.exists() else []


def staged_files(library: ModelLibrary) -> list[Path]:
    return sorted(library.cache.staging.glob("*")) if library.cache.staging.exists() else []


def assert_nothing_kept(library: ModelLibrary) -> None:
    """A failed add leaves no entry, no cached file and no half-written staging file."""
    assert library.list() == []
    assert cached_files(library) == []
    assert staged_files(library) == []


def test_added_model_is_listed_resolved_and_runs(
    library: ModelLibrary, detector: Path, detector_labels: Path
):
    entry = library.add(
        "Forklift Detector",
        "detection",
        detector,
        detector_labels,
        description="warehouse",
        tags={"site": "north"},
    )

    assert entry.id == "forklift-detector"
    assert entry.info.layout.kind == "yolov5"
    assert entry.labels == ["person", "fork lift", "pallet"]
    assert entry.info.inputs[0].shape == [1, 3, 32, 32] and entry.info.opset == 13
    assert entry.inference_ms is not None and entry.inference_ms > 0
    assert "CPU" in entry.accelerations
    assert entry.model_file.source == LocalSource(path=str(detector.resolve()))

    # a fresh library object reads the same registry from disk
    again = ModelLibrary(library.data)
    assert [e.id for e in again.list()] == ["forklift-detector"]
    onnx_path, labels_path, resolved = again.resolve("forklift-detector")
    assert onnx_path.read_bytes() == detector.read_bytes()
    assert labels_path.read_bytes() == detector_labels.read_bytes()
    assert onnx_path.parent == library.cache.files and onnx_path.name == entry.model_file.sha256
    assert resolved.info.path == str(onnx_path)

    detections = OnnxModel(resolved.info).detect(np.zeros((48, 64, 3), np.uint8), 0.1)
    assert detections and {d.label for d in detections} <= {"person", "fork lift", "pallet"}


def test_the_original_file_may_change_after_adding(library: ModelLibrary, detector: Path):
    library.add("det", "detection", detector)
    detector.write_bytes(b"overwritten by the user")
    onnx_path, _, _ = library.resolve("det")
    assert onnx_path.read_bytes() != b"overwritten by the user"


def test_duplicate_names_are_refused(library: ModelLibrary, detector: Path, make_detector, tmp_path: Path):
    library.add("Tiny Det", "detection", detector)
    other = make_detector(tmp_path / "other.onnx", num_classes=5)
    with pytest.raises(DuplicateModelError, match="already has 'Tiny Det' with id 'tiny-det'"):
        library.add("tiny-det", "detection", other)
    assert [e.id for e in library.list()] == ["tiny-det"]
    assert len(cached_files(library)) == 1
    assert staged_files(library) == []


def test_name_without_letters_or_digits_is_refused(library: ModelLibrary, detector: Path):
    with pytest.raises(LibraryError, match="needs at least one ASCII letter or digit"):
        library.add("  ***  ", "detection", detector)


def test_label_file_with_blank_lines_and_bom_is_read(library: ModelLibrary, detector: Path, tmp_path: Path):
    labels = tmp_path / "labels.txt"
    labels.write_bytes("\ufeffperson\r\n\r\n  fork lift  \n\n\npallet\n\n".encode())
    entry = library.add("det", "detection", detector, labels)
    assert entry.labels == ["person", "fork lift", "pallet"]


def test_label_file_in_wrong_encoding_is_refused(library: ModelLibrary, detector: Path, tmp_path: Path):
    labels = tmp_path / "latin1.txt"
    labels.write_bytes("person\ncaf\u00e9 chair\npallet\n".encode("latin-1"))
    with pytest.raises(LabelError) as info:
        library.add("det", "detection", detector, labels)
    message = str(info.value)
    assert str(labels) in message and "UTF-8" in message and "line 2" in message
    assert str(library.cache.staging) not in message, "name the user's file, not our copy"
    assert_nothing_kept(library)


def test_label_count_must_match_the_classes(library: ModelLibrary, detector: Path, tmp_path: Path):
    labels = tmp_path / "two.txt"
    labels.write_text("person\npallet\n")
    with pytest.raises(LabelError, match="2 labels but the model's output has 3 classes"):
        library.add("det", "detection", detector, labels)
    assert_nothing_kept(library)


def test_truncated_onnx_is_refused(library: ModelLibrary, detector: Path, tmp_path: Path):
    truncated = tmp_path / "truncated.onnx"
    truncated.write_bytes(detector.read_bytes()[: detector.stat().st_size // 2])
    with pytest.raises(ModelError) as info:
        library.add("det", "detection", truncated)
    assert str(truncated) in str(info.value) and "export it again" in str(info.value)
    assert_nothing_kept(library)


def test_file_that_is_not_onnx_is_refused(library: ModelLibrary, tmp_path: Path):
    fake = tmp_path / "model.onnx"
    fake.write_bytes(b"\x89PNG\r\n\x1a\n" + os.urandom(2048))
    with pytest.raises(ModelError, match=r"model\.onnx"):
        library.add("det", "detection", fake)
    assert_nothing_kept(library)


def test_missing_file_and_folder_are_refused(library: ModelLibrary, tmp_path: Path):
    with pytest.raises(LibraryError, match="no such file"):
        library.add("det", "detection", tmp_path / "nope.onnx")
    with pytest.raises(LibraryError, match="it is a folder"):
        library.add("det", "detection", tmp_path)
    assert_nothing_kept(library)


def test_wrong_type_for_the_model_is_refused(library: ModelLibrary, detector: Path):
    with pytest.raises(ModelError):
        library.add("det", "classification", detector)
    with pytest.raises(LibraryError, match="must be one of detection, classification"):
        library.add("det", "segmentation", detector)
    assert_nothing_kept(library)


def test_dynamic_input_needs_a_size_and_keeps_the_override(
    library: ModelLibrary, make_detector, tmp_path: Path
):
    dynamic = make_detector(tmp_path / "dyn.onnx", dynamic=True)
    with pytest.raises(ModelError, match="dynamic spatial size"):
        library.add("dyn", "detection", dynamic)
    assert_nothing_kept(library)

    entry = library.add("dyn", "detection", dynamic, preprocess={"width": 64, "height": 48})
    assert entry.overrides.preprocess == {"width": 64, "height": 48}
    _, _, resolved = ModelLibrary(library.data).resolve("dyn")
    assert (resolved.info.preprocess.width, resolved.info.preprocess.height) == (64, 48)
    assert resolved.info.dynamic_batch


def test_bad_preprocess_override_is_refused(library: ModelLibrary, detector: Path):
    with pytest.raises(ModelError):
        library.add("det", "detection", detector, preprocess={"color": "purple"})
    assert_nothing_kept(library)


def test_labels_from_onnx_metadata(library: ModelLibrary, make_detector, tmp_path: Path):
    model = make_detector(tmp_path / "meta.onnx", metadata={"names": "{0: 'cat', 1: 'dog', 2: 'bird'}"})
    entry = library.add("meta", "detection", model)
    assert entry.labels == ["cat", "dog", "bird"] and entry.labels_file is None
    _, labels_path, _ = library.resolve("meta")
    assert labels_path is None


def test_classifier_is_added(library: ModelLibrary, make_classifier, tmp_path: Path):
    model = make_classifier(tmp_path / "cls.onnx", num_classes=4)
    labels = tmp_path / "cls.txt"
    labels.write_text("a\nb\nc\nd\n")
    entry = library.add("cls", "classification", model, labels)
    assert entry.type == "classification" and entry.info.layout.kind == "classification"
    assert library.describe("cls").task == "classification"


def test_describe_for_the_validator(library: ModelLibrary, detector: Path):
    library.add("det", "detection", detector)
    described = library.describe("det")
    assert described.task == "detection" and "CPU" in described.accelerations
    assert library.describe("not-there") is None


def test_unknown_id_names_the_id(library: ModelLibrary, detector: Path):
    library.add("det", "detection", detector)
    with pytest.raises(ModelNotFoundError, match="'ghost' is not in the model library") as info:
        library.resolve("ghost")
    assert "det" in str(info.value)
    with pytest.raises(ModelNotFoundError):
        library.remove("ghost")


def test_remove_deletes_files_no_other_model_uses(
    library: ModelLibrary, detector: Path, detector_labels: Path
):
    library.add("first", "detection", detector, detector_labels)
    library.add("second", "detection", detector)
    assert len(cached_files(library)) == 2  # the shared model file is stored once

    library.remove("first")
    assert [e.id for e in library.list()] == ["second"]
    onnx_path, _, _ = library.resolve("second")
    assert onnx_path.is_file()
    assert len(cached_files(library)) == 1  # the labels went with "first"

    library.remove("second")
    assert library.list() == [] and cached_files(library) == []


def test_verify_finds_damaged_and_missing_files(library: ModelLibrary, detector: Path, detector_labels: Path):
    library.add("det", "detection", detector, detector_labels)
    assert library.verify() == []
    onnx_path, labels_path, _ = library.resolve("det")
    os.chmod(onnx_path, 0o644)
    onnx_path.write_bytes(onnx_path.read_bytes() + b"\0")
    labels_path.unlink()

    problems = {p.role: p for p in library.verify()}
    assert set(problems) == {"model", "labels"}
    assert "is damaged" in problems["model"].message()
    assert "is missing" in problems["labels"].message()
    assert "skill-designer models remove det" in problems["labels"].message()
    with pytest.raises(LibraryError, match=r"cached labels file .* is missing"):
        library.resolve("det")


def test_bundled_sample_is_registered_once(library: ModelLibrary):
    entry = library.ensure_bundled_sample()
    assert entry.id == BUNDLED_ID and entry.type == "detection"
    assert len(entry.labels) == 80 and entry.labels[0] == "person"
    assert entry.info.inputs[0].shape == [1, 3, 416, 416]
    assert library.ensure_bundled_sample().added_at == entry.added_at
    assert [e.id for e in library.list()] == [BUNDLED_ID]


def test_registry_holds_no_absolute_staging_paths(library: ModelLibrary, detector: Path):
    library.add("det", "detection", detector)
    text = (library.data / "model-library.json").read_text()
    assert "staging" not in text
    data = json.loads(text)
    assert data["format_version"] == 1 and data["models"][0]["id"] == "det"


def test_leftovers_of_a_crashed_add_are_swept(library: ModelLibrary, detector: Path):
    library.cache.staging.mkdir(parents=True)
    old = library.cache.staging / "part-crashed.onnx"
    old.write_bytes(b"half a download")
    two_days_ago = old.stat().st_mtime - 2 * 86400
    os.utime(old, (two_days_ago, two_days_ago))
    recent = library.cache.staging / "part-other-process.onnx"
    recent.write_bytes(b"another add in progress")
    library.add("det", "detection", detector)
    assert not old.exists() and recent.exists()
