"""Endpoint strings of custom nodes: ``host:port``, ``grpc://host:port`` or ``grpcs://host:port``."""

from __future__ import annotations

import re
from dataclasses import dataclass

from designer.customnode.errors import InvalidEndpointError

_HOST_PORT = re.compile(r"^(?P<host>\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9_.-]+):(?P<port>\d{1,5})$")


@dataclass(frozen=True)
class Endpoint:
    """A parsed endpoint: gRPC ``target`` and whether the channel uses TLS."""

    host: str
    port: int
    tls: bool

    @property
    def target(self) -> str:
        return f"{self.host}:{self.port}"

    def __str__(self) -> str:
        return f"grpcs://{self.target}" if self.tls else self.target


def parse_endpoint(text: str) -> Endpoint:
    """Parse an endpoint, raising InvalidEndpointError with an example of the right form."""
    raw = str(text).strip()
    tls = False
    for scheme, secure in (("grpcs://", True), ("grpc://", False)):
        if raw.lower().startswith(scheme):
            raw, tls = raw[len(scheme):], secure
            break
    raw = raw.rstrip("/")
    match = _HOST_PORT.match(raw)
    port = int(match["port"]) if match else 0
    if not match or not 1 <= port <= 65535:
        raise InvalidEndpointError(
            str(text),
            "not a valid endpoint; write host:port (for example 127.0.0.1:6677), "
            "or grpcs://host:port for TLS, with a port in 1..65535",
        )
    return Endpoint(match["host"], port, tls)
