"""Sample custom nodes: runnable with ``skill-designer serve-sample NAME`` and meant to be read.

Each one is what a user would write: a ``CustomNode`` subclass with
``Handshake`` and ``Process``, using the codec helpers of this package.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

import cv2
import grpc

from designer.customnode import custom_node_pb2 as pb2
from designer.customnode.errors import ImageCodecError
from designer.customnode.images import decode_request_image, encode_image
from designer.customnode.insights import object_meta
from designer.customnode.server import CustomNode


class FakeDetection(CustomNode):
    """POSS's sample: one ``car`` at 0.9 in every frame, whatever the pixels."""

    def __init__(self, image_type: pb2.ImageType = pb2.IMAGE_TYPE_NUMPY) -> None:
        self.image_type = image_type

    def Handshake(
        self, request: pb2.HandshakeRequest, context: grpc.ServicerContext
    ) -> pb2.HandshakeResponse:
        return pb2.HandshakeResponse(
            ack=request.seq,
            image_type=self.image_type,
            process_request_type=pb2.FRAME_WITH_IMAGE,
            process_response_type=pb2.INSIGHTS_META_ONLY,
        )

    def Process(self, request: pb2.ProcessRequest, context: grpc.ServicerContext) -> pb2.ProcessResponse:
        frame_time = request.frame.timestamp
        car = object_meta("car", 0.9, (0.1, 0.2, 0.3, 0.4), inference_id="fake-detection")
        car.timestamp.CopyFrom(frame_time)
        insights = pb2.InsightsMeta(objects_meta=[car])
        return pb2.ProcessResponse(ack=request.seq, insights_meta=insights)


class Flip(CustomNode):
    """Mirrors the frame left to right and returns only the image (IMAGE_ONLY)."""

    def __init__(self, image_type: pb2.ImageType = pb2.IMAGE_TYPE_NUMPY) -> None:
        self.image_type = image_type

    def Handshake(
        self, request: pb2.HandshakeRequest, context: grpc.ServicerContext
    ) -> pb2.HandshakeResponse:
        return pb2.HandshakeResponse(
            ack=request.seq,
            image_type=self.image_type,
            process_request_type=pb2.FRAME_WITH_IMAGE,
            process_response_type=pb2.IMAGE_ONLY,
        )

    def Process(self, request: pb2.ProcessRequest, context: grpc.ServicerContext) -> pb2.ProcessResponse:
        try:
            frame = decode_request_image(request)
        except ImageCodecError as exc:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"flip cannot read the frame: {exc}")
        if frame is None:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, "flip needs the frame's pixels")
        image = encode_image(cv2.flip(frame, 1), self.image_type)
        return pb2.ProcessResponse(ack=request.seq, image=image)


class BoxCounter(CustomNode):
    """Needs no pixels (FRAME_WITHOUT_IMAGE): emits one event counting the upstream objects."""

    def __init__(self, image_type: pb2.ImageType = pb2.IMAGE_TYPE_NUMPY) -> None:
        self.image_type = image_type  # declared only: the client sends no pixels

    def Handshake(
        self, request: pb2.HandshakeRequest, context: grpc.ServicerContext
    ) -> pb2.HandshakeResponse:
        return pb2.HandshakeResponse(
            ack=request.seq,
            image_type=self.image_type,
            process_request_type=pb2.FRAME_WITHOUT_IMAGE,
            process_response_type=pb2.INSIGHTS_META_ONLY,
        )

    def Process(self, request: pb2.ProcessRequest, context: grpc.ServicerContext) -> pb2.ProcessResponse:
        objects = request.frame.insights_meta.objects_meta
        per_label = Counter(obj.label for obj in objects)
        tracked = [obj.tracking_info.tracking_id for obj in objects]
        event = pb2.EventMeta(
            type="box_count",
            event_id=f"{request.frame.frame_id}-box-count",
            related_ids=[tracking_id for tracking_id in tracked if tracking_id],
            properties={"count": str(len(objects))}
            | {f"count.{label}": str(n) for label, n in sorted(per_label.items())},
        )
        event.timestamp.CopyFrom(request.frame.timestamp)
        insights = pb2.InsightsMeta(events_meta=[event])
        return pb2.ProcessResponse(ack=request.seq, insights_meta=insights)


@dataclass(frozen=True)
class Sample:
    """A sample node the CLI can serve."""

    factory: Callable[[pb2.ImageType], CustomNode]  # takes the image type to ask for
    default_port: int
    summary: str


SAMPLES: dict[str, Sample] = {
    "fake-detection": Sample(FakeDetection, 6677, "one 'car' at 0.9 per frame (INSIGHTS_META_ONLY)"),
    "flip": Sample(Flip, 6678, "mirrors the frame (IMAGE_ONLY)"),
    "box-counter": Sample(BoxCounter, 6679, "an event counting upstream objects (FRAME_WITHOUT_IMAGE)"),
}
