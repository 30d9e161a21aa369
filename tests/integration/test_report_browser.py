"""report.html in a real browser: headless Chromium (Debian's `chromium`) driven over the DevTools protocol.

Checks what a unit test cannot: the page loads from file:// with no network request but itself, no console
error, the charts and the fault shading are really drawn. Screenshots are kept under reports/ (git-ignored)
for a human to look at. Skips, saying why, where Chromium is not installed (scripts/ensure-chromium.sh).
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import json
import os
import queue
import shutil
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import pytest

from drills.report import compare_runs, render_run, write_index

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "unit" / "fixtures" / "runs"
ARTIFACTS = ROOT / "reports" / "browser-test"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync", "--hide-scrollbars",
         "--disable-extensions", "--mute-audio", "--remote-debugging-pipe"]


def _chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


class PipeBrowser:
    """Chromium with --remote-debugging-pipe: DevTools messages over fds 3 (in) and 4 (out), NUL-separated.

    No websocket client and no port needed; one page target, attached in flat session mode.
    """

    def __init__(self, executable: str) -> None:
        self.profile = tempfile.mkdtemp(prefix="drills-chromium-")
        to_child_r, self._to_child = os.pipe()
        self._from_child, from_child_w = os.pipe()

        def wire_fds() -> None:  # runs in the child: put the pipe ends on fds 3 and 4
            a = fcntl.fcntl(to_child_r, fcntl.F_DUPFD, 10)
            b = fcntl.fcntl(from_child_w, fcntl.F_DUPFD, 10)
            os.dup2(a, 3)
            os.dup2(b, 4)

        self.proc = subprocess.Popen([executable, *FLAGS, f"--user-data-dir={self.profile}", "about:blank"],
                                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                     preexec_fn=wire_fds, close_fds=False)
        os.close(to_child_r)
        os.close(from_child_w)
        self._next_id = 0
        self._replies: dict[int, dict] = {}
        self.events: queue.Queue[dict] = queue.Queue()
        self._cond = threading.Condition()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        self._stderr: list[bytes] = []
        threading.Thread(target=lambda: self._stderr.extend(self.proc.stderr), daemon=True).start()
        self.session: str | None = None

    def _read(self) -> None:
        buf = b""
        while True:
            try:
                chunk = os.read(self._from_child, 1 << 16)
            except OSError:
                break
            if not chunk:
                break
            buf += chunk
            while b"\0" in buf:
                raw, buf = buf.split(b"\0", 1)
                msg = json.loads(raw)
                if "id" in msg:
                    with self._cond:
                        self._replies[msg["id"]] = msg
                        self._cond.notify_all()
                else:
                    self.events.put(msg)

    def send(self, method: str, params: dict | None = None, session: bool = True, timeout: float = 30) -> dict:
        self._next_id += 1
        msg: dict = {"id": self._next_id, "method": method, "params": params or {}}
        if session and self.session:
            msg["sessionId"] = self.session
        os.write(self._to_child, json.dumps(msg).encode() + b"\0")
        deadline = time.monotonic() + timeout
        with self._cond:
            while msg["id"] not in self._replies:
                left = deadline - time.monotonic()
                if left <= 0 or self.proc.poll() is not None:
                    raise AssertionError(f"no DevTools reply to {method}; chromium stderr: "
                                         f"{b''.join(self._stderr)[-2000:].decode(errors='replace')}")
                self._cond.wait(min(left, 0.5))
            reply = self._replies.pop(msg["id"])
        if "error" in reply:
            raise AssertionError(f"{method}: {reply['error']}")
        return reply.get("result", {})

    def open_page(self) -> None:
        target = self.send("Target.createTarget", {"url": "about:blank"}, session=False)["targetId"]
        self.session = self.send("Target.attachToTarget", {"targetId": target, "flatten": True},
                                 session=False)["sessionId"]
        for domain in ("Page", "Runtime", "Log", "Network"):
            self.send(f"{domain}.enable")

    def wait_event(self, method: str, timeout: float = 30) -> list[dict]:
        """Events until `method` arrives (inclusive), so nothing observed on the way is lost."""
        seen = []
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"{method} did not happen within {timeout} s")
            try:
                ev = self.events.get(timeout=left)
            except queue.Empty:
                continue
            seen.append(ev)
            if ev.get("method") == method:
                return seen

    def drain(self, settle_s: float = 0.5) -> list[dict]:
        time.sleep(settle_s)
        out = []
        while True:
            try:
                out.append(self.events.get_nowait())
            except queue.Empty:
                return out

    def evaluate(self, expression: str) -> object:
        r = self.send("Runtime.evaluate", {"expression": expression, "returnByValue": True})
        return r.get("result", {}).get("value")

    def screenshot(self, path: Path) -> None:
        metrics = self.send("Page.getLayoutMetrics")
        size = metrics.get("cssContentSize") or metrics.get("contentSize")
        width, height = 1280, min(int(size["height"]) + 10, 16000)
        self.send("Emulation.setDeviceMetricsOverride",
                  {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False})
        data = self.send("Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True})["data"]
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(data))

    def close(self) -> None:
        with contextlib.suppress(AssertionError):
            self.send("Browser.close", session=False, timeout=5)
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)
        for fd in (self._to_child, self._from_child):
            with contextlib.suppress(OSError):
                os.close(fd)
        shutil.rmtree(self.profile, ignore_errors=True)


@pytest.fixture(scope="module")
def browser():
    exe = _chromium()
    if not exe:
        pytest.skip("Chromium is not installed: run scripts/ensure-chromium.sh (installs Debian's chromium as root)")
    b = PipeBrowser(exe)
    try:
        b.send("Browser.getVersion", session=False)
        yield b
    finally:
        b.close()


def _load(browser: PipeBrowser, html: Path) -> list[dict]:
    browser.open_page()
    url = html.resolve().as_uri()
    browser.send("Page.navigate", {"url": url})
    events = browser.wait_event("Page.loadEventFired")
    return events + browser.drain()


def _problems(events: list[dict], url: str) -> tuple[list[str], list[str]]:
    errors, requests = [], []
    for ev in events:
        m, p = ev.get("method"), ev.get("params", {})
        if m == "Runtime.consoleAPICalled" and p.get("type") in ("error", "assert"):
            errors.append(json.dumps(p.get("args"))[:300])
        elif m == "Runtime.exceptionThrown":
            errors.append(json.dumps(p.get("exceptionDetails"))[:300])
        elif m == "Log.entryAdded" and p.get("entry", {}).get("level") == "error":
            errors.append(p["entry"].get("text", "")[:300])
        elif m == "Network.requestWillBeSent":
            req = p.get("request", {}).get("url", "")
            if req != url:
                requests.append(req)
    return errors, requests


@pytest.mark.parametrize("kind", ["pass", "fail", "aborted", "crashed"])
def test_report_in_chromium(browser: PipeBrowser, tmp_path: Path, kind: str) -> None:
    run = tmp_path / kind
    shutil.copytree(FIXTURES / kind, run)
    html, _junit = render_run(run)
    events = _load(browser, html)
    errors, requests = _problems(events, html.resolve().as_uri())
    assert errors == [], f"console errors: {errors}"
    assert requests == [], f"the page made network requests: {requests}"
    charts = browser.evaluate("document.querySelectorAll('svg.chart').length")
    assert isinstance(charts, int) and charts >= 4
    spans = browser.evaluate("Array.from(document.querySelectorAll('svg.chart .fault-span'))"
                             ".map(g => g.getAttribute('data-fault-id') + ':' + g.getBoundingClientRect().width)")
    assert spans, "no fault shading in the charts"
    assert all(float(s.split(":")[1]) > 0 for s in spans), f"fault shading not drawn: {spans}"
    # the page's script ran: shading and fault table rows are linked for hover highlighting
    linked = browser.evaluate("document.querySelectorAll('svg .fault-span[data-fault-key]').length")
    assert linked == len(spans)
    verdict = browser.evaluate("document.getElementById('verdict').dataset.verdict")
    assert verdict == {"crashed": "error"}.get(kind, kind)  # a crashed run is judged: it stopped half-way
    browser.screenshot(ARTIFACTS / f"report-{kind}.png")
    assert (ARTIFACTS / f"report-{kind}.png").stat().st_size > 10_000


def test_index_and_compare_in_chromium(browser: PipeBrowser, tmp_path: Path) -> None:
    for kind in ("pass", "fail", "crashed"):
        shutil.copytree(FIXTURES / kind, tmp_path / kind)
        render_run(tmp_path / kind)
    index = write_index(tmp_path)
    diff = compare_runs(tmp_path / "pass", tmp_path / "fail", tmp_path / "compare.html")
    for page, shot in ((index, "index.png"), (Path(diff["html"]), "compare.png")):
        events = _load(browser, page)
        errors, requests = _problems(events, page.resolve().as_uri())
        assert errors == [] and requests == [], (errors, requests)
        browser.screenshot(ARTIFACTS / shot)
    assert browser.evaluate("document.querySelectorAll('tr[data-change=\"worse\"], tr[data-change=\"regressed\"]')"
                            ".length") >= 2
