"""Fixtures for the sync tests: a real mosquitto on loopback, a ward, records."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from station import config
from station.record import qr_record
from station.sim.broker import Broker
from station.sim.citizens import SyntheticCitizen, generate_many
from station.sim.loopback import LoopbackWard
from station.sync.signing import WARD_KEY_NAME, ward_key_text
from tests.support import wait_for

STATION = "station-1"


def make_record(citizen: SyntheticCitizen, station_id: str = STATION) -> dict[str, Any]:
    """A QR record for a synthetic citizen (what the station stores and sends)."""
    rec = qr_record(None, station_id=station_id, record_id=str(uuid.uuid4()))
    rec.update(
        status="ok",
        citizen={
            "id_number": citizen.id_number,
            "old_id_number": citizen.old_id_number,
            "full_name": citizen.full_name,
            "date_of_birth": citizen.date_of_birth.isoformat(),
            "sex": citizen.sex,
            "place_of_residence": citizen.place_of_residence,
            "issue_date": citizen.issue_date.isoformat(),
        },
    )
    return rec


def make_records(n: int, seed: int = 1, station_id: str = STATION) -> list[dict[str, Any]]:
    return [make_record(c, station_id) for c in generate_many(seed, n)]


def pin_ward_key(cfg: config.Config, ward_db: Path) -> config.Config:
    """``cfg`` with ``mqtt.ward_key`` = the ack key of the receiver on ``ward_db`` (made
    now if needed; the receiver's default place: beside its database)."""
    key = ward_key_text(ward_db.with_name(WARD_KEY_NAME))
    return config.replace(cfg, "mqtt", ward_key=key)


@pytest.fixture
def station_cfg(tmp_path: Path) -> config.Config:
    cfg = config.replace(config.Config(), "station", id=STATION, data_dir=str(tmp_path / "data"))
    return config.replace(
        cfg, "mqtt", ack_timeout_s=3.0, reconnect_max_s=1.0, heartbeat_s=1.0, inflight=100
    )


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Broker]:
    with Broker(tmp_path / "broker", clients=(STATION, "station-2", "ward")) as b:
        yield b


@pytest.fixture
def ward(tmp_path: Path) -> Iterator[LoopbackWard]:
    with LoopbackWard(tmp_path / "ward") as w:
        yield w


class RawClient:
    """A bare paho client (own thread) for sending hand-made messages."""

    def __init__(self, settings: Any) -> None:
        import paho.mqtt.client as mqtt
        from paho.mqtt.enums import CallbackAPIVersion

        self.acks: dict[int, Any] = {}
        self.subacks: list[Any] = []
        self.messages: list[tuple[str, bytes]] = []
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=settings.client_id, protocol=mqtt.MQTTv5
        )
        if settings.tls:
            self.client.tls_set_context(settings.ssl_context())
        if settings.username:
            self.client.username_pw_set(settings.username, settings.password)
        self.client.on_publish = lambda c, u, mid, rc, p: self.acks.__setitem__(mid, rc)
        self.client.on_subscribe = lambda c, u, mid, rcs, p: self.subacks.extend(rcs)
        self.client.on_message = lambda c, u, m: self.messages.append((m.topic, m.payload))
        self.client.connect(settings.host, settings.port)
        self.client.loop_start()
        wait_for(self.client.is_connected, 5, "raw client connect")

    def publish(self, topic: str, payload: bytes, *, retain: bool = False) -> Any:
        """QoS 1 publish; returns the PUBACK reason code."""
        info = self.client.publish(topic, payload, qos=1, retain=retain)
        wait_for(lambda: info.mid in self.acks, 5, "PUBACK")
        return self.acks[info.mid]

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()
