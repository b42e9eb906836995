"""Endpoint strings the node dialog accepts."""

from __future__ import annotations

import pytest

from designer.customnode import InvalidEndpointError
from designer.customnode.endpoint import parse_endpoint


@pytest.mark.parametrize(
    ("text", "target", "tls"),
    [
        ("127.0.0.1:6677", "127.0.0.1:6677", False),
        ("localhost:80", "localhost:80", False),
        ("grpc://node.local:6677", "node.local:6677", False),
        ("grpcs://node.example.com:443", "node.example.com:443", True),
        ("GRPCS://[::1]:6677/", "[::1]:6677", True),
    ],
)
def test_accepted_forms(text, target, tls):
    endpoint = parse_endpoint(text)
    assert (endpoint.target, endpoint.tls) == (target, tls)


@pytest.mark.parametrize(
    "text", ["", "6677", "host", "host:0", "host:70000", "http://host:80", "host:port", "a b:1"]
)
def test_rejected_forms_name_the_endpoint_and_the_right_form(text):
    with pytest.raises(InvalidEndpointError) as info:
        parse_endpoint(text)
    assert f"custom node {text}:" in str(info.value)
    assert "host:port" in str(info.value)


SAME_GRAMMAR = [
    "127.0.0.1:6677",
    "grpc://node.local:6677",
    "grpcs://[::1]:443/",
    "GRPC://host_1:1",
    "host:65535",
    "host:65536",
    "host:0",
    "http://host:80",
    "host",
    "a b:1",
    "[::1]6677",
    " spaced.host:99 ",
]


@pytest.mark.parametrize("text", SAME_GRAMMAR)
def test_the_sdk_reads_endpoints_as_the_designer_validator_does(text):
    """Two parsers, one grammar: what the validator accepts the SDK connects to, and vice versa."""
    from designer.core.skill.fields import split_host_port
    from designer.customnode.endpoint import split_endpoint

    try:
        expected = split_host_port(text, schemes=("grpc", "grpcs"))
    except ValueError:
        expected = None
    try:
        got = split_endpoint(text)
    except ValueError:
        got = None
    assert got == expected


def test_the_sdk_imports_nothing_of_the_designer_core():
    """Node authors install the SDK alone: no designer.core (and so no pydantic) behind it."""
    import subprocess
    import sys

    code = (
        "import sys, designer.customnode, designer.customnode.endpoint, designer.customnode.client, "
        "designer.customnode.server, designer.customnode.samples\n"
        "core = sorted(m for m in sys.modules if m.startswith('designer.core'))\n"
        "print(','.join(core) or 'none', 'pydantic' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert out.stdout.split() == ["none", "False"], out.stdout
