"""What every card transport shares: ``exchange``, the one place that resolves T=0 style
``61xx`` (GET RESPONSE) and, for unprotected commands, ``6Cxx`` (wrong Le).

The port is ``station.ports.CardTransport``. Adapters: ``station.drivers.card_pcsc``
(pyscard -> pcscd, real or virtual reader) and ``station.drivers.card_sim`` (a slot
holding a simulated card); ``station.runtime.wiring`` picks one.
"""

from __future__ import annotations

from collections.abc import Callable

from station.ports import TransportError

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
