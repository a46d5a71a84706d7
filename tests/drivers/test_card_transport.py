"""The transport's one place for 61xx (GET RESPONSE) and 6Cxx (wrong Le)."""

from __future__ import annotations

import pytest

from station.drivers.card import exchange
from station.ports import TransportError

H = bytes.fromhex


class Scripted:
    """Replays answers and fails loudly when the script runs out (JMRTD style)."""

    def __init__(self, *pairs: tuple[str, str]) -> None:
        self.pairs = list(pairs)

    def __call__(self, apdu: bytes) -> bytes:
        assert self.pairs, f"unexpected APDU {apdu.hex()}"
        expected, answer = self.pairs.pop(0)
        assert apdu == H(expected)
        return H(answer)


def test_get_response_chain() -> None:
    send = Scripted(
        ("00B0000000", "0102036104"), ("00C0000004", "040506076102"), ("00C0000002", "08099000")
    )
    assert exchange(send, H("00B0000000")) == H("01020304050607080990 00".replace(" ", ""))
    assert not send.pairs


def test_wrong_le_retried_for_plain_commands_only() -> None:
    send = Scripted(("00B0000010", "6C08"), ("00B0000008", "01020304050607089000"))
    assert exchange(send, H("00B0000010"))[-2:] == H("9000")
    protected = Scripted(("0CB0000000", "6C08"))
    assert exchange(protected, H("0CB0000000")) == H("6C08")


def test_endless_61xx_and_short_answers_are_errors() -> None:
    with pytest.raises(TransportError, match="keeps answering 61xx"):
        exchange(lambda apdu: H("6101"), H("00B0000000"))
    with pytest.raises(TransportError, match="answer of 1 bytes"):
        exchange(lambda apdu: H("90"), H("00B0000000"))
