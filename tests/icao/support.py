"""Fixtures for the chip tests: synthetic cards and ONE suite over both transports.

``slot`` is parametrised over "sim" (in-process emulator) and "pcsc" (pyscard -> pcscd
-> vpcd -> emulator in a bridge process, started once for this package and stopped by
PID; package scope because only one pcscd can run and other areas start their own).
The pcsc variant is skipped only when its parts are missing, and never when CI=true.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from station.qr.models import QrIdentity
from station.sim.citizens import SyntheticCitizen, generate_many
from station.sim.emulator import EmulatedCard, EmulatorTransport, Misbehaviour, build_profile
from station.sim.emulator.files import CardProfile

IN_CI = os.environ.get("CI", "").lower() == "true"
TODAY = date(2026, 11, 26)


def reference_dir() -> Path:
    # in the repository: <repo>/tests/icao/support.py -> <repo>/data/reference
    return Path(__file__).resolve().parents[2] / "data" / "reference"


def identity_of(citizen: SyntheticCitizen) -> QrIdentity:
    return QrIdentity(
        citizen.id_number, citizen.old_id_number, citizen.full_name, citizen.date_of_birth,
        citizen.sex, citizen.place_of_residence, citizen.issue_date,
    )  # fmt: skip


@pytest.fixture(scope="session")
def test_pki() -> Any:
    from station.sim.pki import make_test_pki

    return make_test_pki("p256")


@pytest.fixture(scope="session")
def citizens() -> list[SyntheticCitizen]:
    found = generate_many(20261126, 40, today=TODAY)
    with_expiry = [c for c in found if c.expiry_date is not None]
    without = [c for c in found if c.expiry_date is None]
    return with_expiry[:4] + without[:1]


@pytest.fixture(scope="session")
def profiles(citizens: list[SyntheticCitizen], test_pki: Any) -> list[CardProfile]:
    return [build_profile(c, pki=test_pki) for c in citizens]


class Slot:
    """A reader with a place to put emulated cards."""

    kind = ""

    def insert(self, card: EmulatedCard) -> Any:
        raise NotImplementedError

    def remove(self) -> None:
        raise NotImplementedError


class SimSlot(Slot):
    kind = "sim"

    def __init__(self) -> None:
        self.transport = EmulatorTransport()

    def insert(self, card: EmulatedCard) -> EmulatorTransport:
        self.transport.insert(card)
        return self.transport

    def remove(self) -> None:
        self.transport.remove()


@dataclass
class PcscSlot(Slot):
    rig: Any
    transport: Any = None
    kind = "pcsc"

    def insert(self, card: EmulatedCard) -> Any:
        self.rig.insert(card)
        if self.transport is None:
            self.transport = self.rig.transport()
        assert self.transport.wait_for_card(10)
        return self.transport

    def remove(self) -> None:
        self.rig.remove()


@pytest.fixture(params=["sim", "pcsc"])
def slot(request: pytest.FixtureRequest) -> Iterator[Slot]:
    if request.param == "sim":
        yield SimSlot()
        return
    pcsc = PcscSlot(request.getfixturevalue("pcsc_rig"))
    yield pcsc
    if pcsc.transport is not None:
        pcsc.transport.close()


def card(profile: CardProfile, **switches: Any) -> EmulatedCard:
    return EmulatedCard(profile, Misbehaviour(**switches))


@pytest.fixture
def make_card() -> Any:
    return card


@pytest.fixture
def identity() -> Any:
    return identity_of
