"""A failed `drill stack up` explains itself and leaves nothing running."""

from __future__ import annotations

import socket
import subprocess
import sys

from drills.platform import labels


def test_port_taken_is_explained_and_nothing_is_left_running(docker_client, stack):
    name = "porttaken"
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        proc = subprocess.run(
            [sys.executable, "-m", "drills", "stack", "up", "--name", name, "--api-port", str(port), "--timeout", "60"],
            capture_output=True, text=True, timeout=180,
        )
    assert proc.returncode == 3, proc.stdout + proc.stderr
    assert "already in use" in proc.stderr and "haproxy" in proc.stderr
    assert "Traceback" not in proc.stderr
    flt = {"label": f"{labels.STACK}={name}"}
    assert docker_client.containers.list(all=True, filters=flt) == []
    assert docker_client.networks.list(filters=flt) == []
    assert docker_client.volumes.list(filters=flt) == []
