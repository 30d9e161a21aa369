"""`drill clean` removes a dead run's labelled resources, never a bystander's, and by default leaves a run
nobody recorded (its owner unknown) alone."""

from __future__ import annotations

import subprocess
import sys

import pytest

from drills.platform import labels
from drills.platform.images import image_tag


@pytest.mark.destructive
def test_clean_removes_labelled_resources_and_spares_a_bystander(docker_client):
    bystander = docker_client.containers.run(image_tag("tools"), name="drills-test-bystander", detach=True,
                                             labels={"purpose": "bystander"})
    lbl = {labels.RUN: "cleantest", labels.STACK: "cleantest"}
    net = docker_client.networks.create("drills-cleantest-net", labels=lbl)
    vol = docker_client.volumes.create("drills-cleantest-vol", labels=lbl)
    victim = docker_client.containers.run(image_tag("tools"), name="drills-cleantest-victim", detach=True,
                                          labels=lbl, network=net.name, volumes={vol.name: {"bind": "/data"}})
    frozen = docker_client.containers.run(image_tag("tools"), name="drills-cleantest-frozen", detach=True, labels=lbl)
    frozen.pause()
    try:
        mine = {"label": [f"{labels.RUN}=cleantest"]}
        proc = subprocess.run([sys.executable, "-m", "drills", "clean"], capture_output=True, text=True, timeout=120)
        assert proc.returncode == 0, proc.stderr
        assert "left alone: cleantest" in proc.stdout + proc.stderr  # nobody recorded its owner
        assert len(docker_client.containers.list(all=True, filters=mine)) == 2
        proc = subprocess.run([sys.executable, "-m", "drills", "clean", "--run", "cleantest"],
                              capture_output=True, text=True, timeout=120)
        assert proc.returncode == 0, proc.stderr
        assert docker_client.containers.list(all=True, filters=mine) == []
        assert docker_client.networks.list(filters=mine) == []
        assert docker_client.volumes.list(filters=mine) == []
        bystander.reload()
        assert bystander.status == "running"
    finally:
        bystander.remove(force=True)
        for c in (victim, frozen):
            try:
                c.remove(force=True)
            except Exception:
                pass
