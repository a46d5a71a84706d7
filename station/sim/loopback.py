"""A whole ward side on loopback: real mosquitto + ward receiver, for the demo and tests.

    with LoopbackWard(workdir) as ward:
        cfg = ward.attach(cfg)                  # [mqtt] -> broker, key enrolled, ward key pinned
        outbox = Outbox.from_config(cfg)
        publisher = Publisher.from_config(cfg, outbox, on_state=...).start()
        ...
        ward.wait_for(n_records, timeout=10)    # records stored in the ward DB
        ward.db().record_ids()

The station authenticates with a per-station client certificate over TLS (the
same path as production); ``attach(cfg, tls=False)`` uses the plain listener.
"""

from __future__ import annotations

import time
from pathlib import Path

from station import config
from station.audit import AuditLog
from station.config import Config
from station.sim.broker import Broker
from station.sync.errors import SyncError
from station.sync.signing import (
    WARD_KEY_NAME,
    key_paths,
    load_or_create_signing_key,
    public_key_text,
    ward_key_text,
)
from station.ward.db import WardDB
from station.ward.receiver import WardReceiver


class LoopbackWard:
    """Broker + receiver in one object; ``start``/``stop`` or a ``with`` block."""

    def __init__(self, workdir: str | Path, *, prefix: str = "cccd") -> None:
        self.workdir = Path(workdir)
        self.broker = Broker(self.workdir / "broker", clients=("ward",), prefix=prefix)
        self.db_path = self.workdir / "ward.sqlite"
        self.audit = AuditLog(self.workdir / "ward-audit.log")
        self.prefix = prefix
        self.receiver: WardReceiver | None = None

    def start(self, timeout: float = 10.0) -> LoopbackWard:
        self.broker.start()
        self.start_receiver(timeout)
        return self

    def start_receiver(self, timeout: float = 10.0) -> WardReceiver:
        self.receiver = WardReceiver(
            self.broker.link_settings("ward", client_id="ward-receiver"),
            self.db_path,
            prefix=self.prefix,
            audit=self.audit,
        ).start()
        if not self.receiver.ready.wait(timeout):
            raise SyncError(f"ward receiver did not subscribe within {timeout}s")
        return self.receiver

    def stop_receiver(self) -> None:
        if self.receiver is not None:
            self.receiver.stop()
            self.receiver = None

    def stop(self) -> None:
        self.stop_receiver()
        self.broker.stop()

    def __enter__(self) -> LoopbackWard:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def enroll(self, station_id: str, public_key: str) -> None:
        db = WardDB(self.db_path)
        try:
            db.enroll(station_id, public_key)
        finally:
            db.close()

    @property
    def ward_key(self) -> str:
        """The receiver's ack key (public, base64): a station's ``mqtt.ward_key``."""
        return ward_key_text(self.db_path.with_name(WARD_KEY_NAME))

    def attach(self, cfg: Config, *, tls: bool = True) -> Config:
        """``cfg`` pointed at this broker, its station key made (if needed) and enrolled,
        the ward's ack key pinned (as ``station ward enroll`` tells the admin to)."""
        cfg = self.broker.station_config(cfg, cfg.station.id, tls=tls)
        key = load_or_create_signing_key(*key_paths(cfg))
        self.enroll(cfg.station.id, public_key_text(key.public_key()))
        return config.replace(cfg, "mqtt", ward_key=self.ward_key)

    def db(self) -> WardDB:
        """A fresh connection to the ward database (close it when done)."""
        return WardDB(self.db_path)

    def wait_for(self, count: int, timeout: float = 10.0) -> int:
        """Wait until at least ``count`` records are stored; returns the count seen."""
        db = self.db()
        try:
            deadline = time.monotonic() + timeout
            while (seen := db.count()) < count and time.monotonic() < deadline:
                time.sleep(0.02)
            return seen
        finally:
            db.close()


__all__ = ["LoopbackWard"]
