"""PC/SC card transport (pcscd via pyscard's low-level ``smartcard.scard`` API).

pyscard is imported here only, when a ``PcscTransport`` is created. Waiting uses
SCardGetStatusChange with bounded timeouts (no polling loops). 61xx / 6Cxx are
resolved by ``station.drivers.card.exchange``.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from station.drivers.card import exchange
from station.ports import CardRemovedError, TransportError

log = logging.getLogger(__name__)

REMOVAL_GRACE_S = 1.5
REMOVED_CODES = ("SCARD_W_REMOVED_CARD", "SCARD_E_NO_SMARTCARD", "SCARD_W_RESET_CARD")


def _scard() -> Any:
    try:
        from smartcard import scard
    except ImportError as exc:  # pragma: no cover - pyscard is a dependency
        raise TransportError("PC/SC", f"pyscard not available ({exc})") from None
    return scard


def _check(scard: Any, step: str, hresult: int) -> None:
    if hresult == scard.SCARD_S_SUCCESS:
        return
    codes = {getattr(scard, n, None) for n in REMOVED_CODES}
    message = scard.SCardGetErrorMessage(hresult)
    if hresult in codes:
        raise CardRemovedError(step, message)
    raise TransportError(step, f"{message} ({hresult & 0xFFFFFFFF:08X})")


def _establish(scard: Any) -> Any:
    hresult, context = scard.SCardEstablishContext(scard.SCARD_SCOPE_USER)
    _check(scard, "PC/SC context (is pcscd running?)", hresult)
    return context


def list_readers() -> list[tuple[str, bool]]:
    """(reader name, card present) for every PC/SC reader. Raises TransportError."""
    scard = _scard()
    context = _establish(scard)
    try:
        hresult, names = scard.SCardListReaders(context, [])
        if hresult == getattr(scard, "SCARD_E_NO_READERS_AVAILABLE", None):
            return []
        _check(scard, "listing readers", hresult)
        if not names:
            return []
        hresult, states = scard.SCardGetStatusChange(
            context, 0, [(name, scard.SCARD_STATE_UNAWARE) for name in names]
        )
        _check(scard, "reader status", hresult)
        return [(name, bool(event & scard.SCARD_STATE_PRESENT)) for name, event, _ in states]
    finally:
        scard.SCardReleaseContext(context)


class PcscTransport:
    """One PC/SC reader (first whose name contains ``reader``; '' = first reader)."""

    def __init__(self, reader: str = "") -> None:
        self._scard = _scard()
        self._context = _establish(self._scard)
        self._reader = self._find(reader)
        self._card: Any = None
        self._protocol: int = 0

    @property
    def name(self) -> str:
        return str(self._reader)

    def _find(self, wanted: str) -> str:
        s = self._scard
        hresult, names = s.SCardListReaders(self._context, [])
        if hresult != s.SCARD_S_SUCCESS or not names:
            raise TransportError("finding the reader", "no PC/SC reader connected")
        for name in names:
            if wanted.lower() in name.lower():
                return str(name)
        raise TransportError("finding the reader", f"no reader matches {wanted!r}")

    def _state(self, timeout_ms: int, known: int) -> int:
        s = self._scard
        hresult, states = s.SCardGetStatusChange(self._context, timeout_ms, [(self._reader, known)])
        if hresult == s.SCARD_E_TIMEOUT:
            return known
        _check(s, "reader status", hresult)
        return int(states[0][1])

    def _wait(self, timeout: float, present: bool) -> bool:
        s = self._scard
        deadline = time.monotonic() + timeout
        state = self._state(0, s.SCARD_STATE_UNAWARE)
        while bool(state & s.SCARD_STATE_PRESENT) != present:
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            state = self._state(max(1, int(left * 1000)), state & ~s.SCARD_STATE_CHANGED)
        return True

    def wait_for_card(self, timeout: float) -> bool:
        if not self._wait(timeout, True):
            return False
        self._connect()
        return True

    def wait_for_removal(self, timeout: float) -> bool:
        gone = self._wait(timeout, False)
        if gone:
            self._disconnect()
        return gone

    def _connect(self) -> None:
        s = self._scard
        self._disconnect()
        hresult, card, protocol = s.SCardConnect(
            self._context,
            self._reader,
            s.SCARD_SHARE_SHARED,
            s.SCARD_PROTOCOL_T0 | s.SCARD_PROTOCOL_T1,
        )
        _check(s, "connecting to the card", hresult)
        self._card, self._protocol = card, protocol

    def _disconnect(self) -> None:
        if self._card is not None:
            self._scard.SCardDisconnect(self._card, self._scard.SCARD_LEAVE_CARD)
            self._card = None

    def _send(self, apdu: bytes) -> bytes:
        s = self._scard
        hresult, response = s.SCardTransmit(self._card, self._protocol, list(apdu))
        if hresult == s.SCARD_S_SUCCESS and len(response) >= 2:
            return bytes(response)
        self._disconnect()
        try:
            _check(s, "transmit", hresult)
        except CardRemovedError:
            raise
        except TransportError:
            pass
        # A link error is usually the card leaving the field: say which (bounded wait).
        if self._wait(REMOVAL_GRACE_S, False):
            raise CardRemovedError("transmit", "card left the field")
        raise TransportError("transmit", f"no valid answer ({hresult & 0xFFFFFFFF:08X})")

    def transmit(self, apdu: bytes) -> bytes:
        if self._card is None:
            self._connect()
        return exchange(self._send, apdu)

    def reset(self) -> None:
        s = self._scard
        if self._card is None:
            self._connect()
            return
        hresult, protocol = s.SCardReconnect(
            self._card,
            s.SCARD_SHARE_SHARED,
            s.SCARD_PROTOCOL_T0 | s.SCARD_PROTOCOL_T1,
            s.SCARD_RESET_CARD,
        )
        _check(s, "resetting the card", hresult)
        self._protocol = protocol

    def close(self) -> None:
        self._disconnect()
        if self._context is not None:
            self._scard.SCardReleaseContext(self._context)
            self._context = None
