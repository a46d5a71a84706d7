"""`station run --config FILE`: the station itself (what the systemd unit starts)."""

from __future__ import annotations

import argparse
import asyncio
import logging
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from station.audit import AuditLog
    from station.cli import Subparsers
    from station.config import Config
    from station.sync.outbox import Outbox
    from station.sync.publisher import Publisher, SyncState

    PublisherFactory = Callable[[Callable[[SyncState], None]], Publisher]

log = logging.getLogger("station.run")


def register(sub: Subparsers) -> None:
    from station.config import DEFAULT_PATH

    p = sub.add_parser("run", help="run the station (real hardware when hardware = 'pi')")
    p.add_argument("--config", type=Path, default=DEFAULT_PATH, help=f"default {DEFAULT_PATH}")
    p.set_defaults(func=_run)


def publisher_factory(
    cfg: Config, outbox: Outbox, audit: AuditLog | None = None
) -> PublisherFactory | None:
    """How the station makes its publisher (which also takes the ward's trust bundles);
    None when ``mqtt.enabled`` is false."""
    from station.runtime.trust import bundle_installer
    from station.sync.publisher import Publisher

    def make(on_state: Callable[[SyncState], None]) -> Publisher:
        on_trust = bundle_installer(cfg, audit)
        return Publisher.from_config(cfg, outbox, on_state=on_state, on_trust=on_trust)

    return make if cfg.mqtt.enabled else None


async def serve(cfg: Config) -> int:
    """Build every part from ``cfg`` and run until SIGTERM/SIGINT."""
    from station.audit import AuditLog
    from station.runtime.app import Services, Station
    from station.runtime.clock import CachedClockState
    from station.runtime.service import ServiceNotifier, install_stop_handlers, start_watchdog
    from station.runtime.wiring import open_devices
    from station.sync.outbox import Outbox

    notifier = ServiceNotifier.from_env()
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    restore = install_stop_handlers(loop, lambda name: stop.set(), notifier)
    cfg.data_dir.mkdir(parents=True, exist_ok=True)
    audit = AuditLog(cfg.audit_path)
    outbox = Outbox.from_config(cfg, audit=audit)
    try:
        devices = open_devices(cfg)
    except Exception as exc:  # a device adapter failed to open: say which, let systemd retry
        log.error("station cannot open its devices: %s (run 'station doctor')", exc)
        outbox.close()
        restore()
        notifier.close()
        return 1

    services = Services(
        outbox=outbox,
        publisher_factory=publisher_factory(cfg, outbox, audit),
        audit=audit,
        clock_state=CachedClockState(),
        notifier=notifier,
    )
    station = Station(cfg, devices, services)
    watchdog = start_watchdog(loop, notifier)
    log.info("station %s starting (%s hardware)", cfg.station.id, cfg.station.hardware)
    try:
        await station.run(stop)
    finally:
        watchdog.cancel()
        devices.close()
        outbox.close()
        restore()
        notifier.close()
    log.info("station stopped after %d records", station.records)
    return 0


def _run(args: argparse.Namespace) -> int:
    from station import config
    from station.cli._common import USAGE, CliError
    from station.runtime.logs import configure_logging, load_log_key
    from station.sync.errors import StoreError

    try:
        cfg = config.load(args.config)
    except config.ConfigError as exc:
        raise CliError(f"config error: {exc}", USAGE) from None
    try:
        key: bytes | None = load_log_key(cfg)
    except StoreError as exc:  # logs still work, keyed for this run only
        key, problem = None, str(exc)
    configure_logging(cfg.station.log_level, pseudonym_key=key)
    if key is None:
        log.warning("no log key (%s): card pseudonyms are keyed for this run only", problem)
    try:
        return asyncio.run(serve(cfg))
    except OSError as exc:
        log.error("station cannot start: %s", exc)
        return 1
