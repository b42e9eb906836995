"""The Models page's Optimize for device…: real widgets, a real quantization on a worker with
progress and Cancel, the figures side by side, and switching the skill's node to the optimized
entry and back as one undo step."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from PySide6.QtCore import Qt

import designer.core.models.optimize as optimize_module
from designer.core.models.library import ModelLibrary
from designer.core.skill import Settings, Skill
from designer.core.skill.build import add_node, chain
from designer.core.skill.catalog.exports import INSIGHTS_LOG
from designer.core.skill.catalog.process import MODEL
from designer.core.skill.catalog.sources import CAMERA
from designer.ui.canvas import Canvas
from designer.ui.dialogs.optimize import OptimizeDialog
from designer.ui.library import ModelLibraryWidget
from designer.ui.session import Session
from tests.core.models.test_optimize import CLIP, tiny_detector


@pytest.fixture
def library(tmp_path) -> ModelLibrary:
    lib = ModelLibrary(tmp_path / "data")
    labels = tmp_path / "labels.txt"
    labels.write_text("bright\ndark\n")
    lib.add("tiny", "detection", tiny_detector(tmp_path / "tiny.onnx"), labels)
    return lib


def _skill() -> Skill:
    skill = Skill(settings=Settings(name="Optimize me"))
    add_node(skill, CAMERA.type_id, "camera", source=str(CLIP))
    add_node(skill, MODEL.type_id, "detector", model_id="tiny")
    add_node(skill, INSIGHTS_LOG.type_id, "log")
    chain(skill, "camera", "detector", "log")
    return skill


@pytest.fixture
def page(qtbot, library):
    canvas = Canvas()
    qtbot.addWidget(canvas)
    canvas.load_skill(_skill())
    qtbot.waitUntil(lambda: not canvas.is_loading(), timeout=10_000)
    session = Session(open_library=lambda: library, validate=False)
    session.read_skill_with(canvas.skill)
    widget = ModelLibraryWidget(lambda: library, session=session, editor=canvas)
    qtbot.addWidget(widget)
    widget.resize(700, 600)
    widget.show()
    qtbot.waitUntil(lambda: not widget.loading and len(widget.entries) == 1, timeout=10_000)
    widget.canvas = canvas  # for the tests
    return widget


def _open_dialog(qtbot, page: ModelLibraryWidget, model_id: str) -> OptimizeDialog:
    page.select(model_id)
    assert page.optimize_button.isEnabled()
    qtbot.mouseClick(page.optimize_button, Qt.MouseButton.LeftButton)
    dialog = next(d for d in reversed(page._details) if isinstance(d, OptimizeDialog))
    qtbot.addWidget(dialog)
    return dialog


def test_optimize_with_progress_cancel_then_to_the_end_shown_side_by_side(qtbot, page, library, monkeypatch):
    dialog = _open_dialog(qtbot, page, "tiny")
    assert dialog.source.text() == str(CLIP)  # the skill's camera clip is offered
    assert dialog.clip_button.isEnabled()
    dialog.frames.setValue(6)

    # hold the worker after it has read the frames, so Cancel lands mid-run whatever the machine
    gate = threading.Event()
    split = optimize_module.split_frames

    def held(frames, calibration):
        gate.wait(20)
        return split(frames, calibration)

    monkeypatch.setattr(optimize_module, "split_frames", held)
    qtbot.mouseClick(dialog.start_button, Qt.MouseButton.LeftButton)
    assert dialog.running and not dialog.start_button.isEnabled()
    qtbot.waitUntil(lambda: bool(dialog.fractions), timeout=20_000)
    qtbot.mouseClick(dialog.cancel_button, Qt.MouseButton.LeftButton)
    gate.set()
    qtbot.waitUntil(lambda: not dialog.running, timeout=30_000)
    assert "Cancelled" in dialog.status.text() and dialog.outcome is None
    assert [e.id for e in library.list()] == ["tiny"]

    monkeypatch.setattr(optimize_module, "split_frames", split)
    assert dialog.start_button.isEnabled()
    qtbot.mouseClick(dialog.start_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not dialog.running, timeout=60_000)
    assert dialog.outcome is not None and dialog.outcome.entry is not None, dialog.status.text()
    fractions = [f for f in dialog.fractions if f > 0]
    assert any(0 < f < 1 for f in fractions) and fractions == sorted(fractions)
    assert "F1" in dialog.comparison.text() and "passed" in dialog.comparison.text()
    new_id = dialog.outcome.entry.id
    # the page lists the new entry, selects it, and shows it next to its original
    qtbot.waitUntil(lambda: page.selected_id() == new_id, timeout=10_000)
    assert page.comparison.isVisible()
    text = page.comparison.text()
    assert "Cost per frame" in text and "tiny" in text and "mean IoU" in text
    page.select("tiny")  # the original lists its optimized forms too
    assert "Cost per frame" in page.comparison.text()


def test_switching_the_skills_node_to_the_optimized_entry_and_back_is_one_undo_step(qtbot, page, library):
    from designer.core.models.optimize import optimize_model

    optimized = optimize_model(library, "tiny", CLIP, frames=4).entry
    assert optimized is not None
    page.reload()
    qtbot.waitUntil(lambda: not page.loading and len(page.entries) == 2, timeout=10_000)
    canvas: Canvas = page.canvas  # type: ignore[attr-defined]
    stack = canvas.undo_stack()

    def model_of_detector() -> str:
        node = canvas.skill().node("detector")
        assert node is not None
        return node.params["model_id"]

    page.select(optimized.id)
    assert page.use_button.isEnabled()
    before = stack.count()
    qtbot.mouseClick(page.use_button, Qt.MouseButton.LeftButton)
    assert model_of_detector() == optimized.id and stack.count() == before + 1
    assert not page.use_button.isEnabled()  # nothing left to switch to it

    page.select("tiny")  # and back to the original, one more step
    assert page.use_button.isEnabled()
    qtbot.mouseClick(page.use_button, Qt.MouseButton.LeftButton)
    assert model_of_detector() == "tiny" and stack.count() == before + 2
    stack.undo()
    assert model_of_detector() == optimized.id
    stack.undo()
    assert model_of_detector() == "tiny"


def test_without_a_skill_clip_the_clip_button_is_off_and_closing_cancels(qtbot, library, tmp_path):
    dialog = OptimizeDialog(library, library.get("tiny"))
    qtbot.addWidget(dialog)
    dialog.show()
    assert not dialog.clip_button.isEnabled() and not dialog.start_button.isEnabled()
    dialog.source.setText(str(Path(tmp_path / "missing.avi")))
    qtbot.mouseClick(dialog.start_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not dialog.running, timeout=20_000)
    assert "no such file" in dialog.status.text()
    dialog.target.setCurrentIndex(dialog.target.findData("gpu-fp16"))
    assert not dialog.frames.isEnabled() and "CPU" in dialog.needs.text()
