"""Sync benchmark: outbox append latency and end-to-end drain vs bare paho QoS 1.

Runs on one loopback mosquitto (TLS, client certificates), in one run:

1. outbox append latency (median, p99) with 0, 1,000 and 10,000 records pending;
2. a bare paho-mqtt QoS 1 publish loop of the same signed payloads (same window,
   TLS, same broker, no subscriber): messages per second until every PUBACK;
3. the station draining the same backlog end to end: outbox -> publisher ->
   broker -> ``station ward serve`` (separate process, as on the ward server:
   verify, SQLite commit) -> ack -> delete from the outbox.

Usage: .venv/bin/python bench/sync.py [--records 10000]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

from station import config
from station.record import qr_record
from station.sim.broker import Broker
from station.sim.citizens import generate_many
from station.sync.outbox import Outbox
from station.sync.publisher import Publisher
from station.sync.signing import (
    WARD_KEY_NAME,
    key_paths,
    load_or_create_signing_key,
    public_key_text,
    ward_key_text,
)
from station.ward.db import WardDB

STATION = "station-1"


def make_records(n: int) -> list[dict[str, Any]]:
    out = []
    for c in generate_many(42, n):
        rec = qr_record(None, station_id=STATION, record_id=str(uuid.uuid4()))
        rec["status"] = "ok"
        rec["citizen"] = {
            "id_number": c.id_number,
            "full_name": c.full_name,
            "date_of_birth": c.date_of_birth.isoformat(),
            "sex": c.sex,
            "place_of_residence": c.place_of_residence,
            "issue_date": c.issue_date.isoformat(),
        }
        out.append(rec)
    return out


def timed_appends(outbox: Outbox, records: list[dict[str, Any]]) -> tuple[float, float]:
    lat = []
    for r in records:
        t = time.perf_counter()
        outbox.append(r)
        lat.append((time.perf_counter() - t) * 1000)
    lat.sort()
    return statistics.median(lat), lat[int(len(lat) * 0.99) - 1]


def bare_paho(broker: Broker, payloads: list[bytes], window: int) -> float:
    """Messages/s of a plain QoS 1 publish loop until every PUBACK is in."""
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    settings = broker.link_settings("bench")
    done = [0]
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="bench", protocol=mqtt.MQTTv5)
    client.tls_set_context(settings.ssl_context())
    client.max_inflight_messages_set(window)
    client.max_queued_messages_set(0)
    client.on_publish = lambda c, u, mid, rc, p: done.__setitem__(0, done[0] + 1)
    client.connect(settings.host, settings.port)
    client.loop_start()
    while not client.is_connected():
        time.sleep(0.01)
    t = time.perf_counter()
    for p in payloads:
        client.publish("cccd/bench/records", p, qos=1)
    while done[0] < len(payloads):
        time.sleep(0.002)
    elapsed = time.perf_counter() - t
    client.disconnect()
    client.loop_stop()
    return len(payloads) / elapsed


def start_ward(broker: Broker, work: Path) -> subprocess.Popen[bytes]:
    files = broker.pki.client("ward")
    station_cli = Path(sys.executable).with_name("station")
    return subprocess.Popen(
        [
            str(station_cli), "--log-level", "INFO", "ward", "serve", "--broker", broker.url(),
            "--db", str(work / "ward.sqlite"), "--ca", str(broker.pki.ca_file),
            "--cert", str(files.cert), "--key", str(files.key),
        ],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip


def wait_subscribed(ward: subprocess.Popen[bytes]) -> None:
    stream = ward.stderr
    assert stream is not None
    for line in stream:
        if b"subscribed" in line:
            threading.Thread(target=stream.read, daemon=True).start()  # keep the pipe empty
            return
    raise RuntimeError("ward receiver exited before subscribing")


def measure_appends(outbox: Outbox, n: int) -> list[tuple[str, float, float]]:
    """Append latency at 0, 1,000 and ``n`` pending; leaves ~n+100 records pending."""
    records, probe = make_records(n), make_records(300)
    rows = [("append @ 0 pending", *timed_appends(outbox, probe[:100]))]
    for r in records[: 1000 - 100]:
        outbox.append(r)
    rows.append(("append @ 1,000 pending", *timed_appends(outbox, probe[100:200])))
    for r in records[900 : n - 200]:
        outbox.append(r)
    rows.append((f"append @ {n:,} pending", *timed_appends(outbox, probe[200:])))
    return rows


def drain(cfg: config.Config, outbox: Outbox) -> float:
    """Records/s until the ward has acknowledged everything in the outbox."""
    backlog = outbox.pending_count()
    t = time.perf_counter()
    with Publisher.from_config(cfg, outbox):
        while outbox.pending_count():
            time.sleep(0.05)
    return backlog / (time.perf_counter() - t)


def run(n: int, window: int | None, batch: int | None) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        with Broker(work / "broker", clients=(STATION, "ward", "bench")) as broker:
            cfg = config.replace(config.Config(), "station", id=STATION, data_dir=str(work / "d"))
            cfg = config.replace(cfg, "store", max_records=n + 1000)
            cfg = broker.station_config(cfg, STATION)
            m = cfg.mqtt
            cfg = config.replace(
                cfg, "mqtt", inflight=window or m.inflight, batch_records=batch or m.batch_records
            )
            key = load_or_create_signing_key(*key_paths(cfg))
            out: dict[str, Any] = {"cfg": cfg}
            with Outbox.from_config(cfg) as outbox:
                out["appends"] = measure_appends(outbox, n)
                out["backlog"] = outbox.pending_count()
                payloads = [p for _, p in outbox.next_payloads(out["backlog"])]
                out["bare"] = bare_paho(broker, payloads, cfg.mqtt.inflight)
                db = WardDB(work / "ward.sqlite")
                db.enroll(STATION, public_key_text(key.public_key()))
                ward_key = ward_key_text(work / WARD_KEY_NAME)  # what `ward serve` signs with
                cfg = config.replace(cfg, "mqtt", ward_key=ward_key)
                ward = start_ward(broker, work)
                try:
                    wait_subscribed(ward)
                    out["drain"] = drain(cfg, outbox)
                    for r in make_records(n // 5):  # the same without batching
                        outbox.append(r)
                    out["single_n"] = outbox.pending_count()
                    out["single"] = drain(config.replace(cfg, "mqtt", batch_records=1), outbox)
                    ids = db.record_ids()
                    out["stored"] = f"{len(set(ids)):,} of {out['backlog'] + out['single_n']:,}"
                finally:
                    ward.terminate()
                    ward.wait(10)
                    db.close()
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--records", type=int, default=10_000)
    ap.add_argument("--window", type=int, default=None, help="mqtt.inflight (default: config)")
    ap.add_argument("--batch", type=int, default=None, help="mqtt.batch_records (default: config)")
    args = ap.parse_args()
    r = run(args.records, args.window, args.batch)
    m = r["cfg"].mqtt
    print(
        f"\nsync benchmark: {r['backlog']:,} records, window {m.inflight}, "
        f"{m.batch_records} records per message, TLS + client certificates, one broker\n"
    )
    print(f"{'measure':40} {'value':>10} {'target':>10}")
    print("-" * 62)
    for name, med, p99 in r["appends"]:
        print(f"{name + ' (median ms)':40} {med:10.2f} {'< 20':>10}")
        print(f"{name + ' (p99 ms)':40} {p99:10.2f}")
    bare, drained, single = r["bare"], r["drain"], r["single"]
    print(f"{'bare paho QoS 1 publish loop (msg/s)':40} {bare:10.0f}")
    print(f"{'station drain, ward-acked (rec/s)':40} {drained:10.0f}")
    print(f"{'  ratio drain / bare':40} {drained / bare:10.2f} {'>= 0.5':>10}")
    print(f"{'same, 1 record/message, {:,} (rec/s)'.format(r['single_n']):40} {single:10.0f}")
    print(f"{'  ratio 1 record/message / bare':40} {single / bare:10.2f}")
    print(f"{'records in the ward DB':40} {r['stored']:>10}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
