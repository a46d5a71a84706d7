"""`station demo`: run the whole station on simulated hardware (see station.sim.demo)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from station.cli import Subparsers


def register(sub: Subparsers) -> None:
    p = sub.add_parser(
        "demo",
        help="run the station on simulated hardware with a real MQTT broker",
        description="Present synthetic cards to the real station code on simulated devices.",
    )
    p.add_argument("--cards", type=int, default=None, help="present N cards, then exit")
    p.add_argument("--seed", type=int, default=2024, help="seed of the synthetic cards")
    p.add_argument("--out", type=Path, default=Path("demo-out"), help="output folder")
    p.add_argument(
        "--no-terminal", action="store_true", help="do not draw the OLED in the terminal"
    )
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    from station.sim.demo import main

    if args.cards is not None and args.cards < 1:
        print("--cards must be at least 1", file=sys.stderr)
        return 2
    return main(args.cards, seed=args.seed, out_dir=args.out, terminal=not args.no_terminal)
