"""The example broker config in deploy/mosquitto works as documented."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from station import config
from station.sim.broker import MOSQUITTO, free_port
from station.sync.link import LinkSettings
from station.sync.outbox import Outbox
from station.sync.publisher import Publisher
from station.sync.signing import key_paths, load_or_create_signing_key, public_key_text
from station.ward.db import WardDB
from station.ward.receiver import WardReceiver
from tests.support import wait_for
from tests.sync.support import RawClient, make_records

pytestmark = pytest.mark.mqtt

DEPLOY = Path(__file__).resolve().parents[2] / "deploy" / "mosquitto"


def _accepts(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return True
    except OSError:
        return False


@pytest.fixture
def example_broker(tmp_path: Path) -> Iterator[tuple[Path, int]]:
    certs = tmp_path / "cccd"
    subprocess.run(
        ["sh", str(DEPLOY / "make-certs.sh"), str(certs), "localhost", "station-01", "ward"],
        check=True, capture_output=True,
    )  # fmt: skip
    (certs / "acl").write_text((DEPLOY / "acl").read_text())
    port = free_port()
    conf = (DEPLOY / "mosquitto.conf").read_text()
    conf = conf.replace("/etc/mosquitto/cccd/", f"{certs}/").replace(
        "listener 8883", f"user root\nlistener {port} 127.0.0.1"
    )
    conf = conf.replace("/var/lib/mosquitto/", f"{tmp_path}/").replace("syslog", "stderr")
    (tmp_path / "mosquitto.conf").write_text(conf)
    proc = subprocess.Popen(
        [MOSQUITTO, "-c", str(tmp_path / "mosquitto.conf")],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        wait_for(lambda: _accepts(port) or proc.poll() is not None, 10, "broker port")
        assert proc.poll() is None, "the example config does not start mosquitto"
        yield certs, port
    finally:
        os.kill(proc.pid, signal.SIGTERM)
        proc.wait(10)


def test_example_config_end_to_end(example_broker: tuple[Path, int], tmp_path: Path) -> None:
    certs, port = example_broker
    cfg = config.replace(
        config.Config(), "station", id="station-01", data_dir=str(tmp_path / "data")
    )
    cfg = config.replace(
        cfg, "mqtt", host="127.0.0.1", port=port, tls=True, ca_file=str(certs / "ca.crt"),
        cert_file=str(certs / "station-01.crt"), key_file=str(certs / "station-01.key"),
    )  # fmt: skip
    key = load_or_create_signing_key(*key_paths(cfg))
    db = WardDB(tmp_path / "ward.sqlite")
    db.enroll("station-01", public_key_text(key.public_key()))
    ward_link = LinkSettings(
        host="127.0.0.1", port=port, client_id="ward-1", tls=True,
        ca_file=str(certs / "ca.crt"), cert_file=str(certs / "ward.crt"),
        key_file=str(certs / "ward.key"),
    )  # fmt: skip
    records = make_records(30, station_id="station-01")
    with WardReceiver(ward_link, tmp_path / "ward.sqlite") as receiver:
        assert receiver.ready.wait(5)
        with Outbox.from_config(cfg) as outbox, Publisher.from_config(cfg, outbox):
            for r in records:
                outbox.append(r)
            wait_for(lambda: outbox.pending_count() == 0, 15, "delivered via example broker")
    assert sorted(db.record_ids()) == sorted(r["record_id"] for r in records)
    station = RawClient(
        LinkSettings(
            host="127.0.0.1", port=port, client_id="raw", tls=True,
            ca_file=str(certs / "ca.crt"), cert_file=str(certs / "station-01.crt"),
            key_file=str(certs / "station-01.key"),
        )
    )  # fmt: skip
    try:
        assert station.publish("cccd/station-02/records", b"{}").is_failure
        assert station.publish("cccd/station-01/ack", b"{}").is_failure
    finally:
        station.close()
    db.close()
