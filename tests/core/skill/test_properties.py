"""Property tests: any skill we can write reads back to the same bytes; no input crashes the loader."""

from __future__ import annotations

import json
import re

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from designer.core.skill import (
    CATALOG,
    Severity,
    Skill,
    SkillFileError,
    dump_skill,
    parse_skill,
    validate_skill,
)
from designer.core.skill.document import Edge, Layout, Node, PortRef, Position, Settings, Tag
from designer.core.skill.fields import ACCELERATIONS
from designer.core.skill.kan import dump_kan, export_kan, import_kan, load_kan_text
from designer.core.skill.problems import Problem

from .helpers import VALID_PARAMS

FAST = settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# Any code point, lone surrogates included: JSON "\ud800" escapes read into exactly those.
# (st.text() leaves surrogates out whatever its alphabet, so strings are joined by hand.)
ANY_CHAR = st.characters(exclude_categories=[]) | st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF)


def any_text(max_size: int = 10) -> st.SearchStrategy[str]:
    return st.lists(ANY_CHAR, max_size=max_size).map("".join)


NODE_IDS = st.from_regex(r"\A[A-Za-z0-9_.\-]{1,12}\Z")
SCALARS = (
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | any_text()
)
JSON_VALUES = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=8,
)
# Field names no model declares, so they land in the models' extras.
EXTRAS = st.dictionaries(st.text(max_size=6).map(lambda s: f"x-{s}"), JSON_VALUES, max_size=2)
FLOATS = st.floats(allow_nan=False, allow_infinity=False)


@st.composite
def nodes(draw) -> Node:
    type_id = draw(st.sampled_from(sorted(CATALOG)))
    params = {**CATALOG[type_id].defaults(), **VALID_PARAMS[type_id]}
    return Node(
        id=draw(NODE_IDS),
        type=type_id,
        name=draw(any_text(20)),
        params=params,
        **draw(EXTRAS),
    )


@st.composite
def skills(draw) -> Skill:
    node_list = draw(st.lists(nodes(), max_size=8))
    ids = [n.id for n in node_list] or ["a"]
    ports = st.sampled_from(["in", "out"])
    edges = draw(
        st.lists(
            st.builds(
                lambda s, sp, t, tp, extra: Edge(
                    source=PortRef(node=s, port=sp), target=PortRef(node=t, port=tp), **extra
                ),
                st.sampled_from(ids),
                ports,
                st.sampled_from(ids),
                ports,
                EXTRAS,
            ),
            max_size=10,
        )
    )
    positions = draw(st.dictionaries(st.sampled_from(ids), st.builds(Position, x=FLOATS, y=FLOATS)))
    tags = draw(st.lists(st.builds(Tag, name=st.text(max_size=8), value=st.text(max_size=8)), max_size=4))
    return Skill(
        settings=Settings(
            name=draw(any_text(30)),
            fps=draw(st.integers(-5, 100)),
            acceleration=draw(st.sampled_from(ACCELERATIONS) | st.text(max_size=5)),
            tags=tags,
            description=draw(st.text(max_size=40)),
            **draw(EXTRAS),
        ),
        nodes=node_list,
        edges=edges,
        layout=Layout(nodes=positions, **draw(EXTRAS)),
        **draw(EXTRAS),
    )


@FAST
@given(skills())
def test_random_skills_round_trip_byte_identically(skill: Skill):
    text = dump_skill(skill)
    again = parse_skill(text)
    assert dump_skill(again) == text
    assert dump_skill(parse_skill(text.encode("utf-8"))) == text
    # Strings holding surrogates are normalised on the way (pairs combined); all else is kept.
    problems = validate_skill(again)
    assert_located(problems, again)
    if "\\ud" not in json.dumps(skill.model_dump(mode="json"), ensure_ascii=True):
        assert again == skill.canonical()
        # the file reports what the skill in memory reported, in the same order
        assert validate_skill(skill) == problems


CODE = re.compile(r"\A[a-z]+(-[a-z]+)*\Z")


def assert_located(problems: list[Problem], skill: Skill) -> None:
    """Every problem is a known kind of finding, says something, and points at a real place:
    a node of the skill (or of its layout) and a parameter that node type has."""
    places = {n.id for n in skill.nodes} | set(skill.layout.nodes)
    types = {n.id: n.type for n in skill.nodes}
    for problem in problems:
        assert problem.severity in (Severity.ERROR, Severity.WARNING), problem
        assert CODE.match(problem.code) and problem.message.strip(), problem
        assert problem.node_id is None or problem.node_id in places, problem
        spec = CATALOG.get(types.get(problem.node_id, ""))
        if problem.param is not None and problem.node_id is not None and spec is not None:
            known = set(spec.params.model_fields) | set(skill.node(problem.node_id).params)
            assert problem.param in known, problem
    assert validate_skill(skill) == problems  # the same skill, the same list


def _load_or_refuse(data: bytes | str) -> None:
    try:
        skill = parse_skill(data, "odd.skill.json")
    except SkillFileError as exc:
        # a refusal names the file (and the line where it knows it) and says why, in words
        assert str(exc).startswith("odd.skill.json") and exc.message.strip()
        assert "Traceback" not in exc.message and not exc.message.startswith(("<", "{", "["))
        return
    text = dump_skill(skill)  # whatever loads can be saved, and reads back the same
    assert dump_skill(parse_skill(text)) == text
    assert_located(validate_skill(skill), skill)


@FAST
@given(st.binary(max_size=300))
def test_random_bytes_never_crash_the_loader(data: bytes):
    _load_or_refuse(data)


@FAST
@given(JSON_VALUES)
def test_random_json_never_crashes_the_loader(value):
    _load_or_refuse(json.dumps(value))


SKILLISH = st.fixed_dictionaries(
    {"format": st.just("skill-designer/skill"), "format_version": st.just(1) | JSON_VALUES},
    optional={
        "settings": st.fixed_dictionaries(
            {},
            optional={
                "name": JSON_VALUES,
                "fps": JSON_VALUES,
                "tags": JSON_VALUES,
                "acceleration": JSON_VALUES,
            },
        )
        | JSON_VALUES,
        "nodes": st.lists(
            st.fixed_dictionaries(
                {
                    "id": st.text(max_size=4) | JSON_VALUES,
                    "type": st.sampled_from(sorted(CATALOG)) | JSON_VALUES,
                },
                optional={
                    "params": st.dictionaries(
                        st.sampled_from(sorted({f for s in CATALOG.values() for f in s.params.model_fields})),
                        JSON_VALUES,
                    )
                },
            ),
            max_size=4,
        ),
        "edges": JSON_VALUES,
        "layout": JSON_VALUES,
    },
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(SKILLISH)
def test_random_skill_shaped_json_never_crashes_load_validate_or_save(value):
    """Deeper than random JSON: right format, random settings, nodes and parameter values."""
    _load_or_refuse(json.dumps(value))


@st.composite
def junk_skills(draw) -> Skill:
    """Skills of catalog nodes whose parameters hold anything at all (a hand-edited file)."""
    skill = draw(skills())
    for node in skill.nodes:
        names = sorted(CATALOG[node.type].params.model_fields)
        node.params = draw(st.dictionaries(st.sampled_from(names), JSON_VALUES, max_size=4))
    return skill


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])  # YAML is slow
@given(junk_skills())
def test_kan_export_never_crashes_and_reads_back(skill: Skill):
    resource, report = export_kan(skill)
    assert all(isinstance(note, str) for note in report.notes)
    for node in resource["spec"]["nodes"]:
        assert all(isinstance(v, str) for v in node["configurations"].values())
    again, _ = import_kan(load_kan_text(dump_kan(resource)))
    # every node KAN can express comes back as the same kind of node; the others are named
    last = {n.id: n for n in skill.nodes}  # KAN nodes are keyed by id: a repeated id is one node
    expressible = {i: n.type for i, n in last.items() if n.type.split("@")[0] in KAN_KINDS}
    assert {n.id: n.type for n in again.nodes} == expressible
    for node_id, node in last.items():
        if node_id not in expressible:
            assert any(f"node {node_id} ({node.type}) cannot be expressed" in n for n in report.notes)


KAN_KINDS = {
    "camera",
    "model",
    "filter",
    "grpc-endpoint",
    "grpc-container",
    "video-snippet",
    "iothub",
    "mqtt",
    "iotedge",
    "http",
}
