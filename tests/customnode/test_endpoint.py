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
