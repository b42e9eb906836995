"""Fixtures for the export tests: the real servers of export_servers.py, started and stopped."""

from __future__ import annotations

import fcntl
import socket
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from export_servers import (
    LOCK_FILE,
    MODELS,
    TLS_PORT,
    Broker,
    Certificates,
    HttpEndpoint,
    Subscriber,
    free_port,
    make_certificates,
)


@pytest.fixture(scope="session")
def azurite(tmp_path_factory: pytest.TempPathFactory):
    server = MODELS.Azurite(MODELS.find_azurite(), free_port(), tmp_path_factory.mktemp("azurite"))
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def certificates(tmp_path_factory: pytest.TempPathFactory) -> Certificates:
    return make_certificates(tmp_path_factory.mktemp("certs"))


@pytest.fixture
def broker_factory(tmp_path: Path) -> Iterator[Callable[..., Broker]]:
    started: list[Broker] = []

    def start(*, port: int | None = None, tls: Certificates | None = None, passwords: dict | None = None):
        broker = Broker(port or free_port(), tmp_path / f"mosquitto-{len(started)}", tls, passwords or {})
        started.append(broker)
        broker.start()
        return broker

    yield start
    for broker in started:
        broker.stop()


@pytest.fixture
def broker(broker_factory) -> Broker:
    return broker_factory()


@pytest.fixture
def tls_port() -> Iterator[int]:
    """Port 8883 (the only one the IoT Hub library uses), held under a lock for the test;
    skipped only if another program holds it."""
    LOCK_FILE.touch(exist_ok=True)
    with LOCK_FILE.open("r+") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            with socket.socket() as probe:
                probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                probe.bind(("127.0.0.1", TLS_PORT))
        except OSError:
            pytest.skip(f"port {TLS_PORT} is taken by another program (the IoT Hub library needs it)")
        yield TLS_PORT
        fcntl.flock(lock, fcntl.LOCK_UN)


@pytest.fixture
def tls_broker_factory(tls_port: int, tmp_path: Path, certificates: Certificates) -> Iterator[Callable]:
    """mosquitto with TLS on 127.0.0.1:8883 (``passwords``: refuse anyone else); stopped before
    the port's lock is released."""
    started: list[Broker] = []

    def start(passwords: dict | None = None) -> Broker:
        broker = Broker(tls_port, tmp_path / f"mosquitto-tls-{len(started)}", certificates, passwords or {})
        started.append(broker)
        broker.start()
        return broker

    yield start
    for broker in started:
        broker.stop()


@pytest.fixture
def tls_broker(tls_broker_factory) -> Broker:
    return tls_broker_factory()


@pytest.fixture
def subscribe() -> Iterator[Callable[..., Subscriber]]:
    made: list[Subscriber] = []

    def make(port: int, **kwargs) -> Subscriber:
        made.append(Subscriber(port, **kwargs))
        return made[-1]

    yield make
    for sub in made:
        sub.close()


@pytest.fixture
def http_endpoint() -> Iterator[HttpEndpoint]:
    endpoint = HttpEndpoint()
    yield endpoint
    endpoint.close()
