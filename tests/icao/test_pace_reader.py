"""The station's chip reader with PACE: QR -> CAN -> PACE, PACE-MRZ, refusal -> BAC fallback,
a card whose CAN is not the QR-derived one (BAC fallback, once), a card without EF.CardAccess;
through every available card transport."""

from __future__ import annotations

import dataclasses
import logging
import random
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager

import pytest

from station.drivers.card_sim import EmulatorTransport
from station.icao import pace
from station.icao.access import AccessKeys, KeyCandidate, PaceFallback
from station.icao.bac import BacKey
from station.icao.errors import AccessError
from station.icao.reader import ChipReader
from station.icao.securityinfos import PaceInfo, pace_protocol
from station.ports import CardTransport
from station.qr.payload import parse_payload
from station.sim import citizens
from station.sim.emulator import pace as card_pace
from station.sim.emulator.card import EmulatedCard
from station.sim.emulator.files import FID_CARD_ACCESS, CardProfile, build_profile
from station.sim.emulator.switches import NORMAL, Misbehaviour
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


def _card(
    profile: CardProfile, misbehaviour: Misbehaviour = NORMAL, **switches: bool | int
) -> EmulatedCard:
    pace_switches = card_pace.PaceSwitches(**switches)  # type: ignore[arg-type]
    return EmulatedCard(profile, misbehaviour, card_pace.handlers(pace_switches))


def _other_can(profile: CardProfile) -> CardProfile:
    """The same card, but its chip holds a CAN that is not the last 6 digits of the ID."""
    return dataclasses.replace(profile, can=f"{(int(profile.can) + 1) % 10**6:06d}")


class Recording:
    """A CardTransport that notes the header (CLA INS P1 P2) of every command it passes on."""

    def __init__(self, inner: CardTransport) -> None:
        self.inner = inner
        self.headers: list[bytes] = []

    @property
    def name(self) -> str:
        return self.inner.name

    def transmit(self, apdu: bytes) -> bytes:
        self.headers.append(apdu[:4])
        return self.inner.transmit(apdu)

    def wait_for_card(self, timeout: float) -> bool:
        return self.inner.wait_for_card(timeout)

    def wait_for_removal(self, timeout: float) -> bool:
        return self.inner.wait_for_removal(timeout)

    def reset(self) -> None:
        self.inner.reset()

    def close(self) -> None:
        self.inner.close()

    def ins(self) -> list[int]:
        return [h[1] for h in self.headers]


MSE, GA, SELECT, GET_CHALLENGE, EXT_AUTH = 0x22, 0x86, 0xA4, 0x84, 0x82


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


@pytest.mark.parametrize("refusal_sw", [0x6300, 0x6A80], ids=["6300", "6A80"])
def test_other_can_falls_back_to_bac_once(
    connect: Connect,
    profile: CardProfile,
    citizen: citizens.SyntheticCitizen,
    refusal_sw: int,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The chip's CAN is not the QR-derived one: PACE runs once and the chip refuses the
    terminal's token at mutual authentication (6300, or 6A80 as PersoSim answers); the
    reader selects the eMRTD application again and BAC with the QR-derived key opens it."""
    caplog.set_level(logging.DEBUG)
    with connect(_card(_other_can(profile), refusal_sw=refusal_sw)) as transport:
        recording = Recording(transport)
        result = ChipReader(recording).read(_qr_keys(citizen), files=FILES)
    assert result.access == "BAC" and result.key_source.startswith("qr-")
    assert result.pace_fallback == PaceFallback("PACE-CAN", "wrong-password")
    assert result.chip_json()["pace_fallback"] == {"tried": "PACE-CAN", "reason": "wrong-password"}
    assert result.files["DG1"] == profile.dg(1) and result.files["DG13"] == profile.dg(13)
    ins = recording.ins()
    assert (ins.count(MSE), ins.count(GA), ins.count(EXT_AUTH)) == (1, 4, 1)
    refused = len(ins) - 1 - ins[::-1].index(GA)
    after = recording.headers[refused + 1 : refused + 4]
    assert [h[:3] for h in after] == [b"\x00\xa4\x04", b"\x00\x84\x00", b"\x00\x82\x00"]
    assert "PACE with the CAN was refused by the chip" in caplog.text
    assert f"{refusal_sw:04X}" in caplog.text and "BAC opened the chip" in caplog.text
    for personal in (citizen.can, citizen.id_number, citizen.document_number):
        assert personal not in caplog.text


def test_other_can_is_an_error_when_pace_is_required(
    connect: Connect, profile: CardProfile, citizen: citizens.SyntheticCitizen
) -> None:
    with connect(_card(_other_can(profile))) as transport:
        recording = Recording(transport)
        with pytest.raises(pace.PaceError) as caught:
            ChipReader(recording, order="pace").read(_qr_keys(citizen), files=FILES)
    assert caught.value.reason == "wrong-password"
    assert str(caught.value).startswith("PACE failed in GENERAL AUTHENTICATE step 4: 6300")
    assert GET_CHALLENGE not in recording.ins() and EXT_AUTH not in recording.ins()


def test_other_can_and_no_bac_key_fails_after_one_fallback(
    connect: Connect, profile: CardProfile, citizen: citizens.SyntheticCitizen
) -> None:
    """Neither the CAN nor any BAC candidate fits: one PACE, every BAC key once, one error
    that names both; no second PACE."""
    keys = _qr_keys(citizen)
    card = _card(_other_can(profile), Misbehaviour(wrong_key=True))
    with connect(card) as transport:
        recording = Recording(transport)
        with pytest.raises(AccessError) as caught:
            ChipReader(recording).read(keys, files=FILES)
    text = str(caught.value)
    assert text.startswith("BAC failed in EXTERNAL AUTHENTICATE")
    assert "after PACE-CAN failed (wrong-password)" in text and "6300" in text
    ins = recording.ins()
    assert (ins.count(MSE), ins.count(GA), ins.count(EXT_AUTH)) == (1, 4, len(keys.bac))
    assert max(i for i, x in enumerate(ins) if x == GA) < ins.index(EXT_AUTH)


def test_session_lost_after_the_fallback_reopens_with_bac(
    connect: Connect, profile: CardProfile, citizen: citizens.SyntheticCitizen
) -> None:
    """The chip drops the BAC session mid-read (6988): the reader re-opens it with BAC, the
    protocol that opened the chip, and never runs PACE again."""
    card = _card(_other_can(profile), Misbehaviour(sm_6988_after=2))
    with connect(card) as transport:
        recording = Recording(transport)
        result = ChipReader(recording).read(_qr_keys(citizen), files=FILES)
    assert result.access == "BAC" and result.files["DG13"] == profile.dg(13)
    ins = recording.ins()
    assert (ins.count(MSE), ins.count(GA), ins.count(EXT_AUTH)) == (1, 4, 2)


def test_sim_card_kind_other_can(connect: Connect) -> None:
    """The counter's "other-can" card: genuine, QR fine, chip CAN not the ID's last digits."""
    from station.sim.counter import CardFactory

    card = CardFactory(seed=5).make("other-can")
    assert card.chip is not None and card.chip.profile.can != card.citizen.can
    with connect(card.chip) as transport:
        result = ChipReader(transport).read(_qr_keys(card.citizen), files=FILES)
    assert result.access == "BAC"
    assert result.pace_fallback == PaceFallback("PACE-CAN", "wrong-password")
    assert result.citizen["id_number"] == card.citizen.id_number


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
    # 6982 to EXTERNAL AUTHENTICATE is how some chips refuse a cryptogram: every key is tried
    assert "EXTERNAL AUTHENTICATE: none of" in str(caught.value)
    assert str(caught.value).endswith("6982 (security status not satisfied)")


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
    from station.icao import chipauth
    from station.sim.emulator import auth

    info = PaceInfo(pace_protocol("ECDH", "AES-256"), 2, 16)
    chip = card_pace.with_pace(build_profile(citizen, pace=False, ca_kind=ca_kind), [info])
    card = _card(chip)
    auth.install(card)
    result = ChipReader(EmulatorTransport(card)).read(_qr_keys(citizen), files=("DG1", "DG14"))
    assert result.access == "PACE-CAN" and result.session is not None
    pace_session = result.session.sm
    assert result.security_infos is not None
    (option,) = result.security_infos.ca_options()
    outcome = chipauth.establish(result.session, option)
    assert outcome.option.agreement == ("dh" if ca_kind == "dh1024" else "ecdh")
    assert result.session.sm is not pace_session and result.session.sm is not None
