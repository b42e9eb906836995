"""The New skill wizard end to end, and the Skill settings dialog, driven through their widgets."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from onnx_factory import constant_model
from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QApplication, QDialogButtonBox, QWizard

from designer.core.models.library import ModelLibrary
from designer.core.skill import Settings, Tag, validate_skill
from designer.ui.dialogs.new_skill import EMPTY, WITH_MODEL, NewSkillWizard
from designer.ui.dialogs.settings import SettingsDialog, edit_settings


@pytest.fixture
def library(tmp_path: Path) -> ModelLibrary:
    """A real library holding one real (tiny) YOLOv5-style detector with three labels."""
    rng = np.random.default_rng(1)
    onnx_path = constant_model(
        tmp_path / "gate.onnx", {"output": rng.uniform(0, 1, (1, 20, 8)).astype(np.float32)}
    )
    labels = tmp_path / "gate.labels.txt"
    labels.write_text("person\ncar\nbike\n", encoding="utf-8")
    lib = ModelLibrary(tmp_path / "library")
    lib.add("Gate detector", "detection", onnx_path, labels)
    return lib


def button(wizard: QWizard, which: QWizard.WizardButton):
    return wizard.button(which)


def click(qtbot, widget) -> None:
    qtbot.mouseClick(widget, Qt.MouseButton.LeftButton)


def test_wizard_end_to_end_creates_a_valid_skill_with_a_library_model(qtbot, library):
    wizard = NewSkillWizard(None, library)
    qtbot.addWidget(wizard)
    wizard.show()
    basics = wizard.basics

    # Basics: nothing typed yet, so Next is refused with the validator's words next to the name
    assert not button(wizard, QWizard.WizardButton.NextButton).isEnabled()
    assert basics.form.rows["name"].error == "Give the skill a name."
    qtbot.keyClicks(basics.form.name, "North gate")
    assert basics.form.rows["name"].error is None
    basics.form.fps.setValue(10)
    basics.form.acceleration.setCurrentIndex(basics.form.acceleration.findData("Intel iGPU"))
    assert basics.form.acceleration.currentText() == "Intel iGPU (EFLOW only)"
    basics.form.acceleration.setCurrentIndex(basics.form.acceleration.findData("CPU"))
    qtbot.keyClicks(basics.form.description, "Counts people at the north gate")
    basics.template.setCurrentIndex(basics.template.findData(WITH_MODEL))
    qtbot.waitUntil(lambda: basics.model.count() == 1)  # listed off the GUI thread
    assert basics.model.currentData() == "gate-detector"
    click(qtbot, button(wizard, QWizard.WizardButton.NextButton))

    # Tags: a duplicate name blocks Next until it is fixed
    assert wizard.currentPage() is wizard.tags
    wizard.tags.tags.add_row("site", "north")
    wizard.tags.tags.add_row("site", "gate 2")
    assert "appears twice" in wizard.tags.row.error
    assert not button(wizard, QWizard.WizardButton.NextButton).isEnabled()
    wizard.tags.tags.table.item(1, 0).setText("entrance")
    assert wizard.tags.row.error is None
    click(qtbot, button(wizard, QWizard.WizardButton.NextButton))

    # Review + Create: the summary, the graph, and the validator's verdict (against the library)
    review = wizard.review
    assert wizard.currentPage() is review
    qtbot.waitUntil(lambda: review.result is not None)
    assert review.result == []
    text = review.summary.text()
    for expected in (
        "North gate",
        "10 fps",
        "CPU",
        "site = north",
        "entrance = gate 2",
        "4 nodes, 3 links: Camera Input → Run ML Model → Filter → Insights Log",
    ):
        assert expected in text
    assert "No problems found" in review.problems.text()
    assert button(wizard, QWizard.WizardButton.FinishButton).text() == "Create"
    click(qtbot, button(wizard, QWizard.WizardButton.FinishButton))
    assert wizard.result() == QWizard.DialogCode.Accepted

    skill = wizard.skill()
    assert skill.settings.name == "North gate" and skill.settings.fps == 10
    assert skill.settings.description == "Counts people at the north gate"
    assert [(t.name, t.value) for t in skill.settings.tags] == [("site", "north"), ("entrance", "gate 2")]
    model = next(n for n in skill.nodes if n.type == "model@1")
    assert model.params["model_id"] == "gate-detector"
    assert set(skill.layout.nodes) == {n.id for n in skill.nodes}
    assert [p for p in validate_skill(skill, models=library) if p.is_error] == []


def test_review_shows_what_is_missing_and_still_creates(qtbot):
    wizard = NewSkillWizard(None)
    qtbot.addWidget(wizard)
    wizard.show()
    qtbot.keyClicks(wizard.basics.form.name, "Scratch")
    wizard.basics.template.setCurrentIndex(wizard.basics.template.findData(EMPTY))
    # "Review + Create" jumps over the optional Tags page
    click(qtbot, button(wizard, QWizard.WizardButton.CustomButton1))
    assert wizard.currentPage() is wizard.review
    qtbot.waitUntil(lambda: wizard.review.result is not None)
    codes = {p.code for p in wizard.review.result}
    assert {"no-camera", "no-export-node"} <= codes
    assert "Add a Camera Input" in wizard.review.problems.text()
    assert "No nodes yet" in wizard.review.summary.text()
    click(qtbot, button(wizard, QWizard.WizardButton.FinishButton))
    assert wizard.result() == QWizard.DialogCode.Accepted
    assert wizard.skill().nodes == [] and wizard.skill().settings.name == "Scratch"


def test_minimal_template_is_valid_without_a_library(qtbot):
    wizard = NewSkillWizard(None)
    qtbot.addWidget(wizard)
    qtbot.keyClicks(wizard.basics.form.name, "Smallest")
    skill = wizard.skill()
    assert [n.type for n in skill.nodes] == ["camera@1", "filter@1", "insights-log@1"]
    assert [p for p in validate_skill(skill) if p.is_error] == []


def test_settings_dialog_marks_errors_and_keeps_unknown_fields(qtbot):
    original = Settings.model_validate(
        {
            "name": "Find people",
            "fps": 15,
            "tags": [{"name": "sample", "value": "default", "colour": "red"}],
            "future_setting": {"x": 1},
        }
    )
    dialog = SettingsDialog(original)
    qtbot.addWidget(dialog)
    ok = dialog.buttons.button(QDialogButtonBox.StandardButton.Ok)
    dialog.editor.basics.name.clear()
    assert dialog.editor.basics.rows["name"].message.text() == "Give the skill a name."
    assert not ok.isEnabled()
    qtbot.keyClicks(dialog.editor.basics.name, "Find more people")
    assert ok.isEnabled()
    dialog.editor.basics.fps.setValue(30)
    dialog.editor.tags.table.item(0, 1).setText("edited")
    edited = dialog.editor.settings()
    assert edited.name == "Find more people" and edited.fps == 30
    assert edited.model_extra == {"future_setting": {"x": 1}}
    assert edited.tags[0].value == "edited" and edited.tags[0].model_extra == {"colour": "red"}


def test_edit_settings_returns_the_edit_or_none(qtbot):
    settings = Settings(name="Lot", tags=[Tag(name="site", value="a")])

    def act(change: bool, accept: bool) -> None:
        dialog = QApplication.activeModalWidget()
        assert isinstance(dialog, SettingsDialog)
        if change:
            dialog.editor.basics.acceleration.setCurrentIndex(
                dialog.editor.basics.acceleration.findData("Nvidia dGPU")
            )
        (dialog.accept if accept else dialog.reject)()

    QTimer.singleShot(0, lambda: act(True, True))
    edited = edit_settings(None, settings)
    assert edited is not None and edited.acceleration == "Nvidia dGPU" and edited.name == "Lot"
    QTimer.singleShot(0, lambda: act(True, False))
    assert edit_settings(None, settings) is None  # cancelled
    QTimer.singleShot(0, lambda: act(False, True))
    assert edit_settings(None, settings) is None  # nothing changed: no empty undo step
