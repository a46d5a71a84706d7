"""`station ward ...`: the ward server's receiver and its database tools.

    station ward serve --broker mqtts://broker:8883 --db ward.sqlite \\
        --ca ca.crt --cert ward.crt --key ward.key [--retention-days 365]
    station ward enroll STATION_ID PUBKEY --db ward.sqlite
    station ward list|show RECORD_ID|export --csv|--json|stations --db ward.sqlite

``stations`` shows each station's queue and how many of its records it holds
aside because this ward refused them (from its heartbeat).
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import json
import signal
import sys
import time
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    Subparsers = argparse._SubParsersAction[argparse.ArgumentParser]

CSV_FIELDS = (
    "record_id", "station_id", "read_at", "received_at", "status", "source",
    "id_number", "full_name", "date_of_birth", "sex", "place_of_residence", "issue_date",
)  # fmt: skip


def register(subparsers: Subparsers) -> None:
    ward = subparsers.add_parser("ward", help="ward server: receive, store and list records")
    sub = ward.add_subparsers(dest="ward_command", required=True, metavar="ACTION")

    serve = sub.add_parser("serve", help="receive records from the broker into SQLite")
    serve.add_argument("--broker", required=True, help="mqtt://HOST:PORT or mqtts://HOST:PORT")
    _db_arg(serve)
    serve.add_argument("--ca", default="", help="CA certificate to pin")
    serve.add_argument("--cert", default="", help="client certificate (PEM)")
    serve.add_argument("--key", default="", help="client private key (PEM)")
    serve.add_argument("--username", default="", help="user name")
    serve.add_argument("--password-file", default="", help="file holding the password")
    serve.add_argument("--prefix", default="cccd", help="topic prefix (mqtt.topic_prefix)")
    serve.add_argument("--client-id", default="ward-receiver", help="MQTT client id (stable)")
    serve.add_argument("--group", default="ward", help="shared subscription group")
    serve.add_argument("--retention-days", type=float, default=None, help="delete older records")
    serve.add_argument("--audit", default="", help="audit log file ('' = next to the DB)")
    serve.set_defaults(func=_serve)

    enroll = sub.add_parser("enroll", help="trust a station's public key (station keygen)")
    enroll.add_argument("station_id")
    enroll.add_argument("pubkey", help="base64 Ed25519 public key")
    _db_arg(enroll)
    enroll.set_defaults(func=_enroll)

    lst = sub.add_parser("list", help="list received records")
    _db_arg(lst)
    lst.add_argument("--station", default=None)
    lst.add_argument("--limit", type=int, default=None)
    lst.set_defaults(func=_list)

    show = sub.add_parser("show", help="print one record as JSON")
    show.add_argument("record_id")
    _db_arg(show)
    show.set_defaults(func=_show)

    export = sub.add_parser("export", help="export all records")
    _db_arg(export)
    fmt = export.add_mutually_exclusive_group(required=True)
    fmt.add_argument("--csv", action="store_true")
    fmt.add_argument("--json", action="store_true", help="one JSON record per line")
    export.add_argument("--station", default=None)
    export.set_defaults(func=_export)

    stations = sub.add_parser("stations", help="enrolled stations and their sync status")
    _db_arg(stations)
    stations.set_defaults(func=_stations)


def _db_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--db", default="ward.sqlite", help="ward database (default ward.sqlite)")


def _serve(args: argparse.Namespace) -> int:
    import sqlite3
    from pathlib import Path

    from station.audit import AuditLog
    from station.sync.errors import SyncError
    from station.sync.link import LinkSettings
    from station.ward.receiver import WardReceiver

    try:
        password = Path(args.password_file).read_text().strip() if args.password_file else ""
        settings = LinkSettings.from_url(
            args.broker, client_id=args.client_id, ca_file=args.ca, cert_file=args.cert,
            key_file=args.key, username=args.username, password=password,
        )  # fmt: skip
        if settings.tls:
            settings.ssl_context()  # fail now, with a clear message, on bad files
    except (OSError, SyncError) as exc:
        print(f"ward serve: {exc}", file=sys.stderr)
        return 2
    audit_path = Path(args.audit) if args.audit else Path(args.db).with_suffix(".audit.log")
    receiver = WardReceiver(
        settings, args.db, prefix=args.prefix, group=args.group,
        audit=AuditLog(audit_path), retention_days=args.retention_days,
    )  # fmt: skip
    signal.signal(signal.SIGTERM, lambda *_: receiver.stop(0))
    try:
        with contextlib.suppress(KeyboardInterrupt):
            receiver.run()
    except (OSError, sqlite3.Error) as exc:
        print(f"ward serve: cannot use database {args.db}: {exc}", file=sys.stderr)
        return 1
    return 0


def _enroll(args: argparse.Namespace) -> int:
    from station.sync.errors import SyncError
    from station.sync.signing import parse_public_key, public_key_text
    from station.ward.db import WardDB

    if not args.station_id or any(c in args.station_id for c in "/+#"):
        print("ward enroll: station id must not contain / + #", file=sys.stderr)
        return 2
    try:
        key = parse_public_key(args.pubkey)
    except SyncError as exc:
        print(f"ward enroll: {exc}", file=sys.stderr)
        return 2
    db = WardDB(args.db)
    db.enroll(args.station_id, public_key_text(key))
    db.close()
    print(f"enrolled {args.station_id}")
    return 0


def _open_db(path: str) -> Any:
    from pathlib import Path

    from station.ward.db import WardDB

    if not Path(path).exists():
        print(f"no ward database at {path}", file=sys.stderr)
        return None
    return WardDB(path)


def _list(args: argparse.Namespace) -> int:
    db = _open_db(args.db)
    if db is None:
        return 1
    for rec, received in db.iter_records(args.station, args.limit):
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(received))
        print(
            f"{rec.get('record_id')}  {rec.get('station_id')}  read {rec.get('read_at')}  "
            f"received {stamp}  {rec.get('source')}  {rec.get('status')}"
        )
    return 0


def _show(args: argparse.Namespace) -> int:
    db = _open_db(args.db)
    if db is None:
        return 1
    rec = db.get(args.record_id)
    if rec is None:
        print(f"no record {args.record_id}", file=sys.stderr)
        return 1
    print(json.dumps(rec, ensure_ascii=False, indent=2))
    return 0


def _export(args: argparse.Namespace) -> int:
    db = _open_db(args.db)
    if db is None:
        return 1
    if args.json:
        for rec, _ in db.iter_records(args.station):
            sys.stdout.write(json.dumps(rec, ensure_ascii=False) + "\n")
        return 0
    writer = csv.DictWriter(sys.stdout, fieldnames=CSV_FIELDS, extrasaction="ignore")
    writer.writeheader()
    for rec, received in db.iter_records(args.station):
        citizen = rec.get("citizen") or {}
        row = {**{k: v for k, v in citizen.items() if k in CSV_FIELDS}, **rec}
        row["received_at"] = time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(received))
        writer.writerow(row)
    return 0


def _stations(args: argparse.Namespace) -> int:
    db = _open_db(args.db)
    if db is None:
        return 1
    print(
        f"{'station':20} {'state':8} {'last seen':20} {'queue':>6} {'refused':>7} "
        f"{'records':>8}  version"
    )
    for s in db.stations():
        seen = (
            time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(s["last_seen"]))
            if s["last_seen"]
            else "never"
        )
        queue = "-" if s["pending"] is None else str(s["pending"])
        refused = "-" if s["refused"] is None else str(s["refused"])
        print(
            f"{s['station_id']:20} {s['state'] or 'unknown':8} {seen:20} {queue:>6} "
            f"{refused:>7} {s['records']:>8}  {s['version'] or '-'}"
        )
    return 0
