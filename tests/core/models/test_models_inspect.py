"""inspect_model: I/O, pre-processing, labels and every way a model file can be wrong."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper
from onnx_factory import color_classifier, constant_model, write_labels

from designer.core.models.errors import LabelError, ModelError, UnknownLayoutError
from designer.core.models.inspect import ModelInfo, inspect_model
from designer.core.models.session import OnnxModel


def _yolov8_out(num_classes: int = 2, anchors: int = 16) -> np.ndarray:
    out = np.zeros((1, 4 + num_classes, anchors), np.float32)
    out[0, :, 0] = [0.5, 0.5, 0.5, 0.5, 0.9] + [0.0] * (num_classes - 1)
    return out


def test_reads_io_opset_metadata_and_round_trips_as_json(tmp_path: Path) -> None:
    path = constant_model(
        tmp_path / "m.onnx", {"output0": _yolov8_out()}, metadata={"names": "cat,dog", "description": "tiny"}
    )
    info = inspect_model(path)
    assert info.path == str(path)
    assert [(t.name, t.shape, t.dtype) for t in info.inputs] == [("images", [1, 3, 32, 32], "float32")]
    assert [(t.name, t.shape) for t in info.outputs] == [("output0", [1, 6, 16])]
    assert info.opset == 17 and info.producer == "onnx_factory"
    assert info.metadata["description"] == "tiny"
    assert (info.labels, info.labels_source) == (["cat", "dog"], "metadata")
    p = info.preprocess
    assert (p.width, p.height, p.data_format, p.color, p.resize) == (32, 32, "NCHW", "RGB", "stretch")
    assert p.scale == pytest.approx(1 / 255)
    assert ModelInfo.model_validate_json(info.model_dump_json()) == info


def test_label_file_wins_over_metadata(tmp_path: Path) -> None:
    path = constant_model(tmp_path / "m.onnx", {"output0": _yolov8_out()}, metadata={"names": "cat,dog"})
    info = inspect_model(path, write_labels(tmp_path / "l.txt", ["fox", "owl"]))
    assert (info.labels, info.labels_source) == (["fox", "owl"], "file")


def test_ultralytics_metadata_dict_dynamic_size_and_letterbox(tmp_path: Path) -> None:
    path = constant_model(
        tmp_path / "m.onnx",
        {"output0": _yolov8_out(3)},
        input_shape=("batch", 3, "height", "width"),
        output_shapes={"output0": ["batch", 7, "anchors"]},
        metadata={
            "author": "Ultralytics",
            "names": "{0: 'person', 1: 'car', 2: 'dog'}",
            "imgsz": "[48, 64]",
            "stride": "32",
        },
    )
    info = inspect_model(path)
    assert info.labels == ["person", "car", "dog"] and info.num_classes == 3
    assert (info.preprocess.height, info.preprocess.width) == (48, 64)
    assert info.preprocess.resize == "letterbox"
    assert info.dynamic_batch is True
    assert OnnxModel(info).detect(np.zeros((60, 80, 3), np.uint8), 0.5)[0].label == "person"


def test_dynamic_spatial_size_needs_the_size(tmp_path: Path) -> None:
    path = constant_model(tmp_path / "m.onnx", {"output0": _yolov8_out()}, input_shape=(1, 3, "h", "w"))
    with pytest.raises(ModelError) as err:
        inspect_model(path)
    assert str(path) in str(err.value) and "dynamic spatial size" in str(err.value)
    assert "width=" in str(err.value)
    info = inspect_model(path, width=40, height=24)
    assert (info.preprocess.width, info.preprocess.height) == (40, 24)
    assert info.dynamic_batch is False


def test_nhwc_uint8_bgr_input(tmp_path: Path) -> None:
    path = constant_model(
        tmp_path / "m.onnx", {"output0": _yolov8_out()}, input_shape=(1, 24, 40, 3), input_dtype=np.uint8
    )
    info = inspect_model(path, color="BGR")
    p = info.preprocess
    assert (p.data_format, p.width, p.height, p.dtype, p.scale) == ("NHWC", 40, 24, "uint8", 1.0)
    model = OnnxModel(info)
    frame = np.zeros((48, 80, 3), np.uint8)
    frame[:] = (10, 20, 30)
    tensor, _ = model.preprocess(frame)
    assert tensor.shape == (1, 24, 40, 3) and tensor.dtype == np.uint8
    assert tensor[0, 5, 5].tolist() == [10, 20, 30]
    assert len(model.detect(frame, 0.5)) == 1


def test_nhwc_float_input_with_mean_and_std(tmp_path: Path) -> None:
    path = constant_model(tmp_path / "m.onnx", {"output0": _yolov8_out()}, input_shape=(1, 16, 16, 3))
    info = inspect_model(path, mean=(0.5, 0.5, 0.5), std=(0.25, 0.5, 1.0))
    assert info.preprocess.data_format == "NHWC"
    frame = np.zeros((16, 16, 3), np.uint8)
    frame[:] = (0, 0, 255)  # pure red in BGR
    tensor, _ = OnnxModel(info).preprocess(frame)
    assert tensor.shape == (1, 16, 16, 3)
    # RGB order: R=(1-.5)/.25=2, G=(0-.5)/.5=-1, B=(0-.5)/1=-0.5
    assert tensor[0, 3, 3].tolist() == pytest.approx([2.0, -1.0, -0.5])


def test_label_count_mismatch_names_the_label_file(tmp_path: Path) -> None:
    path = constant_model(tmp_path / "m.onnx", {"output0": _yolov8_out(3)})
    labels = write_labels(tmp_path / "four.txt", ["a", "b", "c", "d"])
    with pytest.raises(LabelError) as err:
        inspect_model(path, labels)
    assert str(labels) in str(err.value)
    assert "4 labels" in str(err.value) and "3 classes" in str(err.value)


def test_metadata_label_count_mismatch(tmp_path: Path) -> None:
    path = color_classifier(tmp_path / "c.onnx", metadata={"names": "red,green"})
    with pytest.raises(LabelError, match=r"metadata has 2 labels .* 3 classes"):
        inspect_model(path)


def test_unknown_layout_lists_shapes_and_layouts_tried(tmp_path: Path) -> None:
    path = constant_model(tmp_path / "m.onnx", {"weird": np.zeros((1, 3, 5), np.float32)})
    with pytest.raises(UnknownLayoutError) as err:
        inspect_model(path)
    message = str(err.value)
    assert str(path) in message and "weird [1, 3, 5]" in message
    for kind in ("yolov5", "yolov8", "ssd", "boxes_scores", "classification"):
        assert kind in message


def test_task_disagreeing_with_the_outputs(tmp_path: Path) -> None:
    path = color_classifier(tmp_path / "c.onnx")
    assert inspect_model(path, task="classification").task == "classification"
    with pytest.raises(UnknownLayoutError, match="match no known layout"):
        inspect_model(path, task="detection")


def test_unknown_preprocess_setting(tmp_path: Path) -> None:
    path = color_classifier(tmp_path / "c.onnx")
    with pytest.raises(ModelError, match=r"unknown pre-processing setting.*colour"):
        inspect_model(path, colour="BGR")
    with pytest.raises(ModelError, match="fixed width of 16"):
        inspect_model(path, width=32)


def test_truncated_model(tmp_path: Path) -> None:
    good = constant_model(
        tmp_path / "good.onnx", {"output0": np.random.default_rng(0).random((1, 6, 4000), np.float32)}
    )
    data = good.read_bytes()
    bad = tmp_path / "truncated.onnx"
    bad.write_bytes(data[: len(data) * 2 // 3])
    with pytest.raises(ModelError) as err:
        inspect_model(bad)
    assert str(bad) in str(err.value) and "export it again" in str(err.value)


@pytest.mark.parametrize("content", [b"name,score\nperson,0.9\n", b"\x89PNG\r\n\x1a\n" + bytes(64)])
def test_file_that_is_not_onnx(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "model.onnx"
    path.write_bytes(content)
    with pytest.raises(ModelError) as err:
        inspect_model(path)
    assert str(path) in str(err.value)


def test_missing_model_file(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="file not found"):
        inspect_model(tmp_path / "nope.onnx")


def test_model_with_two_inputs_is_refused(tmp_path: Path) -> None:

    graph = helper.make_graph(
        [helper.make_node("Add", ["a", "b"], ["out"])],
        "two",
        [
            helper.make_tensor_value_info("a", TensorProto.FLOAT, [1, 3]),
            helper.make_tensor_value_info("b", TensorProto.FLOAT, [1, 3]),
        ],
        [helper.make_tensor_value_info("out", TensorProto.FLOAT, [1, 3])],
    )

    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, str(tmp_path / "two.onnx"))
    with pytest.raises(ModelError, match="2 inputs"):
        inspect_model(tmp_path / "two.onnx")
