"""Fleet trust in the database: signers seen, the trust the ward approved, its bundles,
and the signer alerts.

- ``note_signers`` runs inside ``store_many``'s transaction for each new record: the
  signer's row (made at first sight, ``last_seen`` moved on), one ``signer_reads`` row,
  and the two alerts: a signer that appears without a trust path nobody approved
  (``signer-unapproved``, once per signer) and a wave of Active/Chip Authentication
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
from dataclasses import dataclass
from typing import Any

from station.ward.db.backend import Conn
from station.ward.signers import SeenSigner

CLONE_WAVE = 3  # AA/CA failures of one signer's cards ...
CLONE_WINDOW_S = 24 * 3600.0  # ... within this long raise "signer-clones"
TRUST_KINDS = ("csca", "pinned-ds", "crl")


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


class SignersMixin:
    _conn: Conn

    # -- the receiver's side -------------------------------------------------------------
    def note_signers(self, seen: list[tuple[int, str, SeenSigner]], now: float) -> None:
        """(seq, station_id, signer) of newly stored records; call inside the transaction.
        One upsert per signer of the batch, one read row per record (pipelined)."""
        firsts: dict[str, tuple[str, SeenSigner]] = {}
        for _, station, s in seen:
            if s.sha256 not in firsts or s.der is not None:
                firsts[s.sha256] = (station, s)
        new = {sha for sha, (_, s) in firsts.items() if self._upsert_signer(s, now)}
        self._conn.returning_many(
            "INSERT INTO signer_reads (seq, signer, station_id, at, passive, active, "
            "chip_auth, trust_path) VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING seq",
            [(seq, s.sha256, station, now, s.passive, s.active, s.chip_auth, s.trust_path)
             for seq, station, s in seen],
        )  # fmt: skip
        for sha in new:
            station, s = firsts[sha]
            untrusted = any(x.passive == "untrusted-signer" for _, _, x in seen if x.sha256 == sha)
            if untrusted and not self._approved(sha):
                self._signer_alert("signer-unapproved", s, station, now, "")
        for sha, (station, s) in firsts.items():
            if any("failed" in (x.active, x.chip_auth) for _, _, x in seen if x.sha256 == sha):
                self._maybe_clone_alert(s, station, now)

    def _upsert_signer(self, s: SeenSigner, now: float) -> bool:
        """Make the signer's row (True) or move its last_seen on (False)."""
        der = base64.b64encode(s.der).decode("ascii") if s.der is not None else None
        first = self._conn.execute(
            "INSERT INTO signers (sha256, der, subject, issuer, serial, not_before, "
            "not_after, key_type, first_seen, last_seen) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (sha256) DO NOTHING RETURNING sha256",
            (s.sha256, der, s.subject, s.issuer, s.serial, s.not_before, s.not_after,
             s.key_type, now, now),
        ).fetchone()  # fmt: skip
        if first is None:
            self._conn.execute(
                "UPDATE signers SET last_seen = ?, der = COALESCE(der, ?) WHERE sha256 = ?",
                (now, der, s.sha256),
            )
        return first is not None

    def _approved(self, sha256: str) -> bool:
        row = self._conn.execute(
            "SELECT 1 FROM ward_trust WHERE sha256 = ? AND kind = 'pinned-ds'", (sha256,)
        ).fetchone()
        return row is not None

    def _maybe_clone_alert(self, s: SeenSigner, station: str, now: float) -> None:
        failures = int(
            self._conn.execute(
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
        rows = self._conn.execute(
            "SELECT s.sha256, s.der IS NOT NULL, s.subject, s.issuer, s.serial, s.not_before, "
            "s.not_after, s.key_type, s.first_seen, s.last_seen, "
            "(SELECT COUNT(DISTINCT r.id_number) FROM signer_reads x JOIN records r "
            " ON r.seq = x.seq WHERE x.signer = s.sha256), "
            "(SELECT COUNT(DISTINCT x.station_id) FROM signer_reads x WHERE x.signer = s.sha256), "
            "(SELECT COUNT(*) FROM signer_reads x WHERE x.signer = s.sha256) "
            "FROM signers s ORDER BY s.last_seen DESC"
        ).fetchall()
        return [self._signer_row(tuple(r)) for r in rows]

    def _signer_row(self, r: tuple[Any, ...]) -> SignerRow:
        sha = str(r[0])
        outcomes: dict[str, dict[str, int]] = {}
        for column in ("passive", "active", "chip_auth"):
            counted = self._conn.execute(
                f"SELECT {column}, COUNT(*) FROM signer_reads WHERE signer = ? GROUP BY {column}",
                (sha,),
            )
            outcomes[column] = {str(w): int(n) for w, n in counted}
        latest = self._conn.execute(
            "SELECT trust_path FROM signer_reads WHERE signer = ? ORDER BY at DESC LIMIT 1", (sha,)
        ).fetchone()
        latest = None if latest is None else tuple(latest)
        # pinned: the ward's own approval; csca: as the stations last judged it
        trust = "pinned-ds" if self._approved(sha) else "csca" if latest == ("csca",) else ""
        return SignerRow(
            sha, bool(r[1]), str(r[2]), str(r[3]), str(r[4]), str(r[5]), str(r[6]), str(r[7]),
            float(r[8]), float(r[9]), int(r[10]), int(r[11]), int(r[12]), outcomes, trust,
        )  # fmt: skip

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
