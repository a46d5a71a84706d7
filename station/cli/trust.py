"""`station trust import FILE... | list | remove FINGERPRINT`: the trust anchors for
Passive Authentication (certificates, ICAO master lists, CRLs).

The store folder is ``--trust-dir``, else ``trust.dir`` of ``--config`` (or of
/etc/station/station.toml when it exists), else ``<data_dir>/trust``.
Exit status: 0 done, 1 something refused or skipped, 2 usage/config error.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from station.cli import Subparsers


def add_store_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--trust-dir", default=None, help="trust store folder")
    parser.add_argument("--config", default=None, help="config file (for trust.dir)")


def resolve_trust_dir(args: argparse.Namespace) -> Path:
    from station import config

    if args.trust_dir:
        return Path(args.trust_dir)
    if args.config:
        return config.load(args.config).trust_dir
    if config.DEFAULT_PATH.exists():
        return config.load(config.DEFAULT_PATH).trust_dir
    return config.Config().trust_dir


def register(sub: Subparsers) -> None:
    trust = sub.add_parser("trust", help="manage trust anchors (CSCA certificates, master lists)")
    actions = trust.add_subparsers(dest="trust_command", required=True, metavar="ACTION")
    imp = actions.add_parser("import", help="install certificates, master lists or CRLs")
    imp.add_argument("files", nargs="+", metavar="FILE")
    imp.add_argument(
        "--allow-unverified-list",
        action="store_true",
        help="install a master list even when its own signature does not verify",
    )
    imp.add_argument("--json", action="store_true")
    add_store_options(imp)
    imp.set_defaults(func=_import)
    lst = actions.add_parser("list", help="show installed anchors and CRLs")
    lst.add_argument("--json", action="store_true")
    add_store_options(lst)
    lst.set_defaults(func=_list)
    rm = actions.add_parser("remove", help="remove an anchor or CRL by fingerprint (prefix)")
    rm.add_argument("fingerprint")
    add_store_options(rm)
    rm.set_defaults(func=_remove)


def _import(args: argparse.Namespace) -> int:
    from station.config import ConfigError
    from station.verify.store import import_file
    from station.verify.trust import TrustStoreError

    try:
        directory = resolve_trust_dir(args)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    status = 0
    for name in args.files:
        try:
            report = import_file(directory, name, allow_unverified_list=args.allow_unverified_list)
        except TrustStoreError as exc:
            print(f"error: {exc}", file=sys.stderr)
            status = 1
            continue
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


def _list(args: argparse.Namespace) -> int:
    from station.config import ConfigError
    from station.verify.store import listing
    from station.verify.trust import TrustStore

    try:
        store = TrustStore.load(resolve_trust_dir(args))
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    rows = listing(store)
    if args.json:
        print(json.dumps(rows, ensure_ascii=False, indent=1))
    else:
        for row in rows:
            since, until = str(row["not_before"])[:10], str(row["not_after"] or "-")[:10]
            fp = str(row["sha256"])[:16]
            print(f"{fp}  {row['kind']!s:<11} {since} .. {until}  {row['subject']}")
        print(f"{len(store.anchors)} certificate(s), {len(store.crls)} CRL(s)")
    for problem in store.problems:
        print(f"unusable file: {problem}", file=sys.stderr)
    return 0


def _remove(args: argparse.Namespace) -> int:
    from station.config import ConfigError
    from station.verify.store import remove
    from station.verify.trust import TrustStoreError

    try:
        removed = remove(resolve_trust_dir(args), args.fingerprint)
    except (ConfigError, TrustStoreError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"removed {removed}")
    return 0
