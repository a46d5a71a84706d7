"""What every `station` command shares: how an expected failure reaches the user.

A handler raises ``CliError`` for anything the user can fix (a missing file, a bad option
value, a broker that does not answer): ``station.cli.main`` prints it as one line,
``station <command>: <message>``, naming the thing and what to do, and exits with its
status (``USAGE`` 2 for a wrong command line or config, ``FAILED`` 1 otherwise). No
traceback reaches the user.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

from station.config import bounded_number as bounded  # command-line numbers, config's rule

if TYPE_CHECKING:
    from station.config import Config

__all__ = ["FAILED", "USAGE", "CliError", "bounded", "duration", "iso_date", "load_config"]

FAILED = 1
USAGE = 2


class CliError(Exception):
    """An expected failure of a command: the message for the user and the exit status."""

    def __init__(self, message: str, status: int = FAILED) -> None:
        super().__init__(message)
        self.status = status


def load_config(path: str | Path | None, *, required: bool = False) -> Config:
    """The config at ``path``; without a path, /etc/station/station.toml when it exists
    (or must exist: ``required``), else the built-in defaults. A config that cannot be
    used is a usage error (exit 2) in every command."""
    from station import config

    if path is None:
        if not required and not config.DEFAULT_PATH.exists():
            return config.Config()
        path = config.DEFAULT_PATH
    try:
        return config.load(path)
    except config.ConfigError as exc:
        raise CliError(f"config error: {exc}", USAGE) from None


def iso_date(option: str) -> Callable[[str], date]:
    """An argparse ``type`` for YYYY-MM-DD dates naming ``option`` in its error."""

    def parse(text: str) -> date:
        try:
            return date.fromisoformat(text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"{option} must be a date YYYY-MM-DD, got {text!r}"
            ) from None

    return parse


def duration(seconds: float) -> str:
    """A duration in the unit that fits: ``45 s``, ``12 min``, ``3.5 h``, ``4.2 days``."""
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 90 * 60:
        return f"{seconds / 60:.0f} min"
    if seconds < 48 * 3600:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} days"
