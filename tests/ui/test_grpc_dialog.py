"""The gRPC Custom Processing dialog, driven as a user would, against real servers on 127.0.0.1."""

from __future__ import annotations

import re
import socket
import subprocess
import sys
from concurrent import futures
from pathlib import Path

import pytest
from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QApplication, QDialogButtonBox

from designer.ui.dialogs.grpc import CONTAINER, ENDPOINT, GrpcNodeDialog, edit_grpc_node

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def sample_server():
    """`skill-designer serve-sample fake-detection`, asking for JPEG, on a free loopback port."""
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "designer.cli",
            "serve-sample",
            "fake-detection",
            "--port",
            "0",
            "--host",
            "127.0.0.1",
            "--image-type",
            "jpeg",
        ],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    line = process.stdout.readline()
    match = re.search(r"connect with 127\.0\.0\.1:(\d+)", line)
    if not match:
        process.kill()
        raise AssertionError(f"serve-sample announced no address: {line!r} {process.stderr.read()}")
    yield f"127.0.0.1:{match.group(1)}"
    process.terminate()
    process.wait(10)


@pytest.fixture
def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def silent_port():
    """A port that accepts connections and never says a word."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock.getsockname()[1]


def open_dialog(qtbot, node_type: str, params: dict) -> GrpcNodeDialog:
    dialog = GrpcNodeDialog(node_type, params, Path.cwd())
    qtbot.addWidget(dialog)
    dialog.show()
    return dialog


def run_test(qtbot, dialog: GrpcNodeDialog, timeout_ms: int = 10_000) -> str:
    tester = dialog.tester()
    with qtbot.waitSignal(tester.finished, timeout=timeout_ms):
        qtbot.mouseClick(tester.button, Qt.MouseButton.LeftButton)
    return tester.result.text()


def ok_button(dialog: GrpcNodeDialog):
    return dialog.buttons.button(QDialogButtonBox.StandardButton.Ok)


def test_connection_to_serve_sample_shows_what_the_server_asked_for(qtbot, sample_server):
    dialog = open_dialog(qtbot, ENDPOINT, {"endpoint_url": sample_server, "timeout_s": 5.0})
    text = run_test(qtbot, dialog)
    assert "Connected" in text
    # what fake-detection asks for in its handshake when started with --image-type jpeg
    assert "IMAGE_TYPE_JPEG" in text and "FRAME_WITH_IMAGE" in text and "INSIGHTS_META_ONLY" in text
    assert re.search(r"\d+\.\d ms", text)
    assert dialog.tester().button.isEnabled()


def test_closed_port_is_reported_as_refused(qtbot, closed_port):
    dialog = open_dialog(qtbot, ENDPOINT, {"endpoint_url": f"127.0.0.1:{closed_port}"})
    text = run_test(qtbot, dialog)
    assert "Connection refused" in text and f"127.0.0.1:{closed_port}" in text
    assert dialog.tester().last.kind == "refused"


def test_silent_port_times_out_while_the_window_keeps_working(qtbot, silent_port):
    dialog = open_dialog(qtbot, ENDPOINT, {"endpoint_url": f"127.0.0.1:{silent_port}", "timeout_s": 1.0})
    ticks = []
    timer = QTimer()
    timer.timeout.connect(lambda: ticks.append(dialog.tester().result.text()))
    timer.start(20)
    tester = dialog.tester()
    with qtbot.waitSignal(tester.finished, timeout=10_000):
        qtbot.mouseClick(tester.button, Qt.MouseButton.LeftButton)
        assert not tester.button.isEnabled()  # no second test while one is in flight
    timer.stop()
    # the event loop ran during the handshake, showing that a test was under way
    assert any(text.startswith("Connecting to") for text in ticks)
    assert "Timed out" in tester.result.text() and "within 1 s" in tester.result.text()
    assert tester.button.isEnabled()


def test_tls_against_a_plain_server_says_tls(qtbot, sample_server):
    dialog = open_dialog(qtbot, ENDPOINT, {"endpoint_url": f"grpcs://{sample_server}", "timeout_s": 5.0})
    text = run_test(qtbot, dialog)
    assert "TLS failed" in text
    assert "grpcs://" in text


def test_a_grpc_server_without_the_contract_is_not_a_custom_node(qtbot):
    import grpc

    server = grpc.server(futures.ThreadPoolExecutor(max_workers=1))
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        dialog = open_dialog(qtbot, ENDPOINT, {"endpoint_url": f"127.0.0.1:{port}", "timeout_s": 5.0})
        text = run_test(qtbot, dialog)
    finally:
        server.stop(0)
    assert "Not a custom node" in text
    assert "CustomNodeHandler" in text


def test_placeholder_address_is_not_dialled(qtbot):
    dialog = open_dialog(qtbot, ENDPOINT, {"endpoint_url": "$param(counter)"})
    text = run_test(qtbot, dialog, timeout_ms=1000)
    assert "placeholder" in text
    assert ok_button(dialog).isEnabled()  # a placeholder is a valid deploy value


def test_container_test_uses_the_local_endpoint_from_the_port(qtbot, sample_server):
    port = int(sample_server.rsplit(":", 1)[1])
    dialog = open_dialog(qtbot, CONTAINER, {})
    qtbot.keyClicks(dialog.container_name, "counter")
    qtbot.keyClicks(dialog.container_image, "myregistry.azurecr.io/counter:1.0")
    dialog.port.setValue(port)
    assert f"127.0.0.1:{port}" in dialog.container_tester.target.text()
    text = run_test(qtbot, dialog)
    assert "Connected" in text and "IMAGE_TYPE_JPEG" in text


def test_switching_type_keeps_what_was_typed_and_returns_the_chosen_type(qtbot):
    dialog = open_dialog(qtbot, ENDPOINT, {"endpoint_url": "10.0.0.5:6677", "timeout_s": 3.0, "later": 1})
    dialog.select_type(CONTAINER)
    qtbot.keyClicks(dialog.container_name, "counter")
    qtbot.keyClicks(dialog.container_image, "reg.example/counter:2")
    dialog.port.setValue(7000)
    dialog.env.add_row("LOG_LEVEL", "debug")
    type_id, params = dialog.values()
    assert type_id == CONTAINER
    assert params["container_name"] == "counter" and params["port"] == 7000
    assert params["env"] == [{"name": "LOG_LEVEL", "value": "debug"}]
    assert params["timeout_s"] == 3.0  # one call timeout, whichever page shows it
    assert params["later"] == 1  # a parameter this version does not know is kept
    assert "endpoint_url" not in params

    dialog.select_type(ENDPOINT)
    assert dialog.endpoint_url.text() == "10.0.0.5:6677"
    dialog.select_type(CONTAINER)
    assert dialog.container_name.text() == "counter"
    assert dialog.env.rows() == [("LOG_LEVEL", "debug")]


def test_invalid_fields_show_the_validator_message_and_block_ok(qtbot):
    dialog = open_dialog(
        qtbot, CONTAINER, {"container_name": "Counter", "container_image": "x", "port": 7000}
    )
    row = dialog.container_rows["container_name"]
    assert "not a valid container name" in row.message.text()
    assert not ok_button(dialog).isEnabled()
    dialog.container_name.setText("counter")
    assert row.error is None and ok_button(dialog).isEnabled()

    dialog.create_options.setPlainText('{"HostConfig": ')
    assert "must be JSON" in dialog.container_rows["create_options"].message.text()
    dialog.create_options.setPlainText('{"HostConfig": {}}')
    assert dialog.container_rows["create_options"].error is None

    dialog.env.add_row("1BAD", "x")
    assert "not a valid environment variable name" in dialog.container_rows["env"].message.text()
    dialog.env.table.selectRow(0)
    dialog.env.remove_selected()
    assert dialog.container_rows["env"].error is None


def test_architecture_limits_the_accelerations(qtbot):
    dialog = open_dialog(qtbot, CONTAINER, {})
    labels = [dialog.acceleration.itemText(i) for i in range(dialog.acceleration.count())]
    assert "Intel iGPU (EFLOW only)" in labels and "Nvidia Jetson (Jetpack 5)" not in labels
    dialog.architecture.setCurrentIndex(dialog.architecture.findData("ARM64"))
    assert dialog.acceleration.currentData() == "Nvidia Jetson (Jetpack 5)"
    assert dialog.acceleration.count() == 1


def test_edit_grpc_node_returns_values_on_ok_and_none_on_cancel(qtbot):
    def answer(accept: bool) -> None:
        dialog = QApplication.activeModalWidget()
        assert isinstance(dialog, GrpcNodeDialog)
        if accept:
            dialog.endpoint_url.setText("grpcs://edge.example:443")
            dialog.accept()
        else:
            dialog.reject()

    QTimer.singleShot(0, lambda: answer(True))
    result = edit_grpc_node(None, ENDPOINT, {"endpoint_url": "127.0.0.1:1"}, Path.cwd())
    assert result == (ENDPOINT, {"endpoint_url": "grpcs://edge.example:443", "timeout_s": 2.0})

    QTimer.singleShot(0, lambda: answer(False))
    assert edit_grpc_node(None, ENDPOINT, {"endpoint_url": "127.0.0.1:1"}, Path.cwd()) is None


def test_closing_the_dialog_abandons_a_test_in_flight(qtbot, silent_port):
    dialog = open_dialog(qtbot, ENDPOINT, {"endpoint_url": f"127.0.0.1:{silent_port}", "timeout_s": 60.0})
    tester = dialog.tester()
    qtbot.mouseClick(tester.button, Qt.MouseButton.LeftButton)
    task = tester._task
    assert task is not None and task.running
    with qtbot.waitSignal(task.finished, timeout=10_000):  # not the 60 s call timeout
        dialog.reject()
    assert not dialog.isVisible()
    assert "Timed out" not in tester.result.text()  # an abandoned test reports nothing
