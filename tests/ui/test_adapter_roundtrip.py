"""Skill -> scene -> skill gives back the same skill, for random skills (hypothesis)."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from designer.core.skill import SPECS, Edge, Layout, Node, PortRef, Position, Settings, Skill, dump_skill
from designer.ui.canvas import Canvas

TYPES = [spec.type_id for spec in SPECS] + ["heatmap@2"]  # one type this version does not know
HAS_OUT = {spec.type_id for spec in SPECS if spec.outputs} | {"heatmap@2"}
HAS_IN = {spec.type_id for spec in SPECS if spec.inputs} | {"heatmap@2"}
names = st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), max_size=20)
# Qt keeps no -0.0: adding 0.0 turns it into 0.0 here too
coords = st.floats(min_value=-5000, max_value=5000, allow_nan=False).map(lambda v: round(v, 2) + 0.0)


@st.composite
def skills(draw) -> Skill:
    count = draw(st.integers(min_value=0, max_value=8))
    nodes = []
    for i in range(count):
        type_id = draw(st.sampled_from(TYPES))
        spec = next((s for s in SPECS if s.type_id == type_id), None)
        params = spec.defaults() if spec else {"cells": draw(st.integers(1, 64))}
        if draw(st.booleans()):
            params = {**params, "note": draw(names)}  # an unknown parameter is kept
        nodes.append(Node(id=f"n{i}", type=type_id, name=draw(names), params=params))
    edges, fed = [], set()
    for source in nodes:
        for target in nodes:
            if (
                source.id < target.id  # one way: no cycles
                and source.type in HAS_OUT
                and target.type in HAS_IN
                and target.id not in fed
                and draw(st.integers(0, 3)) == 0
            ):
                edges.append(
                    Edge(
                        source=PortRef(node=source.id, port="out"), target=PortRef(node=target.id, port="in")
                    )
                )
                fed.add(target.id)
    layout = Layout(nodes={n.id: Position(x=draw(coords), y=draw(coords)) for n in nodes})
    return Skill(
        settings=Settings(name=draw(names), fps=draw(st.integers(1, 60))),
        nodes=nodes,
        edges=edges,
        layout=layout,
    )


@pytest.fixture(scope="module")
def canvas():
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication([])
    widget = Canvas()
    yield widget
    widget.deleteLater()
    app.processEvents()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(skill=skills())
def test_random_skills_round_trip_through_the_scene(canvas, skill):
    canvas.load_skill(skill)
    from PySide6.QtWidgets import QApplication

    while canvas.is_loading():
        QApplication.processEvents()
    assert dump_skill(canvas.skill()) == dump_skill(skill)
