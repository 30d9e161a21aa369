"""The API's own database-free unit tests (harness/api/tests), run where their dependencies are: inside the
API image (Debian's python3-psycopg and python3-starlette), with the working tree's sources mounted."""

from __future__ import annotations

from pathlib import Path

from docker.errors import ContainerError

from drills.platform import labels
from drills.platform.images import image_tag

API_DIR = Path(__file__).resolve().parents[2] / "harness" / "api"


def test_api_unit_tests_pass_inside_the_api_image(docker_client):
    try:
        out = docker_client.containers.run(
            image_tag("api"), entrypoint=["python3", "-m", "unittest", "discover", "-s", "tests", "-v"],
            volumes={str(API_DIR): {"bind": "/src", "mode": "ro"}}, working_dir="/src",
            environment={"PYTHONDONTWRITEBYTECODE": "1"}, stdout=True, stderr=True, remove=True,
            labels={labels.RUN: "api-unit-tests", labels.KIND: "test"})
    except ContainerError as exc:
        raise AssertionError(f"API unit tests failed:\n{exc.stderr.decode(errors='replace')[-4000:]}") from None
    text = out.decode(errors="replace")
    assert "\nOK" in text and "skipped" not in text, text[-2000:]
    ran = int(text.split("Ran ", 1)[1].split()[0])
    assert ran >= 12, text[-2000:]
