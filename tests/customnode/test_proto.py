"""The committed stubs match proto/custom_node.proto, and the proto matches the contract."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from designer.customnode import CONTRACT_PROTO, pb2
from designer.customnode.regenerate import DEFAULT_PROTO, STUB_NAMES, generate

# The contract's tables (docs/custom-node-contract.md): message -> {field: (number, type)}
T = "custom_node.Timestamp"
CONTRACT_MESSAGES = {
    "HandshakeRequest": {
        "seq": (1, "int64"),
        "instance_id": (2, "string"),
        "skill_id": (3, "string"),
        "device_id": (4, "string"),
    },
    "HandshakeResponse": {
        "ack": (1, "int64"),
        "image_type": (2, "custom_node.ImageType"),
        "process_request_type": (3, "custom_node.ProcessRequestType"),
        "process_response_type": (4, "custom_node.ProcessResponseType"),
    },
    "ProcessRequest": {"seq": (1, "int64"), "frame": (2, "custom_node.Frame")},
    "ProcessResponse": {
        "ack": (1, "int64"),
        "image": (2, "custom_node.Image"),
        "insights_meta": (3, "custom_node.InsightsMeta"),
    },
    "Frame": {
        "image": (1, "custom_node.Image"),
        "insights_meta": (2, "custom_node.InsightsMeta"),
        "timestamp": (3, T),
        "roi": (4, "custom_node.Roi"),
        "frame_id": (5, "string"),
        "datetime": (6, "string"),
    },
    "Image": {"image_pointer": (1, "bytes"), "properties": (2, "custom_node.ImageProperties")},
    "ImageProperties": {
        "height": (1, "int64"),
        "width": (2, "int64"),
        "color_format": (3, "custom_node.ColorFormat"),
    },
    "InsightsMeta": {
        "objects_meta": (1, "repeated custom_node.ObjectMeta"),
        "events_meta": (2, "repeated custom_node.EventMeta"),
        "other_meta": (3, "map<string,string>"),
    },
    "ObjectMeta": {
        "timestamp": (1, T),
        "label": (2, "string"),
        "confidence": (3, "float"),
        "inference_id": (4, "string"),
        "attributes": (5, "repeated custom_node.ObjectMetaAttribute"),
        "bbox": (6, "custom_node.BBox"),
        "tracking_info": (7, "custom_node.TrackingInfo"),
    },
    "ObjectMetaAttribute": {
        "timestamp": (1, T),
        "name": (2, "string"),
        "label": (3, "string"),
        "confidence": (4, "float"),
        "inference_id": (5, "string"),
    },
    "BBox": {"l": (1, "float"), "t": (2, "float"), "w": (3, "float"), "h": (4, "float")},
    "TrackingInfo": {
        "timestamp": (1, T),
        "tracking_id": (2, "string"),
        "speed": (3, "float"),
        "direction": (4, "custom_node.Direction"),
    },
    "Direction": {"x": (1, "float"), "y": (2, "float")},
    "EventMeta": {
        "timestamp": (1, T),
        "type": (2, "string"),
        "event_id": (3, "string"),
        "related_ids": (4, "repeated string"),
        "properties": (5, "map<string,string>"),
    },
    "Point": {"x": (1, "float"), "y": (2, "float")},
    "Roi": {
        "name": (1, "string"),
        "type": (2, "custom_node.RoiType"),
        "id": (3, "string"),
        "value": (4, "string"),
    },
    "Timestamp": {"seconds": (1, "int64"), "nanos": (2, "int32")},
}
CONTRACT_ENUMS = {
    "ImageType": {"IMAGE_TYPE_NUMPY": 0, "IMAGE_TYPE_BMP": 1, "IMAGE_TYPE_JPEG": 2},
    "ProcessRequestType": {"FRAME_WITH_IMAGE": 0, "FRAME_WITHOUT_IMAGE": 1},
    "ProcessResponseType": {
        "IMAGE_ONLY": 0,
        "INSIGHTS_META_ONLY": 1,
        "IMAGE_AND_INSIGHTS_META": 2,
        "EMPTY": 3,
    },
    "ColorFormat": {"COLOR_FORMAT_BGR": 0, "COLOR_FORMAT_RGB": 1},
    "RoiType": {"LINE": 0, "POLYGON": 1},
}
_SCALARS = {3: "int64", 5: "int32", 9: "string", 12: "bytes", 2: "float"}


def _type_name(field) -> str:
    if field.message_type is not None and field.message_type.GetOptions().map_entry:
        key, value = field.message_type.fields
        return f"map<{_SCALARS[key.type]},{_SCALARS[value.type]}>"
    if field.message_type is not None:
        name = field.message_type.full_name
    elif field.enum_type is not None:
        name = field.enum_type.full_name
    else:
        name = _SCALARS[field.type]
    repeated = field.is_repeated if hasattr(field, "is_repeated") else field.label == 3
    return f"repeated {name}" if repeated else name


def test_every_message_has_exactly_the_contract_fields():
    descriptor = pb2.DESCRIPTOR
    assert descriptor.package == "custom_node"
    assert set(descriptor.message_types_by_name) == set(CONTRACT_MESSAGES)
    for name, fields in CONTRACT_MESSAGES.items():
        message = descriptor.message_types_by_name[name]
        actual = {f.name: (f.number, _type_name(f)) for f in message.fields}
        assert actual == fields, name


def test_every_enum_has_exactly_the_contract_values():
    assert set(pb2.DESCRIPTOR.enum_types_by_name) == set(CONTRACT_ENUMS)
    for name, values in CONTRACT_ENUMS.items():
        enum = pb2.DESCRIPTOR.enum_types_by_name[name]
        assert {v.name: v.number for v in enum.values} == values, name


def test_service_keeps_the_poss_methods_and_adds_only_the_stream():
    service = pb2.DESCRIPTOR.services_by_name["CustomNodeHandler"]
    methods = {m.name: m for m in service.methods}
    assert set(methods) == {"Handshake", "Process", "ProcessStream"}
    assert service.full_name == "custom_node.CustomNodeHandler"  # wire path prefix
    for name in ("Handshake", "Process"):
        assert not methods[name].client_streaming and not methods[name].server_streaming
    assert methods["Handshake"].input_type.name == "HandshakeRequest"
    assert methods["Process"].output_type.name == "ProcessResponse"
    stream = methods["ProcessStream"]
    assert stream.client_streaming and stream.server_streaming
    assert stream.input_type.name == "ProcessRequest"
    assert stream.output_type.name == "ProcessResponse"


def _without_versions(text: str) -> str:
    # The stubs record the grpcio-tools / protobuf versions that made them; another
    # version of the tools must not make the comparison fail, a change of the proto must.
    text = re.sub(r"Protobuf Python Version: \S+", "", text)
    text = re.sub(r"ValidateProtobufRuntimeVersion\([^)]*\)", "", text)
    return re.sub(r"GRPC_GENERATED_VERSION = '[^']*'", "", text)


def test_committed_stubs_are_what_the_proto_generates(tmp_path: Path):
    pytest.importorskip("grpc_tools")
    generate(DEFAULT_PROTO, tmp_path)
    committed = Path(pb2.__file__).parent
    for name in STUB_NAMES:
        fresh = (tmp_path / name).read_text(encoding="utf-8")
        assert "from designer.customnode import custom_node_pb2" in fresh or name.endswith(
            ("pb2.py", "pb2.pyi")
        )
        assert _without_versions(fresh) == _without_versions(
            (committed / name).read_text(encoding="utf-8")
        ), f"{name} is stale: run python -m designer.customnode.regenerate"
    assert CONTRACT_PROTO.read_bytes() == DEFAULT_PROTO.read_bytes(), "the shipped proto is stale"


def test_stubs_import_as_part_of_the_package():
    from designer.customnode import custom_node_pb2_grpc

    text = Path(custom_node_pb2_grpc.__file__).read_text(encoding="utf-8")
    assert "\nimport custom_node_pb2" not in text
    assert custom_node_pb2_grpc.custom__node__pb2 is pb2
