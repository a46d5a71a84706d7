"""The station's inbox: events posted by the device threads, handed to the asyncio loop.

``post`` is what the camera, chip, button and sync threads call: ``SimpleQueue.put``
itself (C code, never blocks, no Python frame of its own). Waking an asyncio loop from
another thread (``call_soon_threadsafe``: a handle, a context copy and a self-pipe write)
cost the camera thread ~80 us for each new QR code, run cold at the camera's rate, against
~20 us for the put (measured on the 2-core test machine; ``bench/qr.py`` times the
camera path through this inbox). A relay thread takes the events off the queue and hands
them to the loop in batches, mostly while the camera thread is in zxing-cpp's decode,
which runs without the GIL.

Events posted before ``start`` wait in the queue; after ``close`` (or once the loop is
closed) they are dropped, as the station is stopping.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
from collections.abc import Callable
from typing import Generic, TypeVar

log = logging.getLogger(__name__)

T = TypeVar("T")


class Inbox(Generic[T]):
    """Thread-safe ``post``; ``start(loop, deliver)`` runs ``deliver(batch)`` in the loop's
    thread for the events posted, in posting order."""

    def __init__(self, name: str = "inbox") -> None:
        self._name = name
        self._queue: queue.SimpleQueue[T | None] = queue.SimpleQueue()  # None: close
        self.post: Callable[[T], None] = self._queue.put
        self._thread: threading.Thread | None = None

    def start(self, loop: asyncio.AbstractEventLoop, deliver: Callable[[list[T]], None]) -> None:
        """Start relaying to ``loop`` (no-op when already relaying)."""
        if self._thread is not None:
            return
        self._thread = threading.Thread(
            target=self._relay, args=(loop, deliver), name=self._name, daemon=True
        )
        self._thread.start()

    def close(self, timeout: float = 2.0) -> None:
        """Stop relaying (the events posted until now are handed over first)."""
        thread, self._thread = self._thread, None
        if thread is not None:
            self._queue.put(None)
            thread.join(timeout)

    def _relay(self, loop: asyncio.AbstractEventLoop, deliver: Callable[[list[T]], None]) -> None:
        get, get_nowait = self._queue.get, self._queue.get_nowait
        while True:
            batch: list[T | None] = [get()]
            try:
                while True:  # what came meanwhile goes in the same hand-over
                    batch.append(get_nowait())
            except queue.Empty:
                pass
            events = [e for e in batch if e is not None]
            if events:
                try:
                    loop.call_soon_threadsafe(deliver, events)
                except RuntimeError:  # the loop is closed: the station has stopped
                    log.debug("%d events after the loop closed, dropped", len(events))
                    return
                except Exception:  # the relay must outlive any one hand-over
                    log.exception("%d events could not be handed to the loop", len(events))
            if len(events) < len(batch):  # closed
                return


__all__ = ["Inbox"]
