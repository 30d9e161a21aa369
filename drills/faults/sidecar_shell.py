"""A shell kept open in a network-fault sidecar, fed one command at a time over its exec's stdin.

Why: every `docker exec` makes the engine start a process in the container (runc), 60-120 ms on a quiet
machine and several hundred under load: that was most of an iptables fault's inject and heal time. The sidecar
pool (sidecars.py) opens one `sh` per sidecar when it starts it, before the load; an inject or a heal then
writes one line to that shell and reads one line back, paying only the shell's own forks (a few ms).

Protocol: the harness sends one line, `<token> <script>` with the script's backslashes doubled and its newlines
written `\\n`; the shell turns it back with its `printf %b` builtin into a file, sources it in a subshell under
`set -e` (stdin /dev/null, stderr into stdout) and ends the reply with the line `<token> <exit status>`. Tokens
carry a random part per session, so no output can pass for the end of a reply. Only one fork per command (the
subshell) besides the script's own programs: under load every process start costs milliseconds.
The shell ends when its stdin closes (the harness exited or was killed), so it outlives nothing. Heals stay
data: the ledger keeps plain iptables chains, and `drill clean` after a SIGKILL runs the same script through a
fresh `docker exec` (network.py).
"""

from __future__ import annotations

import itertools
import re
import secrets
import select
import socket
import struct
import threading
import time
from collections.abc import Callable
from typing import Any

# The loop the sidecar runs (dash: POSIX sh). IFS= and -r keep the line as sent; parameter expansion and printf
# are builtins (no process).
SERVER = ('f=/tmp/.drills-shell-$$; while IFS= read -r line; do '
          'token=${line%% *}; printf %b "${line#* }" > "$f"; '
          '(set -e; . "$f") </dev/null 2>&1; '
          'printf "\\n%s %s\\n" "$token" "$?"; '
          'done; rm -f "$f"')
DEFAULT_TIMEOUT_S = 10.0


class ShellError(RuntimeError):
    """The shell could not run a command (closed, timed out, garbled): the caller falls back to `docker exec`."""


def request(token: str, script: str) -> bytes:
    """One request line."""
    if " " in token or "\n" in token or "\0" in script:
        raise ValueError("a token is one word; a script holds no NUL byte")
    return f"{token} {script.replace(chr(92), chr(92) * 2).replace(chr(10), chr(92) + 'n')}\n".encode()


def split_reply(pending: bytes, token: str) -> tuple[int, str, bytes] | None:
    """(exit status, output, what follows) once `pending` holds the whole reply to `token`, else None."""
    m = re.search(rb"\n" + re.escape(token.encode()) + rb" (\d+)\n", pending)
    if m is None:
        return None
    return int(m.group(1)), pending[:m.start()].decode(errors="replace"), pending[m.end():]


class FrameReader:
    """Docker's multiplexed stream (exec without a TTY): 8-byte headers `stream, 0, 0, 0, length (big endian)`,
    then the payload. Bytes go in as they arrive, in any chunking; stdout comes out, stderr is kept apart."""

    def __init__(self) -> None:
        self._buf = bytearray()
        self.stderr = bytearray()

    def feed(self, data: bytes) -> bytes:
        """Stdout carried by the complete frames received so far."""
        self._buf += data
        out = bytearray()
        while len(self._buf) >= 8:
            stream, length = self._buf[0], struct.unpack(">I", bytes(self._buf[4:8]))[0]
            if len(self._buf) < 8 + length:
                break
            payload = bytes(self._buf[8:8 + length])
            del self._buf[:8 + length]
            if stream == 2:
                self.stderr += payload[-4096:]
                del self.stderr[:-4096]
            else:
                out += payload
        return bytes(out)


# Wait at most this many seconds for stdout bytes: b"" at the end of the stream, ShellError when none came in time.
Recv = Callable[[float], bytes]


class ShellSession:
    """A request/reply channel to one running shell. Thread-safe: one command at a time per shell."""

    def __init__(self, send: Callable[[bytes], Any], recv: Recv, close: Callable[[], None] = lambda: None,
                 alive: Callable[[], bool] = lambda: True) -> None:
        self._send, self._recv, self._close, self._alive = send, recv, close, alive
        self._nonce = secrets.token_hex(6)
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self.broken: str | None = None   # why the shell can no longer be used

    def alive(self) -> bool:
        """Usable as far as can be told without a round trip (no error yet, stream not ended)."""
        if self.broken is None and not self._alive():
            self.broken = "the shell's stream ended"
        return self.broken is None

    def run(self, script: str, timeout_s: float = DEFAULT_TIMEOUT_S) -> tuple[int, str]:
        """Run `script` under `set -e`; returns (exit status, stdout and stderr). ShellError when the shell could
        not answer in time; the session is then broken for good (a late reply would be read as the next one's)."""
        with self._lock:
            if self.broken is not None:
                raise ShellError(self.broken)
            token = f"drills-{self._nonce}-{next(self._ids)}"
            try:
                self._send(request(token, script))
                pending = b""
                deadline = time.monotonic() + timeout_s
                while (reply := split_reply(pending, token)) is None:
                    left = deadline - time.monotonic()
                    if left <= 0:
                        raise ShellError("the sidecar's shell did not answer in time")
                    data = self._recv(left)
                    if not data:
                        raise ShellError("the sidecar's shell ended")
                    pending += data
                status, out, rest = reply
                if rest:
                    raise ShellError(f"unexpected output after a reply: {rest[:200]!r}")
                return status, out
            except (OSError, ShellError) as exc:
                self.broken = str(exc) or exc.__class__.__name__
                self.close()
                raise ShellError(self.broken) from None

    def close(self) -> None:
        """End the shell (its stdin closes) and drop the connection."""
        if self.broken is None:
            self.broken = "closed"
        try:
            self._close()
        except OSError:
            pass


def open_in_container(api: Any, container_id: str) -> ShellSession:
    """Start the shell with `docker exec -i` (a docker.APIClient) and keep its hijacked connection."""
    exec_id = api.exec_create(container_id, ["sh", "-c", SERVER], stdin=True, stdout=True, stderr=True, tty=False)
    raw = api.exec_start(exec_id, socket=True, tty=False)
    sock: socket.socket = getattr(raw, "_sock", raw)   # a SocketIO over the engine's unix or TCP socket
    frames = FrameReader()
    eof = threading.Event()

    def recv(timeout_s: float) -> bytes:
        end = time.monotonic() + timeout_s
        while True:
            left = end - time.monotonic()
            if left <= 0 or not select.select([sock], [], [], left)[0]:
                raise ShellError("the sidecar's shell did not answer in time")
            data = sock.recv(65536)
            if not data:
                eof.set()
                return b""
            out = frames.feed(data)
            if out:
                return out

    def alive() -> bool:
        if eof.is_set():
            return False
        try:   # readable with nothing to read = the engine closed the stream (the sidecar is gone)
            return not (select.select([sock], [], [], 0)[0] and not sock.recv(1, socket.MSG_PEEK))
        except OSError:
            return False

    def close() -> None:
        try:
            sock.shutdown(socket.SHUT_RDWR)
        finally:
            sock.close()
            raw_close = getattr(raw, "close", None)
            if raw_close is not None and raw is not sock:
                raw_close()

    return ShellSession(sock.sendall, recv, close, alive)
