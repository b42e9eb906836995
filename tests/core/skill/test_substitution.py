"""``$param(name)`` substitution: per-deployment values filled in, wrong names refused clearly."""

from __future__ import annotations

import pytest

from designer.core.skill import ParamError, find_placeholders, substitute, validate_skill
from designer.core.skill.build import add_node, connect
from designer.core.skill.params import parse_assignments

from .helpers import cascade


def deployable():
    skill = cascade()
    skill.node("camera").params["source"] = "rtsp://$param(host):554/$param(stream)"
    skill.node("camera").params["password"] = "$param(camera_password)"
    add_node(skill, "grpc-endpoint@1", "grpc", endpoint_url="$param(host):6677")
    skill.edges = [e for e in skill.edges if e.target.node != "filter"]
    connect(skill, "detector", "grpc")
    connect(skill, "grpc", "filter")
    assert validate_skill(skill) == []
    return skill


VALUES = {"host": "10.0.0.7", "stream": "cam1", "camera_password": "s3cret"}


def test_find_placeholders_lists_users_in_name_order():
    assert find_placeholders(deployable()) == {
        "camera_password": ["camera"],
        "host": ["camera", "grpc"],
        "stream": ["camera"],
    }


def test_whole_and_embedded_values_are_filled():
    skill = deployable()
    filled = substitute(skill, VALUES)
    assert filled.node("camera").params["source"] == "rtsp://10.0.0.7:554/cam1"
    assert filled.node("camera").params["password"] == "s3cret"
    assert filled.node("grpc").params["endpoint_url"] == "10.0.0.7:6677"
    assert find_placeholders(filled) == {}
    assert validate_skill(filled) == []
    assert skill.node("camera").params["source"] == "rtsp://$param(host):554/$param(stream)"  # a copy


def test_values_are_inserted_literally():
    """A value that looks like a placeholder or a regex backreference is text, not a template."""
    skill = deployable()
    filled = substitute(skill, {**VALUES, "host": r"\1$param(stream)", "stream": "x"})
    assert filled.node("camera").params["source"] == r"rtsp://\1$param(stream):554/x"


def test_nested_values_are_filled():
    skill = deployable()
    add_node(
        skill,
        "grpc-container@1",
        "box",
        container_name="box",
        container_image="r/box:1",
        port=7000,
        env=[{"name": "TOKEN", "value": "$param(token)"}],
    )
    filled = substitute(skill, {**VALUES, "token": "abc"})
    assert filled.node("box").params["env"] == [{"name": "TOKEN", "value": "abc"}]


def test_missing_parameter_names_it_and_its_node():
    with pytest.raises(ParamError) as caught:
        substitute(deployable(), {"host": "h", "stream": "s"})
    message = str(caught.value)
    assert "missing parameter 'camera_password'" in message
    assert "used by node camera" in message
    assert "--param camera_password=VALUE" in message


def test_missing_parameter_lists_every_node_using_it():
    with pytest.raises(ParamError, match=r"missing parameter 'host' \(used by node camera, grpc\)"):
        substitute(deployable(), {"stream": "s", "camera_password": "p"})


def test_unknown_parameter_is_refused_unless_allowed():
    with pytest.raises(ParamError) as caught:
        substitute(deployable(), {**VALUES, "hots": "typo"})
    assert "unknown parameter 'hots'" in str(caught.value)
    assert "camera_password, host, stream" in str(caught.value)
    filled = substitute(deployable(), {**VALUES, "hots": "typo"}, allow_unused=True)
    assert filled.node("grpc").params["endpoint_url"] == "10.0.0.7:6677"


def test_skill_without_placeholders():
    with pytest.raises(ParamError, match="this skill's parameters are none"):
        substitute(cascade(), {"x": "1"})
    assert substitute(cascade(), {}) == cascade()


def test_parse_assignments():
    assert parse_assignments(["rtsp=rtsp://cam/1?a=b", "empty=", "site.id=7"]) == {
        "rtsp": "rtsp://cam/1?a=b",
        "empty": "",
        "site.id": "7",
    }


@pytest.mark.parametrize("item", ["novalue", "=value", "1abc=x", "with space=x", "a/b=c"])
def test_parse_assignments_refuses_bad_items(item):
    with pytest.raises(ParamError) as caught:
        parse_assignments(["ok=1", item])
    assert repr(item) in str(caught.value)
    assert "NAME=VALUE" in str(caught.value)
