"""End to end against a real mosquitto: station outbox -> broker -> ward -> ack."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from station import config
from station.sim.broker import Broker
from station.sim.loopback import LoopbackWard
from station.sync.link import LinkSettings
from station.sync.outbox import Outbox
from station.sync.publisher import Publisher, SyncState
from station.sync.signing import key_paths, load_or_create_signing_key, seal_envelope
from station.ward.db import WardDB
from station.ward.receiver import WardReceiver
from tests.support import wait_for
from tests.sync.support import STATION, RawClient, make_records, pin_ward_key

pytestmark = pytest.mark.mqtt


def run_station(cfg: config.Config, records: list[dict[str, object]]) -> tuple[Outbox, Publisher]:
    states: list[SyncState] = []
    outbox = Outbox.from_config(cfg)
    pub = Publisher.from_config(cfg, outbox, on_state=states.append)
    pub.states = states  # type: ignore[attr-defined]
    for r in records:
        outbox.append(r)
    pub.start()
    return outbox, pub


def test_records_arrive_once_then_are_deleted(
    ward: LoopbackWard, station_cfg: config.Config, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    cfg = ward.attach(station_cfg)
    records = make_records(300)
    outbox, pub = run_station(cfg, records)
    try:
        wait_for(lambda: outbox.pending_count() == 0, 20, "outbox drained")
        db = ward.db()
        assert sorted(db.record_ids()) == sorted(r["record_id"] for r in records)
        assert db.get(records[0]["record_id"]) == records[0]
        wait_for(lambda: db.stations()[0]["pending"] == 0, 10, "heartbeat with queue 0")
        st = db.stations()[0]
        assert st["state"] == "online" and st["version"] and st["records"] == 300
        wait_for(lambda: pub.states[-1].pending == 0, 5, "state callback")  # type: ignore[attr-defined]
        last = pub.states[-1]  # type: ignore[attr-defined]
        assert last.connected and last.last_sync_at is not None
    finally:
        pub.stop()
        outbox.close()
    wait_for(lambda: db.stations()[0]["state"] == "offline", 5, "status offline on stop")
    audit = ward.audit.read()
    assert sum(1 for a in audit if a["event"] == "stored") == 300
    text = (ward.workdir / "ward-audit.log").read_text() + caplog.text
    for r in records:
        citizen: dict[str, str] = r["citizen"]  # type: ignore[assignment]
        assert citizen["id_number"] not in text and citizen["full_name"] not in text
    db.close()


def test_station_over_tls_with_password(tmp_path: Path, station_cfg: config.Config) -> None:
    users = {STATION: "s3cret-station", "ward": "s3cret-ward"}
    with Broker(tmp_path / "b", clients=("ward",), users=users) as broker:
        db = WardDB(tmp_path / "ward.sqlite")
        pw = tmp_path / "pw"
        pw.write_text("s3cret-station\n")
        cfg = config.replace(
            station_cfg, "mqtt", host="127.0.0.1", port=broker.password_port, tls=True,
            ca_file=str(broker.pki.ca_file), username=STATION, password_file=str(pw),
        )  # fmt: skip
        key = load_or_create_signing_key(*key_paths(cfg))
        from station.sync.signing import public_key_text

        db.enroll(STATION, public_key_text(key.public_key()))
        cfg = pin_ward_key(cfg, tmp_path / "ward.sqlite")
        ward_settings = broker.link_settings("ward", client_id="ward-pw")
        with WardReceiver(ward_settings, tmp_path / "ward.sqlite") as receiver:
            assert receiver.ready.wait(5)
            outbox, pub = run_station(cfg, make_records(20))
            try:
                wait_for(lambda: outbox.pending_count() == 0, 10, "drained over password TLS")
                assert db.count() == 20
            finally:
                pub.stop()
                outbox.close()
        db.close()


def test_acl_keeps_a_station_inside_its_own_prefix(ward: LoopbackWard, tmp_path: Path) -> None:
    key2 = Ed25519PrivateKey.generate()
    from station.sync.signing import public_key_text

    ward.enroll("station-2", public_key_text(key2.public_key()))
    ward.enroll(STATION, public_key_text(Ed25519PrivateKey.generate().public_key()))
    intruder = RawClient(ward.broker.link_settings("station-2"))
    try:
        forged = make_records(1, station_id=STATION)[0]
        rc = intruder.publish(f"cccd/{STATION}/records", seal_envelope(forged, key2))
        assert rc.is_failure  # PUBACK "Not authorized"
        intruder.client.subscribe("cccd/+/ack", qos=1)
        wait_for(lambda: intruder.subacks, 5, "SUBACK")
        acker = RawClient(ward.broker.link_settings("ward", client_id="raw-ward"))
        acker.publish(f"cccd/{STATION}/ack", b'{"ack": ["x"]}')
        acker.publish("cccd/station-2/ack", b'{"ack": ["y"]}')
        acker.close()
        wait_for(lambda: intruder.messages, 5, "own ack delivered")
        assert [t for t, _ in intruder.messages] == ["cccd/station-2/ack"]
        own = make_records(1, station_id="station-2")[0]
        assert not intruder.publish("cccd/station-2/records", seal_envelope(own, key2)).is_failure
        db = ward.db()
        wait_for(lambda: db.count() == 1, 10, "own record stored")
        assert db.record_ids() == [own["record_id"]]
        assert ward.receiver is not None and ward.receiver.stats.rejected == 0
        db.close()
    finally:
        intruder.close()


def test_forged_malformed_replayed_are_refused_and_receiver_lives(
    ward: LoopbackWard, station_cfg: config.Config
) -> None:
    cfg = ward.attach(station_cfg)
    key = load_or_create_signing_key(*key_paths(cfg))
    client = RawClient(ward.broker.link_settings(STATION, client_id="raw-1"))
    topic = f"cccd/{STATION}/records"
    good = make_records(3)
    try:
        env = json.loads(seal_envelope(good[0], key))
        env["items"][0]["record"] = dict(good[0], status="forged")
        client.publish(topic, json.dumps(env).encode())
        client.publish(topic, b"\x00not json at all")
        env["items"][0]["sig"] = ""
        client.publish(topic, json.dumps(env).encode())
        client.publish(topic, seal_envelope(good[0], Ed25519PrivateKey.generate()))
        client.publish(topic, seal_envelope(good[1], key))
        client.publish(topic, seal_envelope(good[1], key))  # replay
        client.publish(topic, seal_envelope(good[2], key))
        db = ward.db()
        receiver = ward.receiver
        assert receiver is not None
        wait_for(lambda: db.count() == 2 and receiver.stats.duplicates == 1, 10, "batch")
        assert sorted(db.record_ids()) == sorted([good[1]["record_id"], good[2]["record_id"]])
        assert receiver.stats.rejected == 4
        assert set(receiver.stats.reasons) == {"forged", "malformed", "unsigned"}
        assert db.get(good[1]["record_id"]) == good[1]
        db.close()
    finally:
        client.close()


def test_receiver_down_then_back_gets_everything(
    ward: LoopbackWard, station_cfg: config.Config
) -> None:
    cfg = ward.attach(config.replace(station_cfg, "mqtt", ack_timeout_s=600.0))
    ward.stop_receiver()  # its persistent session keeps the shared subscription
    records = make_records(250)
    outbox, pub = run_station(cfg, records)
    try:
        wait_for(lambda: pub.in_flight == 100, 10, "window full while the ward is away")
        assert outbox.pending_count() == 250
        ward.start_receiver()
        wait_for(lambda: outbox.pending_count() == 0, 20, "drained after the ward came back")
        db = ward.db()
        assert sorted(db.record_ids()) == sorted(r["record_id"] for r in records)
        db.close()
    finally:
        pub.stop()
        outbox.close()


def test_link_settings_from_url() -> None:
    s = LinkSettings.from_url("mqtts://broker.example:8884", client_id="w")
    assert (s.host, s.port, s.tls) == ("broker.example", 8884, True)
    assert LinkSettings.from_url("mqtt://h", client_id="w").port == 1883
    with pytest.raises(Exception, match="broker URL"):
        LinkSettings.from_url("http://h", client_id="w")


def test_backoff_is_capped_and_jittered() -> None:
    import random

    from station.sync.link import Backoff

    b = Backoff(0.5, 8.0, random.Random(1))
    delays = [b.next_delay() for _ in range(12)]
    assert all(0.25 <= d <= 8.0 for d in delays)
    assert max(delays[:2]) <= 1.0 and min(delays[-4:]) >= 4.0  # grows, then capped
    assert len(set(delays[-4:])) == 4  # jittered: no two stations retry in lockstep
    b.reset()
    assert b.next_delay() <= 0.5


def test_sync_state_follows_the_broker(ward: LoopbackWard, station_cfg: config.Config) -> None:
    cfg = ward.attach(station_cfg)
    outbox, pub = run_station(cfg, [])
    states: list[SyncState] = pub.states  # type: ignore[attr-defined]
    try:
        wait_for(lambda: states and states[-1].connected, 10, "online")
        ward.broker.stop()
        wait_for(lambda: not states[-1].connected, 10, "offline state")
        outbox.append(make_records(1)[0])
        wait_for(lambda: states[-1].pending == 1, 5, "pending while offline")
        assert states[-1].oldest_pending_age_s is not None
        ward.broker.start()
        wait_for(lambda: states[-1].connected and states[-1].pending == 0, 15, "synced")
        assert states[-1].last_sync_at is not None
    finally:
        pub.stop()
        outbox.close()


def test_two_receivers_share_the_load(ward: LoopbackWard, station_cfg: config.Config) -> None:
    cfg = ward.attach(config.replace(station_cfg, "mqtt", batch_records=5))
    second = WardReceiver(
        ward.broker.link_settings("ward", client_id="ward-receiver-2"), ward.db_path
    ).start()
    records = make_records(400)
    try:
        assert second.ready.wait(5)
        outbox, pub = run_station(cfg, records)
        try:
            wait_for(lambda: outbox.pending_count() == 0, 20, "drained by two receivers")
        finally:
            pub.stop()
            outbox.close()
    finally:
        second.stop()
    first = ward.receiver
    assert first is not None
    assert first.stats.stored > 0 and second.stats.stored > 0  # the shared subscription split
    assert first.stats.stored + second.stats.stored == 400
    db = ward.db()
    ids = db.record_ids()
    assert len(ids) == len(set(ids)) == 400
    db.close()
