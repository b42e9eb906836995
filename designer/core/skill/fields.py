"""Field helpers shared by the node parameter models.

Markers say what a parameter means. They travel in a field's JSON schema
extra, so the forms, the validator, the preview, the engine and the exporter
read them from one place instead of lists of parameter names (see ``Mark``).
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Any

from pydantic import Field
from pydantic.fields import FieldInfo

PLACEHOLDER_RE = re.compile(r"\$param\(([A-Za-z_][A-Za-z0-9_.\-]*)\)")
PARAM_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_.\-]*$")

ACCELERATIONS = ("CPU", "Nvidia dGPU", "Intel iGPU", "Nvidia Jetson (Jetpack 5)")
#: URL schemes a Camera Input opens (the engine's sources read these; anything else is refused).
CAMERA_URL_SCHEMES = ("rtsp", "rtsps", "rtmp", "http", "https")


class Mark(StrEnum):
    """What a parameter means, beyond its type."""

    DEPLOY = "deploy"  # per device: the value may be a $param(name) placeholder
    SECRET = "secret"  # a credential: masked in messages, never written into exported files
    READS = "reads"  # names a file the skill reads (found next to the skill file, packaged)
    WRITES = "writes"  # names a file the skill writes (in the run's output folder)
    WRITES_FOLDER = "writes_folder"  # names a folder the skill writes into
    MODEL = "model"  # the id of a model in the model library
    JSON = "json"  # a JSON text
    RESTART = "restart"  # a running node must be reopened when it changes
    LABELS = "labels"  # labels of the model(s) upstream: offered in the form, unknown ones flagged


def field(default: Any = ..., *, marks: tuple[Mark, ...] = (), file_types: str = "", **kwargs: Any) -> Any:
    """A pydantic field carrying markers; ``file_types`` is the file dialog's filter for READS."""
    extra = dict(kwargs.pop("json_schema_extra", None) or {})
    extra.update({str(mark): True for mark in marks})
    if file_types:
        extra["file_types"] = file_types
    if "default_factory" in kwargs:
        return Field(json_schema_extra=extra or None, **kwargs)
    return Field(default, json_schema_extra=extra or None, **kwargs)


def deploy_field(
    default: Any = ..., *, secret: bool = False, marks: tuple[Mark, ...] = (), **kwargs: Any
) -> Any:
    """A field whose value may be a ``$param(name)`` placeholder."""
    extra_marks = (Mark.DEPLOY, Mark.SECRET) if secret else (Mark.DEPLOY,)
    return field(default, marks=extra_marks + marks, **kwargs)


def _extra(info: FieldInfo) -> dict:
    extra = info.json_schema_extra
    return extra if isinstance(extra, dict) else {}


def has_mark(info: FieldInfo, mark: str) -> bool:
    return bool(_extra(info).get(str(mark)))


def file_types(info: FieldInfo) -> str:
    """The file dialog filter of a READS field."""
    return str(_extra(info).get("file_types") or "All files (*)")


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
    return has_mark(info, Mark.DEPLOY)


def is_secret(info: FieldInfo) -> bool:
    """A credential: masked in messages, never written into exported files."""
    return has_mark(info, Mark.SECRET)


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
