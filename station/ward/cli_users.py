"""`station ward user ...`: console accounts (officers and admins).

    station ward user add NAME --role officer|admin --db ward.sqlite   # asks for the password
    station ward user add NAME --role officer --password-file FILE --db ...
    station ward user list|passwd NAME|disable NAME|enable NAME|remove NAME --db ...

The password is read from ``--password-file``, else typed twice at a terminal, else one
line of standard input; it needs at least ten characters. Changing, disabling or removing
an account ends its sessions at once.
"""

from __future__ import annotations

import argparse
import getpass
import sys
import time
from typing import TYPE_CHECKING

from station.ward.cli_db import db_arg, fail, open_db
from station.ward.roles import ROLES

if TYPE_CHECKING:
    from station.ward.db import WardDB

    Subparsers = argparse._SubParsersAction[argparse.ArgumentParser]

NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.")


def register(sub: Subparsers) -> None:
    user = sub.add_parser("user", help="console accounts: add, list, passwd, disable, remove")
    actions = user.add_subparsers(dest="user_command", required=True, metavar="ACTION")
    add = actions.add_parser("add", help="create an account")
    add.add_argument("name", help="login name (letters, digits, - _ .)")
    add.add_argument("--role", required=True, choices=ROLES, help="officer or admin")
    add.add_argument("--password-file", default="", help="file holding the password")
    add.set_defaults(func=_add)
    lst = actions.add_parser("list", help="accounts, roles, last login")
    lst.set_defaults(func=_list)
    for name, what in (
        ("passwd", "set a new password (ends the account's sessions)"),
        ("disable", "lock the account (ends its sessions)"),
        ("enable", "unlock the account"),
        ("remove", "delete the account"),
    ):
        p = actions.add_parser(name, help=what)
        p.add_argument("name", help="login name")
        if name == "passwd":
            p.add_argument("--password-file", default="", help="file holding the password")
        p.set_defaults(func=_change, change=name)
    for p in (add, lst, *[actions.choices[n] for n in ("passwd", "disable", "enable", "remove")]):
        db_arg(p)


def _password(path: str) -> str:
    if path:
        with open(path, encoding="utf-8") as f:
            return f.readline().rstrip("\r\n")
    if sys.stdin.isatty():
        first = getpass.getpass("password: ")
        if getpass.getpass("again: ") != first:
            raise ValueError("the two passwords differ")
        return first
    return sys.stdin.readline().rstrip("\r\n")


def _hash(command: str, path: str) -> str | None:
    """The new password's hash, or None after saying what is wrong (exit 2)."""
    from station.ward.passwords import PasswordError, hash_password

    where = f"--password-file {path}: " if path else ""
    try:
        return hash_password(_password(path))
    except PasswordError as exc:
        fail(command, f"{where}{exc}", 2)
    except UnicodeDecodeError:
        fail(command, f"{where}not UTF-8 text", 2)
    except ValueError as exc:
        fail(command, str(exc), 2)
    except OSError as exc:
        fail(command, f"{where}{exc.strerror}", 2)
    return None


def _open(args: argparse.Namespace) -> WardDB | None:
    return open_db(f"user {args.user_command}", args.db, create=args.user_command == "add")


def _add(args: argparse.Namespace) -> int:
    if not args.name or len(args.name) > 64 or not set(args.name) <= NAME_CHARS:
        return fail("user add", f"name {args.name!r}: must be 1-64 letters, digits, - _ .", 2)
    hashed = _hash("user add", args.password_file)
    if hashed is None:
        return 2
    db = _open(args)
    if db is None:
        return 1
    with db:
        if not db.add_user(args.name, args.role, hashed):
            return fail("user add", f"{args.name} exists (use `ward user passwd` to change it)")
        db.audit("cli", "user-add", None, f"{args.name} ({args.role})")
    print(f"added {args.role} {args.name}")
    return 0


def _list(args: argparse.Namespace) -> int:
    db = _open(args)
    if db is None:
        return 1
    with db:
        print(f"{'name':20} {'role':8} {'state':9} last login")
        for u in db.users():
            seen = (
                time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(u.last_login))
                if u.last_login
                else "never"
            )
            print(f"{u.name:20} {u.role:8} {'disabled' if u.disabled else 'active':9} {seen}")
    return 0


def _change(args: argparse.Namespace) -> int:
    hashed = _hash("user passwd", args.password_file) if args.change == "passwd" else ""
    if hashed is None:
        return 2
    db = _open(args)
    if db is None:
        return 1
    with db:
        done = {
            "passwd": lambda: db.set_password(args.name, hashed),
            "disable": lambda: db.set_disabled(args.name, True),
            "enable": lambda: db.set_disabled(args.name, False),
            "remove": lambda: db.remove_user(args.name),
        }[args.change]()
        if not done:
            return fail(f"user {args.change}", f"no account {args.name} in {args.db}")
        db.audit("cli", f"user-{args.change}", None, args.name)
    print(f"{args.change}: {args.name}")
    return 0


__all__ = ["register"]
