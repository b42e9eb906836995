"""Client side of the contract, used by the engine's gRPC custom-processing node.

The engine hands plain :class:`FrameData` and gets plain :class:`ProcessResult`
back; protobuf never leaks out. The client connects and handshakes lazily,
checks every ack, uses the streaming method when the server has it (falling
back to unary ``Process`` on UNIMPLEMENTED, once per connection), and after a
failure drops the connection and retries with exponential backoff and a fresh
handshake. While backing off, ``process`` fails at once instead of waiting,
so a dead server never stalls the pipeline.

What a server returns is checked once, here (``sanitize_insights``): boxes
outside 0..1 are clipped into the frame (common with detectors), confidences
clamped into 0..1, and objects with NaN or infinite values dropped; each kind
of fix is listed in ``ProcessResult.fixes`` for the caller to report.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import NoReturn

import grpc
import numpy as np

from designer.customnode import custom_node_pb2 as pb2
from designer.customnode import custom_node_pb2_grpc as pb2_grpc
from designer.customnode.endpoint import parse_endpoint
from designer.customnode.errors import (
    AckMismatchError,
    CustomNodeError,
    DeadlineExceededError,
    FrameTooLargeError,
    HandshakeRefusedError,
    ImageCodecError,
    InvalidFrameError,
    ProcessFailedError,
    ProtocolError,
    ServerUnreachableError,
    UndecodableImageError,
)
from designer.customnode.images import check_frame, decode_image, encode_pixels
from designer.customnode.insights import (
    insights_from_proto,
    insights_to_proto,
    roi_to_proto,
    sanitize_insights,
    set_timestamp,
)
from designer.customnode.server import DEFAULT_MAX_MESSAGE_BYTES, channel_options

log = logging.getLogger(__name__)

_WITH_IMAGE = (pb2.IMAGE_ONLY, pb2.IMAGE_AND_INSIGHTS_META)
_WITH_INSIGHTS = (pb2.INSIGHTS_META_ONLY, pb2.IMAGE_AND_INSIGHTS_META)
# codes after which the server is probably gone or stuck: wait before reconnecting
_BACKOFF_CODES = (
    grpc.StatusCode.UNAVAILABLE,
    grpc.StatusCode.DEADLINE_EXCEEDED,
    grpc.StatusCode.CANCELLED,
)


@dataclass
class FrameData:
    """What the engine hands the client per frame."""

    image: np.ndarray  # H x W x 3 uint8, BGR
    frame_id: str
    timestamp: float  # epoch seconds
    insights_meta: dict  # {"objects_meta": [...], "events_meta": [...], "other_meta": {}}
    roi: dict | None = None  # {"name", "type": "LINE" | "POLYGON", "id", "value"}


@dataclass
class ProcessResult:
    """What the server returned, per its declared response type."""

    image: np.ndarray | None  # replaces the frame downstream; BGR
    insights_meta: dict | None  # objects / events to merge; None for IMAGE_ONLY and EMPTY
    fixes: list[str] = field(default_factory=list)  # what was dropped, clamped or clipped, by kind


@dataclass(frozen=True)
class HandshakeInfo:
    """What the server declared in its handshake (contract enum values)."""

    image_type: int
    process_request_type: int
    process_response_type: int

    def describe(self) -> str:
        return ", ".join(
            (
                pb2.ImageType.Name(self.image_type),
                pb2.ProcessRequestType.Name(self.process_request_type),
                pb2.ProcessResponseType.Name(self.process_response_type),
            )
        )


class _StreamClosed(Exception):
    """The server ended the stream without answering."""


class _StreamTimeout(Exception):
    """No streamed answer within the deadline."""


class _FrameStream:
    """One ProcessStream call used as a request/response pipe with per-frame deadlines.

    gRPC's blocking iterator has no timeout, so a reader thread moves answers
    into a queue that the caller waits on with one.
    """

    _CLOSE = object()
    _END = object()

    def __init__(self, stub: pb2_grpc.CustomNodeHandlerStub) -> None:
        self._requests: queue.SimpleQueue = queue.SimpleQueue()
        self._responses: queue.SimpleQueue = queue.SimpleQueue()
        self._call = stub.ProcessStream(iter(self._requests.get, self._CLOSE))
        threading.Thread(target=self._read, name="custom-node-stream", daemon=True).start()

    def _read(self) -> None:
        try:
            for response in self._call:
                self._responses.put(response)
            self._responses.put(self._END)
        except grpc.RpcError as exc:
            self._responses.put(exc)

    def exchange(self, request: pb2.ProcessRequest, timeout: float) -> pb2.ProcessResponse:
        self._requests.put(request)
        try:
            item = self._responses.get(timeout=timeout)
        except queue.Empty:
            raise _StreamTimeout from None
        if isinstance(item, grpc.RpcError):
            raise item
        if item is self._END:
            raise _StreamClosed
        return item

    def close(self) -> None:
        self._requests.put(self._CLOSE)
        self._call.cancel()


class CustomNodeClient:
    """Talks to one custom node at ``endpoint`` (``host:port`` or ``grpcs://host:port``).

    Not meant for concurrent use from many threads: calls are serialised by a
    lock, since the contract's seq numbers are per connection and ordered.
    """

    def __init__(
        self,
        endpoint: str,
        *,
        instance_id: str = "",
        skill_id: str = "",
        device_id: str = "",
        timeout: float = 2.0,
        connect_timeout: float | None = None,
        streaming: bool = True,
        max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES,
        root_certificates: bytes | None = None,
        backoff_initial: float = 0.25,
        backoff_max: float = 10.0,
        jpeg_quality: int = 90,
    ) -> None:
        self._endpoint = parse_endpoint(endpoint)
        self.endpoint = str(self._endpoint)
        if timeout <= 0:
            raise ValueError(f"custom node {self.endpoint}: timeout must be > 0 s, got {timeout}")
        self.instance_id, self.skill_id, self.device_id = instance_id, skill_id, device_id
        self.timeout = timeout
        self.connect_timeout = connect_timeout if connect_timeout is not None else timeout
        self.streaming = streaming
        self.max_message_bytes = max_message_bytes
        self.root_certificates = root_certificates
        self.backoff_initial, self.backoff_max = backoff_initial, backoff_max
        self.jpeg_quality = jpeg_quality
        self._lock = threading.Lock()
        self._channel: grpc.Channel | None = None
        self._stub: pb2_grpc.CustomNodeHandlerStub | None = None
        self._handshake: HandshakeInfo | None = None
        self._stream: _FrameStream | None = None
        self._stream_tried = False
        self._seq = 0
        self._failures = 0
        self._retry_at = 0.0
        self._last_error: CustomNodeError | None = None
        self._closed = False

    # -- public ---------------------------------------------------------------------------

    @property
    def handshake(self) -> HandshakeInfo | None:
        """What the connected server declared; None while not connected."""
        return self._handshake

    @property
    def transport(self) -> str | None:
        """``"stream"`` or ``"unary"`` once a frame went through on this connection, else None."""
        if self._handshake is None or (self.streaming and not self._stream_tried):
            return None
        return "stream" if self._stream is not None else "unary"

    @property
    def reconnect_in(self) -> float:
        """Seconds until the next connection attempt is allowed (0: a call would try now)."""
        if self._handshake is not None:
            return 0.0
        return max(self._retry_at - time.monotonic(), 0.0)

    def connect(self) -> HandshakeInfo:
        """Connect and handshake now (``process`` does it lazily anyway)."""
        with self._lock:
            self._check_open()
            return self._ensure_connected()

    def process(self, frame: FrameData) -> ProcessResult:
        """Send one frame and return what the server answered, per its response type."""
        with self._lock:
            self._check_open()
            handshake = self._ensure_connected()
            request = self._build_request(frame, handshake)
            request.seq = self._seq + 1
            response = self._exchange(request, frame.frame_id)
            self._seq = request.seq
            if response.ack != request.seq:
                self._fail(
                    AckMismatchError(
                        self.endpoint,
                        f"frame {frame.frame_id}: sent seq {request.seq} but got ack "
                        f"{response.ack}; the server must answer ack = request.seq",
                    )
                )
            return self._read_response(response, handshake, frame)

    def close(self) -> None:
        """Drop the connection; the client cannot be used afterwards.

        Does not wait for a call in flight: cancelling the channel ends it at once.
        """
        self._closed = True
        channel, stream = self._channel, self._stream
        if stream is not None:
            stream.close()
        if channel is not None:
            channel.close()
        with self._lock:
            self._disconnect()

    def __enter__(self) -> CustomNodeClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- connection -----------------------------------------------------------------------

    def _check_open(self) -> None:
        if self._closed:
            raise CustomNodeError(self.endpoint, "the client is closed; create a new one")

    def _ensure_connected(self) -> HandshakeInfo:
        if self._handshake is not None:
            return self._handshake
        wait = self._retry_at - time.monotonic()
        if wait > 0 and self._last_error is not None:
            last = self._last_error
            raise type(last)(self.endpoint, f"{last.detail} (next reconnect in {wait:.1f} s)")
        try:
            return self._open()
        except CustomNodeError as exc:
            self._fail(exc)

    def _open(self) -> HandshakeInfo:
        options = channel_options(self.max_message_bytes)
        if self._endpoint.tls:
            credentials = grpc.ssl_channel_credentials(root_certificates=self.root_certificates)
            channel = grpc.secure_channel(self._endpoint.target, credentials, options=options)
        else:
            channel = grpc.insecure_channel(self._endpoint.target, options=options)
        self._channel = channel
        self._stub = pb2_grpc.CustomNodeHandlerStub(channel)
        request = pb2.HandshakeRequest(
            seq=1, instance_id=self.instance_id, skill_id=self.skill_id, device_id=self.device_id
        )
        try:
            response = self._stub.Handshake(request, timeout=self.connect_timeout)
        except grpc.RpcError as exc:
            raise self._rpc_error(exc, "the handshake", self.connect_timeout) from None
        if response.ack != 1:
            raise AckMismatchError(
                self.endpoint,
                f"handshake sent seq 1 but got ack {response.ack}; the server must answer ack = request.seq",
            )
        for name, enum in (
            ("image_type", pb2.ImageType),
            ("process_request_type", pb2.ProcessRequestType),
            ("process_response_type", pb2.ProcessResponseType),
        ):
            value = getattr(response, name)
            if value not in enum.values():
                raise ProtocolError(
                    self.endpoint,
                    f"the handshake declared {name} = {value}, which the contract does not "
                    f"define (known: {', '.join(enum.keys())}); fix the server",
                )
        self._handshake = HandshakeInfo(
            response.image_type, response.process_request_type, response.process_response_type
        )
        self._seq = 1
        self._failures = 0
        self._last_error = None
        log.info("custom node %s connected: %s", self.endpoint, self._handshake.describe())
        return self._handshake

    def _disconnect(self) -> None:
        if self._stream is not None:
            self._stream.close()
        if self._channel is not None:
            self._channel.close()
        self._channel = self._stub = self._handshake = self._stream = None
        self._stream_tried = False

    def _fail(self, error: CustomNodeError, backoff: bool = True) -> NoReturn:
        """Drop the connection, schedule the next attempt, raise ``error``."""
        self._disconnect()
        if backoff:
            delay = min(self.backoff_initial * 2**self._failures, self.backoff_max)
            self._failures += 1
            self._retry_at = time.monotonic() + delay
            self._last_error = error
        raise error

    # -- one frame ------------------------------------------------------------------------

    def _build_request(self, frame: FrameData, handshake: HandshakeInfo) -> pb2.ProcessRequest:
        # Filled in place: nested constructors and ByteSize() each copy or walk the
        # pixels, which cost more than the whole loopback round trip of a raw frame.
        where = f"frame {frame.frame_id}"
        request = pb2.ProcessRequest()
        message = request.frame
        try:
            check_frame(frame.image)
            properties = message.image.properties
            properties.height, properties.width = frame.image.shape[:2]
            if handshake.process_request_type == pb2.FRAME_WITH_IMAGE:
                message.image.image_pointer = encode_pixels(
                    frame.image, handshake.image_type, jpeg_quality=self.jpeg_quality
                )
            message.insights_meta.CopyFrom(insights_to_proto(frame.insights_meta))
            message.frame_id = str(frame.frame_id)
            message.datetime = datetime.fromtimestamp(frame.timestamp, UTC).isoformat(timespec="milliseconds")
            set_timestamp(message.timestamp, frame.timestamp)
            if frame.roi:
                message.roi.CopyFrom(roi_to_proto(frame.roi))
        except (ImageCodecError, ValueError, TypeError, AttributeError) as exc:
            raise InvalidFrameError(self.endpoint, f"{where} cannot be sent: {exc}") from None
        # an upper bound of the wire size, without serialising the pixels once more
        size = len(message.image.image_pointer) + message.insights_meta.ByteSize() + 1024
        if size > self.max_message_bytes:
            raise FrameTooLargeError(
                self.endpoint,
                f"{where} is {size} bytes on the wire, over the {self.max_message_bytes}-byte "
                "message limit; raise max_message_bytes on client and server, or have the "
                "server ask for JPEG",
            )
        return request

    def _exchange(self, request: pb2.ProcessRequest, frame_id: str) -> pb2.ProcessResponse:
        what = f"frame {frame_id}"
        stub = self._stub
        assert stub is not None, "_ensure_connected() runs first, under the same lock"
        try:
            if self.streaming and not self._stream_tried:
                self._stream_tried = True
                stream = _FrameStream(stub)
                try:
                    response = stream.exchange(request, self.timeout)
                except grpc.RpcError as exc:
                    stream.close()
                    if exc.code() != grpc.StatusCode.UNIMPLEMENTED:
                        raise
                    log.info("custom node %s has no ProcessStream; using Process", self.endpoint)
                except BaseException:
                    stream.close()
                    raise
                else:
                    self._stream = stream
                    return response
            if self._stream is not None:
                return self._stream.exchange(request, self.timeout)
            return stub.Process(request, timeout=self.timeout)
        except grpc.RpcError as exc:
            error = self._rpc_error(exc, what, self.timeout)
            if isinstance(error, ProcessFailedError) and self._stream is None:
                # The server refused this frame; the unary connection itself is fine: keep it.
                self._seq = request.seq
                raise error from None
            self._fail(error, exc.code() in _BACKOFF_CODES)
        except _StreamTimeout:
            self._fail(self._deadline_error(what, self.timeout))
        except _StreamClosed:
            self._fail(ProtocolError(self.endpoint, f"the server ended the stream at {what}"))

    def _read_response(
        self, response: pb2.ProcessResponse, handshake: HandshakeInfo, frame: FrameData
    ) -> ProcessResult:
        where = f"frame {frame.frame_id}"
        kind = handshake.process_response_type
        image = insights = None
        if kind in _WITH_IMAGE:
            if not response.image.image_pointer:
                raise ProtocolError(
                    self.endpoint,
                    f"{where}: the server declared {pb2.ProcessResponseType.Name(kind)} "
                    "but returned no image",
                )
            try:
                image = decode_image(response.image, handshake.image_type, default_size=frame.image.shape[:2])
            except ImageCodecError as exc:
                raise UndecodableImageError(
                    self.endpoint, f"{where}: cannot decode the returned image: {exc}"
                ) from None
        if kind in _WITH_INSIGHTS:
            insights = insights_from_proto(response.insights_meta)
            fixes = sanitize_insights(insights)
            if fixes:
                log.debug("custom node %s: %s: %s", self.endpoint, where, "; ".join(fixes))
            return ProcessResult(image=image, insights_meta=insights, fixes=fixes)
        return ProcessResult(image=image, insights_meta=insights)

    # -- errors ---------------------------------------------------------------------------

    def _deadline_error(self, what: str, timeout: float) -> DeadlineExceededError:
        return DeadlineExceededError(
            self.endpoint, f"no answer to {what} within {timeout:g} s; is the server overloaded?"
        )

    def _rpc_error(self, exc: grpc.RpcError, what: str, timeout: float) -> CustomNodeError:
        code, details = exc.code(), exc.details() or ""
        if self._closed:
            return CustomNodeError(self.endpoint, f"the client was closed during {what}")
        if code == grpc.StatusCode.UNAVAILABLE:
            return ServerUnreachableError(
                self.endpoint,
                f"no server answers ({details}); is it running, and are host and port right?",
            )
        if code == grpc.StatusCode.DEADLINE_EXCEEDED:
            return self._deadline_error(what, timeout)
        if code == grpc.StatusCode.RESOURCE_EXHAUSTED:
            return FrameTooLargeError(
                self.endpoint,
                f"{what} was refused as too large ({details}); raise the message size limit "
                "on both sides, or have the server ask for JPEG",
            )
        if what == "the handshake":
            if code == grpc.StatusCode.UNIMPLEMENTED:
                details = "the server does not implement custom_node.CustomNodeHandler"
            return HandshakeRefusedError(self.endpoint, f"the handshake was refused: {code.name}: {details}")
        if code == grpc.StatusCode.CANCELLED:
            return ServerUnreachableError(self.endpoint, f"the call for {what} was cancelled")
        for jargon in ("Exception iterating responses: ", "Exception calling application: "):
            if details.startswith(jargon):  # gRPC's words for "the node's code raised"
                details = (
                    f"the node's code raised an exception: {details[len(jargon) :]} (see the server's log)"
                )
        return ProcessFailedError(self.endpoint, f"the server failed on {what}: {code.name}: {details}")
