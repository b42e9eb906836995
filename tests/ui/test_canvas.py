"""The canvas and palette, driven as a user would: drop, connect, refuse, undo, copy, lay out."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt
from PySide6.QtGui import QDropEvent

from designer.core.skill import SPECS, Settings, Skill, dump_skill, load_skill
from designer.core.skill.build import add_node, chain
from designer.ui.canvas import Canvas
from designer.ui.palette import NodeList, Palette

SAMPLES = sorted((Path(__file__).parents[2] / "resources" / "samples").glob("*.skill.json"))


@pytest.fixture
def canvas(qtbot):
    widget = Canvas()
    qtbot.addWidget(widget)
    widget.resize(900, 700)
    widget.show()
    widget.load_skill(Skill(settings=Settings(name="Test")))
    return widget


def _palette_mime(palette_list: NodeList, type_id: str) -> QMimeData:
    item = palette_list._items[type_id]
    return palette_list.mimeData([item])


def _drop(canvas: Canvas, mime: QMimeData, at: QPoint) -> None:
    viewport = canvas.graph.viewer()
    event = QDropEvent(
        QPointF(at), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier
    )
    viewport.dropEvent(event)


def test_every_catalog_node_type_drops_from_the_palette_where_released(qtbot, canvas):
    palette = Palette()
    qtbot.addWidget(palette)
    view = canvas.graph.viewer()
    for i, spec in enumerate(SPECS):
        at = QPoint(100 + 20 * i, 120 + 10 * i)
        _drop(canvas, _palette_mime(palette.nodes, spec.type_id), at)
        skill = canvas.skill()
        node = skill.nodes[-1]
        assert node.type == spec.type_id
        assert node.params == spec.defaults()
        pos = skill.layout.nodes[node.id]
        centre = view.mapToScene(at)
        # the node is centred on the point where it was released
        assert abs(pos.x + 115 - centre.x()) < 2 and abs(pos.y + 32 - centre.y()) < 2
    assert len({n.id for n in canvas.skill().nodes}) == len(SPECS)


def test_palette_search_filters_and_enter_adds_at_the_view_centre(qtbot, canvas):
    palette = Palette()
    qtbot.addWidget(palette)
    palette.chosen.connect(canvas.add_node)
    palette.search.setText("mosquitto")  # a keyword, not in the title
    assert palette.nodes.visible_types() == ["mqtt@1"]
    qtbot.keyClick(palette.search, Qt.Key.Key_Return)
    assert [n.type for n in canvas.skill().nodes] == ["mqtt@1"]
    palette.search.setText("filter")
    assert palette.nodes.visible_types() == ["filter@1"]
    palette.search.clear()
    assert len(palette.nodes.visible_types()) == len(SPECS)


def _three_nodes(canvas: Canvas) -> tuple[str, str, str]:
    return canvas.add_node("camera@1"), canvas.add_node("filter@1"), canvas.add_node("insights-log@1")


def test_connect_disconnect_and_undo(canvas):
    cam, keep, log = _three_nodes(canvas)
    assert canvas.connect_nodes(cam, keep)
    assert canvas.connect_nodes(keep, log)
    assert [(e.source.node, e.target.node) for e in canvas.skill().edges] == [(cam, keep), (keep, log)]
    canvas.disconnect_nodes(keep, log)
    assert len(canvas.skill().edges) == 1
    canvas.undo_stack().undo()
    assert len(canvas.skill().edges) == 2
    canvas.undo_stack().undo()
    canvas.undo_stack().undo()
    assert canvas.skill().edges == []


@pytest.mark.parametrize(
    "link, reason",
    [
        (("keep", "camera"), "is a source: nothing can feed it"),
        (("keep", "keep"), "cannot feed itself"),
        (("camera2", "keep"), "one input link"),
        (("log", "keep"), "has no output"),  # an export has nothing to pass on
    ],
)
def test_a_link_that_breaks_a_graph_rule_is_refused_with_the_reason(canvas, link, reason):
    ids = {"camera": canvas.add_node("camera@1"), "keep": canvas.add_node("filter@1")}
    ids["log"] = canvas.add_node("insights-log@1")
    ids["camera2"] = canvas.add_node("camera@1")
    canvas.connect_nodes(ids["camera"], ids["keep"])
    messages = []
    canvas.message.connect(messages.append)
    assert not canvas.connect_nodes(ids[link[0]], ids[link[1]])
    assert messages and reason in messages[-1]
    assert len(canvas.skill().edges) == 1


def test_a_cycle_is_refused(canvas):
    a, b = canvas.add_node("filter@1"), canvas.add_node("tracker@1")
    c = canvas.add_node("zone@1")
    canvas.connect_nodes(a, b)
    canvas.connect_nodes(b, c)
    messages = []
    canvas.message.connect(messages.append)
    assert not canvas.connect_nodes(c, a)
    assert "cycle" in messages[-1]


def test_a_mouse_connection_that_breaks_a_rule_is_refused_in_the_graph_layer(canvas):
    """The viewer's own connection path (what a mouse drag emits) goes through our rules too."""
    cam, keep, log = _three_nodes(canvas)
    canvas.connect_nodes(cam, keep)
    refused = []
    canvas.graph.link_refused.connect(refused.append)
    camera2 = canvas.add_node("camera@1")
    out_view = canvas.node(camera2).outputs()["out"].view
    in_view = canvas.node(keep).inputs()["in"].view
    canvas.graph._viewer.connection_changed.emit([], [(out_view, in_view)])
    assert refused and "one input link" in refused[0]
    assert [(e.source.node, e.target.node) for e in canvas.skill().edges] == [(cam, keep)]
    ok_out = canvas.node(keep).outputs()["out"].view
    ok_in = canvas.node(log).inputs()["in"].view
    canvas.graph._viewer.connection_changed.emit([], [(ok_out, ok_in)])
    assert len(canvas.skill().edges) == 2


def test_every_edit_is_one_undo_step_back_to_empty(canvas):
    cam, keep, log = _three_nodes(canvas)
    canvas.connect_nodes(cam, keep)
    canvas.rename_node(keep, "Keep people")
    canvas.set_node_params(keep, {**canvas.skill().node(keep).params, "labels": ["person"]})
    canvas.node(log).set_pos(500, 500)
    states = []
    stack = canvas.undo_stack()
    while stack.canUndo():
        states.append(dump_skill(canvas.skill()))
        stack.undo()
    assert canvas.skill().nodes == []
    # undo walked through 3 creations, a link, a rename, a parameter and a move
    assert len(states) == 7
    while stack.canRedo():
        stack.redo()
    final = canvas.skill()
    assert final.node(keep).name == "Keep people"
    assert final.node(keep).params["labels"] == ["person"]
    assert final.layout.nodes[log].x == 500


def test_copy_paste_and_duplicate_give_fresh_ids_and_keep_parameters(canvas):
    keep = canvas.add_node("filter@1")
    canvas.set_node_params(keep, {**canvas.skill().node(keep).params, "labels": ["car", "bus"]})
    canvas.select_node(keep)
    canvas.copy()
    canvas.paste()
    canvas.select_node(keep)
    canvas.duplicate()
    nodes = canvas.skill().nodes
    assert [n.id for n in nodes] == ["filter-1", "filter-2", "filter-3"]
    assert all(n.params["labels"] == ["car", "bus"] for n in nodes)
    canvas.undo_stack().undo()
    canvas.undo_stack().undo()
    assert [n.id for n in canvas.skill().nodes] == ["filter-1"]


def test_delete_selected_and_undo_restores_links(canvas):
    cam, keep, log = _three_nodes(canvas)
    canvas.connect_nodes(cam, keep)
    canvas.connect_nodes(keep, log)
    canvas.select_node(keep)
    canvas.delete_selected()
    skill = canvas.skill()
    assert keep not in {n.id for n in skill.nodes} and skill.edges == []
    canvas.undo_stack().undo()
    assert len(canvas.skill().edges) == 2


def test_auto_layout_uses_the_core_layout_and_is_undoable(canvas):
    cam, keep, log = _three_nodes(canvas)
    canvas.connect_nodes(cam, keep)
    canvas.connect_nodes(keep, log)
    before = canvas.skill().layout.nodes
    canvas.auto_layout()
    after = canvas.skill().layout.nodes
    assert [after[n].y for n in (cam, keep, log)] == [0.0, 120.0, 240.0]
    canvas.undo_stack().undo()
    assert canvas.skill().layout.nodes == before


@pytest.mark.parametrize("sample", SAMPLES, ids=lambda p: p.name)
def test_samples_round_trip_through_the_scene_unchanged(canvas, sample):
    skill = load_skill(sample)
    canvas.load_skill(skill)
    assert dump_skill(canvas.skill()) == dump_skill(skill)


def test_unknown_node_types_show_as_placeholders_and_save_back_unchanged(canvas):
    skill = Skill(settings=Settings(name="Future"))
    cam = add_node(skill, "camera@1", source="clip.mp4")
    skill.nodes.append(
        skill.nodes[0].model_copy(update={"id": "future", "type": "heatmap@3", "params": {"cell": 8}})
    )
    skill.nodes[-1].__pydantic_extra__ = {"colour_map": "viridis"}
    keep = add_node(skill, "filter@1")
    chain(skill, cam.id, "future", keep.id)
    canvas.load_skill(skill)
    placeholder = canvas.node("future")
    assert placeholder.view.type_title == "Unknown type heatmap@3"
    assert dump_skill(canvas.skill()) == dump_skill(
        skill.model_copy(update={"layout": canvas.skill().layout})
    )
    saved = canvas.skill().node("future")
    assert saved.params == {"cell": 8} and saved.model_extra == {"colour_map": "viridis"}


def test_node_status_and_problem_outline_are_drawn(canvas):
    keep = canvas.add_node("filter@1")
    canvas.set_node_status(keep, "12.0 fps · 3 ms", "running")
    item = canvas.node(keep).view
    assert (item.status_text, item.status_state) == ("12.0 fps · 3 ms", "running")
    from designer.core.skill import validate_skill

    canvas.show_problems(validate_skill(canvas.skill()))
    assert item.problem == "error"  # a filter with no input
    canvas.clear_node_status()
    assert item.status_text == ""
