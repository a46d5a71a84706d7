"""Console accounts, their server-side sessions, the console's audit log and settings.

A session is a random token in the browser's cookie; the database holds only its SHA-256
(a copy of the table opens no session), the user, the CSRF token and when it was made
and last used, so a session can be ended server-side (logout, user removed, expiry).

The audit log names who did what to which record (``user_name``, ``action``,
``record_id``, ``station_id``, ``outcome``) and never holds personal data: no names, ID
numbers or search terms.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass

from station.ward.db.backend import Conn
from station.ward.roles import ROLES


@dataclass(frozen=True)
class User:
    name: str
    role: str
    password_hash: str
    created_at: float
    disabled: bool
    last_login: float | None


@dataclass(frozen=True)
class Session:
    user: User
    csrf: str
    created_at: float
    last_seen: float
    station_id: str | None


@dataclass(frozen=True)
class AuditEntry:
    seq: int
    at: float
    user_name: str
    action: str
    record_id: str
    station_id: str
    outcome: str


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


_USER = "name, role, password_hash, created_at, disabled, last_login"


def _user(row: tuple[object, ...]) -> User:
    name, role, pw, created, disabled, last = row
    return User(
        str(name), str(role), str(pw), float(str(created)), bool(disabled),
        None if last is None else float(str(last)),
    )  # fmt: skip


class AccountsMixin:
    _conn: Conn

    # -- users ---------------------------------------------------------------------------
    def add_user(self, name: str, role: str, password_hash: str) -> bool:
        """False when the name is taken."""
        if role not in ROLES:
            raise ValueError(f"role must be one of {', '.join(ROLES)}")
        with self._conn.transaction():
            done = self._conn.execute(
                "INSERT INTO users (name, role, password_hash, created_at) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (name) DO NOTHING",
                (name, role, password_hash, time.time()),
            )
            return done.rowcount == 1

    def user(self, name: str) -> User | None:
        row = self._conn.execute(f"SELECT {_USER} FROM users WHERE name = ?", (name,)).fetchone()
        return None if row is None else _user(tuple(row))

    def users(self) -> list[User]:
        return [
            _user(tuple(r)) for r in self._conn.execute(f"SELECT {_USER} FROM users ORDER BY name")
        ]

    def set_password(self, name: str, password_hash: str) -> bool:
        """New password; every session of the user ends."""
        with self._conn.transaction():
            done = self._conn.execute(
                "UPDATE users SET password_hash = ? WHERE name = ?", (password_hash, name)
            )
            self._conn.execute("DELETE FROM sessions WHERE user_name = ?", (name,))
            return done.rowcount == 1

    def set_disabled(self, name: str, disabled: bool) -> bool:
        with self._conn.transaction():
            done = self._conn.execute(
                "UPDATE users SET disabled = ? WHERE name = ?", (int(disabled), name)
            )
            if disabled:
                self._conn.execute("DELETE FROM sessions WHERE user_name = ?", (name,))
            return done.rowcount == 1

    def remove_user(self, name: str) -> bool:
        with self._conn.transaction():
            self._conn.execute("DELETE FROM sessions WHERE user_name = ?", (name,))
            return self._conn.execute("DELETE FROM users WHERE name = ?", (name,)).rowcount == 1

    def logged_in(self, name: str, at: float) -> None:
        self._conn.execute("UPDATE users SET last_login = ? WHERE name = ?", (at, name))

    # -- sessions ------------------------------------------------------------------------
    def open_session(self, token: str, user: str, csrf: str, at: float) -> None:
        self._conn.execute(
            "INSERT INTO sessions (token_hash, user_name, csrf, created_at, last_seen) "
            "VALUES (?, ?, ?, ?, ?)",
            (token_hash(token), user, csrf, at, at),
        )

    def session(self, token: str) -> Session | None:
        row = self._conn.execute(
            f"SELECT s.csrf, s.created_at, s.last_seen, s.station_id, "
            f"{', '.join('u.' + c for c in _USER.split(', '))} "
            "FROM sessions s JOIN users u ON u.name = s.user_name WHERE s.token_hash = ?",
            (token_hash(token),),
        ).fetchone()
        if row is None:
            return None
        csrf, created, last_seen, station = row[:4]
        return Session(_user(tuple(row[4:])), str(csrf), float(created), float(last_seen), station)

    def touch_session(self, token: str, at: float, station_id: str | None = None) -> None:
        if station_id is None:
            self._conn.execute(
                "UPDATE sessions SET last_seen = ? WHERE token_hash = ?", (at, token_hash(token))
            )
        else:
            self._conn.execute(
                "UPDATE sessions SET last_seen = ?, station_id = ? WHERE token_hash = ?",
                (at, station_id, token_hash(token)),
            )

    def close_session(self, token: str) -> None:
        self._conn.execute("DELETE FROM sessions WHERE token_hash = ?", (token_hash(token),))

    def expire_sessions(self, idle_before: float, created_before: float) -> int:
        done = self._conn.execute(
            "DELETE FROM sessions WHERE last_seen < ? OR created_at < ?",
            (idle_before, created_before),
        )
        return done.rowcount

    # -- audit ---------------------------------------------------------------------------
    def audit(
        self,
        user: str,
        action: str,
        records: list[tuple[str, str]] | None = None,
        outcome: str = "",
    ) -> None:
        """One line per (record_id, station_id), or one line without a record."""
        now = time.time()
        rows = records if records else [("", "")]
        with self._conn.transaction():
            for record_id, station_id in rows:
                self._conn.execute(
                    "INSERT INTO audit (at, user_name, action, record_id, station_id, outcome) "
                    "VALUES (?, ?, ?, ?, ?, ?)",
                    (now, user, action, record_id or None, station_id or None, outcome),
                )

    def audit_log(self, *, before_seq: int | None = None, limit: int = 100) -> list[AuditEntry]:
        sql = "SELECT seq, at, user_name, action, record_id, station_id, outcome FROM audit"
        args: list[object] = []
        if before_seq is not None:
            sql += " WHERE seq < ?"
            args.append(before_seq)
        rows = self._conn.execute(sql + " ORDER BY seq DESC LIMIT ?", [*args, limit])
        return [
            AuditEntry(int(s), float(a), str(u), str(ac), str(r or ""), str(st or ""), str(o))
            for s, a, u, ac, r, st, o in rows
        ]

    # -- settings ------------------------------------------------------------------------
    def setting(self, key: str, default: str = "") -> str:
        row = self._conn.execute("SELECT value FROM settings WHERE key = ?", (key,)).fetchone()
        return default if row is None else str(row[0])

    def set_setting(self, key: str, value: str) -> None:
        self._conn.execute(
            "INSERT INTO settings (key, value) VALUES (?, ?) "
            "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (key, value),
        )


__all__ = ["ROLES", "AccountsMixin", "AuditEntry", "Session", "User", "token_hash"]
