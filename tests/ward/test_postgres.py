"""PostgreSQL when one machine is not enough: two receivers on one shared MQTT
subscription write 2,000 records from two stations exactly once into a real PostgreSQL,
and a console that shares nothing with them but the database reads them and is woken by
LISTEN/NOTIFY."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from station import config
from station.sim.broker import Broker
from station.sync.outbox import Outbox
from station.sync.publisher import Publisher
from station.sync.signing import (
    key_paths,
    load_or_create_signing_key,
    public_key_text,
    ward_key_text,
)
from station.ward.console.app import ConsoleConfig, create_app
from station.ward.console.server import ConsoleServer
from station.ward.db import Search, WardDB
from station.ward.notify import SAFETY_S
from station.ward.receiver import WardReceiver
from tests.support import wait_for
from tests.sync.support import make_records
from tests.ward.support import OFFICER, Clock, Served
from tests.ward.test_console_pages import _events

pytestmark = [pytest.mark.postgres, pytest.mark.mqtt, pytest.mark.slow]

STATIONS = ("station-1", "station-2")
PER_STATION = 1000


def _station(broker: Broker, base: config.Config, station: str, tmp: Path) -> config.Config:
    cfg = config.replace(base, "station", data_dir=str(tmp / station))
    cfg = config.replace(cfg, "mqtt", batch_records=25, inflight=400, ack_timeout_s=5.0)
    return broker.station_config(cfg, station)


def test_two_receivers_write_2000_records_exactly_once_and_the_console_reads_them(
    pg_url: str, station_cfg: config.Config, tmp_path: Path
) -> None:
    from station.ward import passwords

    with Broker(tmp_path / "broker", clients=(*STATIONS, "ward")) as broker:
        cfgs = [_station(broker, station_cfg, s, tmp_path) for s in STATIONS]
        with WardDB(pg_url) as db:
            for cfg in cfgs:
                key = load_or_create_signing_key(*key_paths(cfg))
                db.enroll(cfg.station.id, public_key_text(key.public_key()))
            db.add_user(OFFICER[0], OFFICER[1], passwords.hash_password(OFFICER[2]))
        ack_key = tmp_path / "ward_ack_ed25519.key"  # both receivers sign with it
        cfgs = [config.replace(c, "mqtt", ward_key=ward_key_text(ack_key)) for c in cfgs]
        receivers = [
            WardReceiver(
                broker.link_settings("ward", client_id=f"ward-{n}"), pg_url, ack_key=ack_key
            ).start()
            for n in (1, 2)
        ]
        app = create_app(ConsoleConfig(db=pg_url))  # LISTEN ward_records on its own
        console = Served(ConsoleServer(app, "127.0.0.1", 0).start_thread(), pg_url, Clock())
        outboxes = [Outbox.from_config(cfg) for cfg in cfgs]
        publishers: list[Publisher] = []
        try:
            assert all(r.ready.wait(10) for r in receivers)
            officer = console.login(OFFICER)
            for cfg, outbox in zip(cfgs, outboxes, strict=True):
                for rec in make_records(PER_STATION, seed=len(publishers) + 40,
                                        station_id=cfg.station.id):  # fmt: skip
                    outbox.append(rec)
                publishers.append(Publisher.from_config(cfg, outbox).start())
            wait_for(lambda: all(o.pending_count() == 0 for o in outboxes), 120, "drained")
            stored = [r.stats.stored for r in receivers]
            assert sum(stored) == 2 * PER_STATION and min(stored) > 0  # the load was shared
            assert all(r.stats.db_errors == 0 and r.stats.conflicts == 0 for r in receivers)
            with WardDB(pg_url) as db:
                ids = db.record_ids()
                assert len(ids) == len(set(ids)) == 2 * PER_STATION
                some = db.search(Search(station_id="station-2", limit=1))[0]
            # the console reads them: search, export, a record page
            found = officer.get("/search", params={"q": some.id_number}).text
            assert some.record["citizen"]["full_name"] in found
            exported = officer.get("/export.json", params={"all": "1"}).text.splitlines()
            assert len(exported) == 2 * PER_STATION
            assert {json.loads(line)["station_id"] for line in exported} == set(STATIONS)
            assert officer.get(f"/records/{some.seq}").status_code == 200
            # and is woken by NOTIFY from the receivers' commits
            extra = make_records(1, seed=99, station_id="station-1")[0]
            with officer.stream("GET", "/events/station-1") as stream:
                sent = time.monotonic()
                outboxes[0].append(extra)
                name, _, data = next(_events(stream, 1))
                took = time.monotonic() - sent
            assert name == "record" and extra["citizen"]["full_name"] in data
            assert took < SAFETY_S / 3, took  # woken, not the safety read
        finally:
            for pub in publishers:
                pub.stop()
            for outbox in outboxes:
                outbox.close()
            for receiver in receivers:
                receiver.stop()
            console.stop()
