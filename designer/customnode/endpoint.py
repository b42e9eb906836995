"""Endpoint strings of custom nodes: ``host:port``, ``grpc://host:port`` or ``grpcs://host:port``.

The SDK node authors install parses these itself (a regular expression, nothing more): it never
imports ``designer.core``, which would pull pydantic and the skill model into their servers.
The designer's validator accepts the same grammar (``designer.core.skill.fields``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from designer.customnode.errors import InvalidEndpointError

SCHEMES = ("grpc", "grpcs")
HOST_PORT_RE = re.compile(r"^(?P<host>\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9_.-]+):(?P<port>\d{1,5})$")


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


def split_endpoint(value: str) -> tuple[str, str, int]:
    """(scheme, host, port) of ``host:port`` or ``grpc[s]://host:port``; IPv6 hosts in brackets.

    Raises ValueError saying what is wrong.
    """
    raw, scheme = value.strip(), ""
    if "://" in raw:
        scheme, raw = raw.split("://", 1)
        scheme = scheme.lower()
        if scheme not in SCHEMES:
            raise ValueError(f"unsupported scheme {scheme}:// (allowed: grpc://, grpcs://)")
        raw = raw.rstrip("/")
    match = HOST_PORT_RE.match(raw)
    if not match:
        raise ValueError(f"{value!r} is not host:port, for example 127.0.0.1:6677 or [::1]:6677")
    port = int(match["port"])
    if not 1 <= port <= 65535:
        raise ValueError(f"port {port} must be a number from 1 to 65535")
    return scheme, match["host"], port


def parse_endpoint(text: str) -> Endpoint:
    """Parse an endpoint, raising InvalidEndpointError with an example of the right form."""
    try:
        scheme, host, port = split_endpoint(str(text))
    except ValueError:
        raise InvalidEndpointError(
            str(text),
            "not a valid endpoint; write host:port (for example 127.0.0.1:6677) or "
            "grpc://host:port (the same), or grpcs://host:port for TLS, with a port in 1..65535; "
            "http:// and https:// are not supported",
        ) from None
    return Endpoint(host, port, scheme == "grpcs")
