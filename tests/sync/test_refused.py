"""Records the ward refuses for good: kept on the station, not resent, requeued by the admin."""

from __future__ import annotations

import json
import logging
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from station import config, doctor
from station.audit import AuditLog
from station.cli import main
from station.sim.loopback import LoopbackWard
from station.sync.outbox import Outbox, OutboxBusy, read_summary
from station.sync.publisher import Publisher, SyncState
from station.sync.signing import (
    WARD_KEY_NAME,
    key_paths,
    load_or_create_signing_key,
    load_ward_key,
    seal_ack,
    seal_envelope,
)
from station.ward.db import WardDB
from tests.support import wait_for
from tests.sync.support import STATION, RawClient, make_records

SIGNING_KEY = Ed25519PrivateKey.generate()
NEW_ID = "station-9"


def open_outbox(tmp_path: Path, **kw: Any) -> Outbox:
    return Outbox(
        tmp_path / "outbox.db",
        key_file=tmp_path / "outbox.key",
        signing_key=SIGNING_KEY,
        audit=AuditLog(tmp_path / "audit.log"),
        **kw,
    )


def personal_data(records: list[dict[str, Any]]) -> list[str]:
    return [r["citizen"][k] for r in records for k in ("id_number", "full_name")]


# -- the outbox on its own -------------------------------------------------------------


def test_refused_state_is_durable_not_pending_and_requeued_in_order(tmp_path: Path) -> None:
    records = make_records(10)
    ids = [r["record_id"] for r in records]
    with open_outbox(tmp_path, segment_size=4, max_records=10) as ob:
        for r in records:
            ob.append(r)
        assert ob.mark_refused([(ids[1], "station mismatch"), (ids[6], "Forged!\n"), ("x", "y")])
        assert ob.mark_refused([(ids[1], "forged")]) == 0  # already refused: unchanged
        assert ob.pending_count() == 8 and ob.refused_count() == 2
        assert ids[1] not in ob.record_ids()
        assert [r for r, _ in ob.next_payloads(20)] == [i for i in ids if i not in (ids[1], ids[6])]
        ob.append(make_records(1, seed=5)[0])  # refused records do not fill the store
        ob.append(records[1])  # idempotent: a refused record is not stored twice
        assert ob.pending_count() == 9
    with open_outbox(tmp_path, segment_size=4) as ob:  # reopened: still refused
        assert ob.refused() == {ids[1]: "station mismatch", ids[6]: "forged"}
        summary = read_summary(tmp_path / "outbox.db", (tmp_path / "outbox.key").read_bytes())
        assert summary.pending == 9 and summary.refused == {"station mismatch": 1, "forged": 1}
        assert summary.refused_stations == {STATION}
        assert ob.requeue("forged") == 1
        assert ob.requeue() == 1 and ob.refused_count() == 0
        assert ob.record_ids()[:10] == ids  # oldest first again
    with open_outbox(tmp_path, segment_size=4) as ob:
        assert ob.pending_count() == 11 and ob.refused_count() == 0
        ob.mark_refused([(ids[0], "forged")])
        assert ob.mark_delivered(ids[:4]) == 4  # an ack still deletes a refused record
        assert ob.refused_count() == 0
    events = [(a["event"], a["outcome"]) for a in AuditLog(tmp_path / "audit.log").read()]
    assert events.count(("refused", "refused:station mismatch")) == 1
    assert events.count(("refused", "refused:forged")) == 2
    assert events.count(("requeued", "requeued by admin")) == 2


def test_refused_state_survives_sigkill_and_requeue_needs_the_station_stopped(
    tmp_path: Path,
) -> None:
    records = make_records(3)
    with open_outbox(tmp_path) as ob:
        for r in records:
            ob.append(r)
    script = (
        "import sys; from pathlib import Path\n"
        "from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey\n"
        "from station.sync.outbox import Outbox\n"
        "d = Path(sys.argv[1])\n"
        "ob = Outbox(d / 'outbox.db', key_file=d / 'outbox.key',"
        " signing_key=Ed25519PrivateKey.generate())\n"
        "ob.mark_refused([(sys.argv[2], 'station mismatch')])\n"
        "print('marked', flush=True)\n"
        "sys.stdin.read()\n"
    )
    child = subprocess.Popen(
        [sys.executable, "-c", script, str(tmp_path), records[0]["record_id"]],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert child.stdout is not None and child.stdout.readline().strip() == "marked"
        with pytest.raises(OutboxBusy, match="systemctl stop station"):
            open_outbox(tmp_path, exclusive=True)  # the "station" holds the outbox
        with open_outbox(tmp_path) as shared:  # a second normal open is allowed
            assert shared.refused_count() == 1
    finally:
        os.kill(child.pid, signal.SIGKILL)
        child.wait(10)
    with open_outbox(tmp_path, exclusive=True) as ob:
        assert ob.refused() == {records[0]["record_id"]: "station mismatch"}
        assert ob.pending_count() == 2


# -- end to end: real mosquitto, real ward ----------------------------------------------


def rejections(ward: LoopbackWard, ids: set[str]) -> dict[str, int]:
    """How many times the ward refused each of ``ids`` (from its audit log)."""
    counts = dict.fromkeys(ids, 0)
    for line in ward.audit.read():
        if line["event"] == "rejected" and line["record_id"] in counts:
            counts[line["record_id"]] += 1
    return counts


def write_config(cfg: config.Config, path: Path) -> Path:
    path.write_text(
        f'[station]\nid = "{cfg.station.id}"\ndata_dir = "{cfg.data_dir}"\n', encoding="utf-8"
    )
    return path


@pytest.mark.mqtt
def test_station_id_changed_records_refused_kept_then_requeued(
    ward: LoopbackWard,
    station_cfg: config.Config,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    caplog.set_level(logging.DEBUG)
    ack_timeout = 0.5
    old_cfg = ward.attach(config.replace(station_cfg, "mqtt", ack_timeout_s=ack_timeout))
    waiting = make_records(6)  # read as station-1, still in the outbox ...
    with Outbox.from_config(old_cfg) as outbox:
        for r in waiting:
            outbox.append(r)
    new_cfg = ward.attach(config.replace(old_cfg, "station", id=NEW_ID))  # ... when renamed
    fresh = make_records(4, seed=2, station_id=NEW_ID)
    waiting_ids = {r["record_id"] for r in waiting}
    states: list[SyncState] = []
    with Outbox.from_config(new_cfg) as outbox:
        with Publisher.from_config(new_cfg, outbox, on_state=states.append) as pub:
            for r in fresh:
                outbox.append(r)
            wait_for(lambda: outbox.refused_count() == 6, 15, "refusals applied")
            wait_for(lambda: outbox.pending_count() == 0, 15, "fresh records delivered")
            wait_for(lambda: states[-1].refused == 6 and states[-1].pending == 0, 5, "state")
            # Bounded: a resend may race the first refusal, but after 8 ack timeouts
            # a station that kept resending would have been refused 9+ times.
            quiet_until = time.monotonic() + 8 * ack_timeout
            wait_for(lambda: time.monotonic() >= quiet_until, 10, "quiet period")
            seen = rejections(ward, waiting_ids)
            assert all(1 <= n <= 4 for n in seen.values()), seen
            assert pub.refused_total == 6
            ward_view = ward.db()  # the station's heartbeat tells the ward admin too
            wait_for(lambda: any(s["refused"] == 6 for s in ward_view.stations()), 10, "heartbeat")
            ward_view.close()
        assert set(outbox.refused()) == waiting_ids
        assert set(outbox.refused().values()) == {"station mismatch"}
    db = ward.db()
    assert set(db.record_ids()) == {r["record_id"] for r in fresh}
    assert ward.receiver is not None and ward.receiver.stats.refused_sent >= 6

    # Restart: still there, still refused, not sent.
    with Outbox.from_config(new_cfg) as outbox:
        assert outbox.refused_count() == 6 and outbox.pending_count() == 0
    audit = AuditLog(new_cfg.audit_path).read()
    refused_lines = [a for a in audit if a["event"] == "refused"]
    assert {a["record_id"] for a in refused_lines} == waiting_ids
    assert all(
        a["outcome"] == "refused:station mismatch" and a["fingerprint"] for a in refused_lines
    )
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert sum("refused record" in w and "station mismatch" in w for w in warnings) == 6

    # What the admin sees.
    check = doctor.check_outbox(new_cfg)
    assert check.status == "FAIL" and "6 records refused by the ward" in check.summary
    assert f"name station {STATION}" in check.summary and "requeue" in check.fix
    conf = write_config(new_cfg, tmp_path / "station.toml")
    capsys.readouterr()
    assert main(["outbox", "status", "--config", str(conf)]) == 0
    out = capsys.readouterr().out
    assert "refused by the ward: 6" in out and "station mismatch" in out and STATION in out
    assert main(["outbox", "status", "--json", "--config", str(conf)]) == 0
    body = json.loads(capsys.readouterr().out)
    assert body["pending"] == 0 and body["refused_reasons"] == {"station mismatch": 6}

    # The admin sets the old id back, stops the station, requeues, starts it again.
    old_conf = write_config(old_cfg, tmp_path / "old.toml")
    with Outbox.from_config(old_cfg):  # the station is running: requeue is refused
        assert main(["outbox", "requeue", "--config", str(old_conf)]) == 1
    assert "systemctl stop station" in capsys.readouterr().err
    assert main(["outbox", "requeue", "--config", str(old_conf)]) == 0
    assert "6 records will be sent again" in capsys.readouterr().out
    with Outbox.from_config(old_cfg) as outbox, Publisher.from_config(old_cfg, outbox):
        wait_for(lambda: outbox.pending_count() == 0, 15, "requeued records delivered")
        assert outbox.refused_count() == 0
    assert set(db.record_ids()) == waiting_ids | {r["record_id"] for r in fresh}
    assert doctor.check_outbox(old_cfg).status == "OK"
    db.close()

    text = caplog.text + capsys.readouterr().out
    text += new_cfg.audit_path.read_text() + (ward.workdir / "ward-audit.log").read_text()
    for value in personal_data(waiting + fresh):
        assert value not in text


@pytest.mark.mqtt
def test_ward_database_failure_is_not_a_refusal(
    ward: LoopbackWard, station_cfg: config.Config
) -> None:
    cfg = ward.attach(config.replace(station_cfg, "mqtt", ack_timeout_s=1.0))
    records = make_records(5)
    receiver = ward.receiver
    assert receiver is not None
    blocker = sqlite3.connect(ward.db_path, isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")  # another writer holds the ward DB: "locked"
    with Outbox.from_config(cfg) as outbox, Publisher.from_config(cfg, outbox):
        try:
            for r in records:
                outbox.append(r)
            wait_for(lambda: receiver.stats.db_errors >= 1, 20, "ward DB failure")
        finally:
            blocker.execute("ROLLBACK")
            blocker.close()
        wait_for(lambda: outbox.pending_count() == 0, 20, "delivered after the DB recovered")
        assert outbox.refused_count() == 0
    assert receiver.stats.refused_sent == 0
    assert not [a for a in AuditLog(cfg.audit_path).read() if a["event"] == "refused"]
    db = ward.db()
    assert sorted(db.record_ids()) == sorted(r["record_id"] for r in records)
    db.close()


@pytest.mark.mqtt
def test_only_signed_acks_for_records_in_flight_count(
    ward: LoopbackWard, station_cfg: config.Config
) -> None:
    """Unsigned (old format), forged, misaddressed and junk acks change nothing; a signed
    ack deletes and sets aside what it names, and only records in flight."""
    cfg = ward.attach(config.replace(station_cfg, "mqtt", ack_timeout_s=60.0))
    ward.stop_receiver()
    ward_key = load_ward_key(ward.db_path.with_name(WARD_KEY_NAME))
    fake_ward = RawClient(ward.broker.link_settings("ward", client_id="fake-ward"))
    records = make_records(5)
    ids = [r["record_id"] for r in records]
    try:
        fake_ward.client.subscribe(f"cccd/{STATION}/records", qos=1)
        wait_for(lambda: fake_ward.subacks, 5, "SUBACK")
        with Outbox.from_config(cfg) as outbox, Publisher.from_config(cfg, outbox) as pub:
            for r in records[:4]:
                outbox.append(r)
            wait_for(lambda: fake_ward.messages, 10, "records at the fake ward")
            ack = f"cccd/{STATION}/ack"
            everything = {
                "ack": ids,
                "refused": [{"record_id": i, "reason": "forged"} for i in ids],
            }
            hostile = [
                json.dumps(everything).encode(),  # unsigned (the old format)
                seal_ack(everything, STATION, Ed25519PrivateKey.generate()),  # another key
                seal_ack(everything, "station-2", ward_key),  # signed, for another station
                b'{"refused": "not a list"}',
                b'["not", "an", "object"]',
                b"\xff" * 10,
                b"[" * 100_000,  # deeper than any parser's recursion limit
            ]
            for payload in hostile:
                fake_ward.publish(ack, payload)
            wait_for(lambda: pub.acks_ignored >= len(hostile), 10, "hostile acks seen")
            assert outbox.pending_count() == 4 and outbox.refused_count() == 0
            refused = [
                {"record_id": ids[1], "reason": "Station Mismatch; <script>\n"},
                {"record_id": ids[4], "reason": "forged"},  # not sent: not in flight
                {"reason": "forged"},
                "junk",
            ]
            signed = {"ack": [ids[0], ids[4], "not-ours"], "refused": refused}
            fake_ward.publish(ack, seal_ack(signed, STATION, ward_key))
            wait_for(lambda: outbox.pending_count() == 2, 10, "ack and refusal applied")
            assert outbox.refused() == {ids[1]: "station mismatch script"}
            assert outbox.record_ids() == ids[2:4]
            outbox.append(records[4])  # an ack seen before it was sent counted for nothing
            wait_for(lambda: len(fake_ward.messages) >= 2, 10, "the fifth record sent")
            assert outbox.pending_count() == 3
    finally:
        fake_ward.close()


@pytest.mark.mqtt
def test_refused_resend_of_a_record_the_ward_already_has_is_acked(
    ward: LoopbackWard, station_cfg: config.Config
) -> None:
    """Stored, ack lost, station renamed: the resend is acked (deleted), not set aside."""
    old_cfg = ward.attach(station_cfg)
    stored, other = make_records(2)
    with Outbox.from_config(old_cfg) as outbox:
        outbox.append(stored)
        outbox.append(other)
    key = load_or_create_signing_key(*key_paths(old_cfg))
    sender = RawClient(ward.broker.link_settings(STATION, client_id="raw-old"))
    try:  # the ward stores it; its ack goes nowhere (the station was not connected)
        sender.publish(f"cccd/{STATION}/records", seal_envelope(stored, key))
    finally:
        sender.close()
    db = ward.db()
    wait_for(lambda: db.count() == 1, 10, "stored at the ward")
    new_cfg = ward.attach(config.replace(old_cfg, "station", id=NEW_ID))
    with Outbox.from_config(new_cfg) as outbox, Publisher.from_config(new_cfg, outbox):
        wait_for(lambda: outbox.pending_count() == 0, 15, "both answered")
        assert outbox.refused() == {other["record_id"]: "station mismatch"}
    assert db.record_ids() == [stored["record_id"]]
    db.close()


def test_requeue_runs_only_as_the_outbox_owner(
    station_cfg: config.Config, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with Outbox.from_config(station_cfg) as outbox:
        outbox.append(make_records(1)[0])
    conf = write_config(station_cfg, tmp_path / "station.toml")
    owner = station_cfg.store_path.stat().st_uid
    monkeypatch.setattr(os, "geteuid", lambda: owner + 1)  # e.g. root instead of station
    assert main(["outbox", "requeue", "--config", str(conf)]) == 1
    monkeypatch.undo()
    assert main(["outbox", "requeue", "--config", str(conf)]) == 0


def test_ward_database_from_before_refusals_gets_the_column(tmp_path: Path) -> None:
    import sqlite3

    old = sqlite3.connect(tmp_path / "ward.sqlite")
    old.execute(
        "CREATE TABLE station_status (station_id TEXT PRIMARY KEY, state TEXT, version TEXT, "
        "last_seen REAL, pending INTEGER, oldest_pending_age_s REAL, uptime_s REAL)"
    )
    old.close()
    db = WardDB(tmp_path / "ward.sqlite")
    db.enroll(STATION, "unused")
    db.update_status(STATION, {"state": "online", "pending": 3, "refused": 2})
    assert db.stations()[0]["refused"] == 2 and db.stations()[0]["pending"] == 3
    db.close()
