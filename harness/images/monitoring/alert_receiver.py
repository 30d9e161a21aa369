#!/usr/bin/env python3
"""The drill's own Alertmanager receiver: what an on-call engineer's pager would have seen, and when.

Alertmanager POSTs its webhook messages to /webhook; every alert in a message becomes one `notification` line
(docs/run-directory.md, section alerts.jsonl) stamped with the moment it arrived, appended to one file. A body
that is not a webhook message becomes a `problem` line and a 400 answer (Alertmanager does not retry a 4xx):
recorded, never a crash. The harness reads the lines back over a loopback-published port:

    GET /notifications?offset=N   ->  {"next": M, "lines": [...]}   (lines from byte N; "end" = only the size)
    GET /-/ready                  ->  200 once listening

Standard library only: it runs in the monitoring image's Debian python3, and the harness's unit tests import
the parsing functions from this file directly.
"""

from __future__ import annotations

import calendar
import json
import os
import re
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

MAX_BODY = 4 * 1024 * 1024        # a webhook message of thousands of alerts stays far below this
MAX_READ = 1024 * 1024            # bytes of lines one GET returns; the harness asks again for more
ERROR_MAX = 500                   # characters of a problem's text

_RFC3339 = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(\.\d+)?([Zz]|[+-]\d{2}:\d{2})\Z", re.ASCII)


def parse_time(value: Any) -> float | None:
    """Alertmanager's RFC 3339 time (nanoseconds allowed) as epoch seconds; its zero time (year 1) and anything
    before 1970 mean "not set" -> None. Raises ValueError for text that is no such time."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValueError(f"expected an RFC 3339 time, found {type(value).__name__}")
    m = _RFC3339.match(value.strip())
    if m is None:
        raise ValueError(f"expected an RFC 3339 time, found {value[:60]!r}")
    year, month, day, hour, minute, second = (int(g) for g in m.groups()[:6])
    if year < 1970:
        return None
    epoch = calendar.timegm((year, month, day, hour, minute, min(second, 59), 0, 0, 0))
    frac = float("0" + m.group(7)) if m.group(7) else 0.0
    zone = m.group(8)
    offset = 0
    if zone not in ("Z", "z"):
        sign = 1 if zone[0] == "+" else -1
        offset = sign * (int(zone[1:3]) * 3600 + int(zone[4:6]) * 60)
    return round(epoch + frac - offset, 3)


def _str_map(value: Any, what: str) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ValueError(f"{what} must be an object, found {type(value).__name__}")
    return {str(k): v if isinstance(v, str) else json.dumps(v) for k, v in value.items()}


def notification_lines(body: bytes, received: float) -> list[dict[str, Any]]:
    """The alerts.jsonl lines for one webhook message received at `received` (epoch seconds).

    A message that is not a webhook message at all gives one problem line; an alert inside it that is broken
    gives a problem line in its place, so one bad alert does not hide the others."""
    t = round(received, 3)
    try:
        doc = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        return [problem(t, f"webhook body is not JSON: {exc}")]
    if not isinstance(doc, dict):
        return [problem(t, f"webhook body must be a JSON object, found {type(doc).__name__}")]
    alerts = doc.get("alerts")
    if not isinstance(alerts, list):
        return [problem(t, "webhook body has no list 'alerts' (is this an Alertmanager webhook message?)")]
    receiver = doc.get("receiver") if isinstance(doc.get("receiver"), str) else None
    out: list[dict[str, Any]] = []
    for i, alert in enumerate(alerts):
        try:
            out.append(_notification(alert, t, receiver))
        except ValueError as exc:
            out.append(problem(t, f"alert {i} of the webhook message: {exc}"))
    return out


def _notification(alert: Any, t: float, receiver: str | None) -> dict[str, Any]:
    if not isinstance(alert, dict):
        raise ValueError(f"expected an object, found {type(alert).__name__}")
    status = alert.get("status")
    if status not in ("firing", "resolved"):
        raise ValueError(f"status must be 'firing' or 'resolved', found {str(status)[:40]!r}")
    labels = _str_map(alert.get("labels"), "labels")
    name = labels.get("alertname")
    if not name:
        raise ValueError("labels have no alertname")
    fingerprint = alert.get("fingerprint")
    return {
        "t": t, "kind": "notification", "status": status, "alertname": name, "labels": labels,
        "annotations": _str_map(alert.get("annotations"), "annotations"),
        "starts_at": parse_time(alert.get("startsAt")), "ends_at": parse_time(alert.get("endsAt")),
        "fingerprint": fingerprint if isinstance(fingerprint, str) else None, "receiver": receiver,
    }


def problem(t: float, error: str) -> dict[str, Any]:
    return {"t": round(t, 3), "kind": "problem", "source": "receiver", "error": error[:ERROR_MAX]}


class Journal:
    """The append-only file of lines; one lock, so concurrent webhook messages never interleave a line."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._lock = threading.Lock()
        open(path, "ab").close()

    def append(self, lines: list[dict[str, Any]]) -> None:
        data = b"".join(json.dumps(line, separators=(",", ":")).encode() + b"\n" for line in lines)
        with self._lock, open(self.path, "ab") as fh:
            fh.write(data)
            fh.flush()

    def size(self) -> int:
        return os.path.getsize(self.path)

    def read(self, offset: int) -> tuple[int, list[Any]]:
        """Complete lines from byte `offset` (at most MAX_READ bytes of them) and the offset after them."""
        with open(self.path, "rb") as fh:
            fh.seek(max(0, offset))
            chunk = fh.read(MAX_READ)
        end = chunk.rfind(b"\n") + 1
        return max(0, offset) + end, list(_decode(chunk[:end]))


def _decode(chunk: bytes) -> Iterator[Any]:
    for raw in chunk.splitlines():
        try:
            yield json.loads(raw)
        except ValueError:
            continue


class Handler(BaseHTTPRequestHandler):
    server_version = "drills-alert-receiver"
    journal: Journal  # set on the class by serve()

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
        pass  # one line per message would drown the container's log; the journal is the record

    def _reply(self, code: int, doc: Any) -> None:
        data = json.dumps(doc).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        received = time.time()
        if urlsplit(self.path).path != "/webhook":
            self._reply(404, {"error": "POST /webhook"})
            return
        try:
            length = int(self.headers.get("Content-Length") or "0")
        except ValueError:
            length = -1
        if length < 0 or length > MAX_BODY:
            self.journal.append([problem(received, f"webhook body length {length} outside 0..{MAX_BODY}")])
            self.close_connection = True
            self._reply(400, {"error": "bad length"})
            return
        body = self.rfile.read(length)
        lines = notification_lines(body, received)
        self.journal.append(lines)
        bad = all(line["kind"] == "problem" for line in lines) and bool(lines)
        self._reply(400 if bad else 200, {"recorded": len(lines)})

    def do_GET(self) -> None:  # noqa: N802
        url = urlsplit(self.path)
        if url.path in ("/-/ready", "/-/healthy"):
            self._reply(200, {"ready": True})
            return
        if url.path != "/notifications":
            self._reply(404, {"error": "GET /notifications?offset=N or /-/ready"})
            return
        raw = (parse_qs(url.query).get("offset") or ["0"])[0]
        if raw == "end":
            self._reply(200, {"next": self.journal.size(), "lines": []})
            return
        try:
            offset = int(raw)
        except ValueError:
            self._reply(400, {"error": "offset must be a byte offset or 'end'"})
            return
        nxt, lines = self.journal.read(offset)
        self._reply(200, {"next": nxt, "lines": lines})


def serve(port: int, path: str) -> None:
    Handler.journal = Journal(path)
    server = ThreadingHTTPServer(("0.0.0.0", port), Handler)
    server.daemon_threads = True
    print(f"drills alert receiver on :{port}, journal {path}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    serve(int(os.environ.get("RECEIVER_PORT", "9095")),
          os.environ.get("RECEIVER_FILE", "/var/lib/drills-receiver/notifications.jsonl"))
    sys.exit(0)
