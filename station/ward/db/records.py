"""Records: stored exactly once by (station_id, record_id), searched, linked, purged.

``store_many`` inserts each record with ``ON CONFLICT (station_id, record_id) DO NOTHING
RETURNING seq`` inside one transaction. A record that was not inserted is looked up:
byte-identical to the stored one, it is a *duplicate* (a replay or a resend after a lost
ack: acknowledged again); different, it is a *conflict* (never acknowledged, raised as
an alert). Concurrent receivers (PostgreSQL) serialise on the unique key: the second
insert waits for the first to commit and then finds its row. On PostgreSQL the same
transaction sends ``NOTIFY ward_records`` (delivered at commit) for the live view.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from station.fingerprint import fingerprint
from station.record import canonical_bytes
from station.sync.signing import Opened
from station.ward.db.backend import Conn
from station.ward.fold import words
from station.ward.signers import seen_signer
from station.ward.summary import summarize

NOTIFY_CHANNEL = "ward_records"
RECENT_WINDOW = 20_000  # PostgreSQL: newest records a name is looked for in first
COLUMNS = (
    "seq, station_id, record_id, read_at, received_at, fingerprint, signature, record, "
    "method, level, status, id_number, dossier, entered_by"
)
QUALIFIED = ", ".join(f"r.{c.strip()}" for c in COLUMNS.split(","))
INSERT = (
    "INSERT INTO records (station_id, record_id, read_at, received_at, fingerprint, "
    "signature, record, method, level, status, id_number, name_folded, entered_by) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
    "ON CONFLICT (station_id, record_id) DO NOTHING RETURNING seq"
)
ID_NUMBER = 10  # the id_number's place in INSERT's values


@dataclass(frozen=True)
class RecordRow:
    """One stored record with its indexed columns."""

    seq: int
    station_id: str
    record_id: str
    read_at: str
    received_at: float
    fingerprint: str
    signed: bool
    record: dict[str, Any]
    method: int
    level: str
    status: str
    id_number: str | None
    dossier: str | None
    entered_by: str | None

    @classmethod
    def from_row(cls, row: tuple[Any, ...]) -> RecordRow:
        seq, station, rid, read_at, received, fp, sig, text = row[:8]
        method, level, status, id_number, dossier, entered_by = row[8:]
        return cls(
            int(seq), str(station), str(rid), str(read_at or ""), float(received), str(fp),
            bool(sig), dict(json.loads(text)), int(method), str(level), str(status),
            id_number, dossier, entered_by,
        )  # fmt: skip


@dataclass(frozen=True)
class StoreResult:
    new: list[tuple[int, Opened]] = field(default_factory=list)  # (seq, item)
    duplicates: list[Opened] = field(default_factory=list)
    conflicts: list[Opened] = field(default_factory=list)

    @property
    def stored(self) -> list[Opened]:
        """What the ward now holds as sent: new records and replays (both acked)."""
        return [item for _, item in self.new] + self.duplicates


@dataclass(frozen=True)
class Search:
    """What the officer asked for; every field optional. ``text``: ID digits or a name."""

    text: str = ""
    station_id: str = ""
    level: str = ""
    method: int | None = None
    dossier: str = ""
    since: float | None = None  # received at or after (epoch seconds)
    until: float | None = None  # received before
    before_seq: int | None = None  # paging: older than this
    limit: int = 50


class RecordsMixin:
    _conn: Conn

    def note_signers(self, seen: list[tuple[int, str, str | None, Any]], now: float) -> None:
        """Index the signers of new records (``SignersMixin``)."""

    def forget_reads_before(self, cutoff: float) -> None:
        """Take purged records out of the signers' counts (``SignersMixin``)."""

    # -- storing -------------------------------------------------------------------------
    def store_many(self, items: Iterable[Opened]) -> StoreResult:
        """Insert once by (station_id, record_id) in one durable transaction."""
        result = StoreResult()
        now = time.time()
        # One order for every writer: concurrent receivers never wait on each other in a
        # circle (PostgreSQL would abort one of them as a deadlock).
        ordered = sorted(items, key=lambda i: (_station(i.record), i.record_id))
        rows = [_row_of(i.record, i.canonical, i.signature, now, None) for i in ordered]
        signed: list[tuple[int, str, str | None, Any]] = []
        with self._conn.transaction():
            inserted = self._conn.returning_many(INSERT, rows)
            for item, row, got in zip(ordered, rows, inserted, strict=True):
                if got is not None:
                    result.new.append((int(got[0]), item))
                    if (s := seen_signer(item.record)) is not None:
                        signed.append((int(got[0]), row[0], row[ID_NUMBER], s))
                elif self._stored_text(item.record_id, _station(item.record)) == _text(item):
                    result.duplicates.append(item)
                else:
                    result.conflicts.append(item)
                    self._conflict_alert(item, now)
            self.note_signers(signed, now)
            if result.new and self._conn.dialect == "postgres":
                last = max(seq for seq, _ in result.new)
                self._conn.execute("SELECT pg_notify(?, ?)", (NOTIFY_CHANNEL, str(last)))
        return result

    def insert_entered(self, record: Mapping[str, Any], user: str) -> int:
        """Store a record typed at the console (unsigned); returns its seq."""
        with self._conn.transaction():
            seq = self._insert(record, canonical_bytes(record), "", time.time(), user)
            if seq is None:
                raise ValueError("a record with this id is already stored")
            if self._conn.dialect == "postgres":
                self._conn.execute("SELECT pg_notify(?, ?)", (NOTIFY_CHANNEL, str(seq)))
        return seq

    def _insert(
        self,
        record: Mapping[str, Any],
        canonical: bytes,
        signature: str,
        now: float,
        user: str | None,
    ) -> int | None:
        row = self._conn.execute(INSERT, _row_of(record, canonical, signature, now, user))
        got = row.fetchone()
        return None if got is None else int(got[0])

    def _conflict_alert(self, item: Opened, now: float) -> None:
        detail = f"record id stored with other content; received {fingerprint(item.canonical)}"
        self._conn.execute(
            "INSERT INTO alerts (at, kind, station_id, record_id, detail) VALUES (?, ?, ?, ?, ?)",
            (now, "conflict", _station(item.record), item.record_id, detail),
        )

    def holds_identical(self, record_id: str, canonical: bytes) -> bool:
        """True when some station's record with this id is stored byte for byte."""
        row = self._conn.execute(
            "SELECT 1 FROM records WHERE record_id = ? AND record = ? LIMIT 1",
            (record_id, canonical.decode("utf-8")),
        ).fetchone()
        return row is not None

    def _stored_text(self, record_id: str, station_id: str | None = None) -> str | None:
        sql = "SELECT record FROM records WHERE record_id = ?"
        args: list[Any] = [record_id]
        if station_id is not None:
            sql += " AND station_id = ?"
            args.append(station_id)
        row = self._conn.execute(sql + " ORDER BY seq LIMIT 1", args).fetchone()
        return None if row is None else str(row[0])

    # -- reading -------------------------------------------------------------------------
    def count(self) -> int:
        return int(self._conn.execute("SELECT COUNT(*) FROM records").fetchone()[0])

    def record_ids(self) -> list[str]:
        return [str(r[0]) for r in self._conn.execute("SELECT record_id FROM records ORDER BY seq")]

    def get(self, record_id: str) -> dict[str, Any] | None:
        text = self._stored_text(record_id)
        return None if text is None else dict(json.loads(text))

    def row(self, seq: int) -> RecordRow | None:
        found = self._conn.execute(f"SELECT {COLUMNS} FROM records WHERE seq = ?", (seq,))
        row = found.fetchone()
        return None if row is None else RecordRow.from_row(tuple(row))

    def since(self, seq: int, limit: int = 200, station_id: str | None = None) -> list[RecordRow]:
        """Records that arrived after ``seq``, oldest first (the live view)."""
        sql = f"SELECT {COLUMNS} FROM records WHERE seq > ?"
        args: list[Any] = [seq]
        if station_id is not None:
            sql += " AND station_id = ?"
            args.append(station_id)
        rows = self._conn.execute(sql + " ORDER BY seq LIMIT ?", [*args, limit])
        return [RecordRow.from_row(tuple(r)) for r in rows]

    def latest(self, station_id: str, limit: int = 10) -> list[RecordRow]:
        """The newest records of one station, newest first."""
        rows = self._conn.execute(
            f"SELECT {COLUMNS} FROM records WHERE station_id = ? ORDER BY seq DESC LIMIT ?",
            (station_id, limit),
        )
        return [RecordRow.from_row(tuple(r)) for r in rows]

    def last_seq(self) -> int:
        return int(self._conn.execute("SELECT COALESCE(MAX(seq), 0) FROM records").fetchone()[0])

    def rows(self, station_id: str | None = None, limit: int | None = None) -> Iterator[RecordRow]:
        """Every record (of one station), in arrival order."""
        sql = f"SELECT {COLUMNS} FROM records"
        args: list[Any] = []
        if station_id:
            sql += " WHERE station_id = ?"
            args.append(station_id)
        sql += " ORDER BY seq"
        if limit:
            sql += " LIMIT ?"
            args.append(limit)
        for row in self._conn.execute(sql, args).fetchall():
            yield RecordRow.from_row(tuple(row))

    def iter_records(
        self, station_id: str | None = None, limit: int | None = None
    ) -> Iterator[tuple[dict[str, Any], float]]:
        """(record, received_at) in arrival order (what callers of the first receivers use)."""
        for row in self.rows(station_id, limit):
            yield row.record, row.received_at

    def search(self, query: Search) -> list[RecordRow]:
        """Newest first, at most ``query.limit`` rows (see :func:`_where`).

        A name on PostgreSQL is looked for first among the newest ``RECENT_WINDOW``
        records (walking the primary key backwards): a common name ("nguyen") fills the
        page there at once, where the word index would hand over a third of the table to
        sort. Only when the page is not full is the word index asked (a rarer name: few
        rows to sort)."""
        w = _where(query, self._conn.dialect)
        if self._conn.dialect == "postgres" and w.by_name:
            bound = "" if query.before_seq is None else " WHERE seq < ?"
            window = f"(SELECT * FROM records{bound} ORDER BY seq DESC LIMIT ?) r"
            head = [] if query.before_seq is None else [query.before_seq]
            rows = self._select(window, w.terms, [*head, RECENT_WINDOW, *w.args], "r.seq", query)
            if len(rows) == query.limit:
                return rows
        # FTS5 walks its index newest first by itself when asked for its own rowid order
        order = "f.rowid" if w.by_name and self._conn.dialect == "sqlite" else "r.seq"
        return self._select(w.source, w.terms, w.args, order, query)

    def _select(
        self, source: str, where: list[str], args: list[Any], order: str, query: Search
    ) -> list[RecordRow]:
        sql = f"SELECT {QUALIFIED} FROM {source}"
        if where:
            sql += " WHERE " + " AND ".join(where)
        rows = self._conn.execute(f"{sql} ORDER BY {order} DESC LIMIT ?", [*args, query.limit])
        return [RecordRow.from_row(tuple(r)) for r in rows]

    # -- changing ------------------------------------------------------------------------
    def link_dossier(self, seq: int, dossier: str | None) -> bool:
        with self._conn.transaction():
            done = self._conn.execute(
                "UPDATE records SET dossier = ? WHERE seq = ?", (dossier or None, seq)
            )
            return done.rowcount == 1

    def purge_older_than(self, cutoff: float, user: str = "system") -> list[tuple[str, str]]:
        """Delete records received before ``cutoff``, each with an audit row; returns
        (record_id, fingerprint) of those deleted."""
        with self._conn.transaction():
            gone = self._conn.execute(
                "SELECT record_id, fingerprint, station_id FROM records WHERE received_at < ?",
                (cutoff,),
            ).fetchall()
            self.forget_reads_before(cutoff)
            self._conn.execute("DELETE FROM records WHERE received_at < ?", (cutoff,))
            now = time.time()
            for record_id, _, station in gone:
                self._conn.execute(
                    "INSERT INTO audit (at, user_name, action, record_id, station_id, outcome) "
                    "VALUES (?, ?, 'delete', ?, ?, 'retention')",
                    (now, user, record_id, station),
                )
        return [(str(r), str(f)) for r, f, _ in gone]


def _row_of(
    record: Mapping[str, Any], canonical: bytes, signature: str, now: float, user: str | None
) -> tuple[Any, ...]:
    """The INSERT's values for one record."""
    s = summarize(record)
    return (
        _station(record), str(record.get("record_id", "")), str(record.get("read_at", "")), now,
        fingerprint(canonical), signature, canonical.decode("utf-8"), s.method, s.level,
        s.status, s.id_number, s.name_folded, user,
    )  # fmt: skip


def _station(record: Mapping[str, Any]) -> str:
    return str(record.get("station_id", ""))


def _text(item: Opened) -> str:
    return item.canonical.decode("utf-8")


@dataclass(frozen=True)
class _Where:
    terms: list[str]
    args: list[Any]
    source: str  # the FROM clause
    by_name: bool


def _where(query: Search, dialect: str) -> _Where:
    """WHERE terms, their arguments and the FROM clause.

    Text of digits only is an ID number (exact with 12 digits, else a prefix); any other
    text is a name: every folded word must begin some word of the folded name, in any
    order ("nguyen van an" finds "Nguyễn Văn An"; "an" alone also finds "Anh").
    """
    terms: list[str] = []
    args: list[Any] = []
    source = "records r"
    text = query.text.strip()
    name = [] if text.isdigit() else words(text)
    if text.isdigit() and text.isascii():
        if len(text) == 12:
            terms.append("r.id_number = ?")
            args.append(text)
        else:
            terms += ["r.id_number >= ?", "r.id_number < ?"]
            args += [text, text + ":"]  # ':' sorts right after '9'
    elif name and dialect == "sqlite":
        source = "records_fts f JOIN records r ON r.seq = f.rowid"
        terms.append("records_fts MATCH ?")
        args.append(" ".join(f'"{w}"*' for w in name))
    elif name:
        terms += ["(' ' || r.name_folded) LIKE ?"] * len(name)
        args += [f"% {w}%" for w in name]
    for column, value in (
        ("station_id", query.station_id),
        ("level", query.level),
        ("dossier", query.dossier),
    ):
        if value:
            terms.append(f"r.{column} = ?")
            args.append(value)
    for term, number in (
        ("r.method = ?", query.method),
        ("r.received_at >= ?", query.since),
        ("r.received_at < ?", query.until),
        ("r.seq < ?", query.before_seq),
    ):
        if number is not None:
            terms.append(term)
            args.append(number)
    return _Where(terms, args, source, bool(name))


__all__ = ["NOTIFY_CHANNEL", "RecordRow", "RecordsMixin", "Search", "StoreResult"]
