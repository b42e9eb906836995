"""Every parameter constraint of every node spec: one value refused and one accepted.

Range, length, enum and required-field cases are derived from the specs' own
metadata, so a field added to the catalog is tested without touching this file;
the custom validators (ports, JSON, prefixes, URLs, zones...) are listed by hand.
"""

from __future__ import annotations

import typing

import annotated_types as at
import pytest

from designer.core.skill import CATALOG, SPECS, Severity
from designer.core.skill.catalog.process import ARCH_ACCELERATIONS
from designer.core.skill.fields import accepts_placeholder
from designer.core.skill.validate import check_params

from .helpers import VALID_PARAMS


def problems_for(type_id: str, **overrides) -> list:
    spec = CATALOG[type_id]
    params = {**spec.defaults(), **VALID_PARAMS[type_id], **overrides}
    return check_params(spec, "n1", params)[0]


def assert_refused(problems: list, param: str, code: str = "param-invalid", text: str = "") -> None:
    hits = [p for p in problems if p.param == param and p.code == code]
    assert hits, f"expected {code} on {param}, got {problems}"
    assert all(p.node_id == "n1" and p.severity is Severity.ERROR for p in hits)
    assert text.lower() in " ".join(p.message for p in hits).lower()


def test_every_spec_has_valid_test_parameters():
    assert set(VALID_PARAMS) == set(CATALOG)
    for type_id in CATALOG:
        assert problems_for(type_id) == [], type_id


# --- derived from field metadata ------------------------------------------------------------


def _is_int(annotation) -> bool:
    args = typing.get_args(annotation)
    return annotation is int or (int in args and float not in args)


def _bound_cases():
    for spec in SPECS:
        for name, info in spec.params.model_fields.items():
            is_int = _is_int(info.annotation)
            step = 1 if is_int else 0.001
            for meta in info.metadata:
                if isinstance(meta, at.Ge):
                    yield spec.type_id, name, meta.ge - step, meta.ge
                elif isinstance(meta, at.Gt):
                    yield spec.type_id, name, meta.gt, meta.gt + step
                elif isinstance(meta, at.Le):
                    yield spec.type_id, name, meta.le + step, meta.le
                elif isinstance(meta, at.Lt):
                    yield spec.type_id, name, meta.lt, meta.lt - step
                elif isinstance(meta, at.MinLen) and info.annotation is str:
                    valid = {**spec.defaults(), **VALID_PARAMS[spec.type_id]}[name]
                    yield spec.type_id, name, "a" * (meta.min_length - 1), valid
                elif isinstance(meta, at.MinLen):
                    yield spec.type_id, name, [0.5] * (meta.min_length - 1), [0.5] * meta.min_length
                elif isinstance(meta, at.MaxLen):
                    yield spec.type_id, name, [0.5] * (meta.max_length + 1), [0.5] * meta.max_length


BOUNDS = list(_bound_cases())


def test_bounds_include_the_known_ranges():
    """The derivation sees the constraints the product names (guards against a silent empty list)."""
    names = {(t, n) for t, n, _, _ in BOUNDS}
    expected = {("grpc-container@1", "port"), ("filter@1", "confidence_threshold"), ("camera@1", "source")}
    assert expected <= names
    assert ("grpc-container@1", "port", 0, 1) in BOUNDS
    assert ("grpc-container@1", "port", 65536, 65535) in BOUNDS


@pytest.mark.parametrize(("type_id", "param", "bad", "good"), BOUNDS, ids=lambda v: str(v)[:20])
def test_range_and_length_limits(type_id, param, bad, good):
    assert_refused(problems_for(type_id, **{param: bad}), param)
    assert problems_for(type_id, **{param: good}) == []


def _literal_cases():
    for spec in SPECS:
        for name, info in spec.params.model_fields.items():
            if typing.get_origin(info.annotation) is typing.Literal:
                yield spec.type_id, name, typing.get_args(info.annotation)


LITERALS = list(_literal_cases())
TRIANGLE = [{"x": 0, "y": 0}, {"x": 1, "y": 0}, {"x": 1, "y": 1}]
# Enum values that are only valid together with another field.
COMPANIONS = {
    ("grpc-container@1", "architecture", "ARM64"): {"acceleration": "Nvidia Jetson (Jetpack 5)"},
    ("zone@1", "roi_type", "POLYGON"): {"points": TRIANGLE},
}


@pytest.mark.parametrize(("type_id", "param", "allowed"), LITERALS, ids=lambda v: str(v)[:20])
def test_enum_fields_take_only_their_values(type_id, param, allowed):
    assert_refused(problems_for(type_id, **{param: "bogus"}), param)
    for value in allowed:
        extra = COMPANIONS.get((type_id, param, value), {})
        if param == "acceleration":  # a container's acceleration must suit its architecture
            extra = {"architecture": next(a for a, accs in ARCH_ACCELERATIONS.items() if value in accs)}
        assert problems_for(type_id, **{param: value}, **extra) == [], value


REQUIRED = [
    (spec.type_id, name)
    for spec in SPECS
    for name, info in spec.params.model_fields.items()
    if info.is_required()
]


@pytest.mark.parametrize(("type_id", "param"), REQUIRED)
def test_required_fields(type_id, param):
    spec = CATALOG[type_id]
    params = {**spec.defaults(), **VALID_PARAMS[type_id]}
    del params[param]
    problems = check_params(spec, "n1", params)[0]
    assert_refused(problems, param, "param-required", "required")


def _placeholder_cases():
    for spec in SPECS:
        for name, info in spec.params.model_fields.items():
            yield spec.type_id, name, accepts_placeholder(info)


@pytest.mark.parametrize(("type_id", "param", "allowed"), list(_placeholder_cases()))
def test_placeholders_only_in_deploy_fields(type_id, param, allowed):
    """``$param(...)`` is a valid value exactly where a value may differ per deployment."""
    problems = problems_for(type_id, **{param: "$param(site_value)"})
    if allowed:
        assert problems == []
        embedded = problems_for(type_id, **{param: "prefix-$param(site_value)-suffix"})
        assert embedded == []
    else:
        assert_refused(problems, param, "placeholder-not-allowed", "cannot be a $param")


def test_deploy_fields_are_the_per_device_ones():
    deploy = {(t, n) for t, n, allowed in _placeholder_cases() if allowed}
    assert ("camera@1", "source") in deploy
    assert ("grpc-endpoint@1", "endpoint_url") in deploy
    assert ("http@1", "url") in deploy
    assert ("grpc-container@1", "port") not in deploy
    assert ("filter@1", "labels") not in deploy


# --- custom validators, by hand ---------------------------------------------------------------

CUSTOM = [
    # (type_id, param, refused value, accepted value, words the refusal must contain)
    ("camera@1", "resolution", "1280*720", "1280x720", "WIDTHxHEIGHT"),
    ("camera@1", "source", "", "rtsp://$param(host):554/stream", "at least 1"),
    ("filter@1", "labels", ["person", "  "], ["person", "traffic light"], "empty"),
    ("filter@1", "labels", "person", ["person"], "list"),
    ("zone@1", "labels", [""], ["fire hydrant"], "empty"),
    ("grpc-endpoint@1", "endpoint_url", "localhost", "localhost:6677", "host:port"),
    ("grpc-endpoint@1", "endpoint_url", "localhost:0", "grpcs://example.com:443", "1 to 65535"),
    ("grpc-endpoint@1", "endpoint_url", "localhost:65536", "localhost:65535", "1 to 65535"),
    ("grpc-endpoint@1", "endpoint_url", "http://localhost:80", "grpc://localhost:80", "scheme"),
    ("grpc-endpoint@1", "endpoint_url", "localhost:80/path", "$param(grpc_server)", "host:port"),
    ("grpc-container@1", "container_name", "My Counter", "my-counter-2", "container name"),
    ("grpc-container@1", "container_name", "-counter", "c", "container name"),
    ("grpc-container@1", "create_options", "{not json", '{"HostConfig": {"Privileged": false}}', "JSON"),
    ("grpc-container@1", "create_options", "[1, 2]", "", "JSON object"),
    ("grpc-container@1", "create_options", '"text"', "  ", "JSON object"),
    ("grpc-container@1", "route", "grpc", "/grpc", "start with '/'"),
    ("grpc-container@1", "preview_endpoint", "nohost", "127.0.0.1:7000", "host:port"),
    ("grpc-container@1", "env", [{"name": "1BAD"}], [{"name": "MODE", "value": "fast"}], "name"),
    ("grpc-container@1", "env", [{"name": "A"}, {"name": "A"}], [{"name": "A"}, {"name": "B"}], "twice"),
    ("grpc-container@1", "env", [{"name": "A", "colour": 1}], [{"name": "A", "value": "$param(a)"}], "extra"),
    ("video-snippet@1", "filename_prefix", "my clip", "my_clip-1.a", "without spaces"),
    ("video-snippet@1", "filename_prefix", "clips/cam", "CLIP", "path characters"),
    ("video-snippet@1", "filename_prefix", "..", "a..b", "prefix"),
    ("video-snippet@1", "filename_prefix", "c:\\clip", "c", "prefix"),
    ("iotedge@1", "module_name", "my module", "$param(module)", "letters"),
    ("iotedge@1", "module_input", "in/put", "input1", "letters"),
    ("mqtt@1", "broker_address", "localhost", "broker.local:8883", "host:port"),
    ("mqtt@1", "broker_address", "localhost:70000", "10.0.0.2:1", "1 to 65535"),
    ("mqtt@1", "broker_address", "mqtt://localhost:1883", "$param(broker):1883", "scheme"),
    ("mqtt@1", "topic", "site/#", "site/cam-1/insights", "wildcard"),
    ("mqtt@1", "topic", "site/+/x", "a", "wildcard"),
    ("http@1", "url", "not a url", "https://example.com/hook", "valid URL"),
    ("http@1", "url", "ftp://example.com/x", "http://localhost/x", "http"),
    ("http@1", "url", "http://localhost:99999/x", "http://localhost:1/x", "port"),
    ("http@1", "url", "http:///path-only", "http://$param(host):8080/x", "valid URL"),
    ("model@1", "confidence_threshold", "high", 55, "integer"),
]


@pytest.mark.parametrize(("type_id", "param", "bad", "good", "words"), CUSTOM, ids=lambda v: str(v)[:24])
def test_custom_parameter_rules(type_id, param, bad, good, words):
    assert_refused(problems_for(type_id, **{param: bad}), param, text=words)
    assert problems_for(type_id, **{param: good}) == []


CROSS = [
    # (type_id, refused params, accepted params, param the problem names, words)
    ("model@1", {"model_path": ""}, {"model_path": "", "model_id": "person-detection"}, "model_id", "choose"),
    ("model@1", {"model_id": "person-detection"}, {}, "model_path", "not both"),
    (
        "grpc-container@1",
        {"acceleration": "Nvidia Jetson (Jetpack 5)"},
        {"acceleration": "Intel iGPU"},
        "acceleration",
        "X64 supports",
    ),
    (
        "grpc-container@1",
        {"architecture": "ARM64", "acceleration": "CPU"},
        {"architecture": "ARM64", "acceleration": "Nvidia Jetson (Jetpack 5)"},
        "acceleration",
        "ARM64",
    ),
    (
        "zone@1",
        {"points": [{"x": 0.5, "y": 0.5}, {"x": 0.5, "y": 0.5}]},
        {"points": [{"x": 0, "y": 0}, {"x": 1, "y": 1}]},
        "points",
        "2 different",
    ),
    ("zone@1", {"points": TRIANGLE}, {"roi_type": "POLYGON", "points": TRIANGLE}, "points", "exactly 2"),
    ("zone@1", {"roi_type": "POLYGON"}, {"roi_type": "LINE"}, "points", "at least 3"),
    (
        "zone@1",
        {"points": [{"x": 1.5, "y": 0}, {"x": 0, "y": 0}]},
        {"points": [{"x": 1.0, "y": 0}, {"x": 0, "y": 0}]},
        "points",
        "less than or equal to 1",
    ),
]


@pytest.mark.parametrize(("type_id", "bad", "good", "param", "words"), CROSS, ids=lambda v: str(v)[:24])
def test_cross_field_rules(type_id, bad, good, param, words):
    assert_refused(problems_for(type_id, **bad), param, text=words)
    assert problems_for(type_id, **good) == []


def test_unknown_parameter_is_a_warning_and_kept():
    spec = CATALOG["filter@1"]
    params = {"labels": ["person"], "colour": "red"}
    problems, parsed = check_params(spec, "n1", params)
    assert [(p.code, p.severity, p.param) for p in problems] == [
        ("unknown-parameter", Severity.WARNING, "colour")
    ]
    assert parsed is not None and parsed.labels == ["person"]
    assert params["colour"] == "red"


def test_placeholder_inside_a_list_field_is_refused():
    assert_refused(problems_for("filter@1", labels=["$param(what)"]), "labels", "placeholder-not-allowed")
    env = [{"name": "$param(name)", "value": "x"}]
    assert_refused(problems_for("grpc-container@1", env=env), "env", "placeholder-not-allowed")


def test_text_around_a_placeholder_is_checked_and_the_node_still_parses():
    """``in-$param(x)`` is a module input once filled; ``a b $param(x)`` never is, and says so."""
    problems, parsed = check_params(
        CATALOG["iotedge@1"], "n1", {"module_name": "m", "module_input": "in-$param(x)"}
    )
    assert problems == [] and parsed is not None
    assert_refused(problems_for("iotedge@1", module_input="a b $param(x)"), "module_input", text="letters")


def test_messages_name_the_field_title():
    (problem,) = problems_for("grpc-container@1", port=70000)
    assert problem.message.startswith("Port:")
    assert "65535" in problem.message
