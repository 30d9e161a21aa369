"""Read server states from HAProxy's stats page (what the load balancer believes)."""

from __future__ import annotations

import csv
import io

import requests

from drills.platform import http


def server_states(stats_url: str, timeout: float = 1.0) -> dict[tuple[str, str], str] | None:
    """{(backend, server): status} from the CSV stats (status is UP, DOWN, MAINT, ...), None if unreachable."""
    try:
        resp = http.get(f"{stats_url}/;csv", timeout=timeout)
        resp.raise_for_status()
    except requests.RequestException:
        return None
    text = resp.text.lstrip("# ")
    out: dict[tuple[str, str], str] = {}
    for row in csv.DictReader(io.StringIO(text)):
        name, server = row.get("pxname", ""), row.get("svname", "")
        if server in ("FRONTEND", "BACKEND") or not name:
            continue
        out[(name, server)] = (row.get("status") or "").split(" ")[0]
    return out
