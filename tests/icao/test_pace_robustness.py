"""A card answering PACE with garbage (random or well-framed) ends in PaceError, never another
exception; endless 61xx chains are bounded."""

from __future__ import annotations

import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from station.drivers.card_sim import EmulatorTransport
from station.icao import pace
from station.icao.apdu import CommandAPDU, ResponseAPDU
from station.icao.channel import CardChannel
from station.icao.securityinfos import PaceInfo, SecurityInfos, pace_protocol
from station.icao.tlv import tlv
from station.sim import citizens
from station.sim.emulator import pace as card_pace
from station.sim.emulator.card import EmulatedCard
from station.sim.emulator.files import CardProfile, build_profile
from station.sim.emulator.switches import NORMAL

CITIZEN = citizens.generate(random.Random(5))
INFOS = {
    "ECDH": PaceInfo(pace_protocol("ECDH", "AES-128"), 2, 13),
    "DH": PaceInfo(pace_protocol("DH", "3DES"), 2, 0),
}


@pytest.fixture(scope="module")
def profile() -> CardProfile:
    return build_profile(CITIZEN, pace=False)


class Tampering:
    """Passes commands to the emulated card, replacing the answer to one GA step."""

    def __init__(self, card: EmulatedCard, step: int, data: bytes) -> None:
        self.channel = CardChannel(EmulatorTransport(card))
        self.step, self.data, self.seen = step, data, 0

    def send(self, cmd: CommandAPDU) -> ResponseAPDU:
        response = self.channel.send(cmd)
        if cmd.ins == 0x86:
            self.seen += 1
            if self.seen == self.step:
                return ResponseAPDU(self.data, 0x9000)
        return response


answers = st.one_of(
    st.binary(max_size=120),
    st.builds(
        lambda tag, v: tlv(0x7C, tlv(tag, v)),
        st.sampled_from([0x80, 0x82, 0x84, 0x86]),
        st.binary(max_size=300),
    ),
)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(kind=st.sampled_from(sorted(INFOS)), step=st.integers(1, 4), data=answers)
def test_garbage_from_the_card_is_a_pace_error(
    profile: CardProfile, kind: str, step: int, data: bytes
) -> None:
    info = INFOS[kind]
    card = EmulatedCard(card_pace.with_pace(profile, [info]), NORMAL, card_pace.handlers())
    with pytest.raises(pace.PaceError) as caught:
        pace.establish(
            Tampering(card, step, data), pace.PacePassword.can(CITIZEN.can), SecurityInfos((info,))
        )
    # A garbled but well-sized nonce (step 1) looks like a wrong password to both sides.
    assert caught.value.reason in (("failed", "wrong-password") if step == 1 else ("failed",))


class EndlessChain:
    def __init__(self) -> None:
        self.commands = 0

    def send(self, cmd: CommandAPDU) -> ResponseAPDU:
        self.commands += 1
        return ResponseAPDU(b"\x00", 0x6110)


def test_endless_get_response_chain_is_bounded() -> None:
    sender = EndlessChain()
    with pytest.raises(pace.PaceError, match="MSE:Set AT: 6110"):
        pace.establish(sender, pace.PacePassword.can("123456"), SecurityInfos((INFOS["ECDH"],)))
    assert sender.commands == 17


class Recorder:
    def __init__(self, card: EmulatedCard) -> None:
        self.channel = CardChannel(EmulatorTransport(card))
        self.commands: list[CommandAPDU] = []

    def send(self, cmd: CommandAPDU) -> ResponseAPDU:
        self.commands.append(cmd)
        return self.channel.send(cmd)


@pytest.mark.parametrize(("kind", "pid", "extended"), [("DH", 2, True), ("ECDH", 18, False)])
def test_big_keys_use_extended_length(
    profile: CardProfile, kind: str, pid: int, extended: bool
) -> None:
    info = PaceInfo(pace_protocol(kind, "AES-256"), 2, pid)
    card = EmulatedCard(card_pace.with_pace(profile, [info]), NORMAL, card_pace.handlers())
    sender = Recorder(card)
    pace.establish(sender, pace.PacePassword.can(CITIZEN.can), SecurityInfos((info,)))
    steps = [c for c in sender.commands if c.ins == 0x86]
    assert [c.is_extended for c in steps] == [False, extended, extended, False]
    assert all(c.ne == (65536 if c.is_extended else 256) for c in steps)
