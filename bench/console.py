"""Console benchmark: live latency to the officer's page, search over 1,000,000 records,
receiver throughput; on SQLite and on PostgreSQL, side by side in one run.

1. Live: ``--stations`` simulated stations (outbox + publisher each, TLS, client
   certificates) send records to one loopback mosquitto; one ward receiver stores them;
   the console has one page open per station (its server-sent-events stream, what the
   browser's page reads). Measured: from the receiver's commit, after which it
   acknowledges, to the record's arrival on the open page (p50, p95, max). SQLite: the
   receiver rings the console in the same process; PostgreSQL: the console LISTENs.
2. Search: ``--search-records`` records loaded through the receiver's own insert path
   (so this also gives inserts/s), then 200 ID lookups and name searches without
   diacritics as the console runs them (newest first, 51 rows), 5 runs each.
3. Throughput: 10 stations with 1,000 records waiting each, drained through one receiver
   (and two receivers sharing the subscription on PostgreSQL): records/s per process.
4. Signers ("Chứng thư"): ``--signer-records`` records of each of four forms (QR only;
   chip without a signer, as before fleet trust; chip naming its signer without the
   certificate; chip with the signer's certificate, as stations send it) over
   ``--signers`` signers and 20 stations, each form into a database of its own, in turn a
   batch of each through store_many. Each ratio is a form's rate over the one before:
   the chip record, the signer bookkeeping, the certificate's bytes. Then the console's
   signers page query (every signer with its cards, stations and PA/AA/CA counts), 5 runs.

Usage: .venv/bin/python bench/console.py [--stations 50] [--seconds 30]
       [--search-records 1000000] [--signer-records 100000] [--signers 50] [--no-postgres]
       [--only-signers]
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import contextlib
import random
import statistics
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from datetime import date
from pathlib import Path
from typing import Any

from station import config
from station.record import canonical_bytes
from station.sim import citizens
from station.sim.broker import Broker
from station.sync.outbox import Outbox
from station.sync.publisher import Publisher
from station.sync.signing import (
    WARD_KEY_NAME,
    Opened,
    key_paths,
    load_or_create_signing_key,
    public_key_text,
    ward_key_text,
)
from station.ward import passwords
from station.ward.console.app import ConsoleConfig, create_app
from station.ward.console.server import ConsoleServer, serve_in_thread
from station.ward.db import Search, WardDB
from station.ward.fold import fold
from station.ward.receiver import WardReceiver

OFFICER = ("canbo", "officer", "bench-password")
# Surname shares as in the population (Nguyễn ~38 %): the worst case for a name search.
SURNAMES = {"Nguyễn": 38, "Trần": 11, "Lê": 9.5, "Phạm": 7, "Hoàng": 5.1, "Huỳnh": 5.1,
            "Phan": 4.5, "Vũ": 3.9, "Võ": 3.9, "Đặng": 2.1, "Bùi": 2, "Đỗ": 1.4, "Hồ": 1.3,
            "Ngô": 1.3, "Dương": 1, "Lý": 0.5}  # fmt: skip
NAME_QUERIES = ("nguyen", "nguyen van", "nguyen van an", "tran thi", "le van d", "hoang thi thu",
                "dang duc dat", "ly my", "vo quoc hung", "xyz")  # fmt: skip
ID_TARGET_MS, NAME_TARGET_MS, LIVE_TARGET_S = 50.0, 300.0, 1.0
SIGNERS_TARGET_MS = 500.0  # the admin's page, loaded now and then


# -- synthetic records ----------------------------------------------------------------------
def fast_records(n: int, stations: int, seed: int = 7) -> Iterator[dict[str, Any]]:
    """QR records of synthetic people, generated quickly (for a million)."""
    rng = random.Random(seed)
    names, weights = list(SURNAMES), list(SURNAMES.values())
    for i in range(n):
        sex = rng.choice(("Nam", "Nữ"))
        male = sex == "Nam"
        middle = rng.choice(citizens.MIDDLE_MALE if male else citizens.MIDDLE_FEMALE)
        given = rng.choice(citizens.GIVEN_MALE if male else citizens.GIVEN_FEMALE)
        dob = date(1950 + rng.randrange(56), 1 + rng.randrange(12), 1 + rng.randrange(28))
        province = rng.choice(citizens.PROVINCES)[0]
        yield {
            "schema": "cccd-station/record/1",
            "record_id": str(uuid.UUID(int=rng.getrandbits(128))),
            "station_id": f"station-{i % stations:02d}", "read_at": "2026-11-26T10:00:00+07:00",
            "clock_synced": True, "source": "qr", "status": "ok", "warnings": [], "errors": [],
            "citizen": {
                "id_number": citizens.make_id_number(rng, province, sex, dob),
                "full_name": f"{rng.choices(names, weights)[0]} {middle} {given}",
                "date_of_birth": dob.isoformat(), "sex": sex,
            },
        }  # fmt: skip


@contextmanager
def databases(work: Path, postgres: bool) -> Iterator[dict[str, Callable[[str], str]]]:
    """name -> a function making a fresh database of that backend."""
    with ExitStack() as stack:
        out: dict[str, Callable[[str], str]] = {"SQLite": lambda tag: str(work / f"{tag}.sqlite")}
        if postgres:
            from station.sim.postgres import TempPostgres, missing

            why = missing()
            if why:
                print(f"PostgreSQL skipped: {why}")
            else:
                durable = {"fsync": "on", "synchronous_commit": "on", "full_page_writes": "on"}
                pg = stack.enter_context(TempPostgres(settings=durable))
                out["PostgreSQL"] = lambda tag: pg.create_database(tag.replace("-", "_"))
        yield out


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * p))]


# -- 1. live latency --------------------------------------------------------------------
class Commits:
    """When the receiver committed each seq (its on_stored hook)."""

    def __init__(self, then: Callable[[int], None] | None = None) -> None:
        self.seqs: list[int] = []
        self.times: list[float] = []
        self.then = then

    def __call__(self, seq: int) -> None:
        self.seqs.append(seq)
        self.times.append(time.monotonic())
        if self.then is not None:
            self.then(seq)

    def time_of(self, seq: int) -> float | None:
        i = bisect.bisect_left(self.seqs, seq)
        return self.times[i] if i < len(self.times) else None


def station_configs(broker: Broker, work: Path, n: int) -> list[config.Config]:
    """``n`` stations pinning the ward key in ``work`` (the receivers' ``ack_key``)."""
    out = []
    work.mkdir(parents=True, exist_ok=True)
    ward_key = ward_key_text(work / WARD_KEY_NAME)
    for i in range(n):
        cfg = config.replace(config.Config(), "station", id=f"station-{i:02d}",
                             data_dir=str(work / f"st{i:02d}"))  # fmt: skip
        cfg = config.replace(cfg, "mqtt", heartbeat_s=30.0, ack_timeout_s=10.0, ward_key=ward_key)
        out.append(broker.station_config(cfg, cfg.station.id))
    return out


def enroll(db_target: str, cfgs: list[config.Config]) -> None:
    with WardDB(db_target) as db:
        for cfg in cfgs:
            key = load_or_create_signing_key(*key_paths(cfg))
            db.enroll(cfg.station.id, public_key_text(key.public_key()))
        db.add_user(OFFICER[0], OFFICER[1], passwords.hash_password(OFFICER[2]))


def open_pages(url: str, stations: list[str], arrivals: dict[int, float]) -> Callable[[], None]:
    """One page (event stream) per station in a thread; returns a function closing them."""
    import httpx

    loop = asyncio.new_event_loop()
    ready = threading.Event()

    async def page(client: httpx.AsyncClient, station: str) -> None:
        async with client.stream("GET", f"/events/{station}") as stream:
            ready.set()
            event = ""
            async for line in stream.aiter_lines():
                if line.startswith("event: "):
                    event = line[7:]
                elif line.startswith("id: ") and event == "record":
                    arrivals.setdefault(int(line[4:]), time.monotonic())

    async def run() -> None:
        async with httpx.AsyncClient(base_url=url, timeout=None) as client:
            login = await client.get("/login")
            token = login.text.split('name="csrf_token" value="')[1].split('"')[0]
            await client.post("/login", data={"username": OFFICER[0], "password": OFFICER[2],
                                              "csrf_token": token})  # fmt: skip
            await asyncio.gather(*(page(client, s) for s in stations), return_exceptions=True)

    task: list[asyncio.Task[None]] = []

    def serve() -> None:
        task.append(loop.create_task(run()))
        with contextlib.suppress(asyncio.CancelledError):
            loop.run_until_complete(task[0])
        loop.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    ready.wait(20)
    time.sleep(1.0)  # every stream open

    def close() -> None:
        loop.call_soon_threadsafe(task[0].cancel)
        thread.join(10)

    return close


def live(work: Path, db_target: str, backend: str, stations: int, seconds: float) -> dict[str, Any]:
    with Broker(work / f"broker-{backend}", clients=("ward",)) as broker:
        cfgs = station_configs(broker, work / backend, stations)
        enroll(db_target, cfgs)
        if backend == "SQLite":
            console = serve_in_thread(db_target)
            commits = Commits(console.bell.ring_threadsafe)
        else:
            console = ConsoleServer(create_app(ConsoleConfig(db=db_target)), "127.0.0.1", 0)
            console.start_thread()
            commits = Commits()
        receiver = WardReceiver(broker.link_settings("ward", client_id=f"ward-{backend}"),
                                db_target, on_stored=commits,
                                ack_key=work / backend / WARD_KEY_NAME).start()  # fmt: skip
        receiver.ready.wait(10)
        arrivals: dict[int, float] = {}
        close = open_pages(console.url, [c.station.id for c in cfgs], arrivals)
        outboxes = [Outbox.from_config(cfg) for cfg in cfgs]
        publishers = [
            Publisher.from_config(cfg, o).start() for cfg, o in zip(cfgs, outboxes, strict=True)
        ]
        rng = random.Random(3)
        records = fast_records(10**6, stations, seed=11)
        sent = 0
        try:
            deadline = time.monotonic() + seconds
            while time.monotonic() < deadline:  # each station reads a card every ~2 s
                time.sleep(rng.uniform(0.5, 1.5) * 2.0 / stations)
                rec = next(records)
                outboxes[int(rec["station_id"][-2:])].append(rec)
                sent += 1
            end = time.monotonic() + 60
            while time.monotonic() < end and (
                len(arrivals) < sent or any(o.pending_count() for o in outboxes)
            ):
                time.sleep(0.1)
        finally:
            close()
            for pub in publishers:
                pub.stop()
            for outbox in outboxes:
                outbox.close()
            receiver.stop()
            console.stop()
    latencies = [t - c for seq, t in arrivals.items() if (c := commits.time_of(seq)) is not None]
    return {"sent": sent, "arrived": len(arrivals), "latencies": latencies}


# -- 2. search -------------------------------------------------------------------------
def load(db_target: str, n: int) -> tuple[float, list[str], list[str]]:
    """Insert ``n`` records through store_many; rows/s, some ID numbers, some names."""
    ids: list[str] = []
    names: list[str] = []
    with WardDB(db_target) as db:
        batch: list[Opened] = []
        start = time.perf_counter()
        for i, rec in enumerate(fast_records(n, 50)):
            batch.append(Opened(rec, "c2ln", canonical_bytes(rec)))
            if i % 5000 == 0:
                ids.append(rec["citizen"]["id_number"])
                names.append(fold(rec["citizen"]["full_name"]))
            if len(batch) == 5000:
                db.store_many(batch)
                batch = []
        db.store_many(batch)
        rate = n / (time.perf_counter() - start)
        if db.dialect == "postgres":
            db._conn.execute("ANALYZE records")
    return rate, ids, names


def timed(fn: Callable[[], object], runs: int = 5) -> list[float]:
    fn()  # warm
    out = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t) * 1000)
    return out


def search(db_target: str, ids: list[str], names: list[str]) -> dict[str, list[float]]:
    with WardDB(db_target) as db:
        by_id = [t for i in ids for t in timed(lambda i=i: db.search(Search(text=i, limit=51)), 1)]
        by_name: dict[str, list[float]] = {}
        for q in (*NAME_QUERIES, *names[:10]):
            by_name[q] = timed(lambda q=q: db.search(Search(text=q, limit=51)))
    return {"id": by_id, **{f"name: {q}": v for q, v in by_name.items()}}


# -- 3. throughput -------------------------------------------------------------------------
def throughput(work: Path, db_target: str, backend: str, receivers: int) -> float:
    tag = f"{backend}-{receivers}"
    with Broker(work / f"broker-t-{tag}", clients=("ward",)) as broker:
        cfgs = station_configs(broker, work / f"t-{tag}", 10)
        cfgs = [config.replace(c, "mqtt", batch_records=50, inflight=400) for c in cfgs]
        enroll(db_target, cfgs)
        outboxes = [Outbox.from_config(cfg) for cfg in cfgs]
        for rec in fast_records(10_000, 10, seed=5):
            outboxes[int(rec["station_id"][-2:])].append(rec)
        wards = [WardReceiver(broker.link_settings("ward", client_id=f"w{n}-{tag}"), db_target,
                              ack_key=work / f"t-{tag}" / WARD_KEY_NAME).start()
                 for n in range(receivers)]  # fmt: skip
        for w in wards:
            w.ready.wait(10)
        start = time.perf_counter()
        publishers = [
            Publisher.from_config(cfg, o).start() for cfg, o in zip(cfgs, outboxes, strict=True)
        ]
        while any(o.pending_count() for o in outboxes):
            time.sleep(0.05)
        rate = 10_000 / (time.perf_counter() - start)
        for p in publishers:
            p.stop()
        for o in outboxes:
            o.close()
        for w in wards:
            w.stop()
    return rate


# -- 4. signers --------------------------------------------------------------------------
def signer_certificates(n: int) -> list[dict[str, str]]:
    """``verification.signer`` of ``n`` synthetic document signers, as stations send it."""
    from station.sim import pki
    from station.verify.passive import Signer
    from station.verify.trust import parse_certificate

    kinds = ("p256", "rsa")  # EC and RSA signers: both certificate sizes
    return [
        Signer.of(
            parse_certificate(pki.make_test_pki(kinds[i % 2], name=f"B{i}").dsc_der).cert
        ).to_json()
        for i in range(n)
    ]


FORMS = {
    "qr": "QR records",
    "bare": "chip, no signer",  # as before fleet trust
    "named": "chip + signer named",  # without its certificate (older stations)
    "certificate": "chip + signer certificate",  # as stations send it
}


def chip_records(
    n: int, signers: list[dict[str, str]], form: str, stations: int = 20, seed: int = 13
) -> Iterator[dict[str, Any]]:
    """Chip records (QR + chip, verified or not) naming one of ``signers`` each; one card in
    ten is read twice; one signer's cards now and then fail Active Authentication.
    ``form``: "bare" (no ``verification.signer``), "named" (the signer without its
    certificate, as older stations send it) or "certificate" (as stations send it now)."""
    rng = random.Random(seed + 1)  # not fast_records' stream: the record ids stay unique
    outcomes = (("ok", "csca", "verified"), ("untrusted-signer", None, "signed-untrusted"))
    for rec in fast_records(n, stations, seed=seed):
        k = rng.randrange(len(signers))
        passive, path, level = outcomes[k % 2]
        active = "failed" if k == 0 and rng.random() < 0.01 else "ok"
        rec["source"] = "qr+chip"
        rec["chip"] = {
            "files": ["EF.COM", "DG1", "DG13", "DG14", "DG15", "EF.SOD"],
            "access": "PACE-CAN",
            "key_source": "qr-can",
            "read_ms": 812,
        }
        signer = {
            k: v for k, v in signers[k].items() if form == "certificate" or k != "certificate"
        }
        rec["verification"] = {
            "level": "failed" if active == "failed" else level, "passive": passive,
            "active": active, "chip_auth": "not-supported", "qr_chip_match": True,
            "mismatches": [], "missing": [], "crl": "current" if path else None,
            "trust_path": path, **({"signer": signer} if form != "bare" else {}),
        }  # fmt: skip
        yield rec
        if rng.random() < 0.1:  # the same card read again (another record id)
            again = {**rec, "record_id": str(uuid.UUID(int=rng.getrandbits(128)))}
            yield again


def store_side_by_side(make: Callable[[str], str], n: int, signers: int) -> dict[str, Any]:
    """``n`` records of each of FORMS, each form into a database of its own, in turn one
    batch of 500 (what one receiver message holds at most) of each; records/s of each and
    the database of the chip records with their certificates."""
    certs = signer_certificates(signers)
    spent = dict.fromkeys(FORMS, 0.0)
    counts = dict.fromkeys(FORMS, 0)
    streams = {form: chip_records(n, certs, form) for form in FORMS if form != "qr"}
    streams["qr"] = fast_records(n, 20, seed=13)
    targets = {form: make(f"signers-{form}") for form in FORMS}
    with ExitStack() as stack:
        dbs = {form: stack.enter_context(WardDB(t)) for form, t in targets.items()}
        while any(c < n for c in counts.values()):
            for form in FORMS:
                if counts[form] >= n:
                    continue
                batch = []
                for rec in streams[form]:
                    batch.append(Opened(rec, "c2ln", canonical_bytes(rec)))
                    if len(batch) == 500 or counts[form] + len(batch) >= n:
                        break
                t = time.perf_counter()
                dbs[form].store_many(batch)
                spent[form] += time.perf_counter() - t
                counts[form] += len(batch)
        if dbs["certificate"].dialect == "postgres":
            dbs["certificate"]._conn.execute("ANALYZE")
    rates = {form: counts[form] / spent[form] for form in FORMS}
    return {"rates": rates, "target": targets["certificate"]}


def signers_page(db_target: str) -> tuple[list[float], int, int]:
    """Times of the signers page's query (ms), the signers listed and the reads counted."""
    with WardDB(db_target) as db:
        rows = db.signers()
        return timed(db.signers), len(rows), sum(r.reads for r in rows)


def signer_rows(
    backend: str, rates: dict[str, float], page: tuple[list[float], int, int]
) -> list[Row]:
    """Each form's rate, with its ratio to the form before it (the cost of what it adds)."""
    times, listed, reads = page
    top = max(times)
    out: list[Row] = []
    before = None
    for form, words in FORMS.items():
        ratio = "" if before is None else f"{rates[form] / rates[before]:.2f}"
        out.append((f"{backend}: store_many, {words} (rec/s)", f"{rates[form]:,.0f}", "", ratio))
        before = form
    out.append((f"{backend}: signers page, {listed} signers, {reads:,} reads, med / max (ms)",
                f"{statistics.median(times):.1f} / {top:.1f}", f"< {SIGNERS_TARGET_MS:g}",
                f"{top / SIGNERS_TARGET_MS:.3f}"))  # fmt: skip
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--stations", type=int, default=50)
    ap.add_argument("--seconds", type=float, default=30.0)
    ap.add_argument("--search-records", type=int, default=1_000_000)
    ap.add_argument("--signer-records", type=int, default=100_000)
    ap.add_argument("--signers", type=int, default=50)
    ap.add_argument("--no-postgres", action="store_true")
    ap.add_argument("--only-signers", action="store_true", help="run part 4 alone")
    args = ap.parse_args()
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="bench-console-") as tmp:
        work = Path(tmp)
        with databases(work, not args.no_postgres) as dbs:
            for backend, make in dbs.items():
                print(f"[{backend}] signers: {args.signer_records:,} chip records, "
                      f"{args.signers} signers ...")  # fmt: skip
                stored = store_side_by_side(make, args.signer_records, args.signers)
                rows += signer_rows(backend, stored["rates"], signers_page(stored["target"]))
                if args.only_signers:
                    continue
                print(f"[{backend}] live view, {args.stations} stations, {args.seconds:.0f} s ...")
                rows += live_rows(backend, live(work, make("live"), backend, args.stations,
                                                args.seconds))  # fmt: skip
                print(f"[{backend}] loading {args.search_records:,} records ...")
                target = make("search")
                rate, ids, names = load(target, args.search_records)
                rows.append(
                    (f"{backend}: inserts through store_many (rows/s)", f"{rate:,.0f}", "", "")
                )
                times = search(target, ids, names)
                rows += search_rows(backend, times)
                for n in (1, 2) if backend == "PostgreSQL" else (1,):
                    print(f"[{backend}] throughput, {n} receiver(s) ...")
                    t = throughput(work, make(f"tp{n}"), backend, n)
                    rows.append(
                        (f"{backend}: 10,000 records, {n} receiver(s) (rec/s)", f"{t:,.0f}", "", "")
                    )
    print_table(rows, args)
    return 0


Row = tuple[str, str, str, str]


def live_rows(backend: str, r: dict[str, Any]) -> list[Row]:
    lat: list[float] = r["latencies"]
    p50, p95, top = (percentile(lat, 0.5), percentile(lat, 0.95), max(lat)) if lat else (0, 0, 0)
    name = f"{backend}: commit/ack -> open page"
    return [
        (f"{backend}: records sent / on the pages", f"{r['sent']} / {r['arrived']}", "", ""),
        (f"{name} p50 (s)", f"{p50:.3f}", "", ""),
        (f"{name} p95 (s)", f"{p95:.3f}", f"< {LIVE_TARGET_S:g} s", f"{p95 / LIVE_TARGET_S:.2f}"),
        (f"{name} max (s)", f"{top:.3f}", "", ""),
    ]


def print_table(rows: list[Row], args: argparse.Namespace) -> None:
    print(f"\nconsole benchmark ({args.search_records:,} records searched, "
          f"{args.stations} stations live)\n")  # fmt: skip
    print(f"{'measure':68} {'value':>14} {'target':>9} {'ratio':>6}")
    print("-" * 100)
    for name, value, target, ratio in rows:
        print(f"{name:68} {value:>14} {target:>9} {ratio:>6}")


def search_rows(backend: str, times: dict[str, list[float]]) -> list[tuple[str, str, str, str]]:
    out = []
    ids = times.pop("id")
    p95 = percentile(ids, 0.95)
    out.append((f"{backend}: ID search, {len(ids)} lookups p95 (ms)", f"{p95:.2f}",
                f"< {ID_TARGET_MS:g}", f"{p95 / ID_TARGET_MS:.3f}"))  # fmt: skip
    worst = 0.0
    for name, values in times.items():
        med, top = statistics.median(values), max(values)
        worst = max(worst, top)
        if not name.startswith("name: ") or name[6:] in NAME_QUERIES:
            out.append((f"{backend}: {name} median / max (ms)", f"{med:.1f} / {top:.1f}", "", ""))
    out.append((f"{backend}: name search, worst of every query (ms)", f"{worst:.1f}",
                f"< {NAME_TARGET_MS:g}", f"{worst / NAME_TARGET_MS:.2f}"))  # fmt: skip
    return out


if __name__ == "__main__":
    raise SystemExit(main())
