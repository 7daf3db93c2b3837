"""Graceful shutdown: the requests in flight, and how they end when the server stops.

On SIGTERM (or SIGINT) the server stops accepting connections and waits for the open ones
(uvicorn's own graceful shutdown); the gateway then stops saying it is ready and, after
`SHUTDOWN_GRACE_SECONDS`, cuts what still runs — whatever the server's own limit is, so the
grace holds under any serve command. A cut call ends its books like any other ending (a
stream is charged for what it delivered, a call still waiting for the upstream is released),
and only then does the runtime close the database and the upstream client.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Callable
from types import FrameType
from typing import Any

from gateway.errors import ServiceUnavailable

log = logging.getLogger("gateway.shutdown")

# The signals a server (uvicorn, gunicorn's workers) answers with a graceful shutdown.
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)
# How long the books of calls cut at the end of the grace may take to be written.
SETTLE_SECONDS = 10.0


class ShuttingDown(ServiceUnavailable):
    code = "shutting_down"
    default_message = "the gateway is restarting; retry the request"

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message, headers={"retry-after": "1"})


class Drain:
    """The requests in flight (their tasks), whether the server is stopping, and the cut at
    the end of the grace. One per app; requests enter and leave it, which costs a set
    insertion each."""

    def __init__(self, *, grace: float) -> None:
        self.grace = grace
        self.draining = False
        self._running: set[asyncio.Task[Any]] = set()
        self._cut: set[asyncio.Task[Any]] = set()
        self._deadline: asyncio.TimerHandle | None = None
        self._idle: asyncio.Event | None = None

    def __len__(self) -> int:
        return len(self._running)

    def enter(self) -> asyncio.Task[Any] | None:
        task = asyncio.current_task()
        if task is not None:
            self._running.add(task)
        return task

    def leave(self, task: asyncio.Task[Any] | None) -> None:
        if task is None:
            return
        self._running.discard(task)
        self._cut.discard(task)
        if not self._running and self._idle is not None:
            self._idle.set()

    def was_cut(self, task: asyncio.Task[Any] | None) -> bool:
        """Whether this request's cancellation is the cut at the end of the grace (then it is
        taken back, so the request can still write its last words), not a server's own."""
        if task is None or task not in self._cut:
            return False
        task.uncancel()
        return True

    def begin(self) -> None:
        """The server is stopping: no longer ready; what runs past the grace will be cut."""
        if self.draining:
            return
        self.draining = True
        running = len(self._running)
        log.info("shutting down: %d requests in flight, %.0f s to finish", running, self.grace)
        self._deadline = asyncio.get_running_loop().call_later(self.grace, self.cut)

    def cut(self) -> int:
        """Cancel what still runs; each request ends its books (see `routes.chat`)."""
        cut = [task for task in self._running if not task.done() and task not in self._cut]
        if cut:
            log.warning("the shutdown grace is over: cutting %d requests in flight", len(cut))
        for task in cut:
            self._cut.add(task)
            task.cancel("the shutdown grace is over")
        return len(cut)

    async def finish(self, settle_seconds: float = SETTLE_SECONDS) -> None:
        """At the app's shutdown, when the server no longer waits for its connections: cut what
        still runs and wait (a bounded time) for those calls to write their books, before the
        runtime closes what they write with."""
        self.draining = True
        if self._deadline is not None:
            self._deadline.cancel()
        if not self._running:
            return
        self.cut()
        self._idle = asyncio.Event()
        try:
            await asyncio.wait_for(self._idle.wait(), settle_seconds)
        except TimeoutError:
            log.error("%d requests did not end within %.0f s of being cut", len(self._running), settle_seconds)


def watch_signals(drain: Drain) -> Callable[[], None]:
    """Begin the drain when the server is told to stop, then let the server's own handler
    (uvicorn's graceful shutdown) run. Nothing is installed unless a server handles the
    signal already (SIG_DFL would kill the process at once; a drain would change nothing),
    or off the main thread. Returns what puts the handlers back."""
    loop = asyncio.get_running_loop()
    installed: dict[int, Any] = {}

    def on_signal(number: int, frame: FrameType | None) -> None:
        with contextlib.suppress(RuntimeError):  # the loop is closed: nothing left to drain
            loop.call_soon_threadsafe(drain.begin)  # a signal handler may not touch the loop directly
        previous = installed.get(number)
        if callable(previous):
            previous(number, frame)

    for number in STOP_SIGNALS:
        previous = signal.getsignal(number)
        if not callable(previous):
            continue
        try:
            signal.signal(number, on_signal)
        except ValueError:  # not the main thread: whoever runs the app handles signals
            break
        installed[number] = previous

    def restore() -> None:
        for number, previous in installed.items():
            if signal.getsignal(number) is on_signal:
                signal.signal(number, previous)

    return restore
