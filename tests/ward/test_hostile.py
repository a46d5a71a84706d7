"""Hostile messages to the real ward receiver through the broker of deploy/mosquitto: none
stops it, none changes the database, each is refused and logged; records too large for
the ward grow nothing; a station's status cannot put junk (or a PostgreSQL error) into
the stations table."""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from station.audit import AuditLog
from station.sync.signing import batch_payload, public_key_text, seal_envelope, seal_item
from station.ward.db import WardDB
from station.ward.receiver import WardReceiver
from tests.support import wait_for
from tests.sync.deploy import DeployBroker, deploy_broker
from tests.sync.support import RawClient, make_records

pytestmark = pytest.mark.mqtt

STATION = "station-01"
TOPIC = f"cccd/{STATION}/records"


class Ward:
    """The deploy broker, a receiver on it, station-01 enrolled and a raw client with
    station-01's certificate that sees the ward's answers."""

    def __init__(self, broker: DeployBroker, folder: Path) -> None:
        self.key = Ed25519PrivateKey.generate()
        self.db_path = folder / "ward.sqlite"
        with WardDB(self.db_path) as db:
            db.enroll(STATION, public_key_text(self.key.public_key()))
        self.audit = AuditLog(folder / "audit.log")
        self.receiver = WardReceiver(
            broker.link("ward", "ward-1"), self.db_path, audit=self.audit
        ).start()
        assert self.receiver.ready.wait(5)
        self.broker = broker
        self.station = RawClient(broker.link(STATION, STATION))
        self.station.client.subscribe(f"cccd/{STATION}/ack", qos=1)
        wait_for(lambda: self.station.subacks, 5, "SUBACK")

    def send(self, payload: bytes) -> None:
        assert not self.station.publish(TOPIC, payload).is_failure

    def answers(self) -> list[dict[str, Any]]:
        return [json.loads(m) for _, m in self.station.messages]

    def stored(self) -> list[str]:
        with WardDB(self.db_path) as db:
            return db.record_ids()

    def close(self) -> None:
        self.station.close()
        self.receiver.stop()


@pytest.fixture
def ward(tmp_path: Path) -> Iterator[Ward]:
    with deploy_broker(tmp_path, (STATION, "ward")) as broker:
        w = Ward(broker, tmp_path)
        try:
            yield w
        finally:
            w.close()


def _envelope(item: bytes) -> bytes:
    return batch_payload(STATION, [item])


def _raw_item(record_json: str) -> bytes:
    return f'{{"record":{record_json},"sig":"{"A" * 86}=="}}'.encode()


def test_no_message_stops_the_receiver(ward: Ward, caplog: pytest.LogCaptureFixture) -> None:
    """Each of these ended `station ward serve` before: RecursionError out of
    open_envelope, UnicodeEncodeError out of canonical_bytes, ValueError out of int()."""
    rid = str(uuid.uuid4())
    hostile = {
        "nested": b'{"v":1,"station_id":"station-01","items":' + b"[" * 200_000,
        "surrogate": _envelope(_raw_item(
            f'{{"record_id":"{rid}","station_id":"station-01","full_name":"\\ud800"}}'
        )),
        "digits": _envelope(_raw_item(f'{{"record_id":"{rid}","n":{"7" * 5000}}}')),
        "not utf-8": b'{"v":1,"station_id":"station-01","items":["\xff\xfe"]}',
        "NaN": _envelope(_raw_item(f'{{"record_id":"{rid}","n":NaN}}')),
        "items not objects": _envelope(b"[[[[]]]]"),
        "id with a newline": _envelope(_raw_item('{"record_id":"x\\nFORGED LINE"}')),
    }  # fmt: skip
    caplog.set_level(logging.WARNING, logger="station.ward.receiver")
    for payload in hostile.values():
        ward.send(payload)
    good = make_records(1, station_id=STATION)[0]
    ward.send(seal_envelope(good, ward.key))
    wait_for(lambda: ward.stored() == [good["record_id"]], 10, "the good record stored")
    assert ward.receiver.alive
    stats = ward.receiver.stats
    assert stats.rejected == len(hostile) and stats.stored == 1
    assert stats.reasons == {"malformed": len(hostile)}
    # the ack is published after the store: wait for it to reach the station
    acked = [good["record_id"]]
    wait_for(lambda: any(a.get("ack") == acked for a in ward.answers()), 10, "the good ack")
    assert ward.answers()[-1]["ack"] == acked
    refused = [r for a in ward.answers() for r in a.get("refused", [])]
    assert refused == [{"record_id": rid, "reason": "malformed"}]  # the one with an id
    lines = [r.getMessage() for r in caplog.records if "rejected" in r.getMessage()]
    assert len(lines) == len(hostile) and not any("FORGED" in line for line in lines)
    audit = [a for a in ward.audit.read() if a["event"] == "rejected"]
    assert len(audit) == len(hostile)


def _signed(ward: Ward, name: str) -> tuple[dict[str, Any], bytes]:
    record = make_records(1, station_id=STATION)[0]
    record["citizen"]["full_name"] = name
    return record, _envelope(seal_item(record, ward.key))


def _db_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.parent.glob(path.name + "*"))


def test_records_too_large_for_the_ward_grow_nothing(ward: Ward) -> None:
    """A signed name of 300 KB (one record over 256 KiB) or 9,000 characters (over the
    longest text a record holds) is refused and not stored; one of 2 MB does not pass the
    broker. Before, a signed 100 MB name was stored and grew the database by 100 MB."""
    before = _db_bytes(ward.db_path)
    too_large, p1 = _signed(ward, "A" * 300_000)
    too_long, p2 = _signed(ward, "B" * 9_000)
    ward.send(p1)
    ward.send(p2)

    def refused() -> dict[str, str]:
        return {r["record_id"]: r["reason"] for a in ward.answers() for r in a.get("refused", [])}

    wait_for(lambda: len(refused()) == 2, 10, "both refused")
    assert refused() == {too_large["record_id"]: "too large", too_long["record_id"]: "malformed"}
    other = RawClient(ward.broker.link(STATION, "station-01-other"))
    other.client.publish(TOPIC, _signed(ward, "C" * 2_000_000)[1], qos=1)  # over the broker's
    wait_for(lambda: not other.client.is_connected(), 10, "the sender disconnected")
    other.close()
    good = make_records(1, station_id=STATION)[0]
    ward.send(seal_envelope(good, ward.key))
    wait_for(lambda: ward.stored() == [good["record_id"]], 10, "the good record stored")
    assert ward.receiver.stats.rejected == 2
    assert _db_bytes(ward.db_path) - before < 64 * 1024
