"""`station demo`: the whole station on simulated hardware, end to end.

What runs is the real station (``station.runtime.app.Station``: camera worker + zxing-cpp, chip
reader with BAC/PACE and secure messaging, verification, flow, screens, durable outbox,
MQTT publisher); only the devices are simulated (``station.sim``): a camera scene showing
synthetic cards, an emulated chip in the reader's field, an in-memory OLED drawn in the
terminal and saved as PNGs. A real mosquitto is started on loopback (TLS, client
certificates) with a ward receiver that stores records and acknowledges them.
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
from station import flow
from station.runtime.app import Services, Station
from station.runtime.wiring import open_devices
from station.sim.counter import DEMO_MIX, CardFactory, CardKind, SimCard, SimCounter

if TYPE_CHECKING:
    from station.sim.broker import Broker

log = logging.getLogger(__name__)

STATION_ID = "demo-01"
SETTLE_S = 12.0  # longest a card may take to reach its result screen


@dataclass
class DemoReport:
    screens_dir: Path
    ward_db: Path
    cards: int = 0
    records: list[dict[str, Any]] = field(default_factory=list)
    delivered: set[str] = field(default_factory=set)


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


def _summary_line(record: dict[str, Any]) -> str:
    verification = record.get("verification") or {}
    level = verification.get("level", "-")
    return (
        f"record {record['record_id']}  status={record['status']:<12} "
        f"source={record['source']:<8} verification={level}"
    )


class DemoDriver:
    """Places each card, waits for the station to finish with it, takes it away."""

    def __init__(self, station: Station, counter: SimCounter, out: Callable[[str], None]) -> None:
        self.station = station
        self.counter = counter
        self.out = out
        self.stored = asyncio.Event()

    def on_record(self, record: dict[str, Any]) -> None:
        self.out("  -> " + _summary_line(record))
        self.out(f"     stored durably in {self.station.cfg.store_path}")
        self.stored.set()

    async def _phase_settles(self, timeout: float) -> None:
        """Until the card reached a result or error screen (or nothing will happen)."""
        deadline = time.monotonic() + timeout
        seen_busy = False
        while time.monotonic() < deadline:
            state = self.station.state
            phase = state.phase if state is not None else flow.Phase.IDLE
            if phase in (flow.Phase.RESULT, flow.Phase.ERROR):
                await asyncio.sleep(1.0)  # let the officer read it
                return
            seen_busy = seen_busy or phase is not flow.Phase.IDLE
            await asyncio.sleep(0.05)
        if not seen_busy:
            self.out("  (the station saw no QR code it could read on this card)")

    async def present(self, index: int, card: SimCard) -> None:
        self.out(f"card {index}: {card.kind} card placed on the station")
        self.stored.clear()
        self.counter.place(card)
        await self._phase_settles(SETTLE_S)
        self.counter.remove()
        await asyncio.sleep(0.6)


async def _wait_delivered(outbox: Any, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and outbox.pending_count() > 0:
        await asyncio.sleep(0.1)


async def run_demo(
    cards: int | None,
    *,
    seed: int,
    out_dir: Path,
    terminal: bool,
    out: Callable[[str], None],
    mix: Sequence[CardKind] = DEMO_MIX,
    on_broker: Callable[[Broker], None] | None = None,
) -> DemoReport:
    """Present ``cards`` cards (None: forever) of the kinds in ``mix``, in turn."""
    from station.audit import AuditLog
    from station.runtime.clock import CachedClockState
    from station.sim.broker import Broker
    from station.sync.outbox import Outbox
    from station.sync.publisher import Publisher
    from station.sync.signing import key_paths, load_or_create_signing_key, public_key_text
    from station.ward.db import WardDB
    from station.ward.receiver import WardReceiver

    shutil.rmtree(out_dir / "station", ignore_errors=True)
    shutil.rmtree(out_dir / "screens", ignore_errors=True)
    (out_dir / "ward.sqlite").unlink(missing_ok=True)
    out_dir.mkdir(parents=True, exist_ok=True)
    report = DemoReport(screens_dir=out_dir / "screens", ward_db=out_dir / "ward.sqlite")
    factory = CardFactory(seed)
    with tempfile.TemporaryDirectory(prefix="station-demo-") as tmp_name:
        tmp = Path(tmp_name)
        with Broker(tmp / "broker", clients=(STATION_ID, "ward")) as broker:
            cfg = broker.station_config(demo_config(out_dir, terminal=terminal), STATION_ID)
            out(f"MQTT broker (mosquitto) on 127.0.0.1:{broker.tls_port} (TLS, client certs)")
            if on_broker is not None:
                on_broker(broker)
            _install_trust(cfg, factory, tmp)
            key = load_or_create_signing_key(*key_paths(cfg))
            db = WardDB(report.ward_db)
            db.enroll(STATION_ID, public_key_text(key.public_key()))
            db.close()
            ward = WardReceiver(broker.link_settings("ward", client_id="ward-demo"), report.ward_db)
            ward.start()
            ward.ready.wait(10)
            audit = AuditLog(cfg.data_dir / "audit.log")
            outbox = Outbox.from_config(cfg, audit=audit)
            devices = open_devices(cfg, echo=(lambda text: out(text)) if terminal else None)
            assert devices.scene is not None
            counter = SimCounter(devices.scene, devices.field)
            services = Services(
                outbox=outbox,
                publisher_factory=lambda on_state: Publisher.from_config(
                    cfg, outbox, on_state=on_state
                ),
                audit=audit,
                clock_state=CachedClockState(),
            )
            station = Station(cfg, devices, services)
            driver = DemoDriver(station, counter, out)

            def on_record(record: dict[str, Any]) -> None:
                report.records.append(record)
                driver.on_record(record)

            services.on_record = on_record
            stop = asyncio.Event()
            runner = asyncio.ensure_future(station.run(stop))
            try:
                await asyncio.sleep(0.5)
                index = 0
                while cards is None or index < cards:
                    kind = mix[index % len(mix)]
                    index += 1
                    await driver.present(index, factory.make(kind))
                    report.cards = index
                out("waiting for the ward server to acknowledge every record ...")
                await _wait_delivered(outbox, 30.0)
            finally:
                stop.set()
                await runner
                devices.close()
                outbox.close()
                ward.stop()
            db = WardDB(report.ward_db)
            report.delivered = set(db.record_ids())
            db.close()
    return report


def print_report(report: DemoReport, out: Callable[[str], None]) -> None:
    out("")
    out(f"{report.cards} cards presented, {len(report.records)} records stored")
    for record in report.records:
        where = (
            "delivered to the ward (acknowledged)"
            if record["record_id"] in report.delivered
            else "still pending in the outbox"
        )
        out(f"  {_summary_line(record)}  {where}")
    out(f"OLED screens as PNG: {report.screens_dir}")
    out(f"ward database: {report.ward_db}")


def main(cards: int | None, *, seed: int, out_dir: Path, terminal: bool) -> int:
    def out(text: str) -> None:
        sys.stdout.write(text + "\n")
        sys.stdout.flush()

    try:
        report = asyncio.run(
            run_demo(cards, seed=seed, out_dir=out_dir, terminal=terminal, out=out)
        )
    except KeyboardInterrupt:
        return 130
    print_report(report, out)
    missing = [r for r in report.records if r["record_id"] not in report.delivered]
    return 0 if not missing else 1
