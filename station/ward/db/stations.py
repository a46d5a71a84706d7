"""Enrolled stations, their reported status, revocation and the ward's alerts.

A revoked station's records are refused (reason "revoked": the station sets them aside)
until it is enrolled again; a station never enrolled is not answered at all.
``refused_since`` records when a station's heartbeat first reported records refused by
the ward, so an alert can say how long it has been so.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from station.ward.db.backend import Conn

# What a station's status and heartbeat may set, and the type each column takes: anything
# else (a string in a number column, a NUL, a number PostgreSQL's INTEGER cannot hold)
# is stored as NULL, so a message cannot fail the transaction every time it is resent.
STATUS_TYPES: dict[str, type] = {
    "state": str, "version": str, "pending": int, "oldest_pending_age_s": float,
    "uptime_s": float, "refused": int,
}  # fmt: skip
MAX_STATUS_TEXT = 64
MAX_STATUS_INT = 2**31 - 1
MAX_STATUS_FLOAT = 1e12


def status_value(column: str, value: object) -> str | int | float | None:
    """``value`` if it fits ``column`` (see :data:`STATUS_TYPES`), else None."""
    kind = STATUS_TYPES[column]
    if isinstance(value, bool):
        return None
    if kind is str:
        ok = isinstance(value, str) and len(value) <= MAX_STATUS_TEXT and "\x00" not in value
        return value if ok and isinstance(value, str) else None
    if kind is int:
        return value if isinstance(value, int) and 0 <= value <= MAX_STATUS_INT else None
    if isinstance(value, int | float) and 0 <= value <= MAX_STATUS_FLOAT:
        return float(value)
    return None


@dataclass(frozen=True)
class Alert:
    seq: int
    at: float
    kind: str  # "conflict" | "signer-unapproved" | "signer-clones"
    station_id: str
    record_id: str
    detail: str


class StationsMixin:
    _conn: Conn

    def enroll(self, station_id: str, public_key: str) -> None:
        with self._conn.transaction():
            self._conn.execute(
                "INSERT INTO stations (station_id, public_key, enrolled_at) VALUES (?, ?, ?) "
                "ON CONFLICT (station_id) DO UPDATE SET public_key = excluded.public_key, "
                "enrolled_at = excluded.enrolled_at, revoked_at = NULL",
                (station_id, public_key, time.time()),
            )

    def revoke(self, station_id: str) -> bool:
        """Refuse the station's records from now on; False when it is not enrolled."""
        with self._conn.transaction():
            done = self._conn.execute(
                "UPDATE stations SET revoked_at = ? WHERE station_id = ? AND revoked_at IS NULL",
                (time.time(), station_id),
            )
            return done.rowcount == 1

    def station_key(self, station_id: str) -> tuple[str, bool] | None:
        """The key enrolled last and whether the station is revoked; None if never enrolled."""
        row = self._conn.execute(
            "SELECT public_key, revoked_at FROM stations WHERE station_id = ?", (station_id,)
        ).fetchone()
        return None if row is None else (str(row[0]), row[1] is not None)

    def public_key(self, station_id: str) -> str | None:
        """The enrolled key; None when not enrolled or revoked."""
        row = self._conn.execute(
            "SELECT public_key FROM stations WHERE station_id = ? AND revoked_at IS NULL",
            (station_id,),
        ).fetchone()
        return None if row is None else str(row[0])

    def update_status(self, station_id: str, fields: Mapping[str, Any]) -> None:
        known = {k: status_value(k, v) for k, v in fields.items() if k in STATUS_TYPES}
        now = time.time()
        with self._conn.transaction():
            self._conn.execute(
                "INSERT INTO station_status (station_id, last_seen) VALUES (?, ?) "
                "ON CONFLICT (station_id) DO UPDATE SET last_seen = excluded.last_seen",
                (station_id, now),
            )
            if "refused" in known:
                refusing = isinstance(known["refused"], int) and int(known["refused"]) > 0
                self._conn.execute(
                    "UPDATE station_status SET refused_since = CASE WHEN ? THEN "
                    "COALESCE(refused_since, ?) ELSE NULL END WHERE station_id = ?",
                    (refusing, now, station_id),
                )
            for col, value in known.items():  # names from STATUS_TYPES only
                self._conn.execute(
                    f"UPDATE station_status SET {col} = ? WHERE station_id = ?",
                    (value, station_id),
                )

    def stations(self) -> list[dict[str, Any]]:
        rows = self._conn.execute(
            "SELECT s.station_id, st.state, st.last_seen, st.pending, st.version, "
            "st.oldest_pending_age_s, st.refused, st.refused_since, s.enrolled_at, "
            "s.revoked_at, (SELECT COUNT(*) FROM records r WHERE r.station_id = s.station_id) "
            "FROM stations s LEFT JOIN station_status st ON st.station_id = s.station_id "
            "ORDER BY s.station_id"
        ).fetchall()
        keys = (
            "station_id", "state", "last_seen", "pending", "version", "oldest_age", "refused",
            "refused_since", "enrolled_at", "revoked_at", "records",
        )  # fmt: skip
        return [dict(zip(keys, row, strict=True)) for row in rows]

    # -- alerts --------------------------------------------------------------------------
    def alerts(self, *, include_cleared: bool = False, limit: int = 100) -> list[Alert]:
        sql = "SELECT seq, at, kind, station_id, record_id, detail FROM alerts"
        if not include_cleared:
            sql += " WHERE cleared_at IS NULL"
        rows = self._conn.execute(sql + " ORDER BY seq DESC LIMIT ?", (limit,))
        return [
            Alert(int(s), float(a), str(k), str(st or ""), str(r or ""), str(d))
            for s, a, k, st, r, d in rows
        ]

    def clear_alert(self, seq: int) -> bool:
        with self._conn.transaction():
            done = self._conn.execute(
                "UPDATE alerts SET cleared_at = ? WHERE seq = ? AND cleared_at IS NULL",
                (time.time(), seq),
            )
            return done.rowcount == 1


__all__ = ["Alert", "StationsMixin"]
