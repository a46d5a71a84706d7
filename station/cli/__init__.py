"""The `station` command line.

Every module in this package that defines ``register(subparsers)`` contributes
subcommands, and so does the ward server's ``station.ward.cli``; a handler is stored
as ``func`` on its parser and returns the exit status (0 success, 1 failure, 2 usage
error), or raises ``station.cli._common.CliError`` for an expected failure, which is
printed as one line naming the thing and what to do. Handlers import heavy libraries
lazily so that ``station --help`` stays fast.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import pkgutil
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, cast

from station import __version__

if TYPE_CHECKING:
    Subparsers = argparse._SubParsersAction[argparse.ArgumentParser]

Handler = Callable[[argparse.Namespace], int]
OTHER_COMMANDS = ("station.ward.cli",)  # command modules outside this package


LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")


def _log_level(text: str) -> str:
    level = text.strip().upper()
    if level not in LOG_LEVELS:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a log level: use one of {', '.join(LOG_LEVELS)}"
        )
    return level


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="station", description="CCCD reader station (QR + ICAO 9303 chip)."
    )
    parser.add_argument(
        "--log-level",
        default="WARNING",
        type=_log_level,
        metavar="LEVEL",
        help="logging level: DEBUG, INFO, WARNING or ERROR, any case (default WARNING)",
    )
    parser.add_argument(
        "--version", action="version", version=f"%(prog)s {__version__}", help="print the version"
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    names = [f"{__name__}.{m.name}" for m in pkgutil.iter_modules(__path__)]
    for name in sorted(n for n in names if not n.rsplit(".", 1)[1].startswith("_")):
        module = importlib.import_module(name)
        register = getattr(module, "register", None)
        if register is not None:
            register(sub)
    for name in OTHER_COMMANDS:
        register = getattr(importlib.import_module(name), "register", None)
        if register is not None:
            register(sub)
    return parser


def _command_name(args: argparse.Namespace) -> str:
    """``ward list``, ``trust import``, ...: the command as the user typed it."""
    words = [args.command]
    words += [str(v) for k, v in vars(args).items() if k.endswith("_command") and v]
    return " ".join(words)


def _logging(level: str) -> None:
    """Every command logs through the redacting handler (``station.runtime.logs``: ID
    numbers masked, control characters escaped, journald priorities under systemd), the
    ward's commands too. A caller that set up logging already (a test, an embedding
    program) keeps its handlers, as with ``logging.basicConfig``."""
    from station.runtime.logs import configure_logging

    if not logging.getLogger().handlers:
        configure_logging(level)


def main(argv: Sequence[str] | None = None) -> int:
    from station.cli._common import CliError

    parser = build_parser()
    args = parser.parse_args(argv)
    _logging(args.log_level)
    handler = cast(Handler, args.func)
    name = _command_name(args)
    try:
        return handler(args)
    except CliError as exc:
        print(f"station {name}: {exc}", file=sys.stderr)
        return exc.status
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 1
    except Exception as exc:  # a bug: one line for the user, the traceback in the log
        logging.getLogger("station.cli").debug("command %s failed", name, exc_info=True)
        print(
            f"station {name}: unexpected error ({type(exc).__name__}: {exc}); this is a bug, "
            "please report it with the output of --log-level DEBUG",
            file=sys.stderr,
        )
        return 1
