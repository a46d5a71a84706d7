"""`station demo`: run the whole station on simulated hardware (see station.sim.demo)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from station.cli._common import bounded

if TYPE_CHECKING:
    from station.cli import Subparsers


def register(sub: Subparsers) -> None:
    p = sub.add_parser(
        "demo",
        help="run the station on simulated hardware with a real MQTT broker",
        description="Present synthetic cards to the real station code on simulated devices. "
        "Ctrl-C stops it and prints the summary.",
    )
    p.add_argument(
        "--cards",
        type=bounded(int, 1),
        default=None,
        metavar="N",
        help="present N cards, then exit (default: every kind in turn until Ctrl-C)",
    )
    p.add_argument(
        "--seed", type=int, default=2024, help="seed of the synthetic cards (default 2024)"
    )
    p.add_argument(
        "--out",
        type=Path,
        default=Path("demo-out"),
        metavar="DIR",
        help="output folder: screens as PNGs, the station's data, the ward database "
        "(default ./demo-out)",
    )
    p.add_argument(
        "--no-terminal", action="store_true", help="do not draw the OLED in the terminal"
    )
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    from station.cli._common import CliError
    from station.sim.demo import main

    out: Path = args.out
    if out.exists() and not out.is_dir():
        raise CliError(f"--out {out} is a file; give a folder (it is made if missing)")
    try:
        out.mkdir(parents=True, exist_ok=True)
        probe = out / ".station-demo-probe"
        probe.touch()
        probe.unlink()
    except OSError as exc:
        raise CliError(
            f"--out {out}: cannot use it as the output folder ({exc.strerror}); "
            "give a folder you may write, e.g. --out /tmp/demo"
        ) from None
    return main(args.cards, seed=args.seed, out_dir=out, terminal=not args.no_terminal)
