"""Who may do what on the broker of deploy/mosquitto (a real mosquitto with its files):
a station subscribes to its own acks and nothing else (not the ward's shared
subscription), a revoked certificate no longer connects once mosquitto restarts, and no
message larger than the ward accepts reaches it."""

from __future__ import annotations

import json
import shutil
import threading
from dataclasses import replace
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from station import config
from station.audit import AuditLog
from station.sync.limits import MAX_MESSAGE_BYTES
from station.sync.link import LinkSettings
from station.sync.outbox import Outbox
from station.sync.publisher import Publisher
from station.sync.signing import key_paths, load_or_create_signing_key, public_key_text
from station.ward.db import WardDB
from station.ward.receiver import WardReceiver
from tests.support import wait_for
from tests.sync.deploy import DEPLOY, DeployBroker, deploy_broker
from tests.sync.support import RawClient, make_records, pin_ward_key

pytestmark = pytest.mark.mqtt

NAMES = ("station-01", "station-02", "ward")


class Probe:
    """A paho client that records its CONNACK, SUBACKs, PUBACKs and disconnection."""

    def __init__(self, settings: LinkSettings) -> None:
        self.connected = threading.Event()
        self.gone = threading.Event()
        self.subacks: list[list[Any]] = []
        self.pubacks: dict[int, Any] = {}
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=settings.client_id, protocol=mqtt.MQTTv5
        )
        self.client.tls_set_context(settings.ssl_context())
        self.client.on_connect = lambda c, u, f, rc, p: (
            self.connected.set() if not rc.is_failure else self.gone.set()
        )
        self.client.on_disconnect = lambda c, u, f, rc, p: self.gone.set()
        self.client.on_subscribe = lambda c, u, mid, rcs, p: self.subacks.append(list(rcs))
        self.client.on_publish = lambda c, u, mid, rc, p: self.pubacks.__setitem__(mid, rc)
        self.client.reconnect_delay_set(60, 60)  # one attempt: what happens to it counts
        try:
            self.client.connect(settings.host, settings.port)
        except OSError:
            self.gone.set()
            return
        self.client.loop_start()

    def answered(self, timeout: float = 10.0) -> bool:
        """Connected (True) or refused/dropped (False) within ``timeout``."""
        wait_for(lambda: self.connected.is_set() or self.gone.is_set(), timeout, "CONNACK")
        return self.connected.is_set() and not self.gone.is_set()

    def subscribe(self, topic: str) -> Any:
        before = len(self.subacks)
        self.client.subscribe(topic, qos=1)
        wait_for(lambda: len(self.subacks) > before, 5, f"SUBACK for {topic}")
        return self.subacks[before][0]

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def _station_cfg(broker: DeployBroker, data: Path, ward_db: Path) -> config.Config:
    """station-01 on ``broker``, pinning the ack key of the receiver on ``ward_db``."""
    cfg = config.replace(config.Config(), "station", id="station-01", data_dir=str(data))
    cfg = pin_ward_key(cfg, ward_db)
    return config.replace(
        cfg, "mqtt", host="127.0.0.1", port=broker.port, tls=True,
        ca_file=str(broker.certs / "ca.crt"), cert_file=str(broker.certs / "station-01.crt"),
        key_file=str(broker.certs / "station-01.key"), ack_timeout_s=600.0,
    )  # fmt: skip


def test_a_station_may_subscribe_to_its_own_acks_only(tmp_path: Path) -> None:
    """The ward's shared subscription, every station's records, another station's acks:
    refused at SUBSCRIBE. (With the acl_file the deploy config had, each was granted and
    station-02 took every other record of station-01 away from the ward: the broker
    hands a shared subscription's messages round robin, then the read ACL drops them.)"""
    with deploy_broker(tmp_path, NAMES) as broker:
        cfg = _station_cfg(broker, tmp_path / "data", tmp_path / "ward.sqlite")
        key = load_or_create_signing_key(*key_paths(cfg))
        with WardDB(tmp_path / "ward.sqlite") as db:
            db.enroll("station-01", public_key_text(key.public_key()))
        thief = Probe(broker.link("station-02", "station-02"))
        receiver = WardReceiver(broker.link("ward", "ward-1"), tmp_path / "ward.sqlite")
        try:
            assert thief.answered()
            for topic in ("$share/ward/cccd/+/records", "$share/other/cccd/station-02/records",
                          "cccd/#", "cccd/+/records", "cccd/station-01/ack", "#"):  # fmt: skip
                assert thief.subscribe(topic).is_failure, topic
            assert not thief.subscribe("cccd/station-02/ack").is_failure
            with receiver:
                assert receiver.ready.wait(5)
                records = make_records(20, station_id="station-01")
                with Outbox.from_config(cfg) as outbox, Publisher.from_config(cfg, outbox):
                    for r in records:
                        outbox.append(r)  # no resend within the test: ack_timeout_s 600
                    wait_for(lambda: outbox.pending_count() == 0, 20, "every record acked")
            assert receiver.stats.stored == 20
        finally:
            thief.close()


def test_a_revoked_certificate_no_longer_connects_after_the_restart(tmp_path: Path) -> None:
    """make-certs.sh --revoke, then systemctl restart mosquitto (README): the revoked
    station, connected until then, is dropped and cannot come back, even with a copy of
    its key; the other stations can."""
    with deploy_broker(tmp_path, NAMES) as broker:
        stolen = tmp_path / "stolen"
        stolen.mkdir()
        for suffix in ("crt", "key"):
            shutil.copy(broker.certs / f"station-02.{suffix}", stolen / f"station-02.{suffix}")
        online = Probe(broker.link("station-02", "station-02"))
        assert online.answered()
        broker.revoke("station-02")
        assert not (broker.certs / "station-02.key").exists()
        assert list((broker.certs / "revoked").glob("station-02-*.crt"))
        assert b"station-02" not in (broker.certs / "dynamic-security.json").read_bytes()
        broker.restart()
        wait_for(online.gone.is_set, 10, "the revoked station dropped")
        online.close()
        copy = broker.link("station-02", "station-02")
        copy = replace(copy, cert_file=str(stolen / "station-02.crt"),
                       key_file=str(stolen / "station-02.key"))  # fmt: skip
        thief = Probe(copy)
        assert not thief.answered()
        thief.close()
        other = Probe(broker.link("station-01", "station-01"))
        assert other.answered()
        other.close()


def test_nothing_larger_than_the_ward_accepts_gets_through(tmp_path: Path) -> None:
    """message_size_limit is the ward's own limit: a larger payload is answered with an
    error (or the sender dropped) and not forwarded; a packet over max_packet_size
    disconnects its sender before the broker reads it; the broker goes on serving."""
    conf = (DEPLOY / "mosquitto.conf").read_text()
    assert f"message_size_limit {MAX_MESSAGE_BYTES}\n" in conf
    with deploy_broker(tmp_path, NAMES) as broker:
        ward = RawClient(broker.link("ward", "ward-raw"))
        try:
            ward.client.subscribe("$share/ward/cccd/+/records", qos=1)
            wait_for(lambda: ward.subacks, 5, "SUBACK")
            for size in (MAX_MESSAGE_BYTES + 1, 3 * MAX_MESSAGE_BYTES):
                sender = Probe(broker.link("station-01", f"station-01-{size}"))
                assert sender.answered()
                info = sender.client.publish("cccd/station-01/records", b"[" * size, qos=1)
                wait_for(lambda s=sender, i=info: i.mid in s.pubacks or s.gone.is_set(), 10,
                         "a PUBACK or the disconnection")  # fmt: skip
                if size > MAX_MESSAGE_BYTES * 1.05:  # over max_packet_size too
                    assert sender.gone.is_set()
                else:
                    assert sender.gone.is_set() or sender.pubacks[info.mid].is_failure
                sender.close()
            marker = RawClient(broker.link("station-01", "station-01-small"))
            assert not marker.publish("cccd/station-01/records", b"x" * 1000).is_failure
            marker.close()
            wait_for(lambda: ward.messages, 5, "the small message delivered")
            assert [len(m) for _, m in ward.messages] == [1000]
        finally:
            ward.close()
        assert "oversize packet" in broker.log_file.read_text()


def test_the_trust_bundle_only_the_ward_publishes_every_station_receives(
    tmp_path: Path,
) -> None:
    """cccd/trust/bundle (the head) and cccd/trust/bundle/V/N (the parts) on the deploy
    broker: the ward's receiver reads them back (its marker returns: it can repair them),
    publishes the signed bundle retained and station-01 installs it (it connected
    afterwards: retained); a station's own publish there, head or part, is refused and
    delivered to no one; a station may not read the ward's marker topic."""
    from station.runtime.trust import bundle_installer
    from station.sim import pki
    from station.ward.db import TrustItem

    chain = pki.make_test_pki("p256", name="Deploy")
    with deploy_broker(tmp_path, NAMES) as broker:
        cfg = _station_cfg(broker, tmp_path / "data", tmp_path / "ward.sqlite")
        with WardDB(tmp_path / "ward.sqlite") as db:
            db.add_trust([TrustItem("ab" * 32, "pinned-ds", chain.dsc_der, "DS", "quantri",
                                    0.0, "test")])  # fmt: skip
        with WardReceiver(broker.link("ward", "ward-1"), tmp_path / "ward.sqlite") as receiver:
            assert receiver.ready.wait(5)
            wait_for(lambda: receiver._bundles.synced, 10, "the ward reads its bundle topics")
            forger = RawClient(broker.link("station-02", "station-02"))
            try:
                forger.client.subscribe([("cccd/trust/bundle", 1), ("cccd/trust/bundle/1/+", 1),
                                         ("cccd/trust/bundle/sync", 1)])  # fmt: skip
                wait_for(lambda: len(forger.messages) >= 2, 10, "the retained bundle (station-02)")
                assert forger.subacks[:2] == [0x01, 0x01] and forger.subacks[2].is_failure
                assert forger.publish("cccd/trust/bundle", b"{}").is_failure
                assert forger.publish("cccd/trust/bundle/1/0", b"{}").is_failure
                assert forger.publish("cccd/trust/bundle/2/0", b"{}").is_failure
                forger.publish("cccd/station-02/status", b"{}")  # a marker after them
                topics = sorted(t for t, _ in forger.messages)
                assert topics == ["cccd/trust/bundle", "cccd/trust/bundle/1/0"]
                head = dict(forger.messages)["cccd/trust/bundle"]
                assert json.loads(head)["version"] == 1
            finally:
                forger.close()
            audit = AuditLog(cfg.audit_path)
            with (
                Outbox.from_config(cfg) as outbox,
                Publisher.from_config(cfg, outbox, on_trust=bundle_installer(cfg, audit)),
            ):
                wait_for(lambda: any(e["event"] == "trust-bundle" for e in audit.read()), 10,
                         "bundle installed on station-01")  # fmt: skip
            assert receiver._bundles.repairs == 0  # its own publish came back as it was
        assert [e["event"] for e in audit.read() if "trust" in e["event"]] == ["trust-bundle"]
