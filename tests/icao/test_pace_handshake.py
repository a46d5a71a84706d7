"""Terminal side (station.icao.pace) against card side (station.sim.emulator.pace), in process:
every standardized curve and MODP group with every cipher, then secure messaging with the keys."""

from __future__ import annotations

import random

import pytest

from station.drivers.card_sim import EmulatorTransport
from station.icao import crypto, ec, pace
from station.icao.apdu import CommandAPDU, ResponseAPDU
from station.icao.channel import CardChannel
from station.icao.files import FileReader
from station.icao.securityinfos import (
    PaceDomainParameterInfo,
    PaceInfo,
    SecurityInfos,
    pace_protocol,
)
from station.sim import citizens
from station.sim.emulator import pace as card_pace
from station.sim.emulator.card import EmulatedCard
from station.sim.emulator.files import DG_FIDS, FID_CARD_ACCESS, CardProfile, build_profile
from station.sim.emulator.switches import NORMAL, Misbehaviour

NO_SWITCHES = card_pace.PaceSwitches()
CIPHERS: tuple[crypto.CipherName, ...] = ("3DES", "AES-128", "AES-192", "AES-256")
AID = bytes.fromhex("A0000002471001")


@pytest.fixture(scope="module")
def citizen() -> citizens.SyntheticCitizen:
    return citizens.generate(random.Random(8))


@pytest.fixture(scope="module")
def profile(citizen: citizens.SyntheticCitizen) -> CardProfile:
    return build_profile(citizen, pace=False)


def _open(
    profile: CardProfile,
    info: PaceInfo,
    password: pace.PacePassword,
    switches: card_pace.PaceSwitches = NO_SWITCHES,
    misbehaviour: Misbehaviour = NORMAL,
) -> tuple[CardChannel, pace.PaceResult]:
    card = EmulatedCard(
        card_pace.with_pace(profile, [info]), misbehaviour, card_pace.handlers(switches)
    )
    channel = CardChannel(EmulatorTransport(card))
    card_access = SecurityInfos.parse(_read_card_access(channel))
    result = pace.establish(channel, password, card_access)
    channel.sm = result.sm
    return channel, result


def _read_card_access(channel: CardChannel) -> bytes:
    return FileReader(channel).read("EF.CardAccess", 0x011C)


def _read_dg1(channel: CardChannel) -> bytes:
    assert channel.send(CommandAPDU(0, 0xA4, 4, 0x0C, AID)).sw == 0x9000
    response = channel.send(CommandAPDU(0, 0xB0, 0x81, 0, ne=256))
    assert response.sw == 0x9000
    return response.data


CURVE_CASES = [
    (pid, CIPHERS[i % 4])
    for i, pid in enumerate(ec.standard_ids())
    if isinstance(ec.standard_domain(pid), ec.Curve)
]
ALL_CASES = (
    CURVE_CASES
    + [(13, cipher) for cipher in CIPHERS]
    + [(pid, cipher) for pid in (0, 1, 2) for cipher in CIPHERS]
)


@pytest.mark.parametrize(("pid", "cipher"), ALL_CASES)
def test_handshake_then_secure_messaging(
    profile: CardProfile, citizen: citizens.SyntheticCitizen, pid: int, cipher: crypto.CipherName
) -> None:
    ka = "ECDH" if isinstance(ec.standard_domain(pid), ec.Curve) else "DH"
    info = PaceInfo(pace_protocol(ka, cipher), 2, pid)
    channel, result = _open(profile, info, pace.PacePassword.can(citizen.can))
    assert (result.protocol, result.parameter_id, result.cipher) == (info.protocol, pid, cipher)
    assert result.access == "PACE-CAN"
    assert _read_dg1(channel) == profile.files[DG_FIDS[1]]
    assert channel.sm is not None and channel.sm.cipher.name == cipher


def test_pace_mrz(profile: CardProfile) -> None:
    info = PaceInfo(pace_protocol("ECDH", "AES-128"), 2, 13)
    password = pace.PacePassword.from_mrz(
        profile.document_number, profile.date_of_birth, profile.date_of_expiry
    )
    channel, result = _open(profile, info, password)
    assert result.access == "PACE-MRZ"
    assert _read_dg1(channel) == profile.files[DG_FIDS[1]]


INFO = PaceInfo(pace_protocol("ECDH", "AES-128"), 2, 13)


def test_wrong_can(profile: CardProfile, citizen: citizens.SyntheticCitizen) -> None:
    with pytest.raises(pace.PaceError, match="step 4: 6300") as caught:
        _open(
            profile,
            INFO,
            pace.PacePassword.can(citizen.can),
            card_pace.PaceSwitches(wrong_can=True),
        )
    assert caught.value.reason == "wrong-password"


def test_wrong_mrz_key(profile: CardProfile) -> None:
    password = pace.PacePassword.from_mrz(
        profile.document_number, profile.date_of_birth, profile.date_of_expiry
    )
    with pytest.raises(pace.PaceError, match="step 4") as caught:
        _open(profile, INFO, password, misbehaviour=Misbehaviour(wrong_key=True))
    assert caught.value.reason == "wrong-password"


def test_refused(profile: CardProfile, citizen: citizens.SyntheticCitizen) -> None:
    with pytest.raises(pace.PaceError, match="MSE:Set AT: 6982") as caught:
        _open(
            profile, INFO, pace.PacePassword.can(citizen.can), card_pace.PaceSwitches(refuse=True)
        )
    assert caught.value.reason == "refused"


def test_bad_chip_token(profile: CardProfile, citizen: citizens.SyntheticCitizen) -> None:
    with pytest.raises(pace.PaceError, match="T_IC") as caught:
        _open(
            profile,
            INFO,
            pace.PacePassword.can(citizen.can),
            card_pace.PaceSwitches(bad_token=True),
        )
    assert caught.value.reason == "failed"


def test_unsupported_parameter_id(profile: CardProfile, citizen: citizens.SyntheticCitizen) -> None:
    odd = card_pace.with_pace(profile, [INFO], unsupported_parameter_id=True)
    card_access = SecurityInfos.parse(odd.files[FID_CARD_ACCESS])
    card = EmulatedCard(odd, Misbehaviour(), card_pace.handlers())
    channel = CardChannel(EmulatorTransport(card))
    with pytest.raises(pace.PaceError, match=r"EF\.CardAccess.*parameterId 32") as caught:
        pace.establish(channel, pace.PacePassword.can(citizen.can), card_access)
    assert caught.value.reason == "unsupported"
    assert card.apdus == 0


def test_card_rejects_parameters_it_does_not_offer(
    profile: CardProfile, citizen: citizens.SyntheticCitizen
) -> None:
    card = EmulatedCard(card_pace.with_pace(profile, [INFO]), Misbehaviour(), card_pace.handlers())
    channel = CardChannel(EmulatorTransport(card))
    other = SecurityInfos((PaceInfo(pace_protocol("ECDH", "AES-256"), 2, 12), INFO))
    result = pace.establish(channel, pace.PacePassword.can(citizen.can), other)
    assert result.cipher == "AES-128" and card.apdus == 6  # 6A80, then MSE + 4 GA


def test_steps_out_of_order_are_refused(profile: CardProfile) -> None:
    card = EmulatedCard(card_pace.with_pace(profile, [INFO]), Misbehaviour(), card_pace.handlers())
    ga = CommandAPDU(0x10, 0x86, 0, 0, bytes.fromhex("7C00"), ne=256)
    assert ResponseAPDU.parse(card.process(ga.encode())).sw == 0x6A86  # nobody's GA
    mse = CommandAPDU(0, 0x22, 0xC1, 0xA4, bytes.fromhex("800A04007F00070202040202830102"))
    assert ResponseAPDU.parse(card.process(mse.encode())).sw == 0x9000
    step4 = CommandAPDU(0x00, 0x86, 0, 0, bytes.fromhex("7C0A85080000000000000000"), ne=256)
    assert ResponseAPDU.parse(card.process(step4.encode())).sw == 0x6985
    assert ResponseAPDU.parse(card.process(ga.encode())).sw == 0x6A86  # session dropped


@pytest.mark.parametrize(("pid", "ka"), [(11, "ECDH"), (13, "ECDH"), (0, "DH")])
def test_explicit_domain_parameters(
    profile: CardProfile, citizen: citizens.SyntheticCitizen, pid: int, ka: str
) -> None:
    domain = PaceDomainParameterInfo.explicit(ec.standard_domain(pid), 33)
    info = PaceInfo(pace_protocol(ka, "AES-128"), 2, 33)
    card = EmulatedCard(
        card_pace.with_pace(profile, [info], domains=[domain]), NORMAL, card_pace.handlers()
    )
    channel = CardChannel(EmulatorTransport(card))
    card_access = SecurityInfos.parse(_read_card_access(channel))
    result = pace.establish(channel, pace.PacePassword.can(citizen.can), card_access)
    channel.sm = result.sm
    assert result.parameter_id == 33
    assert _read_dg1(channel) == profile.files[DG_FIDS[1]]
