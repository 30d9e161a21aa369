#!/usr/bin/env python3
"""Prometheus metrics of the reference stack's backup repository, read from its files (mounted read-only).

PostgreSQL's archiver and pgBackRest export nothing themselves, and Patroni's /metrics says nothing about
archiving. The repository on disk is the truth the alert rules need:

* the newest complete WAL segment in the archive -> `drills_wal_archive_end_lsn_bytes`: compared with the
  leader's `patroni_xlog_location`, a gap of more than a segment or two that does not close means archiving
  fails (an idle cluster writes no WAL and switches no segment, so it raises no false alarm);
* the newest backup set in `backup.info` -> `drills_backup_last_completion_timestamp_seconds`, with the
  schedule (`drills_backup_interval_seconds`, from the stack's options) so a rule can say "too old".

Standard library only (Debian python3 in the monitoring image); the harness's unit tests import it by path.
"""

from __future__ import annotations

import json
import os
import re
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

_SEGMENT = re.compile(r"^([0-9A-F]{8})([0-9A-F]{8})([0-9A-F]{8})-[0-9a-f]{40}(\.[a-z0-9]+)?$")
_LOG_DIR = re.compile(r"^[0-9A-F]{16}$")
_VERSION_DIR = re.compile(r"^\d+-\d+$")
DEFAULT_SEGMENT_SIZE = 16 * 1024 * 1024


def segment_end_lsn(name: str, segment_size: int = DEFAULT_SEGMENT_SIZE) -> int | None:
    """Byte position just after the WAL segment an archived file holds (None: not a complete segment's file,
    e.g. a .partial, .backup or .history file)."""
    m = _SEGMENT.match(name)
    if m is None:
        return None
    log, seg = int(m.group(2), 16), int(m.group(3), 16)
    return (log << 32) + (seg + 1) * segment_size


def newest_archived(archive_root: str, segment_size: int = DEFAULT_SEGMENT_SIZE) -> tuple[int, float] | None:
    """(end LSN, mtime) of the newest complete segment over every timeline and PostgreSQL version directory.

    Only the directories of the highest log number are listed, so the cost stays flat as the archive grows."""
    best: tuple[int, float] | None = None
    for version_dir in _listdir(archive_root):
        if not _VERSION_DIR.match(version_dir):
            continue
        vpath = os.path.join(archive_root, version_dir)
        logs = [d for d in _listdir(vpath) if _LOG_DIR.match(d)]
        if not logs:
            continue
        top = max(int(d[8:], 16) for d in logs)
        for d in logs:
            if int(d[8:], 16) < top - 1:  # a segment switch may have just crossed into a new log number
                continue
            dpath = os.path.join(vpath, d)
            for name in _listdir(dpath):
                end = segment_end_lsn(name, segment_size)
                if end is None or (best is not None and end <= best[0]):
                    continue
                try:
                    best = (end, os.stat(os.path.join(dpath, name)).st_mtime)
                except OSError:
                    continue
    return best


def backup_sets(backup_info_text: str) -> list[dict[str, Any]]:
    """The sets of pgBackRest's backup.info ([backup:current]: one `label={json}` line per set)."""
    sets: list[dict[str, Any]] = []
    section = None
    for raw in backup_info_text.splitlines():
        line = raw.strip()
        if line.startswith("[") and line.endswith("]"):
            section = line[1:-1]
            continue
        if section != "backup:current" or "=" not in line:
            continue
        label, _, value = line.partition("=")
        try:
            doc = json.loads(value)
        except ValueError:
            continue
        if isinstance(doc, dict):
            sets.append({"label": label, **doc})
    return sets


def _listdir(path: str) -> list[str]:
    try:
        return os.listdir(path)
    except OSError:
        return []


def _read(path: str) -> str | None:
    for candidate in (path, path + ".copy"):  # pgBackRest keeps a copy; either may be mid-rewrite
        try:
            with open(candidate, encoding="utf-8") as fh:
                return fh.read()
        except (OSError, UnicodeDecodeError):
            continue
    return None


def gauge(name: str, help_text: str, value: float, labels: str = "") -> list[str]:
    text = str(int(value)) if float(value).is_integer() else repr(float(value))  # no rounding: LSNs, epochs
    return [f"# HELP {name} {help_text}", f"# TYPE {name} gauge", f"{name}{labels} {text}"]


def render(repo: str, stanza: str, interval_s: float, archiving: bool,
           segment_size: int = DEFAULT_SEGMENT_SIZE) -> str:
    """The whole /metrics page for the repository at `repo`."""
    lines: list[str] = []
    lines += gauge("drills_backup_interval_seconds",
                   "Seconds between scheduled backups on the leader (0: only the backup taken at stack start).",
                   interval_s)
    lines += gauge("drills_wal_archiving_enabled", "1 if the stack archives WAL into the repository.",
                   1 if archiving else 0)
    text = _read(os.path.join(repo, "backup", stanza, "backup.info"))
    lines += gauge("drills_backup_repository_readable", "1 if backup.info could be read.", 1 if text else 0)
    sets = backup_sets(text or "")
    lines += gauge("drills_backup_sets", "Backup sets in the repository's catalogue.", len(sets))
    stops = [float(s.get("backup-timestamp-stop") or 0) for s in sets]
    if stops and max(stops) > 0:
        lines += gauge("drills_backup_last_completion_timestamp_seconds",
                       "When the newest backup set finished (epoch seconds).", max(stops))
    fulls = [float(s.get("backup-timestamp-stop") or 0) for s in sets if s.get("backup-type") == "full"]
    if fulls and max(fulls) > 0:
        lines += gauge("drills_backup_last_full_completion_timestamp_seconds",
                       "When the newest full backup set finished (epoch seconds).", max(fulls))
    newest = newest_archived(os.path.join(repo, "archive", stanza), segment_size)
    if newest is not None:
        lines += gauge("drills_wal_archive_end_lsn_bytes",
                       "Byte position just after the newest complete WAL segment in the archive.", newest[0])
        lines += gauge("drills_wal_archive_last_segment_timestamp_seconds",
                       "When the newest complete WAL segment reached the archive (file mtime, epoch seconds).",
                       newest[1])
    return "\n".join(lines) + "\n"


class _Handler(BaseHTTPRequestHandler):
    server_version = "drills-stack-exporter"
    settings: dict[str, Any] = {}
    _cache: tuple[float, bytes] = (0.0, b"")

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass

    def do_GET(self) -> None:  # noqa: N802
        if self.path.split("?")[0] != "/metrics":
            self.send_response(404)
            self.end_headers()
            return
        now = time.monotonic()
        stamp, body = _Handler._cache
        if now - stamp > 0.5:  # Prometheus scrapes every second; never walk the repository more often
            body = render(**self.settings).encode()
            _Handler._cache = (now, body)
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; version=0.0.4")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def main(env: dict[str, str] | None = None) -> None:
    env = dict(os.environ if env is None else env)
    _Handler.settings = {
        "repo": env.get("DRILLS_REPO", "/var/lib/pgbackrest"), "stanza": env.get("DRILLS_STANZA", "drills"),
        "interval_s": float(env.get("DRILLS_BACKUP_INTERVAL", "0") or 0),
        "archiving": env.get("DRILLS_ARCHIVING", "1") == "1",
    }
    port = int(env.get("EXPORTER_PORT", "9188"))
    server = ThreadingHTTPServer(("0.0.0.0", port), _Handler)
    server.daemon_threads = True
    print(f"drills stack exporter on :{port}, repository {_Handler.settings['repo']}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
