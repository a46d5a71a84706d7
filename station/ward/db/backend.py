"""One connection to the ward database, SQLite or PostgreSQL, behind the same few calls.

``connect(target)``: a ``postgresql://`` (or ``postgres://``) URL opens PostgreSQL through
psycopg 3, anything else is the path of an SQLite file. SQL is written once with ``?``
placeholders (translated for psycopg) and standard syntax both understand (``ON
CONFLICT``, ``RETURNING``); the few statements that differ are chosen by ``dialect``.
Every error of either driver comes out as :class:`DatabaseError`, so callers (the
receiver above all) treat a failing database the same way whatever it is.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sqlite3
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, Literal, Protocol

log = logging.getLogger(__name__)

Dialect = Literal["sqlite", "postgres"]
PG_SCHEMES = ("postgresql://", "postgres://")


class DatabaseError(Exception):
    """The ward's own database failed (locked, disk full, connection lost, bad schema)."""


class Rows(Protocol):
    """What both drivers' cursors give back."""

    @property
    def rowcount(self) -> int: ...

    def fetchone(self) -> Any: ...

    def fetchall(self) -> list[Any]: ...

    def __iter__(self) -> Iterator[Any]: ...


def is_postgres(target: str | Path) -> bool:
    return str(target).startswith(PG_SCHEMES)


def describe(target: str | Path) -> str:
    """The target for messages and logs: a PostgreSQL URL without its password."""
    text = str(target)
    if not is_postgres(text) or "@" not in text:
        return text
    scheme, rest = text.split("://", 1)
    creds, host = rest.rsplit("@", 1)
    return f"{scheme}://{creds.split(':', 1)[0]}@{host}"


class Conn:
    """A connection; use it from one thread at a time."""

    dialect: Dialect
    target: str

    def execute(self, sql: str, args: Sequence[Any] = ()) -> Rows:
        raise NotImplementedError

    def returning_many(self, sql: str, rows: Sequence[Sequence[Any]]) -> list[Any]:
        """Run ``sql`` (``... RETURNING x``) once per row; the first result row of each
        (None where it returned nothing). PostgreSQL sends them all in one pipeline."""
        return [self.execute(sql, row).fetchone() for row in rows]

    def transaction(self) -> contextlib.AbstractContextManager[None]:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError

    @property
    def broken(self) -> bool:
        """True once the connection cannot be used again (reopen it)."""
        return False


class SqliteConn(Conn):
    """WAL, ``synchronous=FULL`` (a commit is durable before the receiver acks)."""

    dialect: Dialect = "sqlite"

    def __init__(self, path: str | Path) -> None:
        self.target = str(path)
        path = Path(path)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            _create_private(path)
            self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.execute("PRAGMA busy_timeout=5000")
            self._db.execute("PRAGMA foreign_keys=ON")
        except (OSError, sqlite3.Error) as exc:
            raise DatabaseError(f"cannot open the ward database {path}: {exc}") from exc
        self._depth = 0

    def execute(self, sql: str, args: Sequence[Any] = ()) -> Rows:
        try:
            return self._db.execute(sql, tuple(args))
        except sqlite3.Error as exc:
            raise DatabaseError(f"{type(exc).__name__}: {exc}") from exc

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        if self._depth:  # already inside one: part of it
            self._depth += 1
            try:
                yield
            finally:
                self._depth -= 1
            return
        self.execute("BEGIN IMMEDIATE")
        self._depth = 1
        try:
            yield
        except BaseException:
            self._depth = 0
            with contextlib.suppress(sqlite3.Error):
                self._db.execute("ROLLBACK")
            raise
        self._depth = 0
        self.execute("COMMIT")

    def close(self) -> None:
        self._db.close()


class PostgresConn(Conn):
    """psycopg 3 in autocommit mode; :meth:`transaction` opens a real transaction."""

    dialect: Dialect = "postgres"

    def __init__(self, url: str) -> None:
        import psycopg

        self.target = url
        self._error = psycopg.Error
        try:
            self._db = psycopg.connect(url, autocommit=True, connect_timeout=10)
        except psycopg.Error as exc:
            raise DatabaseError(f"cannot connect to {describe(url)}: {exc}") from exc
        self._sql: dict[str, str] = {}

    def _translate(self, sql: str) -> str:
        out = self._sql.get(sql)
        if out is None:
            if "%" in sql:
                raise ValueError("SQL for both databases must not contain '%' (use a parameter)")
            out = self._sql[sql] = sql.replace("?", "%s")
        return out

    def execute(self, sql: str, args: Sequence[Any] = ()) -> Rows:
        try:
            return self._db.execute(self._translate(sql), tuple(args))
        except self._error as exc:
            raise DatabaseError(f"{type(exc).__name__}: {exc}".strip()) from exc

    def returning_many(self, sql: str, rows: Sequence[Sequence[Any]]) -> list[Any]:
        if not rows:
            return []
        try:
            with self._db.cursor() as cur:
                cur.executemany(self._translate(sql), [tuple(r) for r in rows], returning=True)
                out = []
                while True:
                    out.append(cur.fetchone())
                    if not cur.nextset():
                        return out
        except self._error as exc:
            raise DatabaseError(f"{type(exc).__name__}: {exc}".strip()) from exc

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        try:
            with self._db.transaction():
                yield
        except self._error as exc:
            raise DatabaseError(f"{type(exc).__name__}: {exc}".strip()) from exc

    def close(self) -> None:
        self._db.close()

    @property
    def broken(self) -> bool:
        return bool(self._db.broken or self._db.closed)


def _create_private(path: Path) -> None:
    """Make a new database file 0600 (records are personal data); leave an existing one."""
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))


def connect(target: str | Path) -> Conn:
    """An SQLite file path or a PostgreSQL URL."""
    return PostgresConn(str(target)) if is_postgres(target) else SqliteConn(target)


__all__ = ["Conn", "DatabaseError", "Dialect", "Rows", "connect", "describe", "is_postgres"]
