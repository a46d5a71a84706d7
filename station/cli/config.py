"""`station config`: print the documented defaults or check a config file."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from station.cli import Subparsers


def register(sub: Subparsers) -> None:
    p = sub.add_parser("config", help="print the default config or check a config file")
    group = p.add_mutually_exclusive_group(required=True)
    group.add_argument(
        "--defaults", action="store_true", help="print every option with its default and meaning"
    )
    group.add_argument("--check", metavar="FILE", help="validate FILE; exit 1 naming the problem")
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    from station import config

    if args.defaults:
        sys.stdout.write(config.render_defaults())
        return 0
    try:
        cfg = config.load(args.check)
    except config.ConfigError as exc:
        print(f"config error: {exc}", file=sys.stderr)
        return 1
    print(f"{args.check}: OK (station {cfg.station.id}, hardware {cfg.station.hardware})")
    return 0
