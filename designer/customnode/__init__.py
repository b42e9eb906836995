"""Custom nodes over gRPC: the contract's stubs, the server SDK, the client, sample nodes.

Node authors need :class:`CustomNode`, :class:`CustomNodeServer` and the
codec helpers; the engine needs :class:`CustomNodeClient`, :class:`FrameData`
and :class:`ProcessResult`. Nothing here imports Qt.
"""

from pathlib import Path

from designer.customnode import custom_node_pb2 as pb2
from designer.customnode.client import CustomNodeClient, FrameData, HandshakeInfo, ProcessResult
from designer.customnode.errors import (
    AckMismatchError,
    CustomNodeError,
    DeadlineExceededError,
    FrameTooLargeError,
    HandshakeRefusedError,
    ImageCodecError,
    InvalidEndpointError,
    InvalidFrameError,
    ProcessFailedError,
    ProtocolError,
    ServerUnreachableError,
    UndecodableImageError,
)
from designer.customnode.images import decode_image, decode_request_image, encode_image
from designer.customnode.insights import (
    event_from_proto,
    event_to_proto,
    insights_from_proto,
    insights_to_proto,
    object_from_proto,
    object_meta,
    object_to_proto,
    roi_from_proto,
    roi_to_proto,
)
from designer.customnode.server import (
    DEFAULT_MAX_MESSAGE_BYTES,
    CustomNode,
    CustomNodeServer,
    ServerTls,
)

#: The contract itself, shipped with the package (exported skills include it).
CONTRACT_PROTO = Path(__file__).with_name("custom_node.proto")

__all__ = [
    "CONTRACT_PROTO",
    "DEFAULT_MAX_MESSAGE_BYTES",
    "AckMismatchError",
    "CustomNode",
    "CustomNodeClient",
    "CustomNodeError",
    "CustomNodeServer",
    "DeadlineExceededError",
    "FrameData",
    "FrameTooLargeError",
    "HandshakeInfo",
    "HandshakeRefusedError",
    "ImageCodecError",
    "InvalidEndpointError",
    "InvalidFrameError",
    "ProcessFailedError",
    "ProcessResult",
    "ProtocolError",
    "ServerTls",
    "ServerUnreachableError",
    "UndecodableImageError",
    "decode_image",
    "decode_request_image",
    "encode_image",
    "event_from_proto",
    "event_to_proto",
    "insights_from_proto",
    "insights_to_proto",
    "object_from_proto",
    "object_meta",
    "object_to_proto",
    "pb2",
    "roi_from_proto",
    "roi_to_proto",
]
