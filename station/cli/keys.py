"""`station keygen`: make (or show) the station's Ed25519 signing key pair.

    station keygen [--config /etc/station/station.toml] [--data-dir DIR]

Prints the line to run on the ward server: ``station ward enroll ID PUBKEY``; that
command prints the ward's ack key, which goes into ``[mqtt] ward_key`` of this station's
config (records are deleted only on acks that key signed). An existing key is never
replaced.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from station.cli import Subparsers


def register(subparsers: Subparsers) -> None:
    p = subparsers.add_parser("keygen", help="make or show the station's signing key pair")
    p.add_argument(
        "--config",
        default=None,
        help="config file (default: /etc/station/station.toml if it exists, else built-in "
        "defaults)",
    )
    p.add_argument(
        "--data-dir",
        default=None,
        metavar="DIR",
        help="where the key pair lives (station.data_dir)",
    )
    p.set_defaults(func=_keygen)


def _keygen(args: argparse.Namespace) -> int:
    from station import config
    from station.cli._common import CliError, load_config
    from station.config import SIGNING_KEY
    from station.sync.errors import SyncError
    from station.sync.signing import key_paths, load_or_create_signing_key, public_key_text

    cfg = load_config(args.config)
    if args.data_dir:
        cfg = config.replace(cfg, "station", data_dir=args.data_dir)
    key_file, pub_file = key_paths(cfg)
    existed = key_file.exists()
    try:
        key = load_or_create_signing_key(key_file, pub_file, create=not cfg.key_sealed(SIGNING_KEY))
    except (SyncError, OSError) as exc:
        where = "--data-dir" if args.data_dir else "station.data_dir"
        raise CliError(f"{exc} (check {where}: a folder the station user may write)") from None
    print(f"{'existing' if existed else 'new'} key: {key_file}")
    print("run on the ward server, then put the ward_key line it prints into [mqtt]:")
    print(f"station ward enroll {cfg.station.id} {public_key_text(key.public_key())}")
    return 0
