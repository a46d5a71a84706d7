"""The ward database on SQLite and on a real PostgreSQL: exactly once by (station_id,
record_id), conflicts, search without diacritics, retention, accounts; and an SQLite file
written by the first receivers (schema version 1) upgraded in place."""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
from pathlib import Path

import pytest

from station.fingerprint import fingerprint
from station.record import canonical_bytes
from station.ward.db import DatabaseError, Search, WardDB
from station.ward.db.schema import LATEST, current_version
from station.ward.fold import fold, words
from tests.sync.support import STATION, make_records
from tests.ward.support import a_man, chip_record, fresh_id, named, opened


def test_fold_takes_off_every_mark_and_d() -> None:
    assert fold("Nguyễn Văn Đạt") == "nguyen van dat"
    assert fold("  TRẦN   THỊ ƯNG-ƠN ") == "tran thi ung on"
    assert fold("Nguye\u0302\u0303n") == "nguyen"  # decomposed input (NFD)
    assert words("nguyen  Văn van") == ["nguyen", "van"]


def test_stored_exactly_once_duplicates_and_conflicts(db_target: str) -> None:
    records = make_records(3)
    with WardDB(db_target) as db:
        first = db.store_many([opened(r) for r in records])
        assert [seq for seq, _ in first.new] == sorted(seq for seq, _ in first.new)
        assert len(first.new) == 3 and not first.duplicates and not first.conflicts
        again = db.store_many([opened(r) for r in records])
        assert not again.new and len(again.duplicates) == 3 and not again.conflicts
        changed = {**records[0], "status": "invalid"}  # same station and id, other content
        clash = db.store_many([opened(changed)])
        assert [i.record_id for i in clash.conflicts] == [records[0]["record_id"]]
        assert db.get(records[0]["record_id"]) == records[0]  # the stored one stays
        (alert,) = db.alerts()
        assert alert.kind == "conflict" and alert.record_id == records[0]["record_id"]
        assert fingerprint(canonical_bytes(changed)) in alert.detail
        assert db.clear_alert(alert.seq) and db.alerts() == []
        # the same id from another station is another record (keyed by both)
        other = {**records[1], "station_id": "station-2"}
        assert len(db.store_many([opened(other)]).new) == 1
        assert db.count() == 4 and db.record_ids().count(records[1]["record_id"]) == 2
        assert db.holds_identical(records[1]["record_id"], canonical_bytes(other))
        assert not db.holds_identical(records[1]["record_id"], b"{}")


def test_concurrent_writers_store_each_record_once(db_target: str) -> None:
    """Four connections race to store the same 200 records: each is stored once."""
    records = make_records(200)
    with WardDB(db_target):
        pass  # schema made once, before the race
    results: list[int] = []
    lock = threading.Lock()

    def writer(order: int) -> None:
        batch = records[::-1] if order % 2 else records
        with WardDB(db_target) as db:
            for i in range(0, len(batch), 20):
                new = len(db.store_many([opened(r) for r in batch[i : i + 20]]).new)
                with lock:
                    results.append(new)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    with WardDB(db_target) as db:
        assert sum(results) == 200 == db.count()
        assert sorted(db.record_ids()) == sorted(r["record_id"] for r in records)
        assert db.alerts() == []


def test_search_by_id_by_name_without_diacritics_and_filters(db_target: str) -> None:
    man = a_man()
    an = chip_record(named(man, "Nguyễn Văn An"))
    dat = chip_record(named(man, "Trần Đức Đạt"), "station-2", level="failed")
    others = make_records(30, seed=3)
    with WardDB(db_target) as db:
        db.store_many([opened(r) for r in [an, dat, *others]])

        def names(**kw: object) -> list[str]:
            return [r.record["citizen"]["full_name"] for r in db.search(Search(**kw))]  # type: ignore[arg-type]

        assert names(text="nguyen van an") == ["Nguyễn Văn An"]
        assert names(text="AN NGUYỄN văn") == ["Nguyễn Văn An"]  # any order, any case
        assert names(text="duc dat") == ["Trần Đức Đạt"]  # đ folds to d
        assert names(text="tran duc d") == ["Trần Đức Đạt"]  # the start of a word is enough
        assert names(text="zzz") == []
        hits = db.search(Search(text=an["citizen"]["id_number"]))
        assert {r.record_id for r in hits} == {an["record_id"], dat["record_id"]}  # same man
        assert db.search(Search(text=an["citizen"]["id_number"][:6], limit=100))
        assert names(text="dat", level="failed") == ["Trần Đức Đạt"]
        assert names(text="tran duc dat", station_id=STATION) == []
        assert names(level="verified") == ["Nguyễn Văn An"]
        assert len(db.search(Search(method=2, limit=100))) == 30
        seq = db.search(Search(text="nguyen van an"))[0].seq
        assert db.link_dossier(seq, "HS-000123")
        assert names(dossier="HS-000123") == ["Nguyễn Văn An"]
        assert names(since=time.time() + 3600) == []
        assert len(db.search(Search(until=time.time() + 60, limit=100))) == 32
        page1 = db.search(Search(limit=10))
        page2 = db.search(Search(limit=10, before_seq=page1[-1].seq))
        assert [r.seq for r in page1 + page2] == sorted(
            (r.seq for r in page1 + page2), reverse=True
        )
        assert not {r.seq for r in page1} & {r.seq for r in page2}
        row = db.row(seq)
        assert row is not None and row.level == "verified" and row.method == 3
        assert row.dossier == "HS-000123" and row.signed
        assert db.since(seq - 1, 5, STATION)[0].seq == seq
        assert db.latest("station-2", 5)[0].record_id == dat["record_id"]


def test_retention_deletes_with_an_audit_row_each(db_target: str) -> None:
    records = make_records(4)
    with WardDB(db_target) as db:
        db.store_many([opened(r) for r in records])
        assert db.purge_older_than(time.time() - 3600) == []
        gone = db.purge_older_than(time.time() + 1, user="admin")
        assert sorted(r for r, _ in gone) == sorted(r["record_id"] for r in records)
        assert db.count() == 0 and db.search(Search(text="nguyen")) == []
        audit = db.audit_log()
        assert {(a.user_name, a.action, a.outcome) for a in audit} == {
            ("admin", "delete", "retention")
        }
        assert sorted(a.record_id for a in audit) == sorted(r["record_id"] for r in records)
        new = db.store_many([opened(fresh_id(records[0]))]).new
        assert new[0][0] > max(a.seq for a in audit) - 100  # seq keeps growing, never reused
        assert new[0][0] == 5


def test_stations_revocation_status_and_refusal_age(db_target: str) -> None:
    with WardDB(db_target) as db:
        db.enroll(STATION, "key-1")
        assert db.public_key(STATION) == "key-1"
        assert db.revoke(STATION) and not db.revoke(STATION)
        assert db.public_key(STATION) is None
        db.enroll(STATION, "key-2")  # enrolled again: accepted again
        assert db.public_key(STATION) == "key-2"
        db.update_status(STATION, {"state": "online", "pending": 3, "refused": 0})
        assert db.stations()[0]["refused_since"] is None
        db.update_status(STATION, {"refused": 2, "pending": True})  # a bool is no count
        first = db.stations()[0]
        assert first["refused"] == 2 and first["refused_since"] and first["pending"] is None
        db.update_status(STATION, {"refused": 5})
        assert db.stations()[0]["refused_since"] == first["refused_since"]  # since the first
        db.update_status(STATION, {"refused": 0})
        assert db.stations()[0]["refused_since"] is None
        db.revoke(STATION)
        assert db.station_key(STATION) == ("key-2", True)  # the receiver refuses its records
        assert db.station_key("never-enrolled") is None


def test_a_status_message_cannot_put_junk_in_the_stations_table(db_target: str) -> None:
    """Values from a station's heartbeat that do not fit their column are NULL: before, a
    NUL or an INTEGER overflow failed PostgreSQL's transaction (and so every batch with
    that heartbeat, resent forever) and SQLite stored a string in a number column."""
    with WardDB(db_target) as db:
        db.enroll(STATION, "key-1")
        db.update_status(STATION, {
            "state": "online\x00", "version": "v" * 100_000, "pending": 2**40,
            "oldest_pending_age_s": "old", "uptime_s": 1e300, "refused": -1,
        })  # fmt: skip
        row = db.stations()[0]
        assert [row[k] for k in ("state", "version", "pending", "oldest_age", "refused")] == [
            None, None, None, None, None,
        ]  # fmt: skip
        db.update_status(STATION, {"state": "online", "version": "0.9", "pending": 7})
        row = db.stations()[0]
        assert (row["state"], row["version"], row["pending"]) == ("online", "0.9", 7)


def test_users_sessions_and_audit(db_target: str) -> None:
    with WardDB(db_target) as db:
        assert db.add_user("canbo", "officer", "h1") and not db.add_user("canbo", "admin", "x")
        with pytest.raises(ValueError):
            db.add_user("x", "root", "h")
        db.open_session("token-1", "canbo", "csrf-1", 100.0)
        session = db.session("token-1")
        assert session is not None and session.user.role == "officer" and session.csrf == "csrf-1"
        assert db.session("token-2") is None
        db.touch_session("token-1", 200.0, "station-1")
        session = db.session("token-1")
        assert session is not None and session.last_seen == 200.0
        assert session.station_id == "station-1"
        db.set_password("canbo", "h2")  # ends its sessions
        assert db.session("token-1") is None
        db.open_session("token-3", "canbo", "c", 100.0)
        assert db.expire_sessions(idle_before=150.0, created_before=0.0) == 1
        db.audit("canbo", "view", [("rid-1", STATION), ("rid-2", STATION)], "counter")
        db.audit("canbo", "search", None, "0 shown; q")
        log = db.audit_log()
        assert [(a.action, a.record_id) for a in log] == [
            ("search", ""), ("view", "rid-2"), ("view", "rid-1"),
        ]  # fmt: skip
        assert db.remove_user("canbo") and db.user("canbo") is None
        db.set_setting("retention_days", "30")
        db.set_setting("retention_days", "31")
        assert db.setting("retention_days") == "31" and db.setting("nothing", "d") == "d"


def test_sqlite_file_is_private(tmp_path: Path) -> None:
    """The database and its WAL and shared-memory files are 0600 whatever the umask
    (SQLite gives -wal and -shm the main file's mode)."""
    old = os.umask(0o022)
    try:
        with WardDB(tmp_path / "ward.sqlite") as db:
            db.enroll(STATION, "key-1")  # a write: the WAL and -shm files exist now
            files = sorted(p.name for p in tmp_path.glob("ward.sqlite*"))
            assert files == ["ward.sqlite", "ward.sqlite-shm", "ward.sqlite-wal"]
            modes = {p.name: p.stat().st_mode & 0o777 for p in tmp_path.glob("ward.sqlite*")}
    finally:
        os.umask(old)
    assert set(modes.values()) == {0o600}, modes


def test_not_a_database_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "ward.sqlite"
    path.write_bytes(b"this is not SQLite" * 100)
    with pytest.raises(DatabaseError, match="not a database"):
        WardDB(path)


# The schema the first receivers wrote (station/ward/db.py before schema version 2),
# kept verbatim so that the upgrade is tested against a real file of that kind.
V1_SCHEMA = """
CREATE TABLE IF NOT EXISTS records (
    record_id   TEXT PRIMARY KEY,
    station_id  TEXT NOT NULL,
    read_at     TEXT,
    received_at REAL NOT NULL,
    fingerprint TEXT NOT NULL,
    signature   TEXT NOT NULL,
    record      TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS records_received ON records(received_at);
CREATE TABLE IF NOT EXISTS stations (
    station_id  TEXT PRIMARY KEY,
    public_key  TEXT NOT NULL,
    enrolled_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS station_status (
    station_id  TEXT PRIMARY KEY,
    state       TEXT,
    version     TEXT,
    last_seen   REAL,
    pending     INTEGER,
    oldest_pending_age_s REAL,
    uptime_s    REAL,
    refused     INTEGER
);
"""


def test_a_version_1_sqlite_file_is_upgraded_in_place(tmp_path: Path) -> None:
    path = tmp_path / "ward.sqlite"
    old = sqlite3.connect(path)
    old.executescript(V1_SCHEMA)
    man = a_man()
    records = [chip_record(named(man, "Đỗ Thị Ánh")), *make_records(5)]
    for n, rec in enumerate(records):
        canonical = canonical_bytes(rec)
        old.execute(
            "INSERT OR IGNORE INTO records VALUES (?, ?, ?, ?, ?, ?, ?)",
            (rec["record_id"], rec["station_id"], rec["read_at"], 1000.0 + n,
             fingerprint(canonical), "c2ln", canonical.decode()),
        )  # fmt: skip
    old.execute("INSERT INTO stations VALUES (?, ?, ?)", (STATION, "key", 1.0))
    old.execute("INSERT INTO station_status (station_id, refused) VALUES (?, 2)", (STATION,))
    old.commit()
    old.close()
    with WardDB(path) as db:
        assert db.count() == 6
        assert db.record_ids() == [r["record_id"] for r in records]  # arrival order kept
        assert db.get(records[0]["record_id"]) == records[0]
        (hit,) = db.search(Search(text="do thi anh"))
        assert hit.level == "verified" and hit.method == 3 and hit.received_at == 1000.0
        assert [r.level for r in db.rows()][1:] == ["qr-only"] * 5
        assert db.stations()[0]["refused"] == 2 and db.public_key(STATION) == "key"
        assert not db.store_many([opened(records[1])]).new  # still exactly once
        assert len(db.store_many([opened(fresh_id(records[1]))]).new) == 1
    check = sqlite3.connect(path)
    assert check.execute("SELECT version FROM schema_version").fetchone() == (LATEST,)
    check.close()
    WardDB(path).close()  # opening again changes nothing


def test_a_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "ward.sqlite"
    WardDB(path).close()
    db = sqlite3.connect(path)
    db.execute("UPDATE schema_version SET version = 99")
    db.commit()
    db.close()
    with pytest.raises(DatabaseError, match="upgrade the program"):
        WardDB(path)


@pytest.mark.postgres
def test_postgres_receivers_starting_together_migrate_once(pg_url: str) -> None:
    errors: list[BaseException] = []

    def open_one() -> None:
        try:
            WardDB(pg_url).close()
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=open_one) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors
    with WardDB(pg_url) as db:
        assert current_version(db._conn) == LATEST
        # the stored record JSON is the canonical text the station signed
        rec = make_records(1)[0]
        db.store_many([opened(rec)])
        assert json.loads(json.dumps(db.get(rec["record_id"]))) == rec
