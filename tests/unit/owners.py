"""Owners for the tests of `drill clean`'s scope and of the ledger."""

from __future__ import annotations

import subprocess
import sys

from drills.rundir.owner import Owner, start_ticks


def dead_owner() -> Owner:
    """A process that ran and is gone (its pid may come back some day: the start time tells it apart)."""
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    me = Owner.me()
    found = Owner(proc.pid, start_ticks(proc.pid) or 1, me.boot, me.host)
    proc.wait()
    return found
