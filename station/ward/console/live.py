"""The live view: new records pushed to every officer's open counter page.

One watcher per console process waits on its :class:`~station.ward.notify.Bell` (rung by
the receiver after each commit, or every ``SAFETY_S`` at the latest), reads the records
that arrived after the last ``seq`` it has seen, and hands each to the subscribers of its
station. Each open page is one subscriber with a bounded queue: a page that stops reading
is dropped (its browser reconnects and catches up from its last event id).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field
from functools import partial

from station.ward.console.dbpool import DBPool
from station.ward.db import DatabaseError, RecordRow, WardDB
from station.ward.notify import SAFETY_S, Bell

log = logging.getLogger(__name__)

QUEUE = 100
BATCH = 500


@dataclass(eq=False)
class Subscriber:
    station_id: str
    queue: asyncio.Queue[RecordRow | None] = field(
        default_factory=lambda: asyncio.Queue(maxsize=QUEUE)
    )


class LiveHub:
    def __init__(self, pool: DBPool, bell: Bell) -> None:
        self.pool = pool
        self.bell = bell
        self.cursor = 0
        self.subscribers: set[Subscriber] = set()
        self.ready = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self.cursor = await self.pool.run(lambda db: db.last_seq())
        await self.bell.start()
        self._task = asyncio.create_task(self._watch(), name="live-hub")
        self.ready.set()

    def end_streams(self) -> None:
        """End every open stream (its page reconnects to whichever console is up)."""
        for sub in list(self.subscribers):
            self._drop(sub)

    async def close(self) -> None:
        self.end_streams()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await self.bell.close()

    def subscribe(self, station_id: str) -> Subscriber:
        sub = Subscriber(station_id)
        self.subscribers.add(sub)
        return sub

    def unsubscribe(self, sub: Subscriber) -> None:
        self.subscribers.discard(sub)

    def _drop(self, sub: Subscriber) -> None:
        self.subscribers.discard(sub)
        if sub.queue.full():  # make room for the end marker
            with contextlib.suppress(asyncio.QueueEmpty):
                sub.queue.get_nowait()
        sub.queue.put_nowait(None)  # the stream ends

    async def _watch(self) -> None:
        while True:
            await self.bell.wait(SAFETY_S)
            try:
                await self._deliver()
            except DatabaseError as exc:
                log.warning("live view: cannot read new records: %s", exc)
                await asyncio.sleep(1.0)

    async def _deliver(self) -> None:
        while True:
            rows = await self.pool.run(partial(_since, self.cursor))
            for row in rows:
                self.cursor = max(self.cursor, row.seq)
                for sub in list(self.subscribers):
                    if sub.station_id != row.station_id:
                        continue
                    try:
                        sub.queue.put_nowait(row)
                    except asyncio.QueueFull:
                        log.warning("live view: a page is not reading: dropped (it reconnects)")
                        self._drop(sub)
            if len(rows) < BATCH:
                return


def _since(cursor: int, db: WardDB) -> list[RecordRow]:
    return db.since(cursor, BATCH)


__all__ = ["LiveHub", "Subscriber"]
