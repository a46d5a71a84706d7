"""The ward database, shared by the receiver and the console: SQLite or PostgreSQL.

``WardDB(target)`` opens an SQLite file (the embedded default) or, for a target starting
with ``postgresql://``, a PostgreSQL database (several receivers on several machines
behind one shared MQTT subscription), and migrates its schema (:mod:`.schema`). The
queries are the same for both (:mod:`.records`, :mod:`.stations`, :mod:`.accounts`,
:mod:`.signers`);
every failure is a :class:`DatabaseError`. One ``WardDB`` is used from one thread.
"""

from __future__ import annotations

from pathlib import Path

from station.ward.db.accounts import ROLES, AccountsMixin, AuditEntry, Session, User
from station.ward.db.backend import DatabaseError, connect, describe, is_postgres
from station.ward.db.records import NOTIFY_CHANNEL, RecordRow, RecordsMixin, Search, StoreResult
from station.ward.db.schema import migrate
from station.ward.db.signers import SignerRow, SignersMixin, TrustItem
from station.ward.db.stations import Alert, StationsMixin


class WardDB(SignersMixin, RecordsMixin, StationsMixin, AccountsMixin):
    """One connection, schema migrated on open."""

    def __init__(self, target: str | Path) -> None:
        self.target = str(target)
        self._conn = connect(target)
        try:
            migrate(self._conn)
        except BaseException:
            self._conn.close()
            raise

    @property
    def dialect(self) -> str:
        return self._conn.dialect

    @property
    def broken(self) -> bool:
        return self._conn.broken

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> WardDB:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


__all__ = [
    "NOTIFY_CHANNEL",
    "ROLES",
    "Alert",
    "AuditEntry",
    "DatabaseError",
    "RecordRow",
    "Search",
    "Session",
    "SignerRow",
    "StoreResult",
    "TrustItem",
    "User",
    "WardDB",
    "describe",
    "is_postgres",
]
