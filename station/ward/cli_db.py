"""What every `station ward` command shares: the ``--db`` option and opening the database."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from station.ward.db import WardDB


def db_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--db", default="ward.sqlite", help="SQLite file or postgresql:// URL (ward.sqlite)"
    )


def open_db(target: str, *, create: bool = False) -> WardDB | None:
    """The database, or None after printing why not (a missing SQLite file is an error
    unless ``create``)."""
    from station.ward.db import DatabaseError, WardDB, describe, is_postgres

    if not create and not is_postgres(target) and not Path(target).exists():
        print(f"no ward database at {target}", file=sys.stderr)
        return None
    try:
        return WardDB(target)
    except DatabaseError as exc:
        print(f"ward: cannot use the database {describe(target)}: {exc}", file=sys.stderr)
        return None


__all__ = ["db_arg", "open_db"]
