"""Errors of the custom-node client and SDK.

Every client error names the endpoint and says what to do, so the engine can
show it on the node as is. Catch :class:`CustomNodeError` for all of them.
"""

from __future__ import annotations


class CustomNodeError(Exception):
    """Base class: something went wrong talking to a custom node at ``endpoint``."""

    def __init__(self, endpoint: str, message: str) -> None:
        self.endpoint = endpoint
        self.detail = message
        super().__init__(f"custom node {endpoint}: {message}")


class InvalidEndpointError(CustomNodeError, ValueError):
    """The endpoint string is not ``host:port`` or ``grpcs://host:port``."""


class ServerUnreachableError(CustomNodeError):
    """No server answers at the endpoint (down, wrong port, connection dropped)."""


class HandshakeRefusedError(CustomNodeError):
    """The server answered the handshake with an error status."""


class ProtocolError(CustomNodeError):
    """The server broke the contract (unknown enum value, missing image, bad box...)."""


class AckMismatchError(ProtocolError):
    """A response's ``ack`` is not the request's ``seq``."""


class ProcessFailedError(CustomNodeError):
    """The server's Process failed with an error status (an exception in the node)."""


class UndecodableImageError(CustomNodeError):
    """The image the server returned cannot be decoded (truncated, corrupt, wrong size)."""


class DeadlineExceededError(CustomNodeError):
    """The server did not answer within the per-call deadline."""


class FrameTooLargeError(CustomNodeError):
    """A request or response exceeds the gRPC message size limit."""


class InvalidFrameError(CustomNodeError, ValueError):
    """The caller handed the client a frame that cannot be sent (not H x W x 3 uint8)."""


class ImageCodecError(ValueError):
    """An image cannot be encoded or decoded; raised by the codec helpers for node authors."""
