"""`station outbox status|requeue`: what waits on this station, and records the ward refused.

    station outbox status [--config FILE] [--json]
    station outbox requeue [--config FILE] [--reason WORD]

``status`` only reads (safe while the station runs) and prints counts, refusal
reasons and the station ids the refused records name; no personal data.
``requeue`` makes refused records pending again (they are sent on the next
start); it needs the station stopped, since two processes must not rewrite the
same outbox files.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from station.cli import Subparsers
    from station.config import Config


def register(subparsers: Subparsers) -> None:
    outbox = subparsers.add_parser(
        "outbox", help="records waiting for the ward, and those it refused"
    )
    sub = outbox.add_subparsers(dest="outbox_command", required=True, metavar="ACTION")
    status = sub.add_parser("status", help="pending and refused counts (read-only)")
    _config_arg(status)
    status.add_argument("--json", action="store_true", help="machine-readable output")
    status.set_defaults(func=_status)
    requeue = sub.add_parser("requeue", help="send refused records again (stop the station first)")
    _config_arg(requeue)
    requeue.add_argument(
        "--reason",
        default=None,
        metavar="WORD",
        help="only records refused for this reason (as `outbox status` lists them)",
    )
    requeue.set_defaults(func=_requeue)


def _config_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--config", default=None, help="config file (default: /etc/station/station.toml)"
    )


def _load(args: argparse.Namespace) -> Config:
    from station.cli._common import load_config

    return load_config(args.config, required=True)


def _status(args: argparse.Namespace) -> int:
    from station.cli._common import CliError, duration
    from station.config import OUTBOX_KEY
    from station.sync.errors import StoreError
    from station.sync.outbox import OutboxSummary, read_summary

    cfg = _load(args)
    store = cfg.store_path
    try:
        found = (
            read_summary(store, cfg.key_file(OUTBOX_KEY).read_bytes())
            if store.is_dir()
            else OutboxSummary()
        )
    except PermissionError:
        raise CliError(
            f"cannot read {store}: permission denied (run as user station: "
            "sudo -u station station outbox status)"
        ) from None
    except (OSError, StoreError) as exc:
        raise CliError(f"cannot read the outbox {store}: {exc}") from None
    age = None if found.oldest_stored_at is None else time.time() - found.oldest_stored_at
    if args.json:
        body = {
            "station_id": cfg.station.id,
            "pending": found.pending,
            "oldest_pending_age_s": None if age is None else round(age, 1),
            "refused": found.refused_total,
            "refused_reasons": found.refused,
            "refused_station_ids": sorted(found.refused_stations),
        }
        sys.stdout.write(json.dumps(body, indent=2) + "\n")
        return 0
    oldest = "" if age is None else f" (oldest waiting {duration(age)})"
    print(f"station {cfg.station.id}: {found.pending} records waiting for the ward{oldest}")
    print(f"refused by the ward: {found.refused_total} (kept on this station, not sent)")
    for reason, count in sorted(found.refused.items()):
        print(f"  {count:6}  {reason}")
    if found.refused_total:
        names = ", ".join(sorted(found.refused_stations))
        print(f"the refused records name station: {names}")
        print(
            "fix the cause (station id / certificate, or enrol this station's key on the ward "
            "server), then: sudo systemctl stop station; sudo -u station station outbox "
            "requeue; sudo systemctl start station"
        )
    return 0


def _requeue(args: argparse.Namespace) -> int:
    from station.cli._common import CliError
    from station.sync.errors import StoreError, SyncError
    from station.sync.outbox import Outbox, clean_reason

    cfg = _load(args)
    reason = None if args.reason is None else clean_reason(args.reason)
    store = cfg.store_path
    if store.is_dir() and store.stat().st_uid != os.geteuid():
        # files rewritten by another user (root) would be unreadable for the station
        raise CliError(f"run as the owner of {store} (sudo -u station station outbox requeue)")
    try:
        with Outbox.from_config(cfg, exclusive=True) as outbox:
            moved = outbox.requeue(reason)
            left = outbox.refused_count()
    except (OSError, StoreError, SyncError) as exc:
        raise CliError(f"{exc} (stop the station first: sudo systemctl stop station)") from None
    print(f"{moved} records will be sent again on the next start; {left} still refused")
    return 0
