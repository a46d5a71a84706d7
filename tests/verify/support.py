"""Fixtures for the verify tests: reference data, test PKIs, emulated cards read for real."""

from __future__ import annotations

import os
import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from station.drivers.card_sim import EmulatorTransport
from station.icao.access import AccessKeys
from station.icao.reader import ChipReader
from station.icao.result import ChipRead
from station.qr.models import QrIdentity
from station.qr.payload import parse_payload
from station.sim import pki
from station.sim.citizens import SyntheticCitizen, generate
from station.sim.emulator import auth
from station.sim.emulator.card import EmulatedCard
from station.sim.emulator.files import CardProfile, build_profile
from station.verify.trust import TrustStore

REPO = Path(__file__).resolve().parents[2]
REFERENCE = REPO / "data" / "reference"
IN_CI = os.environ.get("CI", "").lower() == "true"
KINDS = ("rsa", "rsa-pss", "p256", "brainpoolP256r1", "brainpoolP384r1")


@pytest.fixture(scope="session")
def reference() -> Path:
    if not REFERENCE.is_dir():
        pytest.skip(f"reference data not present at {REFERENCE}")
    return REFERENCE


@pytest.fixture(scope="session")
def pkis() -> dict[str, pki.TestPki]:
    return {kind: pki.make_test_pki(kind, rsa_bits=2048) for kind in KINDS}


@pytest.fixture(scope="session")
def citizen() -> SyntheticCitizen:
    return generate(random.Random(4242), today=date(2026, 1, 10))


def qr_of(citizen: SyntheticCitizen) -> QrIdentity:
    identity = parse_payload(citizen.qr_payload()).identity
    assert identity is not None
    return identity


def store_for(*chains: pki.TestPki, crls: bool = True) -> TrustStore:
    return TrustStore.from_der(
        [c.csca_der for c in chains], [c.crl_der for c in chains] if crls else []
    )


@dataclass(frozen=True)
class LiveRead:
    read: ChipRead
    reader: ChipReader
    card: EmulatedCard


ReadCard = Callable[..., LiveRead]


@pytest.fixture(scope="session")
def read_card() -> ReadCard:
    """Build a card (optionally tampered), read it through the emulator transport."""

    def run(
        citizen: SyntheticCitizen,
        chain: pki.TestPki,
        *,
        profile_hook: Callable[[CardProfile], CardProfile] | None = None,
        qr_citizen: SyntheticCitizen | None = None,
        dg15_if_needed: bool = True,
        **profile_args: Any,
    ) -> LiveRead:
        profile = build_profile(citizen, pki=chain, pace=False, **profile_args)
        if profile_hook is not None:
            profile = profile_hook(profile)
        card = EmulatedCard(profile)
        auth.install(card)
        reader = ChipReader(EmulatorTransport(card), order="bac")
        keys = AccessKeys.from_qr(qr_of(qr_citizen or citizen))
        return LiveRead(reader.read(keys, dg15_if_needed=dg15_if_needed), reader, card)

    return run
