"""The station's inbox: device threads' events reach the loop, in order, none lost."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable

import pytest

from station.runtime.inbox import Inbox


def test_events_from_threads_reach_the_loop_in_posting_order() -> None:
    inbox: Inbox[tuple[int, int]] = Inbox()
    inbox.post((-1, 0))  # before the loop runs: kept until it does

    async def main() -> list[tuple[int, int]]:
        got: list[tuple[int, int]] = []
        batches: list[int] = []
        done = asyncio.Event()

        def deliver(events: list[tuple[int, int]]) -> None:
            assert threading.current_thread() is threading.main_thread()  # the loop's
            batches.append(len(events))
            got.extend(events)
            if len(got) == 1 + 4 * 500:
                done.set()

        inbox.start(asyncio.get_running_loop(), deliver)

        def poster(n: int) -> None:
            for i in range(500):
                inbox.post((n, i))

        threads = [threading.Thread(target=poster, args=(n,)) for n in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        await asyncio.wait_for(done.wait(), 10)
        inbox.close()
        assert sum(batches) == len(got)
        return got

    got = asyncio.run(main())
    assert got[0] == (-1, 0)
    for n in range(4):  # each thread's events in its order, none lost or doubled
        assert [i for m, i in got if m == n] == list(range(500))


def test_close_hands_over_what_was_posted_and_a_closed_loop_drops_quietly() -> None:
    inbox: Inbox[int] = Inbox()
    got: list[int] = []
    loop = asyncio.new_event_loop()
    inbox.start(loop, got.extend)
    inbox.start(loop, got.extend)  # already relaying: no second relay
    for i in range(3):
        inbox.post(i)
    inbox.close()
    loop.run_until_complete(asyncio.sleep(0))  # the loop runs the hand-over
    assert got == [0, 1, 2]
    loop.close()
    again: Inbox[int] = Inbox()
    again.start(loop, got.extend)
    again.post(7)  # the relay finds the loop closed: dropped, the relay ends
    again.close()
    assert got == [0, 1, 2]
    assert not any(t.name == "inbox" and t.is_alive() for t in threading.enumerate())


class _FlakyLoop:
    """A loop whose first hand-over fails in a way no loop should (the relay goes on)."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop, self.calls = loop, 0

    def call_soon_threadsafe(self, fn: Callable[[list[int]], None], events: list[int]) -> None:
        self.calls += 1
        if self.calls == 1:
            raise ValueError("broken")
        self.loop.call_soon_threadsafe(fn, events)


def test_a_failed_hand_over_is_logged_and_the_relay_goes_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    inbox: Inbox[int] = Inbox()
    got: list[int] = []
    loop = asyncio.new_event_loop()
    flaky = _FlakyLoop(loop)
    inbox.start(flaky, got.extend)  # type: ignore[arg-type]
    inbox.post(1)
    deadline = time.monotonic() + 5
    while flaky.calls == 0 and time.monotonic() < deadline:
        time.sleep(0.01)
    inbox.post(2)
    inbox.close()
    loop.run_until_complete(asyncio.sleep(0))
    loop.close()
    assert got == [2]
    assert "could not be handed to the loop" in caplog.text
