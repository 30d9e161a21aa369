"""Connect to the Docker engine with an error that says what to start when none answers."""

from __future__ import annotations

import docker
from docker.errors import DockerException

from drills.errors import EngineUnavailable


def connect(timeout: int = 60) -> docker.DockerClient:
    """Return a client for the local engine (DOCKER_HOST honoured), or explain what is missing."""
    try:
        client = docker.from_env(timeout=timeout)
        client.ping()
        return client
    except DockerException as exc:
        raise EngineUnavailable(
            f"no Docker engine answers ({exc.__class__.__name__}: {_first_line(exc)})",
            hint="start Docker (on Debian as root: `make engine` installs docker.io and starts dockerd), "
            "or point DOCKER_HOST at a running engine",
        ) from None


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else "no details"
