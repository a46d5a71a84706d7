"""`station ward ...`, `station keygen`, doctor checks, retention."""

from __future__ import annotations

import csv
import io
import json
import os
import signal
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from station import config, doctor
from station.audit import AuditLog
from station.cli import main
from station.sim.broker import Broker
from station.sim.loopback import LoopbackWard
from station.sync.outbox import Outbox
from station.sync.publisher import Publisher
from station.sync.signing import key_paths, load_or_create_signing_key, public_key_text
from station.ward.db import WardDB
from station.ward.receiver import WardReceiver
from tests.support import wait_for
from tests.sync.support import STATION, make_records

pytestmark = pytest.mark.mqtt

STATION_CLI = Path(sys.executable).with_name("station")


def test_keygen_enroll_serve_list_show_export(
    broker: Broker, station_cfg: config.Config, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "data"
    assert main(["keygen", "--data-dir", str(data)]) == 0
    enroll_line = capsys.readouterr().out.splitlines()[-1].split()
    assert enroll_line[:3] == ["station", "ward", "enroll"]
    db_path = str(tmp_path / "ward.sqlite")
    assert main(["ward", "enroll", STATION, enroll_line[-1], "--db", db_path]) == 0
    out, err = capsys.readouterr()
    pin_line = out.splitlines()[-1]  # ward_key = "..." for station.toml
    assert pin_line.startswith('ward_key = "')
    assert "made a new ack key" in err and "--ack-key" in err  # the first enrolment made it
    assert main(["ward", "enroll", STATION, enroll_line[-1], "--db", db_path]) == 0
    out, err = capsys.readouterr()
    assert out.splitlines()[-1] == pin_line and "made a new ack key" not in err
    ward_key = tomllib.loads(pin_line)["ward_key"]
    assert main(["ward", "enroll", "a/b", enroll_line[-1], "--db", db_path]) == 2
    assert main(["ward", "enroll", STATION, "not-a-key", "--db", db_path]) == 2
    files = broker.pki.client("ward")
    serve = subprocess.Popen(
        [str(STATION_CLI), "ward", "serve", "--broker", broker.url(), "--db", db_path,
         "--ca", str(broker.pki.ca_file), "--cert", str(files.cert), "--key", str(files.key)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    cfg = broker.station_config(config.replace(station_cfg, "station", data_dir=str(data)), STATION)
    cfg = config.replace(cfg, "mqtt", ward_key=ward_key)
    records = make_records(12)
    db = WardDB(db_path)
    try:
        with Outbox.from_config(cfg) as outbox, Publisher.from_config(cfg, outbox):
            for r in records:
                outbox.append(r)
            # sent before the receiver subscribed? then resent after ack_timeout_s
            wait_for(lambda: outbox.pending_count() == 0, 20, "delivered via ward serve")
        wait_for(lambda: db.stations()[0]["state"] == "offline", 5, "offline status")
    finally:
        os.kill(serve.pid, signal.SIGTERM)
        assert serve.wait(10) == 0
    assert db.count() == 12
    capsys.readouterr()
    assert main(["ward", "list", "--db", db_path]) == 0
    listing = capsys.readouterr().out
    assert all(r["record_id"] in listing for r in records)
    assert listing.count("level qr-only") == 12
    assert records[0]["citizen"]["full_name"] not in listing  # type: ignore[index]
    assert main(["ward", "show", records[3]["record_id"], "--db", db_path]) == 0
    assert json.loads(capsys.readouterr().out) == records[3]
    assert main(["ward", "show", "nope", "--db", db_path]) == 1
    assert main(["ward", "export", "--json", "--db", db_path]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert sorted(json.loads(x)["record_id"] for x in lines) == sorted(
        r["record_id"] for r in records
    )
    assert main(["ward", "export", "--csv", "--db", db_path]) == 0
    text = capsys.readouterr().out
    assert text.startswith("\ufeff")  # UTF-8 with BOM, for spreadsheet programs
    rows = list(csv.DictReader(io.StringIO(text[1:])))
    by_id = {row["record_id"]: row for row in rows}
    assert by_id[records[0]["record_id"]]["id_number"] == records[0]["citizen"]["id_number"]  # type: ignore[index]
    assert {row["level"] for row in rows} == {"qr-only"} and rows[0]["method"] == "2"
    assert main(["ward", "stations", "--db", db_path]) == 0
    out = capsys.readouterr().out
    assert STATION in out and "offline" in out
    assert main(["ward", "list", "--db", str(tmp_path / "missing.sqlite")]) == 1
    db.close()


def test_doctor_checks(ward: LoopbackWard, station_cfg: config.Config, tmp_path: Path) -> None:
    cfg = ward.attach(station_cfg)
    assert doctor.check_broker(cfg).status == "OK"
    bad_port = config.replace(cfg, "mqtt", port=ward.broker.plain_port)  # plain, not TLS
    result = doctor.check_broker(bad_port, timeout=1.0)
    assert result.status == "FAIL" and result.fix
    wrong_ca = config.replace(cfg, "mqtt", ca_file=str(tmp_path / "missing.crt"))
    assert doctor.check_broker(wrong_ca).status == "FAIL"
    with Outbox.from_config(cfg) as outbox:
        outbox.append(make_records(1)[0])
    assert doctor.check_outbox(cfg).status == "OK"
    (cfg.data_dir / "outbox.key").chmod(0o644)
    assert "readable by others" in doctor.check_outbox(cfg).summary


def test_retention_deletes_old_records_with_audit(
    ward: LoopbackWard, station_cfg: config.Config, tmp_path: Path
) -> None:
    cfg = ward.attach(station_cfg)
    with Outbox.from_config(cfg) as outbox, Publisher.from_config(cfg, outbox):
        for r in make_records(5):
            outbox.append(r)
        wait_for(lambda: outbox.pending_count() == 0, 10, "delivered")
    ward.stop_receiver()
    audit = AuditLog(tmp_path / "retention.log")
    settings = ward.broker.link_settings("ward", client_id="ward-retention")
    receiver = WardReceiver(settings, ward.db_path, audit=audit, retention_days=0.0).start()
    db = ward.db()
    try:
        wait_for(lambda: db.count() == 0, 10, "retention purge")
    finally:
        receiver.stop()
    deleted = [a for a in audit.read() if a["event"] == "deleted"]
    assert len(deleted) == 5 and all(a["outcome"] == "retention" for a in deleted)
    db.close()


def test_station_audit_log_is_next_to_the_outbox(
    ward: LoopbackWard, station_cfg: config.Config
) -> None:
    cfg = ward.attach(station_cfg)
    records = make_records(4)
    with Outbox.from_config(cfg) as outbox, Publisher.from_config(cfg, outbox):
        for r in records:
            outbox.append(r)
        wait_for(lambda: outbox.pending_count() == 0, 10, "delivered")
    lines = AuditLog(cfg.audit_path).read()
    assert sorted(a["record_id"] for a in lines) == sorted(r["record_id"] for r in records)
    pub = public_key_text(load_or_create_signing_key(*key_paths(cfg)).public_key())
    assert (cfg.data_dir / "station_ed25519.pub").read_text().strip() == pub
