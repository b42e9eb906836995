"""The Add model wizard shows what inspection found and lets the user fix the pre-processing and
try the model on a picture before using it; the Models page offers the same later (issue 19,
item 5). A real classifier that needs ImageNet normalisation, on a frame of the bundled clip."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QWizard

from designer.core.models.library import ModelLibrary
from designer.ui.dialogs.model_check import SAMPLE_CLIP, read_picture
from designer.ui.library import AddExternalModelWizard, ModelLibraryWidget
from tests.core.models.onnx_factory import NORMALISATION_LABELS, normalisation_classifier
from tests.core.models.test_preprocess_presets import expected_label


@pytest.fixture
def files(tmp_path):
    labels = tmp_path / "labels.txt"
    labels.write_text("\n".join(NORMALISATION_LABELS) + "\n")
    return normalisation_classifier(tmp_path / "mood.onnx"), labels


def _click(qtbot, widget) -> None:
    qtbot.mouseClick(widget, Qt.MouseButton.LeftButton)


def _choose(qtbot, combo, text: str) -> None:
    """Pick an item the way a keyboard user does: focus the combo, arrow keys until it shows."""
    combo.setFocus()
    qtbot.waitUntil(lambda: QApplication.focusWidget() is combo)
    key = Qt.Key.Key_Down if combo.findText(text) > combo.currentIndex() else Qt.Key.Key_Up
    for _ in range(combo.count()):
        if combo.currentText() == text:
            return
        qtbot.keyClick(QApplication.focusWidget(), key)
    assert combo.currentText() == text


def test_wizard_review_shows_the_inspection_and_the_imagenet_preset_fixes_the_answer(qtbot, tmp_path, files):
    model, labels = files
    library = ModelLibrary(tmp_path / "data")
    wizard = AddExternalModelWizard(library)
    qtbot.addWidget(wizard)
    wizard.show()
    qtbot.keyClicks(wizard.basics.name, "Street mood")
    _choose(qtbot, wizard.basics.task, "Classification")
    _click(qtbot, wizard.button(QWizard.WizardButton.NextButton))
    qtbot.keyClicks(wizard.files.model_path, str(model))
    qtbot.keyClicks(wizard.files.labels_path, str(labels))
    for _ in range(2):
        _click(qtbot, wizard.button(QWizard.WizardButton.NextButton))
    assert wizard.currentPage() is wizard.review
    _click(qtbot, wizard.button(QWizard.WizardButton.FinishButton))  # Create
    qtbot.waitUntil(lambda: wizard.review.check is not None and not wizard.review.running, timeout=30_000)
    check = wizard.review.check
    assert wizard.isVisible() and check.isVisible()
    text = check.summary.text()
    assert "classification" in text and "[1, 3, 64, 64]" in text and "scale 0.00392157" in text
    assert "8 from file" in text and "ms per frame" in text
    assert check.preset.currentText() == "0..1"

    right = expected_label(read_picture(SAMPLE_CLIP))
    _click(qtbot, check.sample_button)  # Try it on a frame of the street clip
    qtbot.waitUntil(lambda: bool(check.results) and not check.busy, timeout=30_000)
    assert check.top_label() == "RGB" != right  # wrong: every picture gets this answer
    assert "Top 5" in check.answer.text() and not check.image.pixmap().isNull()

    _choose(qtbot, check.preset, "ImageNet mean/std")
    assert check.apply_button.isEnabled()
    _click(qtbot, check.apply_button)
    qtbot.waitUntil(lambda: not check.busy and check.top_label() == right, timeout=30_000)
    assert "ImageNet" in check.preset.currentText() and "mean (0.485, 0.456, 0.406)" in check.summary.text()
    assert not check.apply_button.isEnabled()  # saved: nothing pending

    _click(qtbot, wizard.button(QWizard.WizardButton.FinishButton))  # Finish
    qtbot.waitUntil(lambda: not wizard.isVisible())
    assert wizard.created_id == "street-mood"
    assert ModelLibrary(library.data).try_model("street-mood", read_picture(SAMPLE_CLIP))[0].label == right


def test_models_page_checks_and_changes_the_preprocessing_later(qtbot, tmp_path, files):
    model, labels = files
    library = ModelLibrary(tmp_path / "data")
    library.add("Street mood", "classification", model, labels)
    page = ModelLibraryWidget(lambda: library)
    qtbot.addWidget(page)
    page.resize(700, 400)
    page.show()
    qtbot.waitUntil(lambda: page.table.rowCount() == 1)
    page.table.selectRow(0)
    assert page.check_button.isEnabled()
    _click(qtbot, page.check_button)
    dialog = page._details[-1]
    qtbot.waitUntil(dialog.isVisible)
    check = dialog.panel
    _choose(qtbot, check.preset, "ImageNet mean/std")
    _click(qtbot, check.apply_button)
    qtbot.waitUntil(
        lambda: not check.busy and check.preset.currentText() == "ImageNet mean/std", timeout=30_000
    )
    _click(qtbot, check.sample_button)
    qtbot.waitUntil(lambda: bool(check.results) and not check.busy, timeout=30_000)
    assert check.top_label() == expected_label(read_picture(SAMPLE_CLIP))
    assert list(library.get("street-mood").overrides.preprocess["mean"]) == [0.485, 0.456, 0.406]
