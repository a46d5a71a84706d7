"""`station keys seal|unseal|status`: the station's secret keys sealed with the board's
OTP private key (Raspberry Pi 4/5), so that the SD card alone gives nothing away.

    sudo systemctl stop station
    sudo /opt/station/.venv/bin/station keys seal --config /etc/station/station.toml
    sudo systemctl start station      # the unit's ExecStartPre=+ runs `keys unseal`

``seal`` (root, the station stopped) moves each key into ``<data_dir>/sealed`` (see
``station.sync.sealing``); ``unseal`` (root) writes them to ``station.unsealed_dir``
(RAM) and does nothing when no key is sealed; ``status`` says which keys are sealed.
What it protects and what not: docs/security.md.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from station.cli import Subparsers


def register(subparsers: Subparsers) -> None:
    keys = subparsers.add_parser(
        "keys", help="seal the station's keys with the board's OTP key (Pi 4/5), or unseal"
    )
    actions = keys.add_subparsers(dest="keys_command", required=True, metavar="ACTION")
    for name, text, func in (
        ("seal", "seal the keys and wipe their plain copies (root, station stopped)", _seal),
        ("unseal", "unseal the keys into station.unsealed_dir (root; the unit runs it)", _unseal),
        ("status", "which keys are sealed, and where they are read", _status),
    ):
        p = actions.add_parser(name, help=text)
        p.add_argument(
            "--config",
            default=None,
            metavar="FILE",
            help="config file (default: /etc/station/station.toml if it exists)",
        )
        p.set_defaults(func=func)


def _seal(args: argparse.Namespace) -> int:
    from station.cli._common import CliError, load_config
    from station.sync.outbox import outbox_in_use
    from station.sync.sealing import SealError, otp_secret, seal_keys

    cfg = load_config(args.config)
    if outbox_in_use(cfg.store_path):
        raise CliError("the station is running: sudo systemctl stop station, then seal")
    try:
        sealed = seal_keys(cfg, otp_secret(cfg.station.otp_command))
    except (SealError, OSError) as exc:
        raise CliError(f"{exc} (run as root, with the station stopped)") from None
    for name in sealed:
        print(f"sealed {name}: {cfg.sealed_dir / name}.sealed (plain copy wiped)")
    if not sealed:
        print(f"nothing to seal: the keys in {cfg.sealed_dir} are sealed already")
    return 0


def _unseal(args: argparse.Namespace) -> int:
    from station.cli._common import CliError, load_config
    from station.sync.sealing import SealError, otp_secret, unseal_keys

    cfg = load_config(args.config)
    if not cfg.sealed_dir.is_dir() or not any(cfg.sealed_dir.glob("*.sealed")):
        print("no sealed keys: the keys are read from the data folder")
        return 0
    try:
        names = unseal_keys(cfg, otp_secret(cfg.station.otp_command))
    except (SealError, OSError) as exc:
        raise CliError(str(exc)) from None
    print(f"unsealed {', '.join(names)} into {cfg.station.unsealed_dir}")
    return 0


def _status(args: argparse.Namespace) -> int:
    from station.cli._common import load_config
    from station.sync.sealing import key_files

    cfg = load_config(args.config)
    for spec in key_files(cfg):
        state = "sealed" if cfg.key_sealed(spec.name) else "plain on the card"
        print(f"{spec.name:<22} {state:<18} read from {cfg.key_file(spec.name)}")
    return 0
