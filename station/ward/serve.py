"""`station ward serve` and `station ward console`: the receiver, the console, or both.

    station ward serve --broker mqtts://... --db ward.sqlite ... [--console 0.0.0.0:8443
        --tls-cert console.crt --tls-key console.key]
    station ward console --db ward.sqlite --listen 0.0.0.0:8443 --tls-cert ... --tls-key ...

With ``--console`` one process runs both: the receiver in a thread, uvicorn in the main
event loop, and the receiver rings the console's :class:`~station.ward.notify.Bell`
after each commit. With SQLite the receiver also wakes consoles running as processes of
their own (``ring_sockets``); with PostgreSQL they LISTEN. If the receiver thread dies,
the console stops too and the process exits 1 (systemd restarts it).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from station.audit import AuditLog
from station.sync.errors import SyncError
from station.sync.link import LinkSettings
from station.ward.db import DatabaseError, is_postgres
from station.ward.notify import Bell, ring_sockets, socket_folder
from station.ward.receiver import WardReceiver

if TYPE_CHECKING:  # the web stack is imported only when a console is served
    from station.ward.console.server import ConsoleServer

RECEIVER_CHECK_S = 1.0


def _settings(args: argparse.Namespace) -> LinkSettings:
    password = Path(args.password_file).read_text().strip() if args.password_file else ""
    settings = LinkSettings.from_url(
        args.broker, client_id=args.client_id, ca_file=args.ca, cert_file=args.cert,
        key_file=args.key, username=args.username, password=password,
    )  # fmt: skip
    if settings.tls:
        settings.ssl_context()  # fail now, with a clear message, on bad files
    return settings


def _audit_path(args: argparse.Namespace) -> Path:
    if args.audit:
        return Path(args.audit)
    if is_postgres(args.db):
        return Path("ward-receiver.audit.log")
    return Path(args.db).with_suffix(".audit.log")


def _on_stored(db: str, bell: Bell | None) -> Callable[[int], None] | None:
    folder = None if is_postgres(db) else socket_folder(db)  # PostgreSQL: NOTIFY does it

    def stored(_seq: int) -> None:
        if bell is not None:
            bell.ring_threadsafe()
        if folder is not None:
            ring_sockets(folder)

    return stored if (bell is not None or folder is not None) else None


def console_server(
    args: argparse.Namespace, listen: str, bell: Bell | None = None
) -> ConsoleServer:
    """The console for ``args`` (``--tls-cert``, ``--tls-key``, ``--session-idle-min``)."""
    from station.ward.console.app import ConsoleConfig, create_app
    from station.ward.console.server import ConsoleServer, check_tls, parse_listen

    host, port = parse_listen(listen)
    https = check_tls(host, args.tls_cert, args.tls_key)
    cfg = ConsoleConfig(
        db=args.db, https=https, bell=bell, session_idle_s=args.session_idle_min * 60.0
    )
    return ConsoleServer(
        create_app(cfg), host, port, certfile=args.tls_cert, keyfile=args.tls_key,
        log_level="warning",
    )  # fmt: skip


def run_serve(args: argparse.Namespace) -> int:
    from station.ward.console.server import ConsoleError

    try:
        settings = _settings(args)
        bell = Bell() if args.console else None
        server = console_server(args, args.console, bell) if args.console else None
    except (OSError, SyncError, ConsoleError) as exc:
        print(f"ward serve: {exc}", file=sys.stderr)
        return 2
    except DatabaseError as exc:
        print(f"ward serve: {exc}", file=sys.stderr)
        return 1
    receiver = WardReceiver(
        settings, args.db, prefix=args.prefix, group=args.group,
        audit=AuditLog(_audit_path(args)), retention_days=args.retention_days,
        on_stored=_on_stored(args.db, bell),
    )  # fmt: skip
    if server is None:
        signal.signal(signal.SIGTERM, lambda *_: receiver.stop(0))
        try:
            with contextlib.suppress(KeyboardInterrupt):
                receiver.run()
        except (OSError, DatabaseError) as exc:
            print(f"ward serve: cannot use database {args.db}: {exc}", file=sys.stderr)
            return 1
        return 0
    print(f"ward console on {server.url}", file=sys.stderr)
    _quiet_after_uvicorn()
    return asyncio.run(_both(receiver, server))


def _quiet_after_uvicorn() -> None:
    """uvicorn handles SIGTERM/SIGINT while it serves, then raises the signal again with
    the handler found before it: make that one a no-op, so that the receiver is stopped
    and the process exits 0 instead of dying of the signal."""
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: None)


async def _both(receiver: WardReceiver, server: ConsoleServer) -> int:
    receiver.start()
    failed = False

    async def watch() -> None:
        nonlocal failed
        while receiver.alive:
            await asyncio.sleep(RECEIVER_CHECK_S)
        failed = True
        print("ward serve: the receiver stopped; stopping the console", file=sys.stderr)
        server.request_stop()

    watcher = asyncio.create_task(watch())
    try:
        await server.serve()
    finally:
        watcher.cancel()
        await asyncio.to_thread(receiver.stop)
    return 1 if failed else 0


def run_console(args: argparse.Namespace) -> int:
    from station.ward.console.server import ConsoleError

    if not is_postgres(args.db) and not Path(args.db).exists():
        print(f"ward console: no ward database at {args.db}", file=sys.stderr)
        return 1
    try:
        server = console_server(args, args.listen)
    except ConsoleError as exc:
        print(f"ward console: {exc}", file=sys.stderr)
        return 2
    except DatabaseError as exc:
        print(f"ward console: {exc}", file=sys.stderr)
        return 1
    print(f"ward console on {server.url}", file=sys.stderr)
    _quiet_after_uvicorn()
    asyncio.run(server.serve())
    return 0


__all__ = ["console_server", "run_console", "run_serve"]
