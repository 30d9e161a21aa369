"""After a run (`drill run`, or `drill annotate RUN_DIR` for a stored one): marks on the team's Grafana dashboards
and the result as Prometheus metrics (a node_exporter textfile, a Pushgateway push).

What is sent is built by the report layer (drills/report/grafana.py, drills/report/openmetrics.py); this
module only delivers it. The network rule holds here too: Grafana and the Pushgateway are loopback URLs
(drills/scenario/loopback.py), spoken to directly (drills/platform/http.py: no proxy, no .netrc from the
environment, no redirects followed). The Grafana token comes from the environment, never the command line (a
command line shows in `ps` and is recorded in meta.json). Delivery is a courtesy to the dashboards: a Grafana
or Pushgateway that does not answer is a warning, and the verdict and exit code stay what the checks said.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

from drills.checks import stored
from drills.errors import UsageError
from drills.platform import http
from drills.report import grafana as marks
from drills.report import openmetrics
from drills.scenario.loopback import loopback_problem

GRAFANA_TOKEN_ENV = "DRILLS_GRAFANA_TOKEN"
TIMEOUT_S = 10.0
_NODE_EXPORTER_SUFFIX = ".prom"   # node_exporter's textfile collector reads only *.prom


@dataclass(frozen=True)
class Targets:
    """Where a run's marks and metrics go; every field None: nowhere."""

    grafana_url: str | None = None
    grafana_token: str | None = field(default=None, repr=False)
    metrics_textfile: Path | None = None
    pushgateway: str | None = None

    def __bool__(self) -> bool:
        return bool(self.grafana_url or self.metrics_textfile or self.pushgateway)


def targets(grafana_url: str | None, metrics_textfile: Path | None, pushgateway: str | None,
            environ: Mapping[str, str] | None = None) -> Targets:
    """The checked targets of the command line, or a UsageError naming what is wrong (before any run starts)."""
    env = os.environ if environ is None else environ
    token = None
    if grafana_url is not None:
        if problem := loopback_problem(grafana_url):
            raise UsageError(f"--grafana-url: {problem}")
        token = env.get(GRAFANA_TOKEN_ENV, "").strip()
        if not token:
            raise UsageError(f"--grafana-url needs a Grafana service account token in ${GRAFANA_TOKEN_ENV}",
                             hint=f"export {GRAFANA_TOKEN_ENV}=glsa_...; it is never taken from the command line, "
                                  "which `ps` shows and meta.json records")
    if pushgateway is not None and (problem := loopback_problem(pushgateway)):
        raise UsageError(f"--pushgateway: {problem}")
    if metrics_textfile is not None:
        if metrics_textfile.suffix != _NODE_EXPORTER_SUFFIX:
            raise UsageError(f"--metrics-textfile {metrics_textfile}: the name must end in .prom "
                             "(node_exporter's textfile collector reads nothing else)")
        folder = metrics_textfile.parent
        if not folder.is_dir():
            raise UsageError(f"--metrics-textfile {metrics_textfile}: the folder {folder} does not exist",
                             hint="point it into node_exporter's --collector.textfile.directory")
        if metrics_textfile.is_dir():
            raise UsageError(f"--metrics-textfile {metrics_textfile} is a directory: name a file in it, e.g. "
                             f"{metrics_textfile / 'drills.prom'}")
    return Targets(grafana_url, token, metrics_textfile, pushgateway)


def publish(run_dir: Path, where: Targets, log: Callable[[str], None], warn: Callable[[str], None],
            result: Mapping[str, Any] | None = None) -> list[str]:
    """Send a run's marks and metrics to `where`; returns the warnings (each also passed to `warn`). Never
    raises for what a target does: the run's verdict is not the dashboards' business."""
    if not where:
        return []
    run_dir = Path(run_dir)
    if result is None:
        result = stored.load(run_dir).result
    run_id = str(result.get("run_id") or run_dir.name)
    warnings: list[str] = []

    def warned(text: str) -> None:
        warnings.append(text)
        warn(text)

    if where.grafana_url and where.grafana_token:
        found, notes = marks.run_annotations(run_dir, result, run_id)
        for note in notes:
            warned(f"Grafana marks: {note}")
        sent, problem = send_annotations(where.grafana_url, where.grafana_token, found)
        if problem:
            warned(f"Grafana: {sent} of {len(found)} annotation(s) sent; {problem}")
        else:
            log(f"Grafana: {sent} annotation(s) sent to {where.grafana_url}")
    if where.metrics_textfile is not None:
        try:
            openmetrics.write_textfile(where.metrics_textfile, result, run_id)
            log(f"metrics: wrote {where.metrics_textfile}")
        except OSError as exc:
            warned(f"metrics: cannot write {where.metrics_textfile} ({exc.strerror or exc})")
    if where.pushgateway:
        try:
            openmetrics.push(where.pushgateway, result, run_id, _direct, timeout=TIMEOUT_S)
            log(f"metrics: pushed to the Pushgateway at {where.pushgateway}")
        except (OSError, ValueError) as exc:
            warned(f"Pushgateway at {where.pushgateway}: {exc}")
    return warnings


def send_annotations(url: str, token: str, found: Sequence[marks.Annotation],
                     timeout: float = TIMEOUT_S) -> tuple[int, str | None]:
    """POST each annotation to Grafana's /api/annotations: (how many were accepted, why it stopped or None).
    It stops at the first refusal: a wrong token or URL refuses them all alike."""
    endpoint = url.rstrip("/") + "/api/annotations"
    headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
    sent = 0
    with http.session() as s:
        for mark in found:
            try:
                resp = s.post(endpoint, json=mark.body(), headers=headers, timeout=timeout, allow_redirects=False)
            except requests.RequestException as exc:
                return sent, f"{url} did not answer ({type(exc).__name__})"
            if not 200 <= resp.status_code < 300:
                return sent, f"{endpoint} answered HTTP {resp.status_code}{_said(resp)}"
            sent += 1
    return sent, None


def _said(resp: requests.Response) -> str:
    """Grafana's own words for a refusal (`{"message": ...}`), briefly."""
    try:
        message = resp.json().get("message")
    except (ValueError, AttributeError):
        message = resp.text.strip()
    return f": {str(message)[:200]}" if message else ""


def _direct(url: str, method: str, timeout: float | None, headers: Sequence[tuple[str, str]],
            data: bytes) -> Callable[[], None]:
    """prometheus_client's push handler, sending through drills.platform.http (its default handler would
    take the proxy from the environment)."""
    def handle() -> None:
        try:
            resp = http.request(method, url, data=data, headers=dict(headers), timeout=timeout,
                                allow_redirects=False)
        except requests.RequestException as exc:
            raise OSError(f"no answer ({type(exc).__name__})") from None
        if not 200 <= resp.status_code < 300:
            raise OSError(f"HTTP {resp.status_code}: {resp.text.strip()[:200]}")
    return handle
