"""Container nodes in `skill-designer run`: say what run does not do, or start them (--start-containers).

A gRPC Custom Processing (Container) node is reached at its local endpoint (127.0.0.1:<port>
unless ``preview_endpoint`` says otherwise); on a device the IoT Edge deployment starts the
container, but on this machine run only connects. With --start-containers and a running Docker,
run starts each image, waits for its handshake, and stops it at the end.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from dataclasses import dataclass

from designer.core.engine.executor import Engine
from designer.core.engine.nodes.grpc import docker_run_line
from designer.core.skill.catalog.process import GrpcContainerParams
from designer.customnode.client import CustomNodeClient
from designer.customnode.errors import CustomNodeError

DOCKER_TIMEOUT_S = 20.0
HANDSHAKE_WAIT_S = 60.0


class ContainerError(Exception):
    """A container could not be started, or Docker is not there; the message says which."""


@dataclass
class StartedContainer:
    node_id: str
    container_id: str


def container_nodes(engine: Engine) -> list[tuple[str, GrpcContainerParams]]:
    return [
        (node_id, node.params)
        for node_id, node in engine.plan.nodes.items()
        if isinstance(node.params, GrpcContainerParams)
    ]


def notices(engine: Engine) -> list[str]:
    """One line per container node: where run connects, and how the container gets started."""
    return [
        f"node {node_id}: run does not start container '{params.container_name}'; it connects to "
        f"{params.local_endpoint}, so the container must be running: {docker_run_line(params)} "
        "(or pass --start-containers)"
        for node_id, params in container_nodes(engine)
    ]


def _docker(*args: str, timeout: float = DOCKER_TIMEOUT_S) -> subprocess.CompletedProcess:
    return subprocess.run(["docker", *args], capture_output=True, text=True, timeout=timeout, check=False)


def docker_problem() -> str | None:
    """Why Docker cannot start containers here, or None when it can."""
    if shutil.which("docker") is None:
        return "Docker is not installed (no docker command)"
    try:
        info = _docker("info", "--format", "{{.ServerVersion}}")
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"Docker does not answer ({exc})"
    if info.returncode != 0:
        reason = (info.stderr.strip().splitlines() or ["docker info failed"])[-1]
        return f"Docker is not available: {reason}"
    return None


def start_containers(engine: Engine) -> list[StartedContainer]:
    """Start every container node's image and wait until it answers the handshake.

    On any failure the containers started so far are stopped and ContainerError is raised.
    """
    nodes = container_nodes(engine)
    if not nodes:
        return []
    problem = docker_problem()
    if problem:
        raise ContainerError(f"--start-containers: {problem}; start the containers yourself")
    started: list[StartedContainer] = []
    try:
        for node_id, params in nodes:
            env = [arg for row in params.env for arg in ("-e", row.name)]
            name = f"skill-designer-{params.container_name}-{os.getpid()}"
            port = f"{params.port}:{params.port}"
            result = _docker("run", "-d", "--rm", "--name", name, "-p", port, *env, params.container_image)
            if result.returncode != 0:
                reason = (result.stderr.strip().splitlines() or ["docker run failed"])[-1]
                raise ContainerError(f"node {node_id}: cannot start {params.container_image}: {reason}")
            started.append(StartedContainer(node_id, result.stdout.strip()))
            _wait_for_handshake(node_id, params)
    except BaseException:
        stop_containers(started)
        raise
    return started


def _wait_for_handshake(node_id: str, params: GrpcContainerParams) -> None:
    deadline = time.monotonic() + HANDSHAKE_WAIT_S
    last = ""
    while time.monotonic() < deadline:
        try:
            with CustomNodeClient(params.local_endpoint, timeout=2.0, backoff_initial=0.01) as client:
                client.connect()
                return
        except CustomNodeError as exc:
            last = exc.detail
            time.sleep(0.5)
    raise ContainerError(
        f"node {node_id}: container '{params.container_name}' did not answer the handshake at "
        f"{params.local_endpoint} within {HANDSHAKE_WAIT_S:g} s ({last})"
    )


def stop_containers(started: list[StartedContainer]) -> None:
    for container in started:
        try:
            _docker("stop", "--time", "5", container.container_id, timeout=30.0)
        except (OSError, subprocess.TimeoutExpired):
            pass
