"""Serving the console with uvicorn: HTTPS with the ward's certificate, plain HTTP only
on loopback.

    server = ConsoleServer(app, "0.0.0.0", 8443, certfile=..., keyfile=...)
    await server.serve()                 # in the caller's event loop (station ward serve)
    server.start_thread(); server.stop() # in a thread of its own (the demo, the tests)

Stopping ends the open live streams first (pages reconnect by themselves), then uvicorn
stops; the WeasyPrint import is done in the background at start so the first print is
as fast as the others.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import threading
import time
from pathlib import Path

import uvicorn
from starlette.applications import Starlette

from station.ward.notify import Bell

log = logging.getLogger(__name__)


class ConsoleError(RuntimeError):
    """The console cannot be served as asked (message says what to change)."""


def parse_listen(text: str) -> tuple[str, int]:
    """``HOST:PORT`` (``[::1]:PORT`` for IPv6) -> (host, port)."""
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ConsoleError(f"--console must be HOST:PORT, e.g. 0.0.0.0:8443 (got {text!r})")
    return host.strip("[]") or "127.0.0.1", int(port)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_tls(host: str, certfile: str, keyfile: str) -> bool:
    """True for HTTPS. Plain HTTP is refused anywhere but on loopback."""
    if bool(certfile) != bool(keyfile):
        raise ConsoleError("--tls-cert and --tls-key go together")
    if certfile:
        for path in (certfile, keyfile):
            if not Path(path).is_file():
                raise ConsoleError(f"TLS file not found: {path}")
        return True
    if not is_loopback(host):
        raise ConsoleError(
            f"the console on {host} needs HTTPS (--tls-cert and --tls-key); "
            "plain HTTP is only allowed on 127.0.0.1"
        )
    return False


class ConsoleServer:
    def __init__(
        self,
        app: Starlette,
        host: str,
        port: int,
        *,
        certfile: str = "",
        keyfile: str = "",
        log_level: str = "warning",
    ) -> None:
        self.app = app
        self.https = check_tls(host, certfile, keyfile)
        config = uvicorn.Config(
            app, host=host, port=port, ssl_certfile=certfile or None, ssl_keyfile=keyfile or None,
            log_level=log_level, timeout_graceful_shutdown=2, proxy_headers=False,
            server_header=False, access_log=False, lifespan="on",
        )  # fmt: skip
        self.server = uvicorn.Server(config)
        self.host = host
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        """The bound port (the real one when 0 was asked)."""
        servers = getattr(self.server, "servers", [])
        if servers and servers[0].sockets:
            return int(servers[0].sockets[0].getsockname()[1])
        return int(self.server.config.port)

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{'https' if self.https else 'http'}://{host}:{self.port}"

    async def serve(self) -> None:
        from station.ward.console.sheet import warm_up

        self._loop = asyncio.get_running_loop()
        threading.Thread(target=warm_up, name="weasyprint-import", daemon=True).start()
        await self.server.serve()

    def request_stop(self) -> None:
        """From any thread: end the live streams, then uvicorn."""
        loop = self._loop
        if loop is None or loop.is_closed():
            self.server.should_exit = True
            return
        loop.call_soon_threadsafe(self.app.state.console.hub.end_streams)
        loop.call_soon_threadsafe(setattr, self.server, "should_exit", True)

    def start_thread(self, timeout: float = 20.0) -> ConsoleServer:
        thread = threading.Thread(
            target=lambda: asyncio.run(self.serve()), name="ward-console", daemon=True
        )
        self._thread = thread
        thread.start()
        deadline = time.monotonic() + timeout
        while not self.server.started and thread.is_alive() and time.monotonic() < deadline:
            time.sleep(0.02)
        if not self.server.started:
            self.stop()
            raise ConsoleError(
                f"the console did not start on {self.host}:{self.server.config.port}"
            )
        return self

    @property
    def bell(self) -> Bell:
        bell: Bell = self.app.state.console.bell
        return bell

    def stop(self, timeout: float = 10.0) -> None:
        self.request_stop()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None


def serve_in_thread(
    db: str | Path,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    users: tuple[tuple[str, str, str], ...] = (),
    **config: object,
) -> ConsoleServer:
    """A console for ``db`` in a thread of its own (the demo, tests, benchmarks), with
    ``users`` (name, role, password) created if missing. Its bell
    (``server.app.state.console.bell``) is for a receiver in the same process:
    ``receiver.on_stored = server.bell.ring_threadsafe``."""
    from station.ward import passwords
    from station.ward.console.app import ConsoleConfig, create_app
    from station.ward.db import WardDB

    with WardDB(db) as ward_db:
        for name, role, password in users:
            if ward_db.user(name) is None:
                ward_db.add_user(name, role, passwords.hash_password(password))
    cfg = ConsoleConfig(db=str(db), bell=Bell(), **config)  # type: ignore[arg-type]
    return ConsoleServer(create_app(cfg), host, port).start_thread()


__all__ = [
    "ConsoleError",
    "ConsoleServer",
    "check_tls",
    "is_loopback",
    "parse_listen",
    "serve_in_thread",
]
