"""The demo path end to end: simulated camera and chip, the real station code, a real
mosquitto on loopback, the ward receiver, and an independent MQTT subscriber."""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest

from station.sim.broker import Broker
from station.sim.counter import CardKind
from station.sim.demo import run_demo

pytestmark = pytest.mark.mqtt


class Subscriber:
    """A plain paho client on the broker's anonymous listener, collecting record messages."""

    def __init__(self) -> None:
        self.messages: list[dict[str, Any]] = []
        self.subscribed = threading.Event()
        self._client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="test-sub")
        self._client.on_connect = lambda c, u, f, rc, p: c.subscribe("cccd/+/records", qos=1)
        self._client.on_subscribe = lambda *a: self.subscribed.set()
        self._client.on_message = self._on_message

    def _on_message(self, client: Any, userdata: Any, msg: mqtt.MQTTMessage) -> None:
        self.messages.append(json.loads(msg.payload))

    def attach(self, broker: Broker) -> None:
        self._client.connect("127.0.0.1", broker.plain_port)
        self._client.loop_start()
        assert self.subscribed.wait(10), "subscriber could not subscribe"

    def close(self) -> None:
        self._client.loop_stop()
        self._client.disconnect()


def _run(tmp_path: Path, cards: int, mix: tuple[CardKind, ...], sub: Subscriber) -> Any:
    lines: list[str] = []
    report = asyncio.run(
        run_demo(
            cards,
            seed=7,
            out_dir=tmp_path / "out",
            terminal=True,
            out=lines.append,
            mix=mix,
            on_broker=sub.attach,
        )
    )
    return report, "\n".join(lines)


def test_n_cards_in_n_records_stored_published_and_acknowledged(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    sub = Subscriber()
    mix: tuple[CardKind, ...] = ("good", "foreign-qr", "good", "cloned")
    try:
        report, printed = _run(tmp_path, 4, mix, sub)
    finally:
        sub.close()
    ids = [r["record_id"] for r in report.records]
    assert len(ids) == 4 and len(set(ids)) == 4
    # Every record reached the ward (stored there, acknowledged back: outbox drained).
    assert report.delivered == set(ids)
    # An independent subscriber saw the same record ids, signed envelopes.
    items = [item for m in sub.messages for item in m["items"]]
    assert {item["record"]["record_id"] for item in items} == set(ids)
    assert all(m["station_id"] == "demo-01" for m in sub.messages)
    assert all(item["sig"] for item in items)
    by_kind = dict(zip(mix, report.records, strict=True))
    assert by_kind["good"]["verification"]["level"] == "verified"
    assert by_kind["good"]["source"] == "qr+chip"
    assert by_kind["foreign-qr"]["status"] == "unrecognised"
    assert by_kind["cloned"]["verification"]["passive"] == "untrusted-signer"
    # The OLED was drawn as PNGs and in the terminal (half blocks).
    assert len(list(report.screens_dir.glob("*.png"))) >= 8
    assert "▀" in printed or "▄" in printed
    # Privacy: no name or ID number of any citizen in the logs or the printed output.
    text = caplog.text + printed
    for record in report.records:
        citizen = record.get("citizen") or {}
        for key in ("full_name", "id_number", "old_id_number"):
            if citizen.get(key):
                assert citizen[key] not in text, f"{key} leaked into logs/output"


def test_card_without_readable_qr_makes_no_record(tmp_path: Path) -> None:
    sub = Subscriber()
    try:
        report, _ = _run(tmp_path, 2, ("smudged-qr", "good"), sub)
    finally:
        sub.close()
    assert [r["status"] for r in report.records] == ["ok"]
    assert report.delivered == {report.records[0]["record_id"]}
