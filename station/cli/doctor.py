"""`station doctor [--config FILE] [--json]`: check the box, explain failures, suggest fixes."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from station.cli import Subparsers


def register(sub: Subparsers) -> None:
    p = sub.add_parser(
        "doctor",
        help="check camera, reader, OLED, GPIO, config, trust anchors, broker, clock, disk",
        description="Run every self-check; exit status 1 when any check FAILs, 2 when the "
        "config file is missing.",
    )
    p.add_argument(
        "--config", default=None, help="config file (default: /etc/station/station.toml)"
    )
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from station import config, doctor

    path = Path(args.config) if args.config else config.DEFAULT_PATH
    results = doctor.run_checks(path)
    render = doctor.render_json if args.json else doctor.render_text
    sys.stdout.write(render(results))
    if not path.is_file():
        return 2  # like every command: a config that is not there is a usage error
    return 1 if doctor.failed(results) else 0
