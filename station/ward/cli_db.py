"""What every `station ward` command shares: the ``--db`` option, opening the database,
and the one way a command fails (``station ward <command>: message``, exit 1 or 2)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from station.ward.db import WardDB


def db_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--db", default="ward.sqlite", metavar="FILE|URL",
        help="ward database: an SQLite file or a postgresql:// URL (default ward.sqlite)",
    )  # fmt: skip


def ack_key_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--ack-key", default="", metavar="FILE",
        help="the ward's ack-signing key, made if missing (default: ward_ack_ed25519.key "
        "beside an SQLite database, else in the working folder)",
    )  # fmt: skip


def fail(command: str, message: str, status: int = 1) -> int:
    print(f"station ward {command}: {message}", file=sys.stderr)
    return status


def open_db(command: str, target: str, *, create: bool = False) -> WardDB | None:
    """The ward database, or None after saying why it cannot be opened (a missing SQLite
    file is an error unless ``create``)."""
    from station.ward.db import DatabaseError, WardDB, describe, is_postgres

    if not is_postgres(target):
        if not create and not Path(target).exists():
            fail(command, f"no ward database at {target} (give its path with --db)")
            return None
        if Path(target).is_dir():
            fail(command, f"--db {target} is a folder, not a database file")
            return None
    try:
        return WardDB(target)
    except DatabaseError as exc:
        hint = "" if is_postgres(target) else " (is it a ward database? check --db)"
        fail(command, f"cannot use the database {describe(target)}: {exc}{hint}")
    return None


__all__ = ["ack_key_arg", "db_arg", "fail", "open_db"]
