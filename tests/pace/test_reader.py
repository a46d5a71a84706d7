"""The station's chip reader with PACE: QR -> CAN -> PACE, PACE-MRZ, refusal -> BAC fallback,
wrong CAN, a card without EF.CardAccess; through every available card transport."""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager

import pytest

from station.drivers.card import CardTransport
from station.icao import pace
from station.icao.access import AccessKeys, KeyCandidate
from station.icao.bac import BacKey
from station.icao.cardaccess import PaceInfo, pace_protocol
from station.icao.errors import AccessError
from station.icao.reader import ChipReader
from station.qr.payload import parse_payload
from station.sim import citizens
from station.sim.emulator import pace as card_pace
from station.sim.emulator.card import EmulatedCard
from station.sim.emulator.files import FID_CARD_ACCESS, CardProfile, build_profile
from station.sim.emulator.switches import NORMAL
from station.sim.emulator.transport import EmulatorTransport
from station.sim.pcsc import PcscRig

FILES = ("DG1", "DG13")
Connect = Callable[[EmulatedCard], AbstractContextManager[CardTransport]]


@contextmanager
def in_process(card: EmulatedCard) -> Iterator[CardTransport]:
    yield EmulatorTransport(card)


def through_pcscd(rig: PcscRig) -> Connect:
    @contextmanager
    def connect(card: EmulatedCard) -> Iterator[CardTransport]:
        rig.insert(card)
        transport = rig.transport()
        try:
            assert transport.wait_for_card(10.0)
            yield transport
        finally:
            transport.close()
            rig.remove()

    return connect


TRANSPORTS = ("in-process", "pcscd+vpcd")


@pytest.fixture(scope="module")
def citizen() -> citizens.SyntheticCitizen:
    return citizens.generate(random.Random(88))


@pytest.fixture(scope="module")
def profile(citizen: citizens.SyntheticCitizen) -> CardProfile:
    info = PaceInfo(pace_protocol("ECDH", "AES-128"), 2, 13)
    return card_pace.with_pace(build_profile(citizen, pace=False), [info])


@pytest.fixture(params=TRANSPORTS)
def connect(request: pytest.FixtureRequest) -> Connect:
    if request.param == "in-process":
        return in_process
    return through_pcscd(request.getfixturevalue("pcsc_rig"))


def _qr_keys(citizen: citizens.SyntheticCitizen) -> AccessKeys:
    identity = parse_payload(citizen.qr_payload()).identity
    assert identity is not None
    return AccessKeys.from_qr(identity)


def _card(profile: CardProfile, **switches: bool) -> EmulatedCard:
    return EmulatedCard(profile, NORMAL, card_pace.handlers(card_pace.PaceSwitches(**switches)))


def test_pace_can_from_the_qr(
    connect: Connect, profile: CardProfile, citizen: citizens.SyntheticCitizen
) -> None:
    keys = _qr_keys(citizen)
    assert keys.can == citizen.id_number[-6:]
    with connect(_card(profile)) as transport:
        result = ChipReader(transport).read(keys, files=FILES)
    assert (result.access, result.key_source) == ("PACE-CAN", keys.can_source)
    assert result.files["DG1"] == profile.dg(1) and result.files["DG13"] == profile.dg(13)


def test_pace_mrz(connect: Connect, profile: CardProfile) -> None:
    key = BacKey(profile.document_number, profile.date_of_birth, profile.date_of_expiry)
    keys = AccessKeys((KeyCandidate(key, "mrz-key"),))
    with connect(_card(profile)) as transport:
        result = ChipReader(transport, order="pace").read(keys, files=FILES)
    assert (result.access, result.key_source) == ("PACE-MRZ", "mrz-key")
    assert result.files["DG1"] == profile.dg(1)


def test_refused_pace_falls_back_to_bac(
    connect: Connect, profile: CardProfile, citizen: citizens.SyntheticCitizen
) -> None:
    with connect(_card(profile, refuse=True)) as transport:
        result = ChipReader(transport).read(_qr_keys(citizen), files=FILES)
    assert result.access == "BAC" and result.key_source.startswith("qr-")
    assert result.files["DG1"] == profile.dg(1)


def test_refused_pace_is_an_error_when_pace_is_required(
    connect: Connect, profile: CardProfile, citizen: citizens.SyntheticCitizen
) -> None:
    with connect(_card(profile, refuse=True)) as transport, pytest.raises(pace.PaceError) as caught:
        ChipReader(transport, order="pace").read(_qr_keys(citizen), files=FILES)
    assert "MSE:Set AT: 6982" in str(caught.value) and caught.value.reason == "refused"


def test_wrong_can(
    connect: Connect, profile: CardProfile, citizen: citizens.SyntheticCitizen
) -> None:
    with (
        connect(_card(profile, wrong_can=True)) as transport,
        pytest.raises(pace.PaceError) as caught,
    ):
        ChipReader(transport).read(_qr_keys(citizen), files=FILES)
    assert caught.value.reason == "wrong-password"
    assert "GENERAL AUTHENTICATE step 4: 6300" in str(caught.value)


def test_bac_only_card_reads_with_bac(
    connect: Connect, profile: CardProfile, citizen: citizens.SyntheticCitizen
) -> None:
    with connect(_card(card_pace.without_pace(profile))) as transport:
        result = ChipReader(transport).read(_qr_keys(citizen), files=FILES)
    assert result.access == "BAC" and "EF.CardAccess" not in result.files


def test_pace_only_card(
    connect: Connect, profile: CardProfile, citizen: citizens.SyntheticCitizen
) -> None:
    with connect(_card(profile, pace_only=True)) as transport:
        result = ChipReader(transport).read(_qr_keys(citizen), files=FILES)
    assert result.access == "PACE-CAN"
    with connect(_card(profile, pace_only=True)) as transport, pytest.raises(AccessError) as caught:
        ChipReader(transport, order="bac").read(_qr_keys(citizen), files=FILES)
    assert "EXTERNAL AUTHENTICATE: 6982" in str(caught.value)


def test_broken_card_access_falls_back_to_bac(
    connect: Connect, profile: CardProfile, citizen: citizens.SyntheticCitizen
) -> None:
    files = dict(profile.files)
    files[FID_CARD_ACCESS] = bytes.fromhex("31030201FF")  # a SET of an INTEGER, not SecurityInfo
    broken = dataclasses.replace(profile, files=files)
    with connect(_card(broken)) as transport:
        result = ChipReader(transport).read(_qr_keys(citizen), files=FILES)
    assert result.access == "BAC" and result.files["DG1"] == profile.dg(1)


@pytest.mark.parametrize("ca_kind", ["p256", "dh1024"])
def test_chip_authentication_after_pace(citizen: citizens.SyntheticCitizen, ca_kind: str) -> None:
    """The PACE handlers leave Chip Authentication's MSE / GA to it: CA runs over the AES
    session PACE opened and replaces it."""
    from station.sim.emulator import auth
    from station.verify.chipauth import chip_authenticate
    from station.verify.verdict import Auth

    info = PaceInfo(pace_protocol("ECDH", "AES-256"), 2, 16)
    chip = card_pace.with_pace(build_profile(citizen, pace=False, ca_kind=ca_kind), [info])
    card = _card(chip)
    auth.install(card)
    reader = ChipReader(EmulatorTransport(card))
    result = reader.read(_qr_keys(citizen), files=("DG1", "DG14"))
    assert result.access == "PACE-CAN"
    pace_session = reader.channel.sm
    outcome = chip_authenticate(reader.channel, result.files["DG14"])
    assert outcome.status == Auth.OK, outcome.detail
    assert reader.channel.sm is not pace_session
