"""The ward server's SQLite database: records (exactly once), enrolled stations, status.

``store_many`` inserts with ``INSERT OR IGNORE`` on the ``record_id`` primary key
inside one transaction and returns which ids were new; with WAL and
``synchronous=FULL`` the commit is durable before the receiver acknowledges.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from station.fingerprint import fingerprint
from station.sync.signing import Opened

SCHEMA = """
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


class WardDB:
    """One SQLite connection; use from one thread (the receiver's, or the CLI's)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.execute("PRAGMA busy_timeout=5000")
        self._db.executescript(SCHEMA)
        cols = {row[1] for row in self._db.execute("PRAGMA table_info(station_status)")}
        if "refused" not in cols:  # a database made before stations reported refusals
            self._db.execute("ALTER TABLE station_status ADD COLUMN refused INTEGER")

    def close(self) -> None:
        self._db.close()

    # -- stations ------------------------------------------------------------------------
    def enroll(self, station_id: str, public_key: str) -> None:
        self._db.execute(
            "INSERT INTO stations(station_id, public_key, enrolled_at) VALUES (?, ?, ?) "
            "ON CONFLICT(station_id) DO UPDATE SET public_key=excluded.public_key, "
            "enrolled_at=excluded.enrolled_at",
            (station_id, public_key, time.time()),
        )

    def public_key(self, station_id: str) -> str | None:
        row = self._db.execute(
            "SELECT public_key FROM stations WHERE station_id = ?", (station_id,)
        ).fetchone()
        return None if row is None else str(row[0])

    def update_status(self, station_id: str, fields: Mapping[str, Any]) -> None:
        cols = ("state", "version", "pending", "oldest_pending_age_s", "uptime_s", "refused")
        known = {k: fields[k] for k in cols if k in fields}
        self._db.execute(
            "INSERT INTO station_status(station_id, last_seen) VALUES (?, ?) "
            "ON CONFLICT(station_id) DO UPDATE SET last_seen=excluded.last_seen",
            (station_id, time.time()),
        )
        for col, value in known.items():
            self._db.execute(
                f"UPDATE station_status SET {col} = ? WHERE station_id = ?",
                (value if isinstance(value, int | float | str) else None, station_id),
            )

    def stations(self) -> list[dict[str, Any]]:
        rows = self._db.execute(
            "SELECT s.station_id, st.state, st.last_seen, st.pending, st.version, "
            "st.oldest_pending_age_s, st.refused, (SELECT COUNT(*) FROM records r "
            "WHERE r.station_id = s.station_id) FROM stations s "
            "LEFT JOIN station_status st ON st.station_id = s.station_id ORDER BY s.station_id"
        ).fetchall()
        keys = (
            "station_id", "state", "last_seen", "pending", "version", "oldest_age", "refused",
            "records",
        )  # fmt: skip
        return [dict(zip(keys, row, strict=True)) for row in rows]

    # -- records -------------------------------------------------------------------------
    def store_many(self, items: Iterable[Opened]) -> list[Opened]:
        """Insert once by record_id in one durable transaction; returns the new ones."""
        new: list[Opened] = []
        now = time.time()
        self._db.execute("BEGIN IMMEDIATE")
        try:
            for item in items:
                rec = item.record
                cur = self._db.execute(
                    "INSERT OR IGNORE INTO records VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (
                        item.record_id,
                        str(rec.get("station_id", "")),
                        str(rec.get("read_at", "")),
                        now,
                        fingerprint(item.canonical),
                        item.signature,
                        item.canonical.decode("utf-8"),
                    ),
                )
                if cur.rowcount == 1:
                    new.append(item)
            self._db.execute("COMMIT")
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        return new

    def canonical_of(self, record_ids: Iterable[str]) -> dict[str, bytes]:
        """record_id -> stored canonical bytes, for those of ``record_ids`` already stored."""
        stored = ((rid, self._stored_text(rid)) for rid in record_ids)
        return {rid: text.encode("utf-8") for rid, text in stored if text is not None}

    def count(self) -> int:
        return int(self._db.execute("SELECT COUNT(*) FROM records").fetchone()[0])

    def record_ids(self) -> list[str]:
        return [r[0] for r in self._db.execute("SELECT record_id FROM records")]

    def get(self, record_id: str) -> dict[str, Any] | None:
        text = self._stored_text(record_id)
        return None if text is None else dict(json.loads(text))

    def _stored_text(self, record_id: str) -> str | None:
        """The record as stored (its canonical JSON text), or None."""
        row = self._db.execute(
            "SELECT record FROM records WHERE record_id = ?", (record_id,)
        ).fetchone()
        return None if row is None else str(row[0])

    def iter_records(
        self, station_id: str | None = None, limit: int | None = None
    ) -> Iterator[tuple[dict[str, Any], float]]:
        sql = "SELECT record, received_at FROM records"
        args: list[Any] = []
        if station_id:
            sql += " WHERE station_id = ?"
            args.append(station_id)
        sql += " ORDER BY received_at, record_id"
        if limit:
            sql += " LIMIT ?"
            args.append(limit)
        for record, received_at in self._db.execute(sql, args):
            yield json.loads(record), float(received_at)

    def purge_older_than(self, cutoff: float) -> list[tuple[str, str]]:
        """Delete records received before ``cutoff``; returns (record_id, fingerprint)."""
        self._db.execute("BEGIN IMMEDIATE")
        try:
            gone = self._db.execute(
                "SELECT record_id, fingerprint FROM records WHERE received_at < ?", (cutoff,)
            ).fetchall()
            self._db.execute("DELETE FROM records WHERE received_at < ?", (cutoff,))
            self._db.execute("COMMIT")
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        return [(str(r), str(f)) for r, f in gone]


__all__ = ["WardDB"]
