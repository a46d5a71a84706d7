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
from station.sync.signing import load_ward_key, ward_key_text
from station.ward.cli_db import fail, open_db
from station.ward.db import DatabaseError, describe, is_postgres
from station.ward.notify import Bell, ring_sockets, socket_folder

if TYPE_CHECKING:  # the web stack is imported only when a console is served
    from station.ward.console.server import ConsoleServer
    from station.ward.receiver import WardReceiver

RECEIVER_CHECK_S = 1.0


def _settings(args: argparse.Namespace) -> LinkSettings:
    password = Path(args.password_file).read_text().strip() if args.password_file else ""
    settings = LinkSettings.from_url(
        args.broker, client_id=args.client_id, ca_file=args.ca, cert_file=args.cert,
        key_file=args.key, username=args.username, password=password,
        reconnect_max_s=args.reconnect_max,
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


def listen_on(args: argparse.Namespace, listen: str) -> tuple[str, int, bool]:
    """(host, port, https) for the console; ConsoleError for a usage mistake."""
    from station.ward.console.server import check_tls, parse_listen

    host, port = parse_listen(listen)
    return host, port, check_tls(host, args.tls_cert, args.tls_key)


def console_server(
    args: argparse.Namespace, listen: str, bell: Bell | None = None
) -> ConsoleServer:
    """The console for ``args`` (``--tls-cert``, ``--tls-key``, ``--session-idle-min``,
    ``--ack-key``: its public half is shown on the stations page)."""
    from station.ward.console.app import ConsoleConfig, create_app
    from station.ward.console.server import ConsoleServer
    from station.ward.receiver import ack_key_file

    host, port, https = listen_on(args, listen)
    cfg = ConsoleConfig(
        db=args.db, https=https, bell=bell, session_idle_s=args.session_idle_min * 60.0,
        ward_key=ward_key_text(ack_key_file(args.db, args.ack_key)),
    )  # fmt: skip
    return ConsoleServer(
        create_app(cfg), host, port, certfile=args.tls_cert, keyfile=args.tls_key,
        log_level="warning",
    )  # fmt: skip


def _usable(command: str, args: argparse.Namespace, listen: str, *, create: bool) -> int:
    """0 when the console's address and the database are usable, else the exit status
    after saying why (usage mistakes first: 2, then the database: 1)."""
    from station.ward.console.server import ConsoleError

    try:
        if listen:
            listen_on(args, listen)
    except ConsoleError as exc:
        return fail(command, str(exc), 2)
    db = open_db(command, args.db, create=create)  # fail now, not in the receiver's loop
    if db is None:
        return 1
    db.close()
    return 0


def run_serve(args: argparse.Namespace) -> int:
    from station.ward.receiver import WardReceiver, ack_key_file

    try:
        settings = _settings(args)
    except OSError as exc:
        return fail("serve", f"--password-file {args.password_file}: {exc.strerror}", 2)
    except SyncError as exc:
        return fail("serve", str(exc), 2)
    if status := _usable("serve", args, args.console, create=True):
        return status
    bell = Bell() if args.console else None
    try:
        server = console_server(args, args.console, bell) if args.console else None
        ack_key = load_ward_key(ack_key_file(args.db, args.ack_key))
    except DatabaseError as exc:
        return fail("serve", str(exc))
    except (SyncError, OSError) as exc:
        return fail("serve", f"the ward's ack key: {exc}")
    receiver = WardReceiver(
        settings, args.db, prefix=args.prefix, group=args.group,
        audit=AuditLog(_audit_path(args)), retention_days=args.retention_days,
        on_stored=_on_stored(args.db, bell), ack_key=ack_key,
    )  # fmt: skip
    if server is None:
        signal.signal(signal.SIGTERM, lambda *_: receiver.stop(0))
        try:
            with contextlib.suppress(KeyboardInterrupt):
                receiver.run()
        except (OSError, DatabaseError) as exc:
            return fail("serve", f"cannot use the database {describe(args.db)}: {exc}")
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
        fail("serve", "the receiver stopped; stopping the console")
        server.request_stop()

    watcher = asyncio.create_task(watch())
    try:
        await server.serve()
    finally:
        watcher.cancel()
        await asyncio.to_thread(receiver.stop)
    return 1 if failed else 0


def run_console(args: argparse.Namespace) -> int:
    if status := _usable("console", args, args.listen, create=False):
        return status
    try:
        server = console_server(args, args.listen)
    except DatabaseError as exc:
        return fail("console", str(exc))
    except (SyncError, OSError) as exc:
        return fail("console", f"the ward's ack key: {exc}")
    print(f"ward console on {server.url}", file=sys.stderr)
    _quiet_after_uvicorn()
    asyncio.run(server.serve())
    return 0


__all__ = ["console_server", "run_console", "run_serve"]
