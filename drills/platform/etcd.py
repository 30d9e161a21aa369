"""Who leads the etcd cluster, asked of etcd itself (the DCS's own view, not a guess from logs)."""

from __future__ import annotations

import json

from docker.errors import APIError, NotFound

# One `docker exec` in one live member: its status names the leader's member id, the member list maps ids to
# names. Asking one member is enough: a member that answers with a leader has heard from it this term.
LEADER_SCRIPT = ("export ETCDCTL_API=3; E=--endpoints=http://127.0.0.1:2379; "
                 "etcdctl $E --command-timeout=2s endpoint status -w json && "
                 "echo '---' && etcdctl $E --command-timeout=2s member list -w json")


def parse_leader(output: str) -> tuple[str | None, str]:
    """(leader member's name, or None, and why not) from LEADER_SCRIPT's output."""
    status_text, sep, members_text = output.partition("---")
    if not sep:
        return None, (output.strip().splitlines() or ["no output"])[-1][:200]
    try:
        status = json.loads(status_text)
        members = json.loads(members_text)
    except ValueError as exc:
        return None, f"unreadable etcdctl output: {exc}"
    entry = status[0] if isinstance(status, list) and status else status
    leader_id = ((entry or {}).get("Status") or {}).get("leader") if isinstance(entry, dict) else None
    if not leader_id:
        return None, "the member knows no leader (an election is running)"
    for m in (members or {}).get("members") or []:
        if m.get("ID") == leader_id:
            return (m.get("name") or None), ("" if m.get("name") else "the leader has no name yet")
    return None, f"leader id {leader_id} is not in the member list"


def leader_name(containers: list) -> tuple[str | None, str]:
    """The etcd leader's member name, asking each running member in turn until one knows."""
    why = "no etcd member is running"
    for c in containers:
        try:
            c.reload()
            if c.status != "running":
                continue
            code, out = c.exec_run(["sh", "-c", LEADER_SCRIPT])
        except (APIError, NotFound) as exc:
            why = str(exc)[:200]
            continue
        name, why = parse_leader(out.decode(errors="replace"))
        if name:
            return name, ""
    return None, why
