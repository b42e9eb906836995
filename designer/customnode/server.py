"""Server SDK with the shape POSS users know: ``CustomNode`` + ``CustomNodeServer``.

A node subclasses :class:`CustomNode` and implements ``Handshake`` and
``Process`` returning the generated response messages. The base class adds
the streaming method on top of ``Process``, so every SDK node speaks both.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from concurrent import futures
from dataclasses import dataclass
from pathlib import Path

import grpc

from designer.customnode import custom_node_pb2 as pb2
from designer.customnode import custom_node_pb2_grpc as pb2_grpc

log = logging.getLogger(__name__)

#: Both ways: a raw 1920x1080 frame is 6.2 MB and a raw 4K one 25 MB; gRPC's default is 4 MiB.
DEFAULT_MAX_MESSAGE_BYTES = 64 * 1024 * 1024


def channel_options(max_message_bytes: int) -> list[tuple[str, int]]:
    """gRPC options raising the message size limits (used by server and client alike)."""
    return [
        ("grpc.max_send_message_length", max_message_bytes),
        ("grpc.max_receive_message_length", max_message_bytes),
    ]


class CustomNode(pb2_grpc.CustomNodeHandlerServicer):
    """Base class of a custom node: implement ``Handshake`` and ``Process``.

    ``ProcessStream`` answers each streamed request with ``Process``, in
    order, so a node written for POSS gets the streaming speed-up for free.
    """

    def Handshake(
        self, request: pb2.HandshakeRequest, context: grpc.ServicerContext
    ) -> pb2.HandshakeResponse:
        raise NotImplementedError(f"{type(self).__name__} must implement Handshake")

    def Process(self, request: pb2.ProcessRequest, context: grpc.ServicerContext) -> pb2.ProcessResponse:
        raise NotImplementedError(f"{type(self).__name__} must implement Process")

    def ProcessStream(
        self, request_iterator: Iterator[pb2.ProcessRequest], context: grpc.ServicerContext
    ) -> Iterator[pb2.ProcessResponse]:
        for request in request_iterator:
            response = self.Process(request, context)
            code = context.code()  # type: ignore[attr-defined]  # grpcio has it (1.38+); the stubs lack it
            if response is None or (code is not None and code != grpc.StatusCode.OK):
                # End the stream the way a unary call would end: the node's code and details.
                given = context.details()  # type: ignore[attr-defined]  # like code(): a stub gap
                details = given or f"{type(self).__name__}.Process returned no response"
                context.abort(code or grpc.StatusCode.UNKNOWN, details)
            yield response


class _Logged(pb2_grpc.CustomNodeHandlerServicer):
    """Serves a node; an exception in its code is logged with its traceback (gRPC itself only
    tells the client "Exception calling application") and the client hears which method raised
    what. A deliberate ``context.abort`` passes through untouched."""

    def __init__(self, node: pb2_grpc.CustomNodeHandlerServicer) -> None:
        self.node = node
        self.name = type(node).__name__

    def _failed(self, method: str, exc: Exception, context: grpc.ServicerContext, where: str) -> None:
        code = context.code()  # type: ignore[attr-defined]  # grpcio has it (1.38+); the stubs lack it
        if code is not None and code != grpc.StatusCode.OK:  # the node aborted on purpose
            raise exc
        log.error("%s.%s failed%s", self.name, method, where, exc_info=exc)
        context.abort(
            grpc.StatusCode.INTERNAL,
            f"{self.name}.{method} raised {type(exc).__name__}: {exc} (the traceback is in the node's log)",
        )

    def Handshake(
        self, request: pb2.HandshakeRequest, context: grpc.ServicerContext
    ) -> pb2.HandshakeResponse:
        try:
            return self.node.Handshake(request, context)
        except Exception as exc:
            self._failed("Handshake", exc, context, "")
            raise

    def Process(self, request: pb2.ProcessRequest, context: grpc.ServicerContext) -> pb2.ProcessResponse:
        try:
            return self.node.Process(request, context)
        except Exception as exc:
            self._failed("Process", exc, context, f" on frame {request.frame.frame_id}")
            raise

    def ProcessStream(
        self, request_iterator: Iterator[pb2.ProcessRequest], context: grpc.ServicerContext
    ) -> Iterator[pb2.ProcessResponse]:
        current: list[str] = [""]

        def tracked() -> Iterator[pb2.ProcessRequest]:
            for request in request_iterator:
                current[0] = request.frame.frame_id
                yield request

        try:
            yield from self.node.ProcessStream(tracked(), context)
        except Exception as exc:
            self._failed("Process", exc, context, f" on frame {current[0]}")
            raise


@dataclass(frozen=True)
class ServerTls:
    """PEM certificate chain and private key for a TLS server."""

    certificate_chain: bytes
    private_key: bytes

    @classmethod
    def from_files(cls, certificate_chain: str | Path, private_key: str | Path) -> ServerTls:
        return cls(Path(certificate_chain).read_bytes(), Path(private_key).read_bytes())


class CustomNodeServer:
    """Serves one node on ``host:port``; port 0 picks a free port (see :attr:`port`)."""

    def __init__(
        self,
        port: int,
        node: CustomNode,
        *,
        host: str = "[::]",
        tls: ServerTls | None = None,
        max_workers: int = 8,
        max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES,
    ) -> None:
        self.node = node
        self.host = host
        self._requested_port = port
        self._tls = tls
        self._max_workers = max_workers
        self._max_message_bytes = max_message_bytes
        self._server: grpc.Server | None = None
        self._port = 0

    @property
    def port(self) -> int:
        """The bound port (differs from the requested one when that was 0)."""
        return self._port or self._requested_port

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    def start(self) -> CustomNodeServer:
        """Start serving in background threads and return at once."""
        if self._server is not None:
            return self
        server = grpc.server(
            futures.ThreadPoolExecutor(max_workers=self._max_workers),
            # without this gRPC sets SO_REUSEPORT: a second server on a busy port would
            # silently share it and take half the connections
            options=[*channel_options(self._max_message_bytes), ("grpc.so_reuseport", 0)],
        )
        pb2_grpc.add_CustomNodeHandlerServicer_to_server(_Logged(self.node), server)
        target = f"{self.host}:{self._requested_port}"
        try:
            if self._tls is None:
                bound = server.add_insecure_port(target)
            else:
                credentials = grpc.ssl_server_credentials(
                    [(self._tls.private_key, self._tls.certificate_chain)]
                )
                bound = server.add_secure_port(target, credentials)
        except RuntimeError as exc:
            raise OSError(f"cannot listen on {target}: {exc}; is the port in use?") from exc
        if bound == 0:
            raise OSError(f"cannot listen on {target}; is the port in use?")
        server.start()
        self._server, self._port = server, bound
        log.info("custom node %s listening on %s", type(self.node).__name__, self.address)
        return self

    def stop(self, grace: float | None = None) -> None:
        """Stop serving; in-flight calls get ``grace`` seconds to finish (None: none)."""
        if self._server is not None:
            self._server.stop(grace).wait()
            self._server = None

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the server stops (or ``timeout``); True if it stopped."""
        server = self._server
        if server is None:
            return True
        return not server.wait_for_termination(timeout)  # gRPC returns True on timeout

    def serve(self, *, announce: bool = True) -> None:
        """Start and block until interrupted (Ctrl+C stops gracefully).

        Says where it listens, and shows the node's errors (with tracebacks) on stderr unless
        the program configured logging itself.
        """
        if not logging.getLogger().handlers:
            logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
        self.start()
        if announce:
            print(f"{type(self.node).__name__} listening on {self.address} (Ctrl+C stops)", flush=True)
        try:
            self.wait()
        except KeyboardInterrupt:
            self.stop(grace=1.0)

    def __enter__(self) -> CustomNodeServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
