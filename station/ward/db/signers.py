"""Fleet trust in the database: signers seen, the trust the ward approved, its bundles,
and the signer alerts.

- ``note_signers`` runs inside ``store_many``'s transaction for each new record: the
  signer's row (made at first sight, ``last_seen``, ``cards`` and ``trust_path`` moved
  on), one ``signer_reads`` row, the page's counts (``signer_tally``, ``signer_cards``:
  the signers page reads them instead of counting every read when it is opened;
  ``forget_reads_before`` takes purged records out of them), and the two alerts: a
  signer that appears without a trust path nobody approved (``signer-unapproved``, once
  per signer) and a wave of Active/Chip Authentication
  failures among one signer's cards (``signer-clones``: ``CLONE_WAVE`` failures within
  ``CLONE_WINDOW_S``, once until cleared).
- ``add_trust`` / ``remove_trust`` change the approved set (CSCAs, pinned document
  signers, CRLs) and bump ``trust_revision``: the receiver then makes bundle
  ``trust_revision + bundle_version_offset`` (``store_bundle``, stored once whichever
  receiver makes it) and publishes it. The offset is 0 until the receiver finds its own
  newer bundle retained on the broker (a new or restored database with the same ward
  key): ``continue_bundles_above`` then moves the versions above it.
"""

from __future__ import annotations

import base64
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from station.ward.db.backend import Conn
from station.ward.signers import SeenSigner

CLONE_WAVE = 3  # AA/CA failures of one signer's cards ...
CLONE_WINDOW_S = 24 * 3600.0  # ... within this long raise "signer-clones"
TRUST_KINDS = ("csca", "pinned-ds", "crl")
VALUES_PARAMETERS = 900  # at most this many parameters in one multi-row INSERT (SQLite)


@dataclass(frozen=True)
class SignerRow:
    sha256: str
    has_certificate: bool
    subject: str
    issuer: str
    serial: str
    not_before: str
    not_after: str
    key_type: str
    first_seen: float
    last_seen: float
    cards: int  # distinct ID numbers among the stored records it signed
    stations: int
    reads: int
    outcomes: dict[str, dict[str, int]]  # "passive"/"active"/"chip_auth" -> word -> count
    trust: str  # "csca" (chains to a CSCA, as the stations judged) | "pinned-ds" | ""


@dataclass(frozen=True)
class TrustItem:
    sha256: str
    kind: str  # TRUST_KINDS
    der: bytes
    subject: str
    added_by: str
    added_at: float
    source: str


class _Batch:
    """One signer's records in one stored batch."""

    def __init__(self, station: str, first: SeenSigner) -> None:
        self.station = station  # where it was first seen in the batch (for its alerts)
        self.first = first  # the first with its certificate, else the first
        self.trust_path = ""
        self.untrusted = self.failed = False
        self.new_cards = 0

    def add(self, station: str, s: SeenSigner) -> None:
        if self.first.der is None and s.der is not None:
            self.station, self.first = station, s
        self.trust_path = s.trust_path  # the latest read's
        self.untrusted = self.untrusted or s.passive == "untrusted-signer"
        self.failed = self.failed or "failed" in (s.active, s.chip_auth)


@dataclass
class _Tally:
    """A signer's counts, summed from its ``signer_tally`` rows."""

    reads: int = 0
    stations: set[str] = field(default_factory=set)
    counts: dict[str, Counter[str]] = field(
        default_factory=lambda: {c: Counter() for c in ("passive", "active", "chip_auth")}
    )

    def add(self, station: str, passive: str, active: str, chip_auth: str, n: int) -> None:
        self.reads += n
        self.stations.add(station)
        for column, word in (("passive", passive), ("active", active), ("chip_auth", chip_auth)):
            self.counts[column][word] += n

    def outcomes(self) -> dict[str, dict[str, int]]:
        return {column: dict(words) for column, words in self.counts.items()}


class SignersMixin:
    _conn: Conn

    # -- the receiver's side -------------------------------------------------------------
    def note_signers(self, seen: list[tuple[int, str, str | None, SeenSigner]], now: float) -> None:
        """(seq, station_id, ID number, signer) of newly stored records; call inside the
        transaction. Each table is written with multi-row statements (a few per batch,
        not one per record: on PostgreSQL each statement is a round trip): the read rows,
        the counts per (signer, station, outcomes) and per (signer, card), one row per
        signer; then the alerts, judged once per signer."""
        if not seen:
            return
        by_signer: dict[str, _Batch] = {}
        tally: Counter[tuple[str, str, str, str, str]] = Counter()
        cards: Counter[tuple[str, str]] = Counter()
        for _, station, id_number, s in seen:
            batch = by_signer.get(s.sha256)
            if batch is None:
                batch = by_signer[s.sha256] = _Batch(station, s)
            batch.add(station, s)
            tally[(s.sha256, station, s.passive, s.active, s.chip_auth)] += 1
            if id_number:
                cards[(s.sha256, id_number)] += 1
        self._values(
            "INSERT INTO signer_reads (seq, signer, station_id, at, passive, active, "
            "chip_auth, trust_path)",
            ("bigint", "text", "text", "float8", "text", "text", "text", "text"),
            [(seq, s.sha256, station, now, s.passive, s.active, s.chip_auth, s.trust_path)
             for seq, station, _, s in seen],
        )  # fmt: skip
        # every key once per statement (counted above), in one order for every writer
        self._values(
            "INSERT INTO signer_tally (signer, station_id, passive, active, chip_auth, reads)",
            ("text", "text", "text", "text", "text", "bigint"),
            [(*key, n) for key, n in sorted(tally.items())],
            " ON CONFLICT (signer, station_id, passive, active, chip_auth) DO UPDATE SET "
            "reads = signer_tally.reads + excluded.reads",
        )
        added = sorted(cards.items())
        counted = self._values(
            "INSERT INTO signer_cards (signer, id_number, reads)",
            ("text", "text", "bigint"),
            [(*key, n) for key, n in added],
            " ON CONFLICT (signer, id_number) DO UPDATE SET reads = signer_cards.reads "
            "+ excluded.reads RETURNING signer, id_number, reads",
        )
        adds = dict(added)
        for sha, id_number, reads in counted:
            if int(reads) == adds[(str(sha), str(id_number))]:  # only this batch's reads
                by_signer[str(sha)].new_cards += 1
        new = self._upsert_signers([by_signer[sha] for sha in sorted(by_signer)], now)
        for sha in sorted(by_signer):
            batch = by_signer[sha]
            if sha in new and batch.untrusted and not self._approved(sha):
                self._signer_alert("signer-unapproved", batch.first, batch.station, now, "")
            if batch.failed:
                self._maybe_clone_alert(batch.first, batch.station, now)

    def _upsert_signers(self, batches: list[_Batch], now: float) -> set[str]:
        """Make each signer's row or move it on (last seen, the latest read's trust path,
        the cards it signed for the first time); returns the signers seen for the first
        time (their row's first_seen is this batch's)."""
        rows = []
        for batch in batches:
            s = batch.first
            der = base64.b64encode(s.der).decode("ascii") if s.der is not None else None
            rows.append((s.sha256, der, s.subject, s.issuer, s.serial, s.not_before,
                         s.not_after, s.key_type, now, now, batch.new_cards,
                         batch.trust_path))  # fmt: skip
        got = self._values(
            "INSERT INTO signers (sha256, der, subject, issuer, serial, not_before, "
            "not_after, key_type, first_seen, last_seen, cards, trust_path)",
            ("text",) * 8 + ("float8", "float8", "bigint", "text"),
            rows,
            " ON CONFLICT (sha256) DO UPDATE SET last_seen = excluded.last_seen, "
            "der = COALESCE(signers.der, excluded.der), cards = signers.cards + excluded.cards, "
            "trust_path = excluded.trust_path RETURNING sha256, first_seen",
        )
        return {str(sha) for sha, first in got if float(first) == now}

    def _values(
        self, head: str, types: tuple[str, ...], rows: list[tuple[Any, ...]], tail: str = ""
    ) -> list[Any]:
        """``head`` (``INSERT INTO t (columns)``) for ``rows`` + ``tail``, in a few
        statements; the RETURNING rows of all of them. SQLite: multi-row VALUES of at most
        VALUES_PARAMETERS parameters (its old limit is 999); PostgreSQL: one statement,
        each column one array parameter (``unnest``, of the PostgreSQL ``types``), since
        there the many parameters of a VALUES list cost more than the rows."""
        out: list[Any] = []
        if not rows:
            return out
        returning = "RETURNING" in tail
        if self._conn.dialect == "postgres":
            arrays = ", ".join(f"?::{t}[]" for t in types)
            found = self._conn.execute(
                f"{head} SELECT * FROM unnest({arrays}){tail}",
                [list(c) for c in zip(*rows, strict=True)],
            )
            return found.fetchall() if returning else out
        per = max(1, VALUES_PARAMETERS // len(types))
        one = "(" + ", ".join(["?"] * len(types)) + ")"
        for start in range(0, len(rows), per):
            chunk = rows[start : start + per]
            found = self._conn.execute(
                f"{head} VALUES " + ", ".join([one] * len(chunk)) + tail,
                [v for r in chunk for v in r],
            )
            if returning:
                out += found.fetchall()
        return out

    def forget_reads_before(self, cutoff: float) -> None:
        """Take the reads of the records received before ``cutoff`` (about to be deleted)
        out of the signers' counts; call inside the purge's transaction."""
        gone = "SELECT seq FROM records WHERE received_at < ?"
        for signer, station, passive, active, chip_auth, n in self._conn.execute(
            "SELECT signer, station_id, passive, active, chip_auth, COUNT(*) FROM signer_reads "
            f"WHERE seq IN ({gone}) GROUP BY signer, station_id, passive, active, chip_auth",
            (cutoff,),
        ).fetchall():
            self._conn.execute(
                "UPDATE signer_tally SET reads = reads - ? WHERE signer = ? AND station_id = ? "
                "AND passive = ? AND active = ? AND chip_auth = ?",
                (n, signer, station, passive, active, chip_auth),
            )
        touched: set[str] = set()
        for signer, id_number, n in self._conn.execute(
            "SELECT x.signer, r.id_number, COUNT(*) FROM signer_reads x JOIN records r "
            "ON r.seq = x.seq WHERE r.received_at < ? AND r.id_number IS NOT NULL "
            "GROUP BY x.signer, r.id_number",
            (cutoff,),
        ).fetchall():
            touched.add(str(signer))
            self._conn.execute(
                "UPDATE signer_cards SET reads = reads - ? WHERE signer = ? AND id_number = ?",
                (n, signer, id_number),
            )
        self._conn.execute("DELETE FROM signer_tally WHERE reads <= 0")
        self._conn.execute("DELETE FROM signer_cards WHERE reads <= 0")
        for signer in sorted(touched):
            self._conn.execute(
                "UPDATE signers SET cards = (SELECT COUNT(*) FROM signer_cards "
                "WHERE signer = ?) WHERE sha256 = ?",
                (signer, signer),
            )
        self._conn.execute(f"DELETE FROM signer_reads WHERE seq IN ({gone})", (cutoff,))

    def _approved(self, sha256: str) -> bool:
        row = self._conn.execute(
            "SELECT 1 FROM ward_trust WHERE sha256 = ? AND kind = 'pinned-ds'", (sha256,)
        ).fetchone()
        return row is not None

    def _maybe_clone_alert(self, s: SeenSigner, station: str, now: float) -> None:
        failures = int(
            self._conn.execute(  # the partial index signer_reads_failed
                "SELECT COUNT(*) FROM signer_reads WHERE signer = ? AND at >= ? AND "
                "(active = 'failed' OR chip_auth = 'failed')",
                (s.sha256, now - CLONE_WINDOW_S),
            ).fetchone()[0]
        )
        open_alert = self._conn.execute(
            "SELECT 1 FROM alerts WHERE kind = 'signer-clones' AND signer = ? "
            "AND cleared_at IS NULL",
            (s.sha256,),
        ).fetchone()
        if failures >= CLONE_WAVE and open_alert is None:
            self._signer_alert("signer-clones", s, station, now, f"{failures}")

    def _signer_alert(self, kind: str, s: SeenSigner, station: str, now: float, n: str) -> None:
        detail = f"{s.subject or s.sha256[:16]} ({s.sha256[:16]})" + (f": {n}" if n else "")
        self._conn.execute(
            "INSERT INTO alerts (at, kind, station_id, detail, signer) VALUES (?, ?, ?, ?, ?)",
            (now, kind, station, detail, s.sha256),
        )

    # -- the console's side --------------------------------------------------------------
    def signers(self) -> list[SignerRow]:
        """Every signer seen, newest first, from the counts kept as records arrive (one
        pass over ``signer_tally``, a row per signer, station and outcome: no read is
        counted here)."""
        tallies: dict[str, _Tally] = {}
        for signer, station, passive, active, chip_auth, n in self._conn.execute(
            "SELECT signer, station_id, passive, active, chip_auth, reads FROM signer_tally"
        ):
            t = tallies.setdefault(str(signer), _Tally())
            t.add(str(station), str(passive), str(active), str(chip_auth), int(n))
        pinned = {
            str(r[0])
            for r in self._conn.execute("SELECT sha256 FROM ward_trust WHERE kind = 'pinned-ds'")
        }
        rows = self._conn.execute(
            "SELECT sha256, der IS NOT NULL, subject, issuer, serial, not_before, not_after, "
            "key_type, first_seen, last_seen, cards, trust_path FROM signers "
            "ORDER BY last_seen DESC, sha256"
        ).fetchall()
        out = []
        for r in rows:
            sha = str(r[0])
            t = tallies.get(sha, _Tally())
            # pinned: the ward's own approval; csca: as the stations last judged it
            trust = "pinned-ds" if sha in pinned else "csca" if r[11] == "csca" else ""
            out.append(SignerRow(
                sha, bool(r[1]), str(r[2]), str(r[3]), str(r[4]), str(r[5]), str(r[6]),
                str(r[7]), float(r[8]), float(r[9]), int(r[10]), len(t.stations), t.reads,
                t.outcomes(), trust,
            ))  # fmt: skip
        return out

    def signer_der(self, sha256: str) -> bytes | None:
        row = self._conn.execute("SELECT der FROM signers WHERE sha256 = ?", (sha256,)).fetchone()
        return None if row is None or row[0] is None else base64.b64decode(str(row[0]))

    def trust_items(self) -> list[TrustItem]:
        rows = self._conn.execute(
            "SELECT sha256, kind, der, subject, added_by, added_at, source FROM ward_trust "
            "ORDER BY kind, added_at"
        )
        return [
            TrustItem(str(h), str(k), base64.b64decode(str(d)), str(s), str(u), float(a), str(o))
            for h, k, d, s, u, a, o in rows
        ]

    def add_trust(self, items: list[TrustItem]) -> list[str]:
        """Add what is not there yet (returns those fingerprints); bumps the revision."""
        added = []
        with self._conn.transaction():
            for t in items:
                got = self._conn.execute(
                    "INSERT INTO ward_trust (sha256, kind, der, subject, added_by, added_at, "
                    "source) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (sha256) DO NOTHING "
                    "RETURNING sha256",
                    (t.sha256, t.kind, base64.b64encode(t.der).decode("ascii"), t.subject[:300],
                     t.added_by, t.added_at, t.source[:200]),
                ).fetchone()  # fmt: skip
                if got is not None:
                    added.append(t.sha256)
            if added:
                self._bump_revision()
        return added

    def remove_trust(self, sha256: str) -> TrustItem | None:
        found = [t for t in self.trust_items() if t.sha256 == sha256]
        if not found:
            return None
        with self._conn.transaction():
            self._conn.execute("DELETE FROM ward_trust WHERE sha256 = ?", (sha256,))
            self._bump_revision()
        return found[0]

    def _bump_revision(self) -> None:
        self._conn.execute(
            "INSERT INTO settings (key, value) VALUES ('trust_revision', '1') ON CONFLICT (key) "
            "DO UPDATE SET value = CAST(CAST(settings.value AS INTEGER) + 1 AS TEXT)"
        )

    def trust_revision(self) -> int:
        row = self._conn.execute(
            "SELECT value FROM settings WHERE key = 'trust_revision'"
        ).fetchone()
        return 0 if row is None else int(row[0])

    # -- bundles -------------------------------------------------------------------------
    def bundle_version_offset(self) -> int:
        """Bundle versions are ``trust_revision + offset`` (0 until the ward found its own
        newer bundle retained on the broker, made with another database)."""
        row = self._conn.execute(
            "SELECT value FROM settings WHERE key = 'trust_version_offset'"
        ).fetchone()
        return 0 if row is None else int(row[0])

    def continue_bundles_above(self, version: int) -> int:
        """Make the next bundle's version greater than ``version``; returns the offset."""
        with self._conn.transaction():
            offset = max(self.bundle_version_offset(), version + 1 - self.trust_revision())
            self._conn.execute(
                "INSERT INTO settings (key, value) VALUES ('trust_version_offset', ?) "
                "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (str(offset),),
            )
        return offset

    def latest_bundle_version(self) -> int:
        """The newest bundle's version (0: none), without loading it (up to 16 MiB)."""
        row = self._conn.execute("SELECT MAX(version) FROM trust_bundles").fetchone()
        return 0 if row is None or row[0] is None else int(row[0])

    def latest_bundle(self) -> tuple[int, bytes] | None:
        row = self._conn.execute(
            "SELECT version, payload FROM trust_bundles ORDER BY version DESC LIMIT 1"
        ).fetchone()
        return None if row is None else (int(row[0]), str(row[1]).encode("utf-8"))

    def store_bundle(self, version: int, payload: bytes) -> None:
        """Keep bundle ``version`` (the first one made wins when receivers race)."""
        with self._conn.transaction():
            self._conn.execute(
                "INSERT INTO trust_bundles (version, at, payload) VALUES (?, ?, ?) "
                "ON CONFLICT (version) DO NOTHING",
                (version, time.time(), payload.decode("utf-8")),
            )


__all__ = ["CLONE_WAVE", "CLONE_WINDOW_S", "TRUST_KINDS", "SignerRow", "SignersMixin", "TrustItem"]
