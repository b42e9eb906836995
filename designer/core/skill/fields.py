"""Field helpers shared by the node parameter models.

Two markers travel in a field's JSON schema extra, so the form generator,
the validator and the exporter read them from one place:

- ``deploy``: the value may be a ``$param(name)`` placeholder, filled per
  deployment (camera URL, endpoints).
- ``secret``: the value must never be written into an exported package.
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import Field
from pydantic.fields import FieldInfo

PLACEHOLDER_RE = re.compile(r"\$param\(([A-Za-z_][A-Za-z0-9_.\-]*)\)")
PARAM_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_.\-]*$")

ACCELERATIONS = ("CPU", "Nvidia dGPU", "Intel iGPU", "Nvidia Jetson (Jetpack 5)")
#: URL schemes a Camera Input opens (the engine's sources read these; anything else is refused).
CAMERA_URL_SCHEMES = ("rtsp", "rtsps", "rtmp", "http", "https")


def deploy_field(default: Any = ..., *, secret: bool = False, **kwargs: Any) -> Any:
    """A field whose value may be a ``$param(name)`` placeholder."""
    extra = dict(kwargs.pop("json_schema_extra", None) or {})
    extra["deploy"] = True
    if secret:
        extra["secret"] = True
    return Field(default, json_schema_extra=extra, **kwargs)


def _extra(info: FieldInfo) -> dict:
    extra = info.json_schema_extra
    return extra if isinstance(extra, dict) else {}


def field_bounds(info: FieldInfo) -> tuple[float | None, float | None, bool]:
    """(lowest, highest, whether the lowest is excluded) from ge/gt/le/lt: for editors' ranges."""
    low = high = None
    exclusive = False
    for meta in info.metadata:
        for attr in ("ge", "gt"):
            if getattr(meta, attr, None) is not None:
                low, exclusive = getattr(meta, attr), attr == "gt"
        for attr in ("le", "lt"):
            if getattr(meta, attr, None) is not None:
                high = getattr(meta, attr)
    return low, high, exclusive


def accepts_placeholder(info: FieldInfo) -> bool:
    return bool(_extra(info).get("deploy"))


def is_secret(info: FieldInfo) -> bool:
    """A credential: masked in messages, never written into exported files."""
    return bool(_extra(info).get("secret"))


def placeholders_in(value: Any) -> list[str]:
    """Names of every ``$param(...)`` in a value (strings, lists and dicts, recursively)."""
    if isinstance(value, str):
        return PLACEHOLDER_RE.findall(value)
    if isinstance(value, list):
        return [name for item in value for name in placeholders_in(item)]
    if isinstance(value, dict):
        return [name for item in value.values() for name in placeholders_in(item)]
    return []


HOST_PORT_RE = re.compile(r"^(?P<host>\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9_.-]+):(?P<port>\d{1,5})$")


def split_host_port(value: str, *, schemes: tuple[str, ...] = ()) -> tuple[str, str, int]:
    """(scheme, host, port) of ``host:port`` or ``scheme://host:port``: the one grammar the
    validator and the gRPC client share. IPv6 hosts go in brackets: ``[::1]:6677``.

    Raises ValueError with a message a user can act on.
    """
    raw, scheme = value.strip(), ""
    if "://" in raw:
        scheme, raw = raw.split("://", 1)
        scheme = scheme.lower()
        if scheme not in schemes:
            allowed = ", ".join(f"{s}://" for s in schemes) or "no scheme"
            raise ValueError(f"unsupported scheme {scheme}:// (allowed: {allowed})")
        raw = raw.rstrip("/")
    match = HOST_PORT_RE.match(raw)
    if not match:
        raise ValueError(f"{value!r} is not host:port, for example 127.0.0.1:6677 or [::1]:6677")
    port = int(match["port"])
    if not 1 <= port <= 65535:
        raise ValueError(f"port {port} must be a number from 1 to 65535")
    return scheme, match["host"], port


def check_host_port(value: str, *, schemes: tuple[str, ...] = ()) -> str:
    """Accept ``host:port`` (optionally ``scheme://host:port``); placeholders pass through."""
    if not PLACEHOLDER_RE.search(value):
        split_host_port(value, schemes=schemes)
    return value


def check_url(value: str, *, schemes: tuple[str, ...] = ("http", "https")) -> str:
    """Accept an absolute URL with one of ``schemes``; placeholders pass through."""
    from urllib.parse import urlsplit

    if PLACEHOLDER_RE.search(value):
        return value
    try:
        parts = urlsplit(value)
        port = parts.port
    except ValueError as exc:
        raise ValueError(f"{value!r} is not a valid URL: {exc}") from None
    if parts.scheme not in schemes or not parts.hostname:
        raise ValueError(f"{value!r} is not a valid URL: use {' or '.join(schemes)}://host[:port]/path")
    if port is not None and not 1 <= port <= 65535:
        raise ValueError(f"port {port} must be from 1 to 65535")
    return value
