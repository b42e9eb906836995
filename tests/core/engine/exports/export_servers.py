"""Real endpoints for the export tests and bench: mosquitto (plain, with a password, TLS),
a local HTTP server that can refuse, a test CA made with ``cryptography``, and Azurite
(the model-library tests' helpers)."""

from __future__ import annotations

import datetime
import importlib.util
import ipaddress
import json
import os
import shutil
import socket
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

TLS_PORT = 8883  # azure-iot-device always connects to 8883
LOCK_FILE = Path("/tmp/skill-designer-tests-8883.lock")


def _models_conftest():
    """The model-library tests' Azurite helpers, loaded under a name of their own."""
    path = Path(__file__).resolve().parents[2] / "models" / "conftest.py"
    spec = importlib.util.spec_from_file_location("models_conftest_for_exports", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


MODELS = _models_conftest()
free_port = MODELS.free_port


def unused_port() -> int:
    """A loopback port nothing listens on (yet): an endpoint that is down, to be started later."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


# --- test CA -----------------------------------------------------------------------------


@dataclass
class Certificates:
    ca: Path
    cert: Path
    key: Path


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def make_certificates(folder: Path) -> Certificates:
    """A CA and a server certificate for ``localhost`` (SAN also 127.0.0.1), signed by it."""
    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(_name("skill-designer test CA"))
        .issuer_name(_name("skill-designer test CA"))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=2))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name("localhost"))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=2))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
        .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    folder.mkdir(parents=True, exist_ok=True)
    folder.chmod(0o755)  # mosquitto may drop to its own user: it must reach and read these
    certs = Certificates(folder / "ca.pem", folder / "server.pem", folder / "server.key")
    certs.ca.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    certs.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    certs.key.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        )
    )
    for path in (certs.ca, certs.cert, certs.key):
        path.chmod(0o644)
    return certs


# --- mosquitto -----------------------------------------------------------------------------


def find_mosquitto() -> str:
    for candidate in (shutil.which("mosquitto"), "/usr/sbin/mosquitto"):
        if candidate and Path(candidate).is_file():
            return candidate
    pytest.fail("mosquitto is needed: `apt-get install mosquitto` (.ci/run does)", pytrace=False)


@dataclass
class Broker:
    """A mosquitto process on a loopback port, which a test may stop and start again."""

    port: int
    folder: Path
    tls: Certificates | None = None
    passwords: dict[str, str] = field(default_factory=dict)
    process: subprocess.Popen | None = None

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def _config(self) -> Path:
        # Persistence keeps the test subscriber's session (and the messages queued for it) across a
        # restart, so a message published before the subscriber is back is not lost to the test.
        lines = [
            f"listener {self.port} 127.0.0.1",
            "persistence true",
            f"persistence_location {self.folder}/",
            "log_dest stderr",
            "log_type error",
        ]
        if os.geteuid() == 0:
            lines.append("user root")  # no privilege drop: it reads the test's own files
        if self.passwords:
            pwfile = self.folder / "passwords"
            pwfile.write_text("")
            for user, password in self.passwords.items():
                tool = shutil.which("mosquitto_passwd") or "/usr/bin/mosquitto_passwd"
                subprocess.run(
                    [tool, "-b", str(pwfile), user, password],
                    check=True,
                    capture_output=True,
                )
            pwfile.chmod(0o644)
            lines += ["allow_anonymous false", f"password_file {pwfile}"]
        else:
            lines.append("allow_anonymous true")
        if self.tls is not None:
            lines += [f"cafile {self.tls.ca}", f"certfile {self.tls.cert}", f"keyfile {self.tls.key}"]
        config = self.folder / "mosquitto.conf"
        config.write_text("\n".join(lines) + "\n")
        return config

    def start(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        self.folder.chmod(0o755)
        self.process = subprocess.Popen(
            [find_mosquitto(), "-c", str(self._config())], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                err = self.process.stderr.read().decode(errors="replace")
                pytest.fail(f"mosquitto exited at start ({self.process.returncode}): {err}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.3):
                    return
            except OSError:
                time.sleep(0.05)
        self.stop()
        pytest.fail(f"mosquitto did not listen on 127.0.0.1:{self.port} within 10 s")

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()  # mosquitto saves its sessions and closes every connection
        self.process.wait(timeout=10)
        if self.process.stderr:
            self.process.stderr.close()


class Subscriber:
    """A real paho client subscribed to ``#`` that records (topic, payload) and reconnects
    by itself after a broker restart."""

    def __init__(
        self,
        port: int,
        *,
        tls: Certificates | None = None,
        auth: tuple[str, str] | None = None,
        qos: int = 1,
    ):
        self.messages: list[tuple[str, bytes]] = []
        self.qos_seen: list[int] = []  # the QoS the broker delivered each message with
        self.sub_qos = qos  # the broker delivers at min(publisher's QoS, this)
        self.lock = threading.Lock()
        self.subscribed = threading.Event()
        self.client = mqtt.Client(client_id=f"test-subscriber-{port}-{id(self)}", clean_session=False)
        if tls is not None:
            self.client.tls_set_context(ssl.create_default_context(cafile=str(tls.ca)))
        if auth is not None:
            self.client.username_pw_set(*auth)
        self.client.reconnect_delay_set(0.1, 0.5)
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = lambda *a: self.subscribed.clear()
        self.client.on_subscribe = lambda *a: self.subscribed.set()
        self.client.on_message = self._on_message
        self.client.connect_async("localhost" if tls else "127.0.0.1", port, keepalive=10)
        self.client.loop_start()
        assert self.subscribed.wait(10), "the test subscriber could not subscribe"

    def _on_connect(self, client, userdata, flags, rc) -> None:
        if rc == 0:
            client.subscribe("#", qos=self.sub_qos)

    def _on_message(self, client, userdata, message) -> None:
        with self.lock:
            self.messages.append((message.topic, bytes(message.payload)))
            self.qos_seen.append(message.qos)

    def wait_for(self, count: int, timeout: float = 20.0) -> list[tuple[str, bytes]]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if len(self.messages) >= count:
                    return list(self.messages)
            time.sleep(0.02)
        with self.lock:
            return list(self.messages)

    def resubscribed(self, timeout: float = 10.0) -> bool:
        return self.subscribed.wait(timeout)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


# --- HTTP ------------------------------------------------------------------------------------


class HttpEndpoint:
    """A real HTTP server on 127.0.0.1 that records the JSON bodies it accepts.

    ``refuse_first``: answer that many requests with ``refuse_status`` first;
    ``token``: require ``Authorization: Bearer <token>`` (401 otherwise);
    ``reject``: a predicate on the body that answers 400 with a reason."""

    def __init__(self, port: int = 0) -> None:
        self.accepted: list[dict] = []
        self.requests = 0
        self.refuse_first = 0
        self.refuse_status = 503
        self.token: str | None = None
        self.reject: Callable[[dict], bool] | None = None
        self.hang: threading.Event | None = None
        self.raw: list[tuple[str, bytes]] = []
        self.lock = threading.Lock()
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if endpoint.hang is not None:
                    endpoint.hang.wait(30)  # a server that does not answer (until released)
                with endpoint.lock:
                    endpoint.requests += 1
                    endpoint.raw.append((self.headers.get("Content-Type", ""), body))
                    if endpoint.refuse_first > 0:
                        endpoint.refuse_first -= 1
                        return self._answer(endpoint.refuse_status, "busy, try again\n")
                    if endpoint.token and self.headers.get("Authorization") != f"Bearer {endpoint.token}":
                        return self._answer(401, "bad token\nsecond line")
                    message = json.loads(body)
                    if endpoint.reject is not None and endpoint.reject(message):
                        return self._answer(400, "frame_id not allowed here\nmore detail")
                    endpoint.accepted.append(message)
                return self._answer(200, "ok")

            def _answer(self, status: int, text: str) -> None:
                data = text.encode()
                self.send_response(status)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/insights"

    def wait_for(self, count: int, timeout: float = 20.0) -> list[dict]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if len(self.accepted) >= count:
                    return list(self.accepted)
            time.sleep(0.02)
        with self.lock:
            return list(self.accepted)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


# --- a misbehaving HTTP server ------------------------------------------------------------------


@dataclass
class Seen:
    """One request a ScriptedHttp server received."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes


class ScriptedHttp:
    """A real HTTP server on 127.0.0.1 that answers each request as ``answer(handler, seen)``
    says (default: 200 "ok"), so a test can make it redirect, drip, or never stop talking.
    Every request is recorded; ``stop`` releases any answer that is still going on."""

    def __init__(self, answer: Callable[[BaseHTTPRequestHandler, Seen], None] | None = None) -> None:
        self.answer = answer or (lambda handler, seen: reply(handler, 200, "ok"))
        self.seen: list[Seen] = []
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.bytes_sent = 0  # by drip and endless answers
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # keep-alive answers without Nagle's 40 ms stalls

            def log_message(self, *args) -> None:
                pass

            def _any(self) -> None:
                length = int(self.headers.get("Content-Length", 0) or 0)
                seen = Seen(self.command, self.path, dict(self.headers.items()), self.rfile.read(length))
                with server.lock:
                    server.seen.append(seen)
                try:
                    server.answer(self, seen)
                except (BrokenPipeError, ConnectionResetError):
                    self.close_connection = True

            do_POST = do_GET = do_PUT = _any

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path: str = "/insights") -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}{path}"

    def posts(self, path: str | None = None) -> list[Seen]:
        with self.lock:
            return [s for s in self.seen if s.method == "POST" and (path is None or s.path == path)]

    def close(self) -> None:
        self.stop.set()
        self.server.shutdown()
        self.server.server_close()


def reply(handler: BaseHTTPRequestHandler, status: int, text: str = "", headers: dict | None = None) -> None:
    data = text.encode()
    handler.send_response(status)
    for key, value in (headers or {}).items():
        handler.send_header(key, value)
    handler.send_header("Content-Type", "text/plain")
    handler.send_header("Content-Length", str(len(data)))
    handler.end_headers()
    handler.wfile.write(data)
    handler.wfile.flush()


def drip(server: ScriptedHttp, period_s: float = 0.5) -> Callable[[BaseHTTPRequestHandler, Seen], None]:
    """An answer that sends one byte every ``period_s`` and never completes (until stopped)."""

    def answer(handler: BaseHTTPRequestHandler, seen: Seen) -> None:
        handler.close_connection = True
        text = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nX-Slow: " + b"x" * 100_000
        for byte in text:
            if server.stop.wait(period_s):
                return
            handler.wfile.write(bytes([byte]))
            handler.wfile.flush()
            with server.lock:
                server.bytes_sent += 1

    return answer


def endless(server: ScriptedHttp, status: int = 200) -> Callable[[BaseHTTPRequestHandler, Seen], None]:
    """An answer with ``status`` and a body that never ends (64 KiB chunks until the client hangs up)."""

    def answer(handler: BaseHTTPRequestHandler, seen: Seen) -> None:
        handler.close_connection = True
        handler.send_response(status)
        handler.send_header("Content-Type", "application/octet-stream")
        handler.send_header("Connection", "close")
        handler.end_headers()
        chunk = b"z" * 65536
        while not server.stop.is_set():
            handler.wfile.write(chunk)
            with server.lock:
                server.bytes_sent += len(chunk)

    return answer
