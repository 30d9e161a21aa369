"""Read the truth back from the reference ticketing API after healing (its audit endpoints, through the final
read every audit uses: drills/platform/final_read.py), and write final-state.json.

This is the part of a drill that talks to the system under test for the audit (HTTP, never Docker); the
runner calls `collect()` once the stack has recovered. Everything after it (drills/checks) is pure and
re-runnable from the files.

Credentials are checked by logging in, because a version number alone cannot show that an *old password*
still works: for a sample of users whose rotation was acknowledged, the old and the current password are
tried (both re-derived from the run secret, kept owner-only in the state directory: drills/rundir/vault.py;
an older run's meta.json may still hold it as `run_secret`). Sessions minted before an acknowledged rotation
must be dead; that is tried for the sessions whose tokens the load recorded (the vault's token files; older
histories carry a `token` field on login/register/rotate_password lines); without tokens it stays unknown.
"""

from __future__ import annotations

import time
import zlib
from collections.abc import Mapping
from pathlib import Path

import requests

from drills.checks.finalstate import FinalState, write_final_state
from drills.checks.history import R_INVOKE, R_VERSION, History, Token, load_history
from drills.platform.final_read import read_collection
from drills.platform.ticketing import TicketingClient
from drills.rundir import files, vault
from drills.rundir.passwords import derive_password
from drills.rundir.tolerant import Problems, read_json
from drills.scenario.reference_audit import REFERENCE_AUDIT

SAMPLE_USERS = 200
SAMPLE_SESSIONS = 200


def read_final_state(client: TicketingClient) -> FinalState:
    """Every order, ticket, credential version and event: the reference audit's collections
    (drills/scenario/reference_audit.py), read page by page by the reader every declared audit uses. A
    collection that cannot be read to the end marks the state incomplete (its rows so far are kept, its error
    recorded)."""
    state = FinalState(read_at=round(time.time(), 3))
    read = {}
    for kind, spec in REFERENCE_AUDIT.reads.items():
        c = read_collection(spec, client.base_url, session=client.http, extra_headers=client.audit_headers())
        read[kind] = c.columns
        if not c.complete:
            state.complete = False
            state.errors.append(c.error or f"{c.source}: incomplete")
    orders, tickets, users = read["orders"], read["tickets"], read["credentials"]
    state.order_ids, state.order_keys, state.order_events = orders["id"], orders["idempotency_key"], orders["event_id"]
    state.order_created, state.order_seats = orders["created"], orders["seats"]
    state.ticket_ids, state.ticket_orders = tickets["id"], tickets["order_id"]
    state.ticket_events, state.ticket_seats = tickets["event_id"], tickets["seat_no"]
    try:
        state.credentials = {u: int(v) for u, v in zip(users["username"], users["credential_version"], strict=False)}
    except (TypeError, ValueError) as exc:
        state.complete = False
        state.errors.append(f"GET /audit/credentials: a credential_version is not a number: {exc}")
    state.events = list(read["events"]["event"])
    return state


def _sample(names: list[str], limit: int, first: set[str] | None = None) -> list[str]:
    """A deterministic spread-out sample: suspicious names first, then by a hash of the name."""
    first = first or set()
    ordered = sorted(names, key=lambda n: (n not in first, zlib.crc32(n.encode())))
    return ordered[:limit]


def _login_works(client: TicketingClient, user: str, password: str) -> bool | None:
    """True on 2xx, False on 401, None when the answer says nothing (error, 5xx, timeout)."""
    try:
        resp = client.login(user, password)
    except requests.RequestException:
        return None
    if resp.ok:
        return True
    return False if resp.status == 401 else None


def verify_credentials(client: TicketingClient, rotations: Mapping[str, int], run_secret: str,
                       final_versions: Mapping[str, int] | None = None, limit: int = SAMPLE_USERS) -> dict:
    """Log in with the old and the current password of (a sample of) users whose rotation was
    acknowledged. `rotations` maps user -> acknowledged credential_version. The current password is that of
    max(acknowledged, final) version: an indeterminate later rotation that took effect is not a loss."""
    final_versions = final_versions or {}
    suspicious = {u for u, v in rotations.items() if final_versions.get(u, v) < v}
    users = _sample(list(rotations), limit, suspicious)
    rows, errors = [], 0
    for user in users:
        acked = int(rotations[user])
        final = final_versions.get(user)
        current = max(acked, final or acked)
        old_works = _login_works(client, user, derive_password(run_secret, user, acked - 1))
        new_works = _login_works(client, user, derive_password(run_secret, user, current))
        errors += (old_works is None) + (new_works is None)
        rows.append({"user": user, "acknowledged_version": acked, "final_version": final,
                     "old_works": old_works, "new_works": new_works})
    return {"checked": sum(1 for r in rows if r["old_works"] is not None or r["new_works"] is not None),
            "eligible": len(rotations), "errors": errors, "users": rows}


def revoked_tokens(history: History) -> list:
    """Recorded tokens minted (completed) before their user's last acknowledged rotation was invoked."""
    out = []
    for tok in history.tokens:
        rec = history.rotations.get(tok.user)
        if rec and rec[R_VERSION] > 0 and tok.complete < rec[R_INVOKE]:
            out.append(tok)
    return out


def verify_revoked_sessions(client: TicketingClient, history: History, limit: int = SAMPLE_SESSIONS) -> dict:
    """Try (a sample of) sessions a rotation revoked: each must be refused (401). Tokens are not written."""
    candidates = revoked_tokens(history)
    if not candidates:
        reason = ("the load recorded no session tokens" if not history.tokens
                  else "no recorded session predates an acknowledged rotation")
        return {"checked": 0, "eligible": 0, "working": [], "errors": 0, "reason": reason}
    picked = sorted(candidates, key=lambda t: zlib.crc32(t.token.encode()))[:limit]
    working, errors, checked = [], 0, 0
    for tok in picked:
        try:
            resp = client.me(tok.token)
        except requests.RequestException:
            errors += 1
            continue
        if resp.ok:
            checked += 1
            working.append({"user": tok.user, "minted_t": tok.complete, "op": tok.op})
        elif resp.status == 401:
            checked += 1
        else:
            errors += 1
    return {"checked": checked, "eligible": len(candidates), "working": working, "errors": errors}


def collect(client: TicketingClient, run_dir: Path, history: History | None = None,
            sample_users: int = SAMPLE_USERS, sample_sessions: int = SAMPLE_SESSIONS) -> FinalState:
    """Read the final state, verify credentials and revoked sessions, write final-state.json."""
    run_dir = Path(run_dir)
    problems = Problems()
    if history is None:
        history = load_history(files.history_paths(run_dir), problems)
    state = read_final_state(client)
    meta = read_json(run_dir / files.META, problems) or {}
    meta = meta if isinstance(meta, dict) else {}
    secret = meta.get("run_secret") or vault.run_secret(meta.get("run_id"))
    history.tokens += _vault_tokens(meta.get("run_id"))
    rotations = {u: r[R_VERSION] for u, r in history.rotations.items() if r[R_VERSION] > 0}
    if secret and rotations:
        state.credential_checks = verify_credentials(client, rotations, secret, state.credentials, sample_users)
    elif rotations:
        state.errors.append("no run_secret (the state directory has none for this run): passwords not verified")
    state.session_checks = verify_revoked_sessions(client, history, sample_sessions)
    write_final_state(run_dir, state)
    return state


def _vault_tokens(run_id: object) -> list[Token]:
    """The session tokens the load kept in the vault (owner-only files, never in the run directory)."""
    out = []
    for row in vault.read_tokens(run_id):
        user, token, complete = row.get("user"), row.get("token"), row.get("complete")
        if isinstance(user, str) and isinstance(token, str) and token and isinstance(complete, (int, float)):
            out.append(Token(user, token, float(complete), str(row.get("op") or "login")))
    return out
