"""The card transport port: how the station talks to a contactless chip.

Adapters: ``station.drivers.card_pcsc.PcscTransport`` (pyscard -> pcscd, real or
virtual reader) and ``station.sim.emulator.transport.EmulatorTransport`` (in-process).
``station.drivers.factory`` (lead) picks one from the config.

``transmit`` takes an encoded command APDU and returns response data + SW1 SW2.
T=0 style ``61xx`` (GET RESPONSE) and, for unprotected commands, ``6Cxx`` (wrong Le)
are resolved here, in ``exchange``, the one place that handles them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from station.icao.errors import ChipError


class TransportError(ChipError):
    """The reader or the link failed (no reader, protocol error, timeout)."""


class CardRemovedError(TransportError):
    """The card left the field during an exchange."""


class CardTransport(Protocol):
    """A reader slot with maybe a card in it."""

    @property
    def name(self) -> str: ...

    def transmit(self, apdu: bytes) -> bytes:
        """Send one command APDU, return data + SW1SW2. Raises CardRemovedError /
        TransportError."""
        ...

    def wait_for_card(self, timeout: float) -> bool:
        """True once a card is present and connected (False after ``timeout`` s)."""
        ...

    def wait_for_removal(self, timeout: float) -> bool:
        """True once the card is gone (False after ``timeout`` s)."""
        ...

    def reset(self) -> None:
        """Cold-reset the card (drops every session: BAC/PACE must be redone)."""
        ...

    def close(self) -> None: ...


MAX_GET_RESPONSE_ROUNDS = 256


def _with_le(apdu: bytes, le: int) -> bytes | None:
    """The short-form ``apdu`` with its Le replaced by ``le`` (None if not short case 2/4)."""
    if len(apdu) == 5:
        return apdu[:4] + bytes((le,))
    if len(apdu) > 5 and apdu[4] != 0 and len(apdu) == 6 + apdu[4]:
        return apdu[:-1] + bytes((le,))
    return None


def exchange(send: Callable[[bytes], bytes], apdu: bytes) -> bytes:
    """``send`` one APDU resolving 6Cxx (unprotected commands only) and 61xx chains."""
    answer = send(apdu)
    if len(answer) < 2:
        raise TransportError("transmit", f"answer of {len(answer)} bytes")
    if answer[-2] == 0x6C and apdu[0] & 0x0C == 0:
        retry = _with_le(apdu, answer[-1])
        if retry is not None:
            answer = send(retry)
    data = bytearray()
    for _ in range(MAX_GET_RESPONSE_ROUNDS):
        if len(answer) < 2:
            raise TransportError("GET RESPONSE", f"answer of {len(answer)} bytes")
        if answer[-2] != 0x61:
            return bytes(data) + answer
        data += answer[:-2]
        answer = send(bytes((0x00, 0xC0, 0x00, 0x00, answer[-1])))
    raise TransportError("GET RESPONSE", "card keeps answering 61xx")
