"""`station demo`: the whole station on simulated hardware, end to end.

What runs is the real station (``station.runtime.app.Station``: camera worker + zxing-cpp, chip
reader with BAC/PACE and secure messaging, verification, flow, screens, durable outbox,
MQTT publisher); only the devices are simulated (``station.sim``): a camera scene showing
synthetic cards, an emulated chip in the reader's field, an in-memory OLED drawn in the
terminal and saved as PNGs. A real mosquitto is started on loopback (TLS, client
certificates) with a ward receiver that stores records and acknowledges them, and the ward
console on loopback with a demo officer account (``start_console``). The tour
(``station.sim.tour``) shows every card kind and device fault the README lists; the
summary counts each kind. Ctrl-C stops it and prints the summary too.

The parts are started by small functions (``start_ward``, ``start_station``) so that more
services can be started beside them.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from station import config as config_mod
from station.runtime.app import Services, Station
from station.runtime.wiring import open_devices
from station.sim.counter import DEMO_MIX, CardFactory, SimCounter
from station.sim.tour import FAULTS, DemoClock, Seen, Step, TourDriver, record_line

if TYPE_CHECKING:
    from station.sim.broker import Broker
    from station.sync.outbox import Outbox
    from station.ward.console.server import ConsoleServer
    from station.ward.receiver import WardReceiver

log = logging.getLogger(__name__)

STATION_ID = "demo-01"
DEMO_OFFICER = ("canbo", "officer", "canbo-demo")  # the console's demo account (loopback only)
CONSOLE_PORTS = (8080, 0)  # 8080 if free, else any
# Every card kind, then every fault of the station's own parts.
DEMO_TOUR: tuple[Step, ...] = (*DEMO_MIX, *FAULTS)


@dataclass
class DemoReport:
    screens_dir: Path
    ward_db: Path
    cards: int = 0
    records: list[dict[str, Any]] = field(default_factory=list)
    delivered: set[str] = field(default_factory=set)
    steps: list[Seen] = field(default_factory=list)
    interrupted: bool = False


def demo_config(out: Path, *, terminal: bool) -> config_mod.Config:
    raw = {
        "station": {"id": STATION_ID, "hardware": "sim", "data_dir": str(out / "station")},
        "display": {"png_dir": str(out / "screens"), "terminal": terminal, "max_fps": 30},
        "ui": {"result_timeout_s": 4.0},
        "mqtt": {"ack_timeout_s": 5.0, "heartbeat_s": 5.0},
    }
    return config_mod.from_mapping(raw)


def _install_trust(cfg: config_mod.Config, factory: CardFactory, tmp: Path) -> None:
    from station.verify.store import import_file

    csca = tmp / "demo-csca.der"
    csca.write_bytes(factory.pki.csca_der)
    import_file(cfg.trust_dir, csca)


def _fresh_out_dir(out_dir: Path) -> None:
    shutil.rmtree(out_dir / "station", ignore_errors=True)
    shutil.rmtree(out_dir / "screens", ignore_errors=True)
    (out_dir / "ward.sqlite").unlink(missing_ok=True)
    out_dir.mkdir(parents=True, exist_ok=True)


def start_ward(
    broker: Broker, cfg: config_mod.Config, ward_db: Path
) -> tuple[WardReceiver, config_mod.Config]:
    """The ward receiver on the demo's broker, with the station's key enrolled; ``cfg``
    with the ward's ack key pinned (``mqtt.ward_key``, as ``station ward enroll`` says)."""
    from station.sync.signing import (
        key_paths,
        load_or_create_signing_key,
        public_key_text,
        ward_key_text,
    )
    from station.ward.db import WardDB
    from station.ward.receiver import WardReceiver, ack_key_file

    key = load_or_create_signing_key(*key_paths(cfg))
    db = WardDB(ward_db)
    db.enroll(STATION_ID, public_key_text(key.public_key()))
    db.close()
    ward_key = ward_key_text(ack_key_file(ward_db))
    ward = WardReceiver(broker.link_settings("ward", client_id="ward-demo"), ward_db)
    ward.start()
    ward.ready.wait(10)
    return ward, config_mod.replace(cfg, "mqtt", ward_key=ward_key)


def start_console(
    db: Path, ward: WardReceiver, cfg: config_mod.Config, out: Callable[[str], None]
) -> ConsoleServer | None:
    """The ward console on loopback, rung by the demo's receiver after each record; its
    stations page shows the ward key ``cfg`` pins."""
    try:
        from station.ward.console.server import ConsoleError, serve_in_thread
    except ImportError as exc:  # the [ward] extra is not installed
        out(f"ward console not started ({exc.name} missing: pip install '.[ward]')")
        return None
    ward_key = cfg.mqtt.ward_key
    for port in CONSOLE_PORTS:
        try:
            server = serve_in_thread(db, port=port, users=(DEMO_OFFICER,), ward_key=ward_key)
        except ConsoleError:
            continue
        ward.on_stored = server.bell.ring_threadsafe
        name, _, password = DEMO_OFFICER
        page = f"{server.url}/counter/{STATION_ID}"
        out(f"ward console: {page}  (officer {name}, password {password})")
        return server
    out("ward console not started: no free port on 127.0.0.1")
    return None


def start_station(
    cfg: config_mod.Config, clock: DemoClock, *, terminal: bool, out: Callable[[str], None]
) -> tuple[Station, Outbox, SimCounter]:
    """The real station on simulated devices (not yet running: ``station.run(stop)``)."""
    from station.audit import AuditLog
    from station.runtime.clock import CachedClockState
    from station.runtime.trust import bundle_installer
    from station.sync.outbox import Outbox
    from station.sync.publisher import Publisher

    audit = AuditLog(cfg.data_dir / "audit.log")
    outbox = Outbox.from_config(cfg, audit=audit)
    devices = open_devices(cfg, echo=out if terminal else None)
    assert devices.scene is not None
    services = Services(
        outbox=outbox,
        publisher_factory=lambda on_state: Publisher.from_config(
            cfg, outbox, on_state=on_state, on_trust=bundle_installer(cfg, audit)
        ),
        audit=audit,
        clock_state=CachedClockState(max_age_s=0.2, probe=clock.probe),
        health_s=0.5,  # the tour breaks and repairs parts every few seconds
    )
    return Station(cfg, devices, services), outbox, SimCounter(devices.scene, devices.field)


async def _wait_delivered(outbox: Any, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and outbox.pending_count() > 0:
        await asyncio.sleep(0.1)


async def _tour(
    driver: TourDriver, factory: CardFactory, steps: int | None, mix: Sequence[Step],
    report: DemoReport,
) -> None:  # fmt: skip
    index = 0
    while steps is None or index < steps:
        seen = Seen(mix[index % len(mix)])
        index += 1
        report.steps.append(seen)  # before it ends: a Ctrl-C summary shows it too
        report.cards = index
        await driver.step(index, seen, factory)


async def run_demo(
    cards: int | None,
    *,
    seed: int,
    out_dir: Path,
    terminal: bool,
    out: Callable[[str], None],
    mix: Sequence[Step] = DEMO_TOUR,
    on_broker: Callable[[Broker], None] | None = None,
    report: DemoReport | None = None,
) -> DemoReport:
    """Present ``cards`` steps (None: until cancelled) of the tour ``mix``, in turn.

    ``report`` is filled as the tour goes, so a caller interrupted (Ctrl-C) still has it.
    """
    from station.runtime.clock import clock_state
    from station.sim.broker import Broker
    from station.ward.db import WardDB

    _fresh_out_dir(out_dir)
    report = report or DemoReport(screens_dir=out_dir / "screens", ward_db=out_dir / "ward.sqlite")
    factory = CardFactory(seed)
    clock = DemoClock(clock_state())
    with tempfile.TemporaryDirectory(prefix="station-demo-") as tmp_name:
        tmp = Path(tmp_name)
        with Broker(tmp / "broker", clients=(STATION_ID, "ward")) as broker:
            cfg = broker.station_config(demo_config(out_dir, terminal=terminal), STATION_ID)
            out(f"MQTT broker (mosquitto) on 127.0.0.1:{broker.tls_port} (TLS, client certs)")
            if on_broker is not None:
                on_broker(broker)
            _install_trust(cfg, factory, tmp)
            ward, cfg = start_ward(broker, cfg, report.ward_db)
            console = start_console(report.ward_db, ward, cfg, out)
            station, outbox, counter = start_station(cfg, clock, terminal=terminal, out=out)
            driver = TourDriver(station, counter, clock, out)

            def on_record(record: dict[str, Any]) -> None:
                report.records.append(record)
                driver.on_record(record)

            station.services.on_record = on_record
            stop = asyncio.Event()
            runner = asyncio.ensure_future(station.run(stop))
            try:
                await asyncio.sleep(0.5)
                await _tour(driver, factory, cards, mix, report)
                out("waiting for the ward server to acknowledge every record ...")
                await _wait_delivered(outbox, 30.0)
            finally:
                stop.set()
                await runner
                station.devices.close()
                outbox.close()
                ward.stop()
                if console is not None:
                    console.stop()
                db = WardDB(report.ward_db)
                report.delivered = set(db.record_ids())
                db.close()
    return report


def summary(report: DemoReport) -> list[str]:
    """Each kind presented, how often, what the station showed and recorded."""
    lines = [
        f"{report.cards} steps of the tour{' (stopped by Ctrl-C)' if report.interrupted else ''}:"
    ]
    kinds: dict[str, list[Seen]] = {}
    for seen in report.steps:
        kinds.setdefault(seen.step, []).append(seen)
    for kind, seens in kinds.items():
        last = seens[-1]
        shown = " -> ".join(last.shown) or "(nothing: no QR code in view)"
        records = "; ".join(record_line(r) for r in last.records) or "no record"
        lines.append(f"  {kind:17} {len(seens):3}x  {shown}  [{records}]")
    delivered = sum(1 for r in report.records if r["record_id"] in report.delivered)
    waiting = len(report.records) - delivered
    lines.append(
        f"{len(report.records)} records stored, {delivered} delivered to the ward "
        f"(acknowledged), {waiting} still waiting in the outbox"
    )
    return lines


def print_report(report: DemoReport, out: Callable[[str], None]) -> None:
    out("")
    for line in summary(report):
        out(line)
    out(f"OLED screens as PNG: {report.screens_dir}")
    out(f"ward database: {report.ward_db} (station ward list --db {report.ward_db})")


def main(cards: int | None, *, seed: int, out_dir: Path, terminal: bool) -> int:
    def out(text: str) -> None:
        sys.stdout.write(text + "\n")
        sys.stdout.flush()

    report = DemoReport(screens_dir=out_dir / "screens", ward_db=out_dir / "ward.sqlite")
    try:
        asyncio.run(
            run_demo(cards, seed=seed, out_dir=out_dir, terminal=terminal, out=out, report=report)
        )
    except KeyboardInterrupt:
        report.interrupted = True
        print_report(report, out)
        return 130
    print_report(report, out)
    missing = [r for r in report.records if r["record_id"] not in report.delivered]
    return 0 if not missing else 1
