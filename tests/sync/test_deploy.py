"""The example broker config in deploy/mosquitto works as documented."""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from station import config
from station.display.screens import Denied, IdleScreen
from station.flow import screen_for
from station.runtime.app import Services, Station
from station.runtime.wiring import open_devices
from station.sync.link import LinkSettings
from station.sync.outbox import Outbox
from station.sync.publisher import Publisher
from station.sync.signing import key_paths, load_or_create_signing_key, public_key_text, seal_ack
from station.ward.db import WardDB
from station.ward.receiver import WardReceiver
from tests.support import wait_for
from tests.sync.deploy import deploy_broker
from tests.sync.support import RawClient, make_records, pin_ward_key

pytestmark = pytest.mark.mqtt


@contextlib.contextmanager
def run_example(
    tmp_path: Path, edit: Callable[[str], str] = lambda conf: conf
) -> Iterator[tuple[Path, int]]:
    """mosquitto with deploy/mosquitto's files (``edit``: a change to its config)."""
    with deploy_broker(tmp_path, edit=edit) as broker:
        yield broker.certs, broker.port


@pytest.fixture
def example_broker(tmp_path: Path) -> Iterator[tuple[Path, int]]:
    with run_example(tmp_path) as running:
        yield running


def station_01(certs: Path, port: int, data: Path, station_id: str = "station-01") -> config.Config:
    """A station config for the example broker with station-01's certificate."""
    cfg = config.replace(config.Config(), "station", id=station_id, data_dir=str(data))
    return config.replace(
        cfg, "mqtt", host="127.0.0.1", port=port, tls=True, ca_file=str(certs / "ca.crt"),
        cert_file=str(certs / "station-01.crt"), key_file=str(certs / "station-01.key"),
        ack_timeout_s=60.0,
    )  # fmt: skip


def client_link(certs: Path, port: int, name: str | None, client_id: str) -> LinkSettings:
    """TLS settings for ``name``'s certificate (None: no certificate, anonymous)."""
    files = {} if name is None else {
        "cert_file": str(certs / f"{name}.crt"), "key_file": str(certs / f"{name}.key"),
    }  # fmt: skip
    return LinkSettings(
        host="127.0.0.1", port=port, client_id=client_id, tls=True,
        ca_file=str(certs / "ca.crt"), **files,
    )  # fmt: skip


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
    cfg = pin_ward_key(cfg, tmp_path / "ward.sqlite")
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


def _open_broker(conf: str) -> str:
    """A real misconfiguration: anonymous clients allowed, no certificate needed, no ACL."""
    conf = conf.replace("require_certificate true", "require_certificate false")
    conf = conf.replace("allow_anonymous false", "allow_anonymous true")
    dropped = ("plugin", "use_identity_as_username")  # the dynamic security plugin
    return "\n".join(line for line in conf.splitlines() if not line.startswith(dropped))


def test_anonymous_clients_on_an_open_broker_cannot_empty_an_outbox(tmp_path: Path) -> None:
    with run_example(tmp_path, _open_broker) as (certs, port):
        # records sent before the ward subscribes are lost at the broker: resend soon
        cfg = config.replace(station_01(certs, port, tmp_path / "data"), "mqtt", ack_timeout_s=2.0)
        key = load_or_create_signing_key(*key_paths(cfg))
        db = WardDB(tmp_path / "ward.sqlite")
        db.enroll("station-01", public_key_text(key.public_key()))
        cfg = pin_ward_key(cfg, tmp_path / "ward.sqlite")
        records = make_records(20, station_id="station-01")
        ids = [r["record_id"] for r in records]
        intruder = RawClient(client_link(certs, port, None, "anonymous"))
        try:
            intruder.client.subscribe("cccd/+/records", qos=1)  # the open broker lets it
            wait_for(lambda: intruder.subacks, 5, "SUBACK")
            with Outbox.from_config(cfg) as outbox, Publisher.from_config(cfg, outbox) as pub:
                for r in records:
                    outbox.append(r)
                wait_for(lambda: intruder.messages, 10, "records seen by the intruder")
                seen = [i["record"]["record_id"] for _, m in intruder.messages
                        for i in json.loads(m)["items"]]  # fmt: skip
                assert set(seen) <= set(ids) and seen
                everything = {
                    "ack": ids,
                    "refused": [{"record_id": i, "reason": "forged"} for i in ids],
                }
                forgeries = [
                    json.dumps(everything).encode(),  # what any ward sent before acks were signed
                    seal_ack(everything, "station-01", Ed25519PrivateKey.generate()),
                ]
                for payload in forgeries:
                    assert not intruder.publish("cccd/station-01/ack", payload).is_failure
                wait_for(lambda: pub.acks_ignored >= len(forgeries), 10, "forged acks seen")
                assert outbox.pending_count() == 20 and outbox.refused_count() == 0
                # the real ward, on the same broker, still delivers everything
                ward_link = client_link(certs, port, "ward", "ward-1")
                with WardReceiver(ward_link, tmp_path / "ward.sqlite") as receiver:
                    assert receiver.ready.wait(5)
                    wait_for(lambda: outbox.pending_count() == 0, 90, "delivered by the ward")
            assert sorted(db.record_ids()) == sorted(ids)
        finally:
            intruder.close()
            db.close()


def test_a_station_id_its_certificate_does_not_name_is_on_the_idle_screen(
    example_broker: tuple[Path, int], tmp_path: Path
) -> None:
    """station.id station-02 with station-01's certificate: the deploy config's dynamic
    security refuses every record; mosquitto says so in each PUBACK (MQTT 5: Not
    authorized) and the station's idle screen names both ids."""
    certs, port = example_broker
    cfg = station_01(certs, port, tmp_path / "data", station_id="station-02")
    cfg = config.replace(
        cfg, "mqtt", ward_key=pin_ward_key(cfg, tmp_path / "w.sqlite").mqtt.ward_key
    )
    outbox = Outbox.from_config(cfg)
    devices = open_devices(cfg, echo=None)
    services = Services(
        outbox,
        publisher_factory=lambda on_state: Publisher.from_config(cfg, outbox, on_state=on_state),
    )
    station = Station(cfg, devices, services)
    loop = asyncio.new_event_loop()
    stop = asyncio.Event()
    runner = threading.Thread(target=lambda: loop.run_until_complete(station.run(stop)))
    runner.start()
    try:
        outbox.append(make_records(1, station_id="station-02")[0])
        expected = Denied("station-02", "station-01")

        def shown() -> object:
            state = station.state
            screen = screen_for(state) if state is not None else None
            return isinstance(screen, IdleScreen) and screen.denied == expected

        wait_for(shown, 20, "the refusal on the idle screen")
        assert outbox.pending_count() == 1  # kept, never lost
    finally:
        loop.call_soon_threadsafe(stop.set)
        runner.join(15)
        devices.close()
        outbox.close()
