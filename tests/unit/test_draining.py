"""The drain: requests in flight are waited for, cut at the end of the grace (and only the
cut ones take their cancellation back), and the signal hook only wraps a server's handler."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Iterator
from typing import Any

import pytest

from gateway.services.operations.draining import Drain, watch_signals


async def _request(drain: Drain, started: asyncio.Event, outcome: list[str], seconds: float) -> None:
    """A request as `GatewayApp` runs it: entered, working, and told apart when cut."""
    task = drain.enter()
    try:
        started.set()
        await asyncio.sleep(seconds)
        outcome.append("finished")
    except asyncio.CancelledError:
        if not drain.was_cut(task):
            raise
        await asyncio.sleep(0)  # it may still write its books: the cancellation was taken back
        outcome.append("cut")
    finally:
        drain.leave(task)


async def test_requests_that_finish_within_the_grace_are_not_cut() -> None:
    drain = Drain(grace=1)
    started, outcome = asyncio.Event(), []
    task = asyncio.create_task(_request(drain, started, outcome, 0.05))
    await started.wait()
    drain.begin()
    assert drain.draining and len(drain) == 1
    await task
    await drain.finish()
    assert outcome == ["finished"] and len(drain) == 0


async def test_what_runs_past_the_grace_is_cut_and_ends_normally() -> None:
    drain = Drain(grace=0.05)
    started, outcome = asyncio.Event(), []
    task = asyncio.create_task(_request(drain, started, outcome, 60))
    await started.wait()
    drain.begin()
    await asyncio.wait_for(task, 5)
    assert outcome == ["cut"] and not task.cancelled() and task.cancelling() == 0


async def test_the_finish_cuts_what_the_server_gave_up_on_and_waits_for_it() -> None:
    drain = Drain(grace=3600)
    started, outcome = asyncio.Event(), []
    task = asyncio.create_task(_request(drain, started, outcome, 60))
    await started.wait()
    await drain.finish()
    assert outcome == ["cut"] and task.done()


async def test_a_cancellation_that_is_not_the_cut_goes_on() -> None:
    drain = Drain(grace=3600)
    started, outcome = asyncio.Event(), []
    task = asyncio.create_task(_request(drain, started, outcome, 60))
    await started.wait()
    task.cancel()  # the server's own (uvicorn's timeout), or a client gone
    with pytest.raises(asyncio.CancelledError):
        await task
    assert outcome == [] and len(drain) == 0


@pytest.fixture
def restored_handlers() -> Iterator[None]:
    saved = {number: signal.getsignal(number) for number in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for number, handler in saved.items():
            signal.signal(number, handler)


@pytest.mark.usefixtures("restored_handlers")
async def test_a_stop_signal_begins_the_drain_then_reaches_the_server() -> None:
    seen: list[int] = []

    def server(number: int, frame: Any) -> None:
        seen.append(number)

    signal.signal(signal.SIGTERM, server)
    drain = Drain(grace=3600)
    restore = watch_signals(drain)
    signal.raise_signal(signal.SIGTERM)
    await asyncio.sleep(0.01)
    assert seen == [signal.SIGTERM] and drain.draining
    restore()
    assert signal.getsignal(signal.SIGTERM) is server
    await drain.finish()


@pytest.mark.usefixtures("restored_handlers")
async def test_no_hook_where_no_server_handles_the_signal() -> None:
    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # a drain would change nothing: the process dies
    restore = watch_signals(Drain(grace=1))
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL
    restore()
