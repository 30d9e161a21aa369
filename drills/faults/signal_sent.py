"""A kill is in when the engine has sent the signal, not when Docker has finished tearing the container down.

`POST /containers/{id}/kill` with SIGKILL answers only once the container is gone (Docker waits for its exit
and cleans up after it): 250 ms on a quiet machine, over a second on a busy one, while the signal itself was
sent after 20-100 ms. The engine reports the moment it sent a signal as a `kill` event. So the request runs on
a thread, and beside it a subscription to that container's `kill` events since just before the request (the
engine replays events since a time, so neither can miss the other); the inject is done at whichever comes
first, the event or the request's answer (an error is then raised). What is left of the request goes on in the
background: the heal waits for it (HealEnv.settle) before it starts the container again.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

SLACK_S = 0.05      # events this much before the request count (the engine's clock is this host's clock)
TIMEOUT_S = 60.0    # the longest a kill request is waited for when no event says the signal was sent


class _Watch:
    """Reads one container's `kill` events until the first one at or after `since`, or until closed."""

    def __init__(self, api: Any, container_id: str, since: float, done: threading.Event) -> None:
        self.api, self.container_id, self.since, self.done = api, container_id, since, done
        self.sent_at: float | None = None   # epoch the engine sent the signal
        self._lock = threading.Lock()
        self._stream: Any = None
        self._closed = False

    def run(self) -> None:
        try:
            stream = self.api.events(since=f"{self.since:.6f}", decode=True,
                                     filters={"type": "container", "container": self.container_id, "event": "kill"})
        except Exception:   # no events from this engine: the request's answer decides
            return
        with self._lock:
            if self._closed:
                _close(stream)
                return
            self._stream = stream
        try:
            for event in stream:
                at = float(event.get("timeNano") or 0) / 1e9
                if at >= self.since:
                    self.sent_at = at
                    self.done.set()
                    return
        except Exception:   # closed under us, or the stream broke: the request's answer decides
            return
        finally:
            _close(stream)

    def close(self) -> None:
        with self._lock:
            self._closed = True
            stream = self._stream
        if stream is not None:
            _close(stream)


def _close(stream: Any) -> None:
    try:
        stream.close()
    except Exception:
        pass


def send_signal(api: Any, container_id: str, signal: str) -> tuple[Future, float | None]:
    """Send `signal` to a container (a docker.APIClient); returns once it was sent or the request answered:
    (the request, done or still finishing; the epoch the engine sent the signal, None if not seen). Raises the
    request's error when it answered first."""
    since = time.time() - SLACK_S
    done = threading.Event()
    watch = _Watch(api, container_id, since, done)
    threads = ThreadPoolExecutor(max_workers=2, thread_name_prefix="drills-kill")
    try:
        threads.submit(watch.run)
        call = threads.submit(api.kill, container_id, signal=signal)
        call.add_done_callback(lambda _f: done.set())
    finally:
        threads.shutdown(wait=False)   # the request may outlive this call: its thread finishes it
    done.wait(TIMEOUT_S)
    watch.close()
    if call.done() or watch.sent_at is None:
        call.result(timeout=TIMEOUT_S)   # its error, if it failed
    return call, watch.sent_at
