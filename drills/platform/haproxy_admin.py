"""HAProxy's runtime API (the admin stats socket each load balancer publishes on 127.0.0.1 over TCP): set a
server's state and read the servers' states back, as an operator does for a zonal shift.

The socket is HAProxy's non-interactive mode: one connection per command line (several commands separated by
`;`), the answer is everything until HAProxy closes it; a command that succeeds answers nothing or a blank line.
"""

from __future__ import annotations

import socket

from drills.platform.zones import ADMIN_PORT

ADMIN_CONTAINER_PORT = f"{ADMIN_PORT}/tcp"
SERVER_STATES = ("ready", "drain", "maint")


class AdminError(RuntimeError):
    """The runtime API did not answer, or refused a command (its own words are in the message)."""


def command(address: str, line: str, timeout: float = 2.0) -> str:
    """Send one command line to `address` (host:port) and return HAProxy's answer."""
    host, _, port = address.rpartition(":")
    try:
        with socket.create_connection((host, int(port)), timeout=timeout) as sock:
            sock.sendall(line.encode() + b"\n")
            chunks = []
            while True:
                data = sock.recv(65536)
                if not data:
                    break
                chunks.append(data)
    except (OSError, ValueError) as exc:
        raise AdminError(f"HAProxy runtime API at {address} unreachable: {exc}") from None
    return b"".join(chunks).decode(errors="replace")


def set_state(address: str, backend: str, servers: list[str], state: str, timeout: float = 2.0) -> None:
    """Set every server of `servers` in `backend` to ready, drain or maint, in one connection."""
    if state not in SERVER_STATES:
        raise ValueError(f"not a server state: {state}")
    if not servers:
        return
    answer = command(address, "; ".join(f"set server {backend}/{s} state {state}" for s in servers), timeout)
    said = [ln.strip() for ln in answer.splitlines() if ln.strip()]
    if said:   # success is silent; anything else is HAProxy saying why not (no such server, ...)
        raise AdminError(f"HAProxy at {address} refused `set server ... state {state}`: {' / '.join(said)[:300]}")


def server_admin_states(address: str, backend: str, timeout: float = 2.0) -> dict[str, str]:
    """{server: ready|drain|maint} of `backend`, from `show servers state` (the admin state bits: 0x01 forced
    maintenance, 0x08 forced drain; the operational state says nothing about what the operator set)."""
    answer = command(address, f"show servers state {backend}", timeout)
    lines = [ln for ln in answer.splitlines() if ln.strip() and not ln.startswith("#")]
    if lines and not lines[0][:1].isdigit():   # the format version line ("1"), or HAProxy's error
        raise AdminError(f"unexpected answer from {address}: {lines[0][:200]}")
    out: dict[str, str] = {}
    for ln in lines[1:]:
        cols = ln.split()
        if len(cols) < 7 or cols[1] != backend:
            continue
        admin = int(cols[6]) if cols[6].isdigit() else 0
        out[cols[3]] = "maint" if admin & 0x01 else "drain" if admin & 0x08 else "ready"
    return out


def address_of(container) -> str | None:
    """127.0.0.1:PORT where a load balancer container publishes its runtime API, as Docker has it now."""
    ports = (container.attrs.get("NetworkSettings") or {}).get("Ports") or {}
    bound = ports.get(ADMIN_CONTAINER_PORT)
    return f"127.0.0.1:{bound[0]['HostPort']}" if bound else None
