"""The model library page and the Add external model wizard, on a real library and a real Azurite."""

from __future__ import annotations

import importlib.util
import os
import signal
import sys
import threading
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper
from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QApplication, QMessageBox, QWizard

from designer.core.models.blob import RetryPolicy
from designer.core.models.library import ModelLibrary
from designer.ui.library import (
    CONNECTION,
    URL,
    AddExternalModelWizard,
    ModelLibraryWidget,
    add_model,
    model_summary,
)

REPO = Path(__file__).resolve().parents[2]
LABELS = ["person", "car", "bike"]


def _models_fixtures():
    """The Azurite runner of the model-library tests (tests/core/models/conftest.py), by path:
    conftest modules are not importable by name across folders."""
    spec = importlib.util.spec_from_file_location(
        "_ui_models_fixtures", REPO / "tests/core/models/conftest.py"
    )
    module = sys.modules.get(spec.name) or importlib.util.module_from_spec(spec)
    if spec.name not in sys.modules:
        sys.modules[spec.name] = module  # its dataclasses look their module up while defined
        spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def azurite(tmp_path_factory):
    """A private Azurite: one test freezes it mid-download, which must not hurt other tests."""
    fixtures = _models_fixtures()
    server = fixtures.Azurite(
        fixtures.find_azurite(), fixtures.free_port(), tmp_path_factory.mktemp("azurite-ui")
    )
    server.start()
    yield server
    server.stop()


@pytest.fixture
def container(azurite):
    from azure.storage.blob import BlobServiceClient

    service = BlobServiceClient.from_connection_string(azurite.connection_string)
    client = service.create_container(f"ui{uuid.uuid4().hex[:16]}")
    yield client
    client.delete_container()


def detector(path: Path, pad_mb: int = 0) -> Path:
    """A real YOLOv5-style detector, [1, 3, 32, 32] -> [1, 20, 5 + 3]; ``pad_mb`` of weights that
    the graph reads (and multiplies by zero) make the file big enough to cancel mid-download."""
    rng = np.random.default_rng(7)
    bias = rng.uniform(0, 1, (1, 20, 8)).astype(np.float32)
    nodes = [
        helper.make_node("ReduceMean", ["images"], ["mean"], keepdims=0),
        helper.make_node("Mul", ["mean", "zero"], ["nothing"]),
        helper.make_node("Add", ["bias", "nothing"], ["partial"]),
    ]
    inits = [numpy_helper.from_array(bias, "bias"), numpy_helper.from_array(np.zeros((), np.float32), "zero")]
    if pad_mb:
        pad = rng.standard_normal(pad_mb * 1024 * 1024 // 4).astype(np.float32)
        inits.append(numpy_helper.from_array(pad, "pad"))
        nodes += [
            helper.make_node("ReduceMean", ["pad"], ["pad_mean"], keepdims=0),
            helper.make_node("Mul", ["pad_mean", "zero"], ["pad_nothing"]),
            helper.make_node("Add", ["partial", "pad_nothing"], ["output"]),
        ]
    else:
        nodes.append(helper.make_node("Identity", ["partial"], ["output"]))
    graph = helper.make_graph(
        nodes,
        "ui_detector",
        [helper.make_tensor_value_info("images", TensorProto.FLOAT, [1, 3, 32, 32])],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, [1, 20, 8])],
        initializer=inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.save(model, path)
    return path


@pytest.fixture
def files(tmp_path: Path) -> tuple[Path, Path]:
    labels = tmp_path / "gate.labels.txt"
    labels.write_text("\n".join(LABELS) + "\n", encoding="utf-8")
    return detector(tmp_path / "gate.onnx"), labels


@pytest.fixture
def library(tmp_path: Path) -> ModelLibrary:
    quick = RetryPolicy(attempts=3, backoff_s=0.1, max_backoff_s=0.5, connect_timeout_s=2, read_timeout_s=20)
    return ModelLibrary(tmp_path / "library", retry=quick)


def click(qtbot, widget) -> None:
    qtbot.mouseClick(widget, Qt.MouseButton.LeftButton)


def open_wizard(qtbot, library) -> AddExternalModelWizard:
    wizard = AddExternalModelWizard(library)
    qtbot.addWidget(wizard)
    wizard.show()
    return wizard


def fill_basics(qtbot, wizard: AddExternalModelWizard, name: str) -> None:
    qtbot.keyClicks(wizard.basics.name, name)
    wizard.basics.task.setCurrentIndex(wizard.basics.task.findData("detection"))
    click(qtbot, wizard.button(QWizard.WizardButton.NextButton))
    assert wizard.currentPage() is wizard.files


def to_review(qtbot, wizard: AddExternalModelWizard) -> None:
    click(qtbot, wizard.button(QWizard.WizardButton.NextButton))  # files -> tags
    assert wizard.currentPage() is wizard.tags
    click(qtbot, wizard.button(QWizard.WizardButton.NextButton))  # tags -> review
    assert wizard.currentPage() is wizard.review


def staged_files(library: ModelLibrary) -> list[Path]:
    staging = library.cache.staging
    return list(staging.iterdir()) if staging.exists() else []


class FreezingLibrary(ModelLibrary):
    """The real library, which freezes Azurite (SIGSTOP) the first time a download is part-way,
    on the download's own thread: the rest of the blob cannot arrive before the user cancels."""

    def __init__(self, data: Path, server, **kwargs) -> None:
        super().__init__(data, **kwargs)
        self.server = server
        self.frozen = threading.Event()

    def add(self, *args, progress=None, **kwargs):
        def observed(what: str, done: int, total: int) -> None:
            if 0 < done < total and not self.frozen.is_set():  # before the GUI can hear of it
                os.kill(self.server.process.pid, signal.SIGSTOP)
                self.frozen.set()
            if progress is not None:
                progress(what, done, total)

        return super().add(*args, progress=observed, **kwargs)

    def thaw(self) -> None:
        if self.server.process.poll() is None:
            os.kill(self.server.process.pid, signal.SIGCONT)


def test_model_from_azurite_cancelled_mid_download_then_added(qtbot, azurite, container, tmp_path):
    library = FreezingLibrary(tmp_path / "library", azurite, retry=RetryPolicy(attempts=3, backoff_s=0.1))
    big = detector(tmp_path / "big.onnx", pad_mb=24)
    container.upload_blob("detectors/gate.onnx", big.read_bytes())
    container.upload_blob("detectors/gate.labels.txt", "\n".join(LABELS).encode())

    wizard = open_wizard(qtbot, library)
    fill_basics(qtbot, wizard, "Gate detector")
    files = wizard.files
    files.blob_radio.setChecked(True)
    files.auth.setCurrentIndex(files.auth.findData(CONNECTION))
    assert not wizard.button(QWizard.WizardButton.NextButton).isEnabled()
    files.connection_string.setText(azurite.connection_string)
    qtbot.keyClicks(files.container, container.container_name)
    qtbot.keyClicks(files.model_blob, "detectors/gate.onnx")
    qtbot.keyClicks(files.labels_blob, "detectors/gate.labels.txt")
    to_review(qtbot, wizard)
    review = wizard.review
    assert "connection string" in review.summary.text()
    assert azurite.account_key not in review.summary.text()  # the credential is never shown

    click(qtbot, wizard.button(QWizard.WizardButton.FinishButton))  # "Create"
    assert review.running and review.cancel_button.isVisible()
    try:
        # the bar shows the download part-way (Azurite is held there), and Cancel stops it
        qtbot.waitUntil(lambda: any(0 < f < 1 for f in review.fractions), timeout=20_000)
        assert library.frozen.is_set() and review.running
        assert "MB of 24.0 MB" in review.status.text()
        click(qtbot, review.cancel_button)
        assert review.status.text() == "Cancelling…" and not review.cancel_button.isEnabled()
    finally:
        library.thaw()
    qtbot.waitUntil(lambda: not review.running, timeout=30_000)
    assert review.status.text().startswith("Cancelled: nothing was added")
    assert wizard.isVisible() and wizard.created_id is None
    assert library.list() == [] and staged_files(library) == []
    assert wizard.button(QWizard.WizardButton.FinishButton).isEnabled()

    click(qtbot, wizard.button(QWizard.WizardButton.FinishButton))  # Create again, to the end
    qtbot.waitUntil(lambda: review.entry is not None and not review.running, timeout=60_000)
    assert review.check.isVisible()  # what inspection found, before the model is used
    assert "yolov5" in review.check.summary.text()
    click(qtbot, wizard.button(QWizard.WizardButton.FinishButton))  # Finish
    qtbot.waitUntil(lambda: not wizard.isVisible(), timeout=10_000)
    assert wizard.result() == QWizard.DialogCode.Accepted
    assert wizard.created_id == "gate-detector"
    entry = library.get("gate-detector")
    assert entry.model_file.source.kind == "blob" and entry.model_file.source.blob == "detectors/gate.onnx"
    assert entry.model_file.size == big.stat().st_size
    assert entry.labels == LABELS and entry.info.layout.kind == "yolov5"
    assert review.progress.value() == review.progress.maximum()
    assert review.status.text().startswith("Added gate-detector: Object detection · 3 labels")
    assert azurite.account_key not in library.registry.path.read_text()


def test_sas_url_with_labels_next_to_the_model(qtbot, azurite, container, library, files):
    from azure.storage.blob import ContainerSasPermissions, generate_container_sas

    model, labels = files
    container.upload_blob("m/gate.onnx", model.read_bytes())
    container.upload_blob("m/gate.labels.txt", labels.read_bytes())
    sas = generate_container_sas(
        azurite.account_name,
        container.container_name,
        account_key=azurite.account_key,
        permission=ContainerSasPermissions(read=True),
        expiry=datetime.now(UTC) + timedelta(hours=1),
    )
    wizard = open_wizard(qtbot, library)
    fill_basics(qtbot, wizard, "Gate SAS")
    wizard.files.blob_radio.setChecked(True)
    wizard.files.auth.setCurrentIndex(wizard.files.auth.findData(URL))
    wizard.files.model_url.setText(f"{azurite.account_url}/{container.container_name}/m/gate.onnx?{sas}")
    wizard.files.labels_ref.setText("m/gate.labels.txt")
    to_review(qtbot, wizard)
    assert sas not in wizard.review.summary.text()
    click(qtbot, wizard.button(QWizard.WizardButton.FinishButton))
    qtbot.waitUntil(lambda: wizard.review.entry is not None and not wizard.review.running, timeout=30_000)
    click(qtbot, wizard.button(QWizard.WizardButton.FinishButton))
    qtbot.waitUntil(lambda: not wizard.isVisible(), timeout=10_000)
    entry = library.get("gate-sas")
    assert entry.labels == LABELS and entry.labels_file.source.blob == "m/gate.labels.txt"


def test_a_failed_add_says_why_and_lets_the_user_retry(qtbot, azurite, library):
    wizard = open_wizard(qtbot, library)
    fill_basics(qtbot, wizard, "Nowhere")
    wizard.files.blob_radio.setChecked(True)
    wizard.files.connection_string.setText(azurite.connection_string)
    wizard.files.container.setText("no-such-container")
    wizard.files.model_blob.setText("m.onnx")
    to_review(qtbot, wizard)
    click(qtbot, wizard.button(QWizard.WizardButton.FinishButton))
    qtbot.waitUntil(lambda: not wizard.review.running, timeout=20_000)
    assert "container 'no-such-container' does not exist" in wizard.review.status.text()
    assert wizard.isVisible() and wizard.button(QWizard.WizardButton.FinishButton).isEnabled()
    assert library.list() == []


def test_add_model_runs_the_wizard_on_local_files_and_returns_the_id(qtbot, library, files):
    model, labels = files
    library.add("Already here", "detection", model, labels)
    page = ModelLibraryWidget(lambda: library)  # e.g. the dock, open while a model picker adds one
    qtbot.addWidget(page)
    page.show()
    qtbot.waitUntil(lambda: page.table.rowCount() == 1)

    def drive() -> None:
        wizard = QApplication.activeModalWidget()
        assert isinstance(wizard, AddExternalModelWizard)
        qtbot.waitUntil(lambda: "already-here" in wizard.existing_ids)
        wizard.basics.name.setText("Already here")  # its id is taken: refused in place
        assert "already has a model" in wizard.basics.rows["name"].message.text()
        assert not wizard.button(QWizard.WizardButton.NextButton).isEnabled()
        wizard.basics.name.setText("Local gate")
        assert wizard.basics.rows["name"].message.text() == "Its id will be local-gate."
        wizard.next()
        wizard.files.model_path.setText(str(model.with_suffix(".pt")))
        assert "match the model format" in wizard.files.rows["model_path"].message.text()
        wizard.files.model_path.setText(str(model))
        wizard.files.labels_path.setText(str(labels))
        wizard.next()
        wizard.tags.tags.add_row("dataset", "gate-2024")
        wizard.next()
        wizard.button(QWizard.WizardButton.FinishButton).click()  # Create
        qtbot.waitUntil(lambda: wizard.review.entry is not None and not wizard.review.running)
        wizard.button(QWizard.WizardButton.FinishButton).click()  # Finish, after the check

    QTimer.singleShot(0, drive)
    assert add_model(None, library) == "local-gate"
    entry = library.get("local-gate")
    assert entry.tags == {"dataset": "gate-2024"} and entry.labels == LABELS
    assert entry.model_file.source.kind == "local"
    qtbot.waitUntil(lambda: page.table.rowCount() == 2)  # every library view heard about it


def test_library_page_lists_verifies_shows_and_removes(qtbot, library, files, monkeypatch):
    model, labels = files
    library.add("Gate detector", "detection", model, labels, description="north gate")
    opened = []
    page = ModelLibraryWidget(lambda: opened.append(1) or library)
    qtbot.addWidget(page)
    assert opened == []  # a hidden page (a tab behind another dock) does not open the library
    page.show()
    qtbot.waitUntil(lambda: page.table.rowCount() == 1)
    row = [page.table.item(0, c).text() for c in range(page.table.columnCount())]
    assert row[:4] == ["Gate detector", "Detector", "3", "yolov5"]
    assert row[4].endswith(("bytes", "KB")) and row[5].endswith(" ms")
    assert not page.remove_button.isEnabled()

    page.table.selectRow(0)
    assert page.selected_id() == "gate-detector" and page.remove_button.isEnabled()
    details = page.show_details()
    qtbot.addWidget(details)
    text = details.text.text()
    for expected in ("gate-detector", "yolov5", "person, car, bike", "north gate", str(model)):
        assert expected in text

    click(qtbot, page.verify_button)
    qtbot.waitUntil(lambda: "match their SHA-256" in page.status.text())
    cached = library.cache.path(library.get("gate-detector").model_file.sha256)
    cached.chmod(0o644)
    cached.write_bytes(b"damaged")
    click(qtbot, page.verify_button)
    qtbot.waitUntil(lambda: "is damaged" in page.status.text())

    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.StandardButton.Yes)
    with qtbot.waitSignal(page.models_changed, timeout=10_000):
        click(qtbot, page.remove_button)
    qtbot.waitUntil(lambda: page.table.rowCount() == 0 and not page.loading)
    assert library.list() == []
    assert page.empty.isVisible() and not page.table.isVisible()
    assert page.status.text().startswith("Removed gate-detector (Gate detector).")


def test_every_column_fits_the_default_dock_width_and_long_details_scroll(qtbot, library, files):
    """At the Models dock's default width (380 px) no column hides behind a sideways scroll; a
    model with 1,000 labels has a details dialog that scrolls, its Close button in view."""
    from designer.ui.library import ModelDetailsDialog

    model, labels = files
    library.add("A detector with a rather long name", "detection", model, labels)
    page = ModelLibraryWidget(lambda: library)
    qtbot.addWidget(page)
    page.resize(380, 500)
    page.show()
    qtbot.waitUntil(lambda: page.table.rowCount() == 1)
    header = page.table.horizontalHeader()
    qtbot.waitUntil(lambda: header.length() <= page.table.viewport().width())
    assert not page.table.horizontalScrollBar().isVisible()
    for column in range(1, page.table.columnCount()):  # the name gives way, not the figures
        text = page.table.item(0, column).text()
        assert header.sectionSize(column) >= page.table.fontMetrics().horizontalAdvance(text)

    entry = library.get("a-detector-with-a-rather-long-name")
    many = [f"class {i}" for i in range(1000)]
    entry = entry.model_copy(update={"info": entry.info.model_copy(update={"labels": many})})
    details = ModelDetailsDialog(entry)
    qtbot.addWidget(details)
    details.show()
    qtbot.waitUntil(details.isVisible)
    bar = details.scroll_area.verticalScrollBar()
    assert bar.maximum() > 0  # it scrolls
    bar.setValue(bar.maximum())
    assert details.height() <= 700 and "class 999" in details.text.text()


def test_model_summary_is_one_line_for_the_model_picker(library, files):
    entry = library.add("Gate detector", "detection", *files)
    summary = model_summary(entry)
    assert "\n" not in summary
    assert summary.startswith("Object detection · 3 labels (person, car, bike) · layout yolov5 · ")
    assert summary.endswith("ms per frame (CPU, this machine)")


def test_closing_the_wizard_while_it_adds_keeps_nothing(qtbot, library, files):
    model, _labels = files
    wizard = open_wizard(qtbot, library)
    fill_basics(qtbot, wizard, "Closed early")
    wizard.files.model_path.setText(str(model))
    to_review(qtbot, wizard)
    click(qtbot, wizard.button(QWizard.WizardButton.FinishButton))
    assert wizard.review.running  # its outcome can only arrive once the event loop runs again
    wizard.reject()  # the wizard's own Cancel
    assert wizard.isVisible() and wizard.review.status.text() == "Cancelling…"
    qtbot.waitUntil(lambda: not wizard.isVisible(), timeout=20_000)
    assert wizard.result() == QWizard.DialogCode.Rejected and wizard.created_id is None
    assert library.list() == [] and staged_files(library) == []
