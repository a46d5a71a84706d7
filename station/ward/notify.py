"""Wake-ups for the console's live view when the receiver has stored records.

One way per deployment, none of them a tight polling loop:

- receiver and console in one process (``station ward serve --console``): the receiver
  thread rings a :class:`Bell` (``loop.call_soon_threadsafe``);
- SQLite with the receiver and the console in separate processes (always on one
  machine: SQLite is not shared between machines): each console binds a Unix datagram
  socket in the folder ``<database>.live/``; after each commit the receiver sends one
  byte to every socket there (:func:`ring_sockets`, non-blocking; the socket of a
  console that is gone is removed);
- PostgreSQL: the receiver's insert transaction sends ``NOTIFY ward_records``
  (delivered at commit); each console LISTENs (:class:`PostgresBell`).

A wake-up carries no data: the console then reads the records after the last ``seq`` it
has seen. It also reads once every ``SAFETY_S`` in case a wake-up was lost (a dropped
datagram, notifications sent while a LISTEN connection was being re-established).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import socket
import tempfile
from pathlib import Path

from station.fingerprint import fingerprint
from station.ward.db.records import NOTIFY_CHANNEL as CHANNEL

log = logging.getLogger(__name__)

SAFETY_S = 30.0
MAX_FOLDER = 80  # bytes: leaves room for "/<pid>-<8 hex>.sock" under the 107 of AF_UNIX


def socket_folder(db_path: str | Path) -> Path:
    """Where the consoles of an SQLite database listen: ``<database>.live/``.

    A socket's path has at most 107 bytes: for a database deep in the file tree the
    folder is ``ward-live-<fingerprint of that path>`` in the temporary folder instead
    (the receiver and the consoles work it out alike)."""
    path = Path(db_path).resolve()
    folder = path.with_name(path.name + ".live")
    if len(str(folder).encode()) > MAX_FOLDER:
        folder = Path(tempfile.gettempdir()) / f"ward-live-{fingerprint(str(folder))}"
    return folder


def ring_sockets(folder: Path) -> int:
    """Wake every console listening in ``folder``; returns how many were reached."""
    try:
        names = [p for p in folder.iterdir() if p.suffix == ".sock"]
    except FileNotFoundError:
        return 0
    reached = 0
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sender:
        sender.setblocking(False)
        for path in names:
            try:
                sender.sendto(b"!", str(path))
                reached += 1
            except (ConnectionRefusedError, FileNotFoundError):
                with contextlib.suppress(OSError):
                    path.unlink()  # its console is gone
            except BlockingIOError:
                reached += 1  # its queue is full: it has wake-ups waiting already
            except OSError as exc:
                log.warning("cannot wake the console at %s: %s", path, exc)
    return reached


class Bell:
    """A wake-up the live view waits on; ring it from any thread.

    It belongs to the event loop that ran :meth:`start` (a console restarted in a new
    loop starts it again)."""

    def __init__(self) -> None:
        self._event: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._event = asyncio.Event()

    def ring(self) -> None:
        """From the event loop's thread."""
        if self._event is not None:
            self._event.set()

    def ring_threadsafe(self, *_: object) -> None:
        """From another thread (the receiver's ``on_stored``)."""
        loop = self._loop
        if loop is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):  # loop closing
                loop.call_soon_threadsafe(self.ring)

    async def wait(self, timeout: float = SAFETY_S) -> bool:
        """True when rung, False after ``timeout``."""
        if self._event is None:
            raise RuntimeError("Bell.wait before Bell.start")
        try:
            await asyncio.wait_for(self._event.wait(), timeout)
        except TimeoutError:
            return False
        finally:
            self._event.clear()
        return True

    async def close(self) -> None:
        return None


class SocketBell(Bell):
    """Rung by :func:`ring_sockets` from another process."""

    def __init__(self, folder: Path) -> None:
        super().__init__()
        self.folder = folder
        self.path = folder / f"{os.getpid()}-{secrets.token_hex(4)}.sock"
        self._sock: socket.socket | None = None

    async def start(self) -> None:
        await super().start()
        self.folder.mkdir(mode=0o700, exist_ok=True)
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        sock.setblocking(False)
        sock.bind(str(self.path))
        self._sock = sock
        asyncio.get_running_loop().add_reader(sock.fileno(), self._readable)

    def _readable(self) -> None:
        assert self._sock is not None
        with contextlib.suppress(BlockingIOError):
            while self._sock.recv(64):
                pass
        self.ring()

    async def close(self) -> None:
        if self._sock is not None:
            asyncio.get_running_loop().remove_reader(self._sock.fileno())
            self._sock.close()
            self._sock = None
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()


class PostgresBell(Bell):
    """LISTEN ward_records on its own connection; reconnects when it is lost."""

    def __init__(self, url: str) -> None:
        super().__init__()
        self.url = url
        self._task: asyncio.Task[None] | None = None
        self.listening = asyncio.Event()

    async def start(self) -> None:
        await super().start()
        self._task = asyncio.create_task(self._listen(), name="ward-listen")

    async def _listen(self) -> None:
        import psycopg

        delay = 0.5
        while True:
            try:
                conn = await psycopg.AsyncConnection.connect(self.url, autocommit=True)
                async with conn:
                    await conn.execute(f"LISTEN {CHANNEL}")
                    self.listening.set()
                    self.ring()  # catch up with what was stored while not listening
                    delay = 0.5
                    while True:  # notifies() ends after its timeout: no generator is kept
                        async for _ in conn.notifies(timeout=SAFETY_S):
                            self.ring()
            except psycopg.Error as exc:
                self.listening.clear()
                log.warning("LISTEN %s lost (%s): retrying in %.1fs", CHANNEL, exc, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 10.0)

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None


__all__ = [
    "CHANNEL",
    "SAFETY_S",
    "Bell",
    "PostgresBell",
    "SocketBell",
    "ring_sockets",
    "socket_folder",
]
