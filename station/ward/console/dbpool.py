"""The console's database access: a few worker threads, each with its own ``WardDB``.

The pages are asynchronous; every query runs in one of ``size`` threads (a ``WardDB`` is
used from one thread only), so a slow search never stalls the event loop or the live
view. A connection that broke (PostgreSQL restarted) is reopened at the next call.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

from station.ward.db import WardDB

T = TypeVar("T")


class DBPool:
    def __init__(self, target: str | Path, size: int = 4) -> None:
        self.target = target
        self._local = threading.local()
        self._all: list[WardDB] = []
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(size, thread_name_prefix="console-db")
        WardDB(target).close()  # migrate (and fail) now, not at the first page

    def _db(self) -> WardDB:
        db: WardDB | None = getattr(self._local, "db", None)
        if db is not None and db.broken:
            db.close()
            db = None
        if db is None:
            db = WardDB(self.target)
            self._local.db = db
            with self._lock:
                self._all.append(db)
        return db

    def call(self, fn: Callable[[WardDB], T]) -> T:
        """In the caller's thread, on a connection of its own (tests, start-up)."""
        return fn(self._db())

    async def run(self, fn: Callable[[WardDB], T]) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, lambda: fn(self._db()))

    def close(self) -> None:
        self._pool.shutdown(wait=True)
        with self._lock:
            for db in self._all:
                db.close()
            self._all.clear()


__all__ = ["DBPool"]
