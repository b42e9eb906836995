"""Endpoint strings of custom nodes: ``host:port``, ``grpc://host:port`` or ``grpcs://host:port``."""

from __future__ import annotations

from dataclasses import dataclass

from designer.core.skill.fields import split_host_port
from designer.customnode.errors import InvalidEndpointError


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
    try:
        scheme, host, port = split_host_port(str(text), schemes=("grpc", "grpcs"))
    except ValueError:
        raise InvalidEndpointError(
            str(text),
            "not a valid endpoint; write host:port (for example 127.0.0.1:6677) or "
            "grpc://host:port (the same), or grpcs://host:port for TLS, with a port in 1..65535; "
            "http:// and https:// are not supported",
        ) from None
    return Endpoint(host, port, scheme == "grpcs")
