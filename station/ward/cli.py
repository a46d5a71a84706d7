"""`station ward ...`: the ward server's receiver, console and database tools.

    station ward serve --broker mqtts://broker:8883 --db ward.sqlite \\
        --ca ca.crt --cert ward.crt --key ward.key [--retention-days 365] \\
        [--console 0.0.0.0:8443 --tls-cert console.crt --tls-key console.key]
    station ward console --db ward.sqlite --listen 0.0.0.0:8443 --tls-cert ... --tls-key ...
    station ward user add NAME --role officer|admin --db ward.sqlite
    station ward enroll STATION_ID PUBKEY --db ward.sqlite
    station ward revoke STATION_ID --db ward.sqlite
    station ward list|show RECORD_ID|export --csv|--json|stations --db ward.sqlite

``--db`` is an SQLite file or a ``postgresql://user@host/db`` URL. ``list`` and
``export`` show each record's verification level; ``stations`` shows each station's
queue and how many of its records it holds aside because this ward refused them.

Acks are signed with the ward's key (``--ack-key``, default ``ward_ack_ed25519.key`` beside
an SQLite database, else in the working folder; made on first use); ``enroll`` prints its
public half, which the station pins as ``mqtt.ward_key``.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import TYPE_CHECKING

from station.config import bounded_number
from station.record import iso_local
from station.ward.cli_db import ack_key_arg, db_arg, fail, open_db

if TYPE_CHECKING:
    Subparsers = argparse._SubParsersAction[argparse.ArgumentParser]


def register(subparsers: Subparsers) -> None:
    from station.ward import cli_users

    ward = subparsers.add_parser("ward", help="ward server: receive, store, show and list records")
    sub = ward.add_subparsers(dest="ward_command", required=True, metavar="ACTION")
    _serve_parser(sub)
    console = sub.add_parser("console", help="the web console alone (the receiver runs elsewhere)")
    db_arg(console)
    console.add_argument(
        "--listen", default="127.0.0.1:8080", metavar="HOST:PORT",
        help="where to serve (default 127.0.0.1:8080; any other host needs HTTPS)",
    )  # fmt: skip
    _console_args(console)
    ack_key_arg(console)
    console.set_defaults(func=_console)
    cli_users.register(sub)

    enroll = sub.add_parser("enroll", help="trust a station's public key (station keygen)")
    enroll.add_argument("station_id", help="the station's station.id (its certificate CN)")
    enroll.add_argument("pubkey", help="base64 Ed25519 public key, as `station keygen` prints it")
    db_arg(enroll)
    ack_key_arg(enroll)
    enroll.set_defaults(func=_enroll)

    revoke = sub.add_parser("revoke", help="refuse a station's records from now on")
    revoke.add_argument("station_id", help="the station's station.id")
    db_arg(revoke)
    revoke.set_defaults(func=_revoke)

    lst = sub.add_parser("list", help="list received records with their level (no personal data)")
    db_arg(lst)
    lst.add_argument("--station", default=None, metavar="ID", help="only this station's records")
    lst.add_argument(
        "--limit", type=bounded_number(int, 1), default=None, metavar="N",
        help="only the N most recent records (default: all)",
    )  # fmt: skip
    lst.set_defaults(func=_list)

    show = sub.add_parser("show", help="print one record as JSON")
    show.add_argument("record_id", help="the record's record_id (as `ward list` shows it)")
    db_arg(show)
    show.set_defaults(func=_show)

    export = sub.add_parser("export", help="export all records")
    db_arg(export)
    fmt = export.add_mutually_exclusive_group(required=True)
    fmt.add_argument("--csv", action="store_true", help="CSV, UTF-8 with BOM, spreadsheet-safe")
    fmt.add_argument("--json", action="store_true", help="one JSON record per line")
    export.add_argument("--station", default=None, metavar="ID", help="only this station's records")
    export.set_defaults(func=_export)

    stations = sub.add_parser("stations", help="enrolled stations and their sync status")
    db_arg(stations)
    stations.set_defaults(func=_stations)


def _serve_parser(sub: Subparsers) -> None:
    serve = sub.add_parser("serve", help="receive records from the broker (and serve the console)")
    serve.add_argument(
        "--broker", required=True, metavar="URL", help="mqtt://HOST:PORT or mqtts://HOST:PORT (TLS)"
    )
    db_arg(serve)
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
        "--client-id", default="ward-receiver",
        help="MQTT client id; stable, and different for each receiver (default ward-receiver)",
    )  # fmt: skip
    serve.add_argument(
        "--group", default="ward", help="shared subscription group of the receivers (ward)"
    )
    serve.add_argument(
        "--retention-days", type=bounded_number(float, 0.01), default=None, metavar="DAYS",
        help="delete records older than this (default: the console's setting, else keep all)",
    )  # fmt: skip
    serve.add_argument(
        "--reconnect-max", type=bounded_number(float, 0.2, 3600), default=5.0,
        metavar="SECONDS", help="longest wait between reconnects to the broker (default 5)",
    )  # fmt: skip
    serve.add_argument(
        "--audit", default="", metavar="FILE", help="audit log file (default: next to the DB)"
    )
    serve.add_argument(
        "--console", default="", metavar="HOST:PORT",
        help="also serve the console there (HTTPS with --tls-cert/--tls-key off loopback)",
    )  # fmt: skip
    _console_args(serve)
    ack_key_arg(serve)
    serve.set_defaults(func=_serve)


def _console_args(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--tls-cert", default="", metavar="FILE", help="the console's HTTPS certificate (PEM)"
    )
    p.add_argument("--tls-key", default="", metavar="FILE", help="its private key (PEM)")
    p.add_argument(
        "--session-idle-min", type=bounded_number(int, 1, 1440), default=60, metavar="MIN",
        help="log an officer out after this many idle minutes (default 60)",
    )  # fmt: skip


def _serve(args: argparse.Namespace) -> int:
    from station.ward.serve import run_serve

    return run_serve(args)


def _console(args: argparse.Namespace) -> int:
    from station.ward.serve import run_console

    return run_console(args)


def _enroll(args: argparse.Namespace) -> int:
    from station.config import STATION_ID_RULE, valid_station_id
    from station.sync.errors import SyncError
    from station.sync.signing import parse_public_key, public_key_text, ward_key_text
    from station.ward.receiver import ack_key_file

    if not valid_station_id(args.station_id):
        return fail("enroll", f"station id {args.station_id!r}: must be {STATION_ID_RULE}", 2)
    try:
        key = parse_public_key(args.pubkey)
    except SyncError as exc:
        return fail("enroll", f"{exc} (give the key `station keygen` prints)", 2)
    key_file = ack_key_file(args.db, args.ack_key)
    made = not key_file.exists()
    try:
        ward_key = ward_key_text(key_file)
    except (SyncError, OSError) as exc:
        return fail("enroll", f"the ward's ack key: {exc}")
    if made:  # the ward server must sign with this key, or no station ever deletes a record
        print(
            f"station ward enroll: made a new ack key {key_file.resolve()}; "
            "give ward serve and ward console the same one (--ack-key)",
            file=sys.stderr,
        )
    db = open_db("enroll", args.db, create=True)
    if db is None:
        return 1
    with db:
        db.enroll(args.station_id, public_key_text(key))
        db.audit("cli", "enroll", [("", args.station_id)])
    print(f"enrolled {args.station_id}")
    print(f"on {args.station_id}, in /etc/station/station.toml, section [mqtt]:")
    print(f'ward_key = "{ward_key}"')
    return 0


def _revoke(args: argparse.Namespace) -> int:
    db = open_db("revoke", args.db)
    if db is None:
        return 1
    with db:
        done = db.revoke(args.station_id)
        db.audit("cli", "revoke", [("", args.station_id)], "revoked" if done else "not enrolled")
    if not done:
        return fail("revoke", f"{args.station_id} is not enrolled (or already revoked)")
    print(f"revoked {args.station_id}: its records are refused until it is enrolled again")
    return 0


def _list(args: argparse.Namespace) -> int:
    db = open_db("list", args.db)
    if db is None:
        return 1
    with db:
        for row in db.rows(args.station, args.limit):
            print(
                f"{row.record_id}  {row.station_id}  read {row.read_at or '-'}  "
                f"received {iso_local(row.received_at)}  method {row.method}  "
                f"{row.record.get('source')}  {row.status}  level {row.level}"
                + (f"  dossier {row.dossier}" if row.dossier else "")
            )
    return 0


def _show(args: argparse.Namespace) -> int:
    db = open_db("show", args.db)
    if db is None:
        return 1
    with db:
        rec = db.get(args.record_id)
    if rec is None:
        return fail("show", f"no record {args.record_id} in {args.db} (see `ward list`)")
    print(json.dumps(rec, ensure_ascii=False, indent=2))
    return 0


def _export(args: argparse.Namespace) -> int:
    from station.ward.export import csv_chunks, json_chunks

    db = open_db("export", args.db)
    if db is None:
        return 1
    with db:
        rows = db.rows(args.station)
        binary = getattr(sys.stdout, "buffer", None)  # UTF-8 whatever the locale says
        for chunk in csv_chunks(rows) if args.csv else json_chunks(rows):
            if binary is not None:
                binary.write(chunk.encode("utf-8"))
            else:
                sys.stdout.write(chunk)
        db.audit("cli", "export", None, "csv" if args.csv else "json")
    return 0


def _stations(args: argparse.Namespace) -> int:
    db = open_db("stations", args.db)
    if db is None:
        return 1
    with db:
        stations = db.stations()
    print(
        f"{'station':20} {'state':8} {'last seen':25} {'queue':>6} {'refused':>7} "
        f"{'records':>8}  version"
    )
    for s in stations:
        seen = iso_local(s["last_seen"]) if s["last_seen"] else "never"
        state = "revoked" if s["revoked_at"] else (s["state"] or "unknown")
        queue = "-" if s["pending"] is None else str(s["pending"])
        refused = "-" if s["refused"] is None else str(s["refused"])
        print(
            f"{s['station_id']:20} {state:8} {seen:25} {queue:>6} "
            f"{refused:>7} {s['records']:>8}  {s['version'] or '-'}"
        )
    return 0
