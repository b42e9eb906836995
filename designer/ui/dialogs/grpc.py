"""The gRPC Custom Processing dialog: Container or Endpoint URL, and "Test connection".

Dropping a gRPC node opens it, as in POSS; double-click reopens it. Switching
the type keeps what was typed on the other page. "Test connection" runs a
real handshake (the core client) on a worker thread and shows what the server
asked for and how long the round trip took, or why it failed.
"""

from __future__ import annotations

import html
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from designer.core.skill import Problem
from designer.core.skill.catalog.process import (
    ARCH_ACCELERATIONS,
    GRPC_CONTAINER,
    GRPC_ENDPOINT,
    GrpcContainerParams,
    GrpcEndpointParams,
)
from designer.core.skill.fields import PLACEHOLDER_RE
from designer.core.skill.validate import check_params
from designer.ui import workers
from designer.ui.dialogs.fields import (
    ACCELERATION_LABELS,
    FieldRow,
    PairTable,
    choices_of,
    default_of,
    fill_combo,
    float_spin,
    help_of,
    int_spin,
    section_label,
    select_data,
    title_of,
)
from designer.ui.icons import icon, state_color
from designer.ui.problems import field_message

ENDPOINT = GRPC_ENDPOINT.type_id
CONTAINER = GRPC_CONTAINER.type_id
TYPES = ((CONTAINER, "Container"), (ENDPOINT, "Endpoint URL"))  # POSS's order and wording
ENDPOINT_WIDTH = 560
CONTAINER_SIZE = (640, 720)
_OWN_FIELDS = set(GrpcEndpointParams.model_fields) | set(GrpcContainerParams.model_fields)


# -- the handshake probe (runs on a worker thread) -----------------------------------------------


@dataclass(frozen=True)
class Probe:
    """What a Test connection found: the server's declared types and the round trip, or why not."""

    endpoint: str
    ok: bool
    kind: str  # "ok", "invalid", "refused", "timeout", "tls", "not-custom-node", "error"
    message: str
    image_type: str = ""
    request_type: str = ""
    response_type: str = ""
    round_trip_ms: float = 0.0


_KIND_TITLES = {
    "invalid": "Invalid address",
    "refused": "Connection refused",
    "timeout": "Timed out",
    "tls": "TLS failed",
    "not-custom-node": "Not a custom node",
    "error": "Failed",
}


def probe(endpoint: str, timeout: float, *, cancelled=None, holder: list | None = None) -> Probe:
    """Connect and handshake once with the core client; every failure becomes a Probe."""
    from designer.customnode import pb2
    from designer.customnode.client import CustomNodeClient
    from designer.customnode.errors import (
        CustomNodeError,
        DeadlineExceededError,
        HandshakeRefusedError,
        InvalidEndpointError,
        ProtocolError,
        ServerUnreachableError,
    )

    try:
        client = CustomNodeClient(endpoint, timeout=timeout, connect_timeout=timeout, streaming=False)
    except (InvalidEndpointError, ValueError) as exc:
        return Probe(endpoint, False, "invalid", getattr(exc, "detail", str(exc)))
    if holder is not None:
        holder.append(client)  # lets the dialog close the channel when it goes away
    if cancelled is not None and cancelled():  # closed before the worker got here
        client.close()
        return Probe(client.endpoint, False, "error", "the test was abandoned")
    start = time.perf_counter()
    try:
        info = client.connect()
    except DeadlineExceededError as exc:
        return Probe(client.endpoint, False, "timeout", exc.detail)
    except ServerUnreachableError as exc:
        detail = exc.detail.lower()
        if "tls" in detail or "ssl" in detail or "handshake failed" in detail:
            kind, why = (
                "tls",
                (
                    "the TLS handshake failed: the server does not speak TLS (use host:port without "
                    "grpcs://) or its certificate is not trusted"
                ),
            )
        elif "http/2" in detail or "settings frame" in detail:
            kind, why = "not-custom-node", "something answers at this port, but it is not a gRPC server"
        else:
            kind, why = "refused", "no server answers: is it running, and are host and port right?"
        return Probe(client.endpoint, False, kind, f"{why} ({_short_detail(exc.detail)})")
    except (HandshakeRefusedError, ProtocolError) as exc:
        return Probe(client.endpoint, False, "not-custom-node", exc.detail)
    except CustomNodeError as exc:
        return Probe(client.endpoint, False, "error", exc.detail)
    finally:
        client.close()
    elapsed = (time.perf_counter() - start) * 1000.0
    return Probe(
        client.endpoint,
        True,
        "ok",
        "connected",
        pb2.ImageType.Name(info.image_type),
        pb2.ProcessRequestType.Name(info.process_request_type),
        pb2.ProcessResponseType.Name(info.process_response_type),
        round(elapsed, 1),
    )


def _short_detail(detail: str) -> str:
    """The gRPC reason without the client's own advice, which the dialog words itself."""
    inner = detail.split("(", 1)[-1].rsplit(")", 1)[0] if "(" in detail else detail
    return inner[:240]


class ConnectionTester(QWidget):
    """A "Test connection" button and the result underneath; never blocks the GUI thread."""

    finished = Signal(object)  # the Probe

    def __init__(self, endpoint, timeout, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._endpoint, self._timeout = endpoint, timeout
        self._task: workers.Task | None = None
        self._clients: list = []
        self.last: Probe | None = None
        self.button = QPushButton(icon("test"), "Test connection")
        self.button.clicked.connect(self.start)
        self.target = QLabel()
        self.target.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        top = QHBoxLayout()
        top.setContentsMargins(0, 0, 0, 0)
        top.addWidget(self.button)
        top.addWidget(self.target, 1)
        self.result = QLabel()
        self.result.setObjectName("result")
        self.result.setWordWrap(True)
        self.result.setTextFormat(Qt.TextFormat.RichText)
        self.result.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.result.setFrameShape(QFrame.Shape.StyledPanel)
        self.result.setContentsMargins(8, 6, 8, 6)
        self.result.hide()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 4, 0, 0)
        layout.addLayout(top)
        layout.addWidget(self.result)
        self.refresh_target()

    @property
    def running(self) -> bool:
        return self._task is not None and self._task.running

    def refresh_target(self) -> None:
        endpoint = self._endpoint()
        self.target.setText(f"against <b>{html.escape(endpoint)}</b>" if endpoint else "")

    def start(self) -> None:
        endpoint, timeout = self._endpoint().strip(), self._timeout()
        if self.running:
            return
        if not endpoint:
            self._show(Probe("", False, "invalid", "enter an address first"))
            return
        if PLACEHOLDER_RE.search(endpoint):
            self._show(
                Probe(
                    endpoint,
                    False,
                    "invalid",
                    "a $param(...) placeholder is filled per device; put a real address here to test it",
                )
            )
            return
        self.button.setEnabled(False)
        self.result.setText(f"Connecting to {html.escape(endpoint)} (up to {timeout:g} s)…")
        self.result.setStyleSheet("")
        self.result.show()
        self._task = workers.submit(probe, endpoint, timeout, holder=self._clients, on_done=self._show)
        self._task.failed.connect(self._crashed)
        self._task.finished.connect(self._idle)

    def stop(self) -> None:
        """Abandon a test in flight (the dialog closes): cancel it and close its channel."""
        if self._task is not None:
            self._task.cancel()
        for client in self._clients:
            client.close()
        self._clients.clear()

    def _idle(self) -> None:
        self.button.setEnabled(True)
        self._clients.clear()

    def _crashed(self, message: str) -> None:
        self._show(Probe(self._endpoint(), False, "error", message))

    def _show(self, result: Probe) -> None:
        self.last = result
        if result.ok:
            colour = state_color("ok").name()
            rows = (
                ("Image type", result.image_type),
                ("Request type", result.request_type),
                ("Response type", result.response_type),
                ("Round trip", f"{result.round_trip_ms:.1f} ms (connect + handshake)"),
            )
            body = "".join(
                f"<tr><td style='padding-right:12px'>{name}</td><td><b>{value}</b></td></tr>"
                for name, value in rows
            )
            text = (
                f"<span style='color:{colour}'><b>Connected</b></span> to "
                f"{html.escape(result.endpoint)}; the server asked for:<table>{body}</table>"
            )
        else:
            colour = state_color("error").name()
            title = _KIND_TITLES.get(result.kind, "Failed")
            where = f" ({html.escape(result.endpoint)})" if result.endpoint else ""
            text = f"<span style='color:{colour}'><b>{title}</b></span>{where}: {html.escape(result.message)}"
        self.result.setText(text)
        self.result.show()
        self.finished.emit(result)


# -- the dialog ----------------------------------------------------------------------------------


class GrpcNodeDialog(QDialog):
    """Edit one gRPC Custom Processing node; ``values()`` is the (type id, params) to keep."""

    def __init__(
        self,
        node_type: str,
        params: dict,
        skill_dir: Path | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("gRPC Custom Processing")
        self.setWindowIcon(icon(GRPC_ENDPOINT.icon))
        self.skill_dir = skill_dir
        self._original = dict(params)
        self._extras = {k: v for k, v in params.items() if k not in _OWN_FIELDS}
        self._errors: dict[str, dict[str, str]] = {ENDPOINT: {}, CONTAINER: {}}

        self.type_combo = QComboBox()
        for type_id, label in TYPES:
            self.type_combo.addItem(label, type_id)
        self.stack = QStackedWidget()
        self.endpoint_page = self._build_endpoint_page()
        self.container_page = self._build_container_page()
        self.stack.addWidget(self.container_page)
        self.stack.addWidget(self.endpoint_page)

        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)

        head = QFormLayout()
        head.addRow("Type", self.type_combo)
        layout = QVBoxLayout(self)
        layout.addLayout(head)
        layout.addWidget(self.stack, 1)
        layout.addWidget(self.buttons)

        self._load(node_type, params)
        self.type_combo.currentIndexChanged.connect(self._type_changed)
        self.resize(ENDPOINT_WIDTH, 200)
        self.select_type(node_type if node_type in (ENDPOINT, CONTAINER) else ENDPOINT)

    # -- public ------------------------------------------------------------------------------

    def node_type(self) -> str:
        return self.type_combo.currentData()

    def select_type(self, type_id: str) -> None:
        self.type_combo.setCurrentIndex(self.type_combo.findData(type_id))
        self._type_changed()

    def values(self) -> tuple[str, dict]:
        """The chosen type and its parameters, unknown keys of the original kept as they were."""
        type_id = self.node_type()
        params = self._endpoint_params() if type_id == ENDPOINT else self._container_params()
        return type_id, {**self._extras, **params}

    def errors(self) -> dict[str, str]:
        """Field -> validator message for the current type."""
        return dict(self._errors[self.node_type()])

    def tester(self) -> ConnectionTester:
        return self.endpoint_tester if self.node_type() == ENDPOINT else self.container_tester

    def done(self, result: int) -> None:
        self.endpoint_tester.stop()
        self.container_tester.stop()
        super().done(result)

    # -- pages -------------------------------------------------------------------------------

    def _row(self, form: QFormLayout, model, name: str, editor: QWidget) -> FieldRow:
        row = FieldRow(editor, help_of(model, name))
        form.addRow(title_of(model, name), row)
        return row

    def _build_endpoint_page(self) -> QWidget:
        M = GrpcEndpointParams
        page = QWidget()
        outer = QVBoxLayout(page)
        outer.setContentsMargins(0, 0, 0, 0)
        form = QFormLayout()
        outer.addLayout(form)
        self.endpoint_url = QLineEdit()
        self.endpoint_url.setPlaceholderText("127.0.0.1:6677  or  grpcs://host:port")
        self.endpoint_timeout = float_spin(M, "timeout_s")
        self.endpoint_rows = {
            "endpoint_url": self._row(form, M, "endpoint_url", self.endpoint_url),
            "timeout_s": self._row(form, M, "timeout_s", self.endpoint_timeout),
        }
        self.endpoint_tester = ConnectionTester(
            lambda: self.endpoint_url.text().strip(), self.endpoint_timeout.value
        )
        outer.addWidget(self.endpoint_tester)
        outer.addStretch(1)
        self.endpoint_url.textChanged.connect(self._revalidate)
        self.endpoint_url.textChanged.connect(self.endpoint_tester.refresh_target)
        self.endpoint_timeout.valueChanged.connect(self._revalidate)
        return page

    def _build_container_page(self) -> QWidget:
        M = GrpcContainerParams
        inner = QWidget()
        outer = QVBoxLayout(inner)
        outer.setContentsMargins(0, 0, 8, 0)
        form = QFormLayout()
        outer.addLayout(form)
        self.container_name = QLineEdit()
        self.container_name.setPlaceholderText("my-counter")
        self.container_image = QLineEdit()
        self.container_image.setPlaceholderText("myregistry.azurecr.io/counter:1.0")
        self.create_options = QPlainTextEdit()
        self.create_options.setPlaceholderText('{"HostConfig": {"PortBindings": {}}}')
        self.create_options.setTabChangesFocus(True)
        self.create_options.setFixedHeight(72)
        self.restart_policy = QComboBox()
        fill_combo(self.restart_policy, choices_of(M, "restart_policy"))
        self.port = int_spin(M, "port", unset=True)
        self.route = QLineEdit()
        self.route.setPlaceholderText("/GRPC (usually empty)")
        self.env = PairTable(("Name", "Value"), add_text="Add variable")
        self.architecture = QComboBox()
        fill_combo(self.architecture, choices_of(M, "architecture"))
        self.acceleration = QComboBox()
        self.preview_endpoint = QLineEdit()
        self.container_timeout = float_spin(M, "timeout_s")

        form.addRow(section_label("Container info"))
        rows = {}
        for name, editor in (
            ("container_name", self.container_name),
            ("container_image", self.container_image),
            ("create_options", self.create_options),
            ("restart_policy", self.restart_policy),
        ):
            rows[name] = self._row(form, M, name, editor)
        form.addRow(section_label("Endpoint info"))
        rows["port"] = self._row(form, M, "port", self.port)
        rows["route"] = self._row(form, M, "route", self.route)
        form.addRow(section_label("Environment variables"))
        rows["env"] = FieldRow(self.env, help_of(M, "env"))
        form.addRow(rows["env"])
        form.addRow(section_label("Constraints"))
        rows["architecture"] = self._row(form, M, "architecture", self.architecture)
        rows["acceleration"] = self._row(form, M, "acceleration", self.acceleration)
        form.addRow(section_label("Preview"))
        rows["preview_endpoint"] = self._row(form, M, "preview_endpoint", self.preview_endpoint)
        rows["timeout_s"] = self._row(form, M, "timeout_s", self.container_timeout)
        self.container_tester = ConnectionTester(self._local_endpoint, self.container_timeout.value)
        outer.addWidget(self.container_tester)
        outer.addStretch(1)
        self.container_rows = rows

        for signal in (
            self.container_name.textChanged,
            self.container_image.textChanged,
            self.create_options.textChanged,
            self.restart_policy.currentIndexChanged,
            self.port.valueChanged,
            self.route.textChanged,
            self.env.changed,
            self.acceleration.currentIndexChanged,
            self.preview_endpoint.textChanged,
            self.container_timeout.valueChanged,
        ):
            signal.connect(self._revalidate)
        self.port.valueChanged.connect(self._update_preview_hint)
        self.preview_endpoint.textChanged.connect(self._update_preview_hint)
        self.architecture.currentIndexChanged.connect(self._architecture_changed)
        # one call timeout, whichever page it is typed on
        self.container_timeout.valueChanged.connect(self.endpoint_timeout.setValue)
        self.endpoint_timeout.valueChanged.connect(self.container_timeout.setValue)

        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setWidget(inner)
        return scroll

    # -- loading and reading values ------------------------------------------------------------

    def _load(self, node_type: str, params: dict) -> None:
        def get(model, name: str) -> Any:
            value = params.get(name)
            return default_of(model, name) if value is None else value

        widgets = [self.endpoint_url, self.container_name, self.container_image, self.route]
        for widget in widgets:
            widget.blockSignals(True)
        self.endpoint_url.setText(str(params.get("endpoint_url") or ""))
        timeout = _number(get(GrpcEndpointParams, "timeout_s"), 2.0)
        self.endpoint_timeout.setValue(timeout)
        self.container_timeout.setValue(timeout)
        self.container_name.setText(str(params.get("container_name") or ""))
        self.container_image.setText(str(params.get("container_image") or ""))
        self.create_options.setPlainText(str(params.get("create_options") or ""))
        select_data(self.restart_policy, get(GrpcContainerParams, "restart_policy"))
        port = params.get("port")
        self.port.setValue(int(_number(port, 0)) if port not in (None, "") else self.port.minimum())
        self.route.setText(str(params.get("route") or ""))
        env = params.get("env") or []
        self.env.set_rows(
            [(str(v.get("name", "")), str(v.get("value", ""))) for v in env if isinstance(v, dict)]
        )
        select_data(self.architecture, get(GrpcContainerParams, "architecture"))
        self._architecture_changed()
        select_data(self.acceleration, get(GrpcContainerParams, "acceleration"))
        self.preview_endpoint.setText(str(params.get("preview_endpoint") or ""))
        for widget in widgets:
            widget.blockSignals(False)
        self._update_preview_hint()

    def _endpoint_params(self) -> dict:
        return {"endpoint_url": self.endpoint_url.text().strip(), "timeout_s": self.endpoint_timeout.value()}

    def _container_params(self) -> dict:
        params: dict[str, Any] = {
            "container_name": self.container_name.text().strip(),
            "container_image": self.container_image.text().strip(),
            "create_options": self.create_options.toPlainText(),
            "restart_policy": self.restart_policy.currentData(),
            "route": self.route.text().strip(),
            "env": [{"name": n.strip(), "value": v} for n, v in self.env.rows()],
            "architecture": self.architecture.currentData(),
            "acceleration": self.acceleration.currentData(),
            "preview_endpoint": self.preview_endpoint.text().strip(),
            "timeout_s": self.container_timeout.value(),
        }
        if self.port.value() != self.port.minimum():
            params["port"] = self.port.value()
        return params

    def _local_endpoint(self) -> str:
        typed = self.preview_endpoint.text().strip()
        if typed:
            return typed
        return f"127.0.0.1:{self.port.value()}" if self.port.value() != self.port.minimum() else ""

    # -- reactions ---------------------------------------------------------------------------

    def _type_changed(self) -> None:
        current = self.endpoint_page if self.node_type() == ENDPOINT else self.container_page
        for page in (self.endpoint_page, self.container_page):  # the stack sized to the page shown
            policy = QSizePolicy.Policy.Preferred if page is current else QSizePolicy.Policy.Ignored
            page.setSizePolicy(policy, policy)
        self.stack.setCurrentWidget(current)
        self._revalidate()
        self._fit()

    def _fit(self) -> None:
        """Endpoint: as tall as its few fields; Container: tall, its long form scrolls."""
        layout = self.layout()
        if layout is not None:
            layout.activate()
        if self.node_type() == ENDPOINT:
            self.resize(max(self.width(), ENDPOINT_WIDTH), self.sizeHint().height())
        else:
            self.resize(max(self.width(), CONTAINER_SIZE[0]), CONTAINER_SIZE[1])

    def _architecture_changed(self) -> None:
        current = self.acceleration.currentData()
        allowed = ARCH_ACCELERATIONS.get(self.architecture.currentData(), ())
        fill_combo(self.acceleration, allowed, ACCELERATION_LABELS)
        if current in allowed:
            select_data(self.acceleration, current)
        self._revalidate()

    def _update_preview_hint(self) -> None:
        port = self.port.value()
        hint = f"127.0.0.1:{port}" if port != self.port.minimum() else "127.0.0.1:<port>"
        self.preview_endpoint.setPlaceholderText(hint)
        self.container_tester.refresh_target()

    def _revalidate(self) -> None:
        """Check both pages with the core validator and put each message next to its field."""
        if not hasattr(self, "container_rows"):
            return
        for type_id, params, rows in (
            (ENDPOINT, self._endpoint_params(), self.endpoint_rows),
            (CONTAINER, self._container_params(), self.container_rows),
        ):
            spec = GRPC_ENDPOINT if type_id == ENDPOINT else GRPC_CONTAINER
            problems, _parsed = check_params(spec, "dialog", params)
            errors: dict[str, str] = {}
            for problem in problems:
                if problem.is_error and problem.param:
                    errors.setdefault(
                        problem.param, _without_title(problem, type_id, params.get(problem.param))
                    )
            self._errors[type_id] = errors
            for name, row in rows.items():
                row.set_error(errors.get(name))
        ok = not self._errors[self.node_type()]
        button = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        button.setEnabled(ok)
        button.setToolTip("" if ok else "Fix the fields marked in red first.")


def _without_title(problem: Problem, type_id: str, value: Any) -> str:
    """The message next to its field: the field's title left out (the label says it)."""
    model = GrpcEndpointParams if type_id == ENDPOINT else GrpcContainerParams
    assert problem.param is not None
    return field_message(problem, title_of(model, problem.param), value)


def _number(value: Any, fallback: float) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return fallback


def edit_grpc_node(
    parent: QWidget | None, node_type: str, params: dict, skill_dir: Path
) -> tuple[str, dict] | None:
    """Open the dialog modally; the (possibly switched) type id and new params, or None on cancel.

    ``skill_dir`` is where the skill's relative paths resolve; no gRPC field is a path yet.
    """
    dialog = GrpcNodeDialog(node_type, params, skill_dir, parent)
    try:
        if dialog.exec() != QDialog.DialogCode.Accepted:
            return None
        return dialog.values()
    finally:
        dialog.deleteLater()
