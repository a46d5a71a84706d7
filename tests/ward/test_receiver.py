"""The receiver and the database layer together, over a real mosquitto: a record-id
conflict is refused and raised, revocation and enrolment act without a restart, a
console in another process is woken through its socket (SQLite), and `ward serve` logs
through the redacting handler."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import tomllib
from pathlib import Path

import httpx
import pytest

from station import config
from station.cli import main
from station.sim.broker import Broker, free_port
from station.sim.loopback import LoopbackWard
from station.sync.outbox import Outbox
from station.sync.publisher import Publisher
from station.sync.signing import key_paths, load_or_create_signing_key, public_key_text
from station.ward.db import WardDB
from tests.support import wait_for
from tests.sync.support import STATION, make_records
from tests.ward.support import ADMIN, OFFICER, log_in
from tests.ward.test_console_pages import _events

pytestmark = pytest.mark.mqtt

STATION_CLI = Path(sys.executable).with_name("station")


def test_a_record_id_conflict_is_refused_kept_at_the_station_and_raised(
    ward: LoopbackWard, station_cfg: config.Config
) -> None:
    cfg = ward.attach(station_cfg)
    first, other = make_records(2)
    clash = {**other, "record_id": first["record_id"]}  # same station, same id, other data
    with Outbox.from_config(cfg) as outbox, Publisher.from_config(cfg, outbox):
        outbox.append(first)
        wait_for(lambda: outbox.pending_count() == 0, 15, "first delivered")
        outbox.append(clash)
        wait_for(lambda: outbox.refused_count() == 1, 15, "conflict refused")
        assert outbox.refused() == {first["record_id"]: "conflict"}
    receiver = ward.receiver
    assert receiver is not None and receiver.stats.conflicts == 1
    with ward.db() as db:
        assert db.get(first["record_id"]) == first and db.count() == 1
        (alert,) = db.alerts()
    assert alert.kind == "conflict" and alert.station_id == STATION
    audit = [a for a in ward.audit.read() if a["outcome"] == "conflict"]
    assert [a["record_id"] for a in audit] == [first["record_id"]]


def test_revocation_and_enrolment_act_without_a_restart(
    ward: LoopbackWard, station_cfg: config.Config, capsys: pytest.CaptureFixture[str]
) -> None:
    """`station ward revoke` while the receiver runs: the station's records are refused
    from then on (set aside at the station, reason "revoked"; before, they were left
    unanswered and resent forever); enrolled again, they go through once requeued."""
    cfg = ward.attach(config.replace(station_cfg, "mqtt", ack_timeout_s=1.0))
    db_path = str(ward.db_path)
    before, during = make_records(2)
    with Outbox.from_config(cfg) as outbox:
        with Publisher.from_config(cfg, outbox):
            outbox.append(before)
            wait_for(lambda: outbox.pending_count() == 0, 15, "delivered while enrolled")
            assert main(["ward", "revoke", STATION, "--db", db_path]) == 0
            assert main(["ward", "revoke", STATION, "--db", db_path]) == 1  # already
            outbox.append(during)
            wait_for(lambda: outbox.refused_count() == 1, 15, "refused while revoked")
            assert outbox.refused() == {during["record_id"]: "revoked"}
        key = load_or_create_signing_key(*key_paths(cfg))
        pub = public_key_text(key.public_key())
        assert main(["ward", "enroll", STATION, pub, "--db", db_path]) == 0
        assert outbox.requeue("revoked") == 1  # `station outbox requeue`, station stopped
        with Publisher.from_config(cfg, outbox):
            wait_for(lambda: outbox.pending_count() == 0, 15, "delivered once enrolled again")
    capsys.readouterr()
    assert main(["ward", "stations", "--db", db_path]) == 0
    assert STATION in capsys.readouterr().out
    with WardDB(db_path) as db:
        assert sorted(db.record_ids()) == sorted([before["record_id"], during["record_id"]])
        actions = [a.action for a in db.audit_log()]
    assert actions.count("revoke") == 2 and actions.count("enroll") == 1
    revoked = [a for a in ward.audit.read() if a["outcome"] == "revoked"]
    assert [a["record_id"] for a in revoked] == [during["record_id"]]


def test_a_replaced_key_is_used_from_the_next_message(
    ward: LoopbackWard, station_cfg: config.Config, tmp_path: Path
) -> None:
    """`station ward enroll` with a new key (the station's box was replaced) while the
    receiver runs: records signed with the old key are refused as forged at once, the
    new key's go through, without restarting the receiver."""
    cfg = ward.attach(config.replace(station_cfg, "mqtt", ack_timeout_s=1.0))
    first, old_key_record = make_records(2)
    new_box = config.replace(cfg, "station", data_dir=str(tmp_path / "new-box"))
    with Outbox.from_config(cfg) as outbox, Publisher.from_config(cfg, outbox):
        outbox.append(first)
        wait_for(lambda: outbox.pending_count() == 0, 15, "delivered with the first key")
        new_key = load_or_create_signing_key(*key_paths(new_box))
        pub = public_key_text(new_key.public_key())
        assert main(["ward", "enroll", STATION, pub, "--db", str(ward.db_path)]) == 0
        outbox.append(old_key_record)
        wait_for(lambda: outbox.refused_count() == 1, 15, "the old key refused")
        assert outbox.refused() == {old_key_record["record_id"]: "forged"}
    (replacement,) = make_records(1, seed=7)
    with Outbox.from_config(new_box) as outbox, Publisher.from_config(new_box, outbox):
        outbox.append(replacement)
        wait_for(lambda: outbox.pending_count() == 0, 15, "delivered with the new key")
    with ward.db() as db:
        assert sorted(db.record_ids()) == sorted([first["record_id"], replacement["record_id"]])


def test_a_console_in_another_process_is_woken_through_its_socket(
    broker: Broker, station_cfg: config.Config, tmp_path: Path
) -> None:
    from station.ward.console.app import ConsoleConfig, create_app
    from station.ward.console.server import ConsoleServer
    from station.ward.notify import SAFETY_S, socket_folder
    from tests.ward.support import Clock, Served

    db_path = tmp_path / "ward.sqlite"
    cfg = broker.station_config(config.replace(station_cfg, "mqtt", ack_timeout_s=2.0), STATION)
    key = load_or_create_signing_key(*key_paths(cfg))
    assert main(["ward", "enroll", STATION, public_key_text(key.public_key()), "--db",
                 str(db_path)]) == 0  # fmt: skip
    from station.ward import passwords

    with WardDB(db_path) as db:
        db.add_user(OFFICER[0], OFFICER[1], passwords.hash_password(OFFICER[2]))
    app = create_app(ConsoleConfig(db=str(db_path)))  # no bell given: its own socket
    console = Served(ConsoleServer(app, "127.0.0.1", 0).start_thread(), str(db_path), Clock())
    files = broker.pki.client("ward")
    serve = subprocess.Popen(
        [str(STATION_CLI), "ward", "serve", "--broker", broker.url(), "--db", str(db_path),
         "--ca", str(broker.pki.ca_file), "--cert", str(files.cert), "--key", str(files.key)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        assert list(socket_folder(db_path).glob("*.sock"))  # the console listens
        officer = console.login(OFFICER)
        record = make_records(1, seed=31)[0]
        with (
            officer.stream("GET", f"/events/{STATION}") as stream,
            Outbox.from_config(cfg) as outbox,
            Publisher.from_config(cfg, outbox),
        ):
            sent = time.monotonic()
            outbox.append(record)
            name, _, data = next(_events(stream, 1))
            took = time.monotonic() - sent
        assert name == "record" and record["citizen"]["full_name"] in data
        assert took < SAFETY_S / 3, took  # woken, not found by the safety read
    finally:
        os.kill(serve.pid, signal.SIGTERM)
        assert serve.wait(10) == 0
        console.stop()
    assert not list(socket_folder(db_path).glob("*.sock"))  # the console cleaned up


def test_ward_serve_with_the_console_in_one_process(
    broker: Broker, station_cfg: config.Config, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`station ward serve --console`: records stored by the receiver reach the console's
    open page and are deleted at the station on acks signed with the key `ward enroll`
    printed, which the admin's stations page shows too; plain HTTP off loopback is
    refused; SIGTERM stops both, exit 0."""
    db_path = tmp_path / "ward.sqlite"
    cfg = broker.station_config(config.replace(station_cfg, "mqtt", ack_timeout_s=2.0), STATION)
    key = load_or_create_signing_key(*key_paths(cfg))
    assert main(["ward", "enroll", STATION, public_key_text(key.public_key()), "--db",
                 str(db_path)]) == 0  # fmt: skip
    pin_line = capsys.readouterr().out.splitlines()[-1]
    cfg = config.replace(cfg, "mqtt", ward_key=tomllib.loads(pin_line)["ward_key"])
    for who in (OFFICER, ADMIN):
        password = tmp_path / "pw"
        password.write_text(who[2] + "\n")
        assert main(["ward", "user", "add", who[0], "--role", who[1], "--password-file",
                     str(password), "--db", str(db_path)]) == 0  # fmt: skip
    files = broker.pki.client("ward")
    base = [
        str(STATION_CLI), "ward", "serve", "--broker", broker.url(), "--db", str(db_path),
        "--ca", str(broker.pki.ca_file), "--cert", str(files.cert), "--key", str(files.key),
    ]  # fmt: skip
    refused = subprocess.run([*base, "--console", "0.0.0.0:8443"], capture_output=True,
                             text=True, timeout=60, check=False)  # fmt: skip
    assert refused.returncode == 2 and "needs HTTPS" in refused.stderr
    port = free_port()
    serve = subprocess.Popen(
        [*base, "--console", f"127.0.0.1:{port}"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: _answers(url), 20, "the console")
        with httpx.Client(base_url=url, timeout=20) as client:
            officer = log_in(client)
            record = make_records(1, seed=41)[0]
            with (
                officer.stream("GET", f"/events/{STATION}") as stream,
                Outbox.from_config(cfg) as outbox,
                Publisher.from_config(cfg, outbox),
            ):
                outbox.append(record)
                name, _, data = next(_events(stream, 1))
                wait_for(lambda: outbox.pending_count() == 0, 20, "the signed ack")
        assert name == "record" and record["citizen"]["full_name"] in data
        with httpx.Client(base_url=url, timeout=20) as client:
            assert pin_line in log_in(client, ADMIN).get("/admin/stations").text
    finally:
        os.kill(serve.pid, signal.SIGTERM)
        code = serve.wait(20)
    assert code == 0, serve.stderr.read() if serve.stderr else ""


def _answers(url: str) -> bool:
    try:
        return httpx.get(url + "/login", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def test_the_socket_folder_fits_a_unix_socket_path(tmp_path: Path) -> None:
    from station.ward.notify import socket_folder

    assert socket_folder("/var/lib/ward/ward.sqlite") == Path("/var/lib/ward/ward.sqlite.live")
    deep = tmp_path / ("x" * 90) / "ward.sqlite"
    folder = socket_folder(deep)
    assert folder == socket_folder(deep) and len(str(folder)) < 80
    assert socket_folder("ward.sqlite") == Path("ward.sqlite").resolve().with_name(
        "ward.sqlite.live"
    )


def test_ward_serve_logs_through_the_redacting_handler(broker: Broker, tmp_path: Path) -> None:
    """`station ward serve`'s log is the station's redacting one: a station id from the
    network holding a 12-digit run is masked, a topic with a line separator cannot start a
    log line of its own. (Before, the ward CLI used logging.basicConfig: the id verbatim.)"""
    from station.sync.link import LinkSettings
    from tests.sync.support import RawClient

    db_path = tmp_path / "ward.sqlite"
    log_file = tmp_path / "serve.log"
    with log_file.open("w") as err:
        serve = subprocess.Popen(
            [str(STATION_CLI), "--log-level", "INFO", "ward", "serve", "--broker",
             broker.url(tls=False), "--db", str(db_path)],
            stdout=subprocess.DEVNULL, stderr=err,
        )  # fmt: skip
    sender = RawClient(LinkSettings(host="127.0.0.1", port=broker.plain_port, client_id="x"))
    try:
        wait_for(lambda: "subscribed" in log_file.read_text(), 20, "the receiver subscribed")
        hostile = "st-012345678901"
        body = b'{"v": 1, "station_id": "%s", "items": [{}]}' % hostile.encode()
        assert not sender.publish(f"cccd/{hostile}/records", body).is_failure
        assert not sender.publish("cccd/a\u2028FORGED b/records", b"{}").is_failure
        wait_for(lambda: "FORGED" in log_file.read_text(), 20, "both messages logged")
    finally:
        sender.close()
        os.kill(serve.pid, signal.SIGTERM)
        code = serve.wait(20)
    text = log_file.read_text()
    assert code == 0, text
    assert "st-[redacted-id]" in text and "012345678901" not in text
    assert not any(line.startswith("FORGED") for line in text.splitlines())
