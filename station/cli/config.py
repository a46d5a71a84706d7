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
    group.add_argument(
        "--check",
        metavar="FILE",
        help="validate FILE: exit 1 listing every problem (section.option), 2 when FILE "
        "cannot be read",
    )
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    from station import config
    from station.cli._common import USAGE, CliError

    if args.defaults:
        sys.stdout.write(config.render_defaults())
        return 0
    try:
        cfg = config.load(args.check)
    except config.ConfigMissing as exc:
        raise CliError(str(exc), USAGE) from None
    except config.ConfigError as exc:
        problems = "\n  ".join(exc.problems)
        raise CliError(f"{len(exc.problems)} problem(s):\n  {problems}") from None
    print(f"{args.check}: OK (station {cfg.station.id}, hardware {cfg.station.hardware})")
    return 0
