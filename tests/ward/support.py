"""Fixtures for the ward tests: a PostgreSQL server per session, a database per test on
either backend, records as stations send them, a console served on loopback.

``pg_server`` is started on first use and stopped by PID at the end of the session. It is
skipped only when PostgreSQL's server binaries are missing, and never in CI (CI=true).
"""

from __future__ import annotations

import itertools
import json
import os
import re
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pytest

from station.record import canonical_bytes
from station.sim.citizens import SyntheticCitizen, generate_many
from station.sync.signing import Opened
from tests.sync.support import STATION, RawClient, make_record

IN_CI = os.environ.get("CI", "").lower() == "true"
_names = itertools.count(1)
OFFICER = ("canbo", "officer", "mat-khau-can-bo")
ADMIN = ("quantri", "admin", "mat-khau-quan-tri")


@pytest.fixture(scope="session")
def pg_server() -> Iterator[Any]:
    from station.sim.postgres import PostgresError, TempPostgres, missing

    why = missing()
    if why and not IN_CI:
        pytest.skip(why)
    server = TempPostgres()
    try:
        server.start()
    except PostgresError as exc:
        if IN_CI:
            pytest.fail(f"PostgreSQL failed in CI: {exc}")
        pytest.skip(f"PostgreSQL unavailable: {exc}")
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def pg_url(pg_server: Any) -> Iterator[str]:
    """A fresh, empty database on the session's server."""
    name = f"t{next(_names)}"
    url = str(pg_server.create_database(name))
    try:
        yield url
    finally:
        pg_server.drop_database(name)


@pytest.fixture(params=["sqlite", "postgres"])
def db_target(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The ward database on each backend (the same tests run on both)."""
    if request.param == "sqlite":
        return str(tmp_path / "ward.sqlite")
    return str(request.getfixturevalue("pg_url"))


def chip_record(
    citizen: SyntheticCitizen, station_id: str = STATION, level: str = "verified"
) -> dict[str, Any]:
    """A record as a station sends it after reading and verifying the chip."""
    rec = make_record(citizen, station_id)
    checks = {
        "verified": ("ok", "ok", "ok", True),
        "signed-untrusted": ("untrusted-signer", "ok", "ok", True),
        "failed": ("ok", "ok", "ok", False),
    }[level]
    rec["citizen"].update(
        nationality=citizen.nationality,
        place_of_origin=citizen.place_of_origin,
        identifying_marks=citizen.identifying_marks,
        father_name=citizen.father_name,
        mother_name=citizen.mother_name,
        spouse_name=citizen.spouse_name,
        expiry_date=citizen.expiry_date.isoformat() if citizen.expiry_date else None,
    )
    rec.update(
        source="qr+chip",
        chip={"files": ["EF.COM", "DG1", "DG2", "DG13", "DG14", "DG15", "EF.SOD"],
              "access": "PACE-CAN", "key_source": "qr-can", "read_ms": 812},
        verification={
            "level": level, "passive": checks[0], "active": checks[1], "chip_auth": checks[2],
            "qr_chip_match": checks[3], "mismatches": [] if checks[3] else ["full_name"],
            "signer": {"subject": "CN=DS Demo p256,O=Synthetic Test Authority,C=VN",
                       "issuer": "CN=CSCA Demo p256,O=Synthetic Test Authority,C=VN",
                       "serial": "01", "sha256": "00" * 32},
        },
    )  # fmt: skip
    return rec


def named(citizen: SyntheticCitizen, full_name: str) -> SyntheticCitizen:
    return replace(citizen, full_name=full_name)


def a_man(seed: int = 5) -> SyntheticCitizen:
    """A synthetic married man with a residence (his ID's sex digit says Nam)."""
    return next(
        c
        for c in generate_many(seed, 100)
        if c.sex == "Nam" and c.place_of_residence and c.spouse_name
    )


def opened(record: dict[str, Any]) -> Opened:
    """A record as the receiver hands it to the database (signature checked)."""
    return Opened(record, "c2ln", canonical_bytes(record))


def fresh_id(record: dict[str, Any]) -> dict[str, Any]:
    return {**record, "record_id": str(uuid.uuid4())}


@dataclass
class Clock:
    """The console's clock, moved by the test (session expiry)."""

    now: float = field(default_factory=time.time)

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@dataclass
class Served:
    """A console on loopback (real uvicorn) over an SQLite or PostgreSQL database."""

    server: Any
    db: str
    clock: Clock
    clients: list[Any] = field(default_factory=list)

    @property
    def url(self) -> str:
        return str(self.server.url)

    def client(self) -> Any:
        import httpx

        client = httpx.Client(base_url=self.url, follow_redirects=False, timeout=20, verify=False)
        self.clients.append(client)
        return client

    def stop(self) -> None:
        for client in self.clients:
            client.close()
        self.server.stop()

    def login(self, who: tuple[str, str, str] = OFFICER, client: Any = None) -> Any:
        return log_in(client or self.client(), who)

    def csrf(self, client: Any, path: str = "/counter") -> str:
        found = re.search(r'name="csrf-token" content="([^"]+)"', client.get(path).text)
        assert found
        return found[1]


def log_in(client: Any, who: tuple[str, str, str] = OFFICER) -> Any:
    """``client`` (httpx) logged in as ``who`` through the login form."""
    page = client.get("/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert token, page.text
    done = client.post(
        "/login", data={"username": who[0], "password": who[2], "csrf_token": token[1]}
    )
    assert done.status_code == 303, done.text
    return client


def serve_console(db: str, clock: Clock | None = None, **config: Any) -> Served:
    from station.ward.console.server import serve_in_thread

    clock = clock or Clock()
    server = serve_in_thread(db, users=(OFFICER, ADMIN), clock=clock, **config)
    return Served(server, db, clock)


@pytest.fixture
def console(tmp_path: Path) -> Iterator[Served]:
    served = serve_console(str(tmp_path / "ward.sqlite"), session_idle_s=600.0)
    try:
        yield served
    finally:
        served.stop()


__all__ = [
    "ADMIN",
    "OFFICER",
    "Clock",
    "Served",
    "a_man",
    "chip_record",
    "fresh_id",
    "log_in",
    "named",
    "opened",
    "serve_console",
]


def bundle_messages(
    payload: bytes, key: Any, *, version: int | None = None, prefix: str = "cccd"
) -> list[tuple[str, bytes]]:
    """A bundle document as the ward publishes it: its parts, then its signed head."""
    from station.verify.bundle import split_bundle

    head, parts = split_bundle(payload, key, version=version)
    v = version if version is not None else json.loads(payload)["version"]
    base = f"{prefix}/trust/bundle"
    return [*((f"{base}/{v}/{n}", part) for n, part in enumerate(parts)), (base, head)]


def publish_retained(settings: Any, messages: list[tuple[str, bytes]]) -> None:
    """Someone holding ``settings``' broker account publishes ``messages`` retained
    (each PUBACK waited for)."""
    client = RawClient(settings)
    try:
        for topic, payload in messages:
            assert not client.publish(topic, payload, retain=True).is_failure, topic
    finally:
        client.close()
