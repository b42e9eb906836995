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
def tls_broker(broker_factory, certificates: Certificates) -> Iterator[Broker]:
    """mosquitto with TLS on 127.0.0.1:8883, held under a lock; skipped only if another program
    holds the port."""
    LOCK_FILE.touch(exist_ok=True)
    with LOCK_FILE.open("r+") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            with socket.socket() as probe:
                probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                probe.bind(("127.0.0.1", TLS_PORT))
        except OSError:
            pytest.skip(f"port {TLS_PORT} is taken by another program (the IoT Hub library needs it)")
        yield broker_factory(port=TLS_PORT, tls=certificates)
        fcntl.flock(lock, fcntl.LOCK_UN)


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
