"""`station trust import FILE... | list | remove FINGERPRINT`: the trust anchors for
Passive Authentication (certificates, ICAO master lists, CRLs).

The store folder is ``--trust-dir``, else ``trust.dir`` of ``--config`` (or of
/etc/station/station.toml when it exists), else ``<data_dir>/trust``. Every change is
written to the store's own ``audit.log`` and, when a config file is in use, to the
station's audit log. On the Pi the store is root's: run these with sudo. ``list`` with a
config also shows what the ward's signed bundle installed (``<data_dir>/trust-bundle``),
each row with its origin (``local`` or ``ward bundle vN``).
Exit status: 0 done, 1 something refused or skipped, 2 usage/config error.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from station.audit import AuditLog
    from station.cli import Subparsers
    from station.verify.trust import TrustStore


def add_store_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--trust-dir", default=None, metavar="DIR", help="trust store folder (overrides --config)"
    )
    parser.add_argument(
        "--config",
        default=None,
        help="config file whose trust.dir is the store (default: /etc/station/station.toml "
        "if it exists)",
    )


def resolve_trust_dir(args: argparse.Namespace) -> Path:
    """The store folder; CliError when the config cannot be used or the path is a file."""
    from station.cli._common import USAGE, CliError, load_config

    path = Path(args.trust_dir) if args.trust_dir else load_config(args.config).trust_dir
    if path.exists() and not path.is_dir():
        option = "--trust-dir" if args.trust_dir else "trust.dir"
        raise CliError(f"{option} {path} is a file, not a trust store folder", USAGE)
    return path


def station_audit(args: argparse.Namespace) -> tuple[AuditLog, ...]:
    """The station's audit log when a config file is in use (trust changes go there too)."""
    from station import config
    from station.audit import AuditLog

    path = args.config or (config.DEFAULT_PATH if config.DEFAULT_PATH.exists() else None)
    if path is None:
        return ()
    try:
        return (AuditLog(config.load(path).audit_path),)
    except (config.ConfigError, OSError):
        return ()


def register(sub: Subparsers) -> None:
    trust = sub.add_parser("trust", help="manage trust anchors (CSCA certificates, master lists)")
    actions = trust.add_subparsers(dest="trust_command", required=True, metavar="ACTION")
    imp = actions.add_parser("import", help="install certificates, master lists or CRLs")
    imp.add_argument(
        "files",
        nargs="+",
        metavar="FILE",
        help="PEM/DER certificate, ICAO master list (.ml, .mls) or CRL",
    )
    imp.add_argument(
        "--allow-unverified-list",
        action="store_true",
        help="install a master list even when its own signature does not verify",
    )
    imp.add_argument("--json", action="store_true", help="one JSON report per file")
    add_store_options(imp)
    imp.set_defaults(func=_import)
    lst = actions.add_parser("list", help="show installed anchors and CRLs")
    lst.add_argument("--json", action="store_true", help="machine-readable output")
    add_store_options(lst)
    lst.set_defaults(func=_list)
    rm = actions.add_parser("remove", help="remove an anchor or CRL by fingerprint (prefix)")
    rm.add_argument(
        "fingerprint", metavar="FPR", help="SHA-256 fingerprint or its first 8+ hex digits"
    )
    add_store_options(rm)
    rm.set_defaults(func=_remove)


def _import(args: argparse.Namespace) -> int:
    from station.cli._common import CliError
    from station.verify.store import import_file
    from station.verify.trust import TrustStoreError

    directory = resolve_trust_dir(args)
    status = 0
    audit = station_audit(args)
    for name in args.files:
        try:
            report = import_file(
                directory, name, allow_unverified_list=args.allow_unverified_list, audit=audit
            )
        except TrustStoreError as exc:
            text = str(exc)
            where = "" if text.startswith((name, Path(name).name)) or f" {name}:" in text else name
            print(
                f"station trust import: {where + ': ' if where else ''}{text} (give a PEM/DER "
                "certificate, an ICAO master list or a CRL)",
                file=sys.stderr,
            )
            status = 1
            continue
        except OSError as exc:
            raise CliError(
                f"cannot write to the trust store {directory}: {exc.strerror} (on the station it "
                "is root's: sudo /opt/station/.venv/bin/station trust import --config "
                "/etc/station/station.toml FILE)"
            ) from None
        if args.json:
            print(json.dumps(report.to_json(), ensure_ascii=False))
        else:
            _print_report(report)
        status = status or (1 if report.problems else 0)
    return status


def _print_report(report: object) -> None:
    from station.verify.store import ImportReport

    assert isinstance(report, ImportReport)
    ml = report.master_list
    print(f"{report.source}:")
    if ml is not None:
        verdict = "valid" if ml.signature_valid else f"INVALID ({ml.signature_problem})"
        print(f"  master list signature: {verdict}")
        print(f"  signed by: {ml.signer_subject} (serial {ml.signer_serial})")
        print(f"  {ml.signer_chain}")
    print(
        f"  added {len(report.added_certs)} certificate(s), {len(report.added_crls)} CRL(s);"
        f" {report.already_present} already present"
    )
    for problem in report.problems:
        print(f"  skipped: {problem}")
    for warning in report.warnings:
        print(f"  warning: {warning}")


def _list(args: argparse.Namespace) -> int:
    from station.verify.store import listing

    directory = resolve_trust_dir(args)
    store = _store_and_bundle(args, directory)
    rows = listing(store)
    if args.json:
        print(json.dumps(rows, ensure_ascii=False, indent=1))
    else:
        for row in rows:
            since, until = str(row["not_before"])[:10], str(row["not_after"] or "-")[:10]
            fp = str(row["sha256"])[:16]
            print(
                f"{fp}  {row['kind']!s:<11} {since} .. {until}  {row['origin']!s:<15} "
                f"{row['subject']}"
            )
        where = "" if directory.is_dir() else f" (no trust store at {directory} yet)"
        pinned = f", {len(store.pinned)} pinned DS" if store.pinned else ""
        print(f"{len(store.anchors)} certificate(s), {len(store.crls)} CRL(s){pinned}{where}")
    for problem in store.problems:
        print(f"unusable file: {problem}", file=sys.stderr)
    return 0


def _store_and_bundle(args: argparse.Namespace, directory: Path) -> TrustStore:
    """The folder's store, plus the ward's bundle when a station config is in use."""
    from station.cli._common import load_config
    from station.runtime.trust import station_trust
    from station.verify.trust import TrustStore

    if args.trust_dir and args.config is None:
        return TrustStore.load(directory)
    return station_trust(load_config(args.config), directory)


def _remove(args: argparse.Namespace) -> int:
    from station.cli._common import CliError
    from station.verify.store import remove
    from station.verify.trust import TrustStoreError

    directory = resolve_trust_dir(args)
    try:
        removed = remove(directory, args.fingerprint, audit=station_audit(args))
    except TrustStoreError as exc:
        raise CliError(f"{exc} (`station trust list` shows the fingerprints)") from None
    except OSError as exc:
        raise CliError(f"cannot change the trust store {directory}: {exc.strerror}") from None
    print(f"removed {removed}")
    return 0
