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
import sqlite3
import sys
from typing import TYPE_CHECKING, Any

from station.config import bounded_number
from station.record import iso_local

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
    serve.add_argument(
        "--broker", required=True, metavar="URL", help="mqtt://HOST:PORT or mqtts://HOST:PORT (TLS)"
    )
    _db_arg(serve)
    serve.add_argument("--ca", default="", metavar="FILE", help="CA certificate to pin (PEM)")
    serve.add_argument("--cert", default="", metavar="FILE", help="client certificate (PEM)")
    serve.add_argument("--key", default="", metavar="FILE", help="client private key (PEM)")
    serve.add_argument("--username", default="", help="user name (default: none)")
    serve.add_argument(
        "--password-file", default="", metavar="FILE", help="file holding the password"
    )
    serve.add_argument(
        "--prefix", default="cccd", help="topic prefix, the stations' mqtt.topic_prefix (cccd)"
    )
    serve.add_argument(
        "--client-id",
        default="ward-receiver",
        help="MQTT client id; stable, and different for each receiver (default ward-receiver)",
    )
    serve.add_argument(
        "--group", default="ward", help="shared subscription group of the receivers (ward)"
    )
    serve.add_argument(
        "--retention-days",
        type=bounded_number(float, 0.01),
        default=None,
        metavar="DAYS",
        help="delete records older than this (default: keep every record)",
    )
    serve.add_argument(
        "--reconnect-max",
        type=bounded_number(float, 0.2, 3600),
        default=5.0,
        metavar="SECONDS",
        help="longest wait between reconnects to the broker (default 5)",
    )
    serve.add_argument(
        "--audit", default="", metavar="FILE", help="audit log file (default: next to the DB)"
    )
    serve.set_defaults(func=_serve)

    enroll = sub.add_parser("enroll", help="trust a station's public key (station keygen)")
    enroll.add_argument("station_id", help="the station's station.id (its certificate CN)")
    enroll.add_argument("pubkey", help="base64 Ed25519 public key, as `station keygen` prints it")
    _db_arg(enroll)
    enroll.set_defaults(func=_enroll)

    lst = sub.add_parser("list", help="list received records")
    _db_arg(lst)
    lst.add_argument("--station", default=None, metavar="ID", help="only this station's records")
    lst.add_argument(
        "--limit",
        type=bounded_number(int, 1),
        default=None,
        metavar="N",
        help="only the N most recent records (default: all)",
    )
    lst.set_defaults(func=_list)

    show = sub.add_parser("show", help="print one record as JSON")
    show.add_argument("record_id", help="the record's record_id (as `ward list` shows it)")
    _db_arg(show)
    show.set_defaults(func=_show)

    export = sub.add_parser("export", help="export all records")
    _db_arg(export)
    fmt = export.add_mutually_exclusive_group(required=True)
    fmt.add_argument("--csv", action="store_true", help="CSV with a header row")
    fmt.add_argument("--json", action="store_true", help="one JSON record per line")
    export.add_argument("--station", default=None, metavar="ID", help="only this station's records")
    export.set_defaults(func=_export)

    stations = sub.add_parser("stations", help="enrolled stations and their sync status")
    _db_arg(stations)
    stations.set_defaults(func=_stations)


def _db_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--db", default="ward.sqlite", metavar="FILE", help="ward database (default ward.sqlite)"
    )


def _fail(command: str, message: str, status: int = 1) -> int:
    print(f"station ward {command}: {message}", file=sys.stderr)
    return status


def _serve(args: argparse.Namespace) -> int:
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
            reconnect_max_s=args.reconnect_max,
        )  # fmt: skip
        if settings.tls:
            settings.ssl_context()  # fail now, with a clear message, on bad files
    except OSError as exc:
        return _fail("serve", f"--password-file {args.password_file}: {exc.strerror}", 2)
    except SyncError as exc:
        return _fail("serve", str(exc), 2)
    db = _open_db("serve", args.db, create=True)  # fail now, not in the receiver's loop
    if db is None:
        return 1
    db.close()
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
        return _fail("serve", f"cannot use the database {args.db}: {exc}")
    return 0


def _enroll(args: argparse.Namespace) -> int:
    from station.config import STATION_ID_RULE, valid_station_id
    from station.sync.errors import SyncError
    from station.sync.signing import parse_public_key, public_key_text

    if not valid_station_id(args.station_id):
        return _fail("enroll", f"station id {args.station_id!r}: must be {STATION_ID_RULE}", 2)
    try:
        key = parse_public_key(args.pubkey)
    except SyncError as exc:
        return _fail("enroll", f"{exc} (give the key `station keygen` prints)", 2)
    db = _open_db("enroll", args.db, create=True)
    if db is None:
        return 1
    try:
        db.enroll(args.station_id, public_key_text(key))
    except sqlite3.Error as exc:
        return _fail("enroll", f"cannot write to the database {args.db}: {exc}")
    finally:
        db.close()
    print(f"enrolled {args.station_id}")
    return 0


def _open_db(command: str, path: str, *, create: bool = False) -> Any:
    """The ward database, or None after saying why it cannot be opened."""
    from pathlib import Path

    from station.ward.db import WardDB

    if not create and not Path(path).exists():
        _fail(command, f"no ward database at {path} (give its path with --db)")
        return None
    if Path(path).is_dir():
        _fail(command, f"--db {path} is a folder, not a database file")
        return None
    try:
        return WardDB(path)
    except sqlite3.DatabaseError as exc:
        _fail(command, f"{path} is not a ward database (SQLite: {exc}); check --db")
    except (OSError, sqlite3.Error) as exc:
        _fail(command, f"cannot open the database {path}: {exc} (check --db and its folder)")
    return None


def _list(args: argparse.Namespace) -> int:
    db = _open_db("list", args.db)
    if db is None:
        return 1
    for rec, received in db.iter_records(args.station, args.limit):
        stamp = iso_local(received)
        print(
            f"{rec.get('record_id')}  {rec.get('station_id')}  read {rec.get('read_at')}  "
            f"received {stamp}  {rec.get('source')}  {rec.get('status')}"
        )
    return 0


def _show(args: argparse.Namespace) -> int:
    db = _open_db("show", args.db)
    if db is None:
        return 1
    rec = db.get(args.record_id)
    if rec is None:
        return _fail("show", f"no record {args.record_id} in {args.db} (see `ward list`)")
    print(json.dumps(rec, ensure_ascii=False, indent=2))
    return 0


def _export(args: argparse.Namespace) -> int:
    db = _open_db("export", args.db)
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
        row["received_at"] = iso_local(received)
        writer.writerow(row)
    return 0


def _stations(args: argparse.Namespace) -> int:
    db = _open_db("stations", args.db)
    if db is None:
        return 1
    print(
        f"{'station':20} {'state':8} {'last seen':25} {'queue':>6} {'refused':>7} "
        f"{'records':>8}  version"
    )
    for s in db.stations():
        seen = iso_local(s["last_seen"]) if s["last_seen"] else "never"
        queue = "-" if s["pending"] is None else str(s["pending"])
        refused = "-" if s["refused"] is None else str(s["refused"])
        print(
            f"{s['station_id']:20} {s['state'] or 'unknown':8} {seen:25} {queue:>6} "
            f"{refused:>7} {s['records']:>8}  {s['version'] or '-'}"
        )
    return 0
