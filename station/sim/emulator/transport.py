"""The in-process card transport: a reader slot holding an ``EmulatedCard``.

Tests and the demo ``insert(card)`` / ``remove()``; the station side sees the same
``CardTransport`` port as with pyscard. Thread-safe (the app reads the chip in a
worker thread while the demo inserts cards).
"""

from __future__ import annotations

import threading

from station.drivers.card import CardRemovedError, TransportError, exchange
from station.sim.emulator.card import CardGone, EmulatedCard


class EmulatorTransport:
    def __init__(
        self, card: EmulatedCard | None = None, name: str = "Emulated CCCD reader"
    ) -> None:
        self._name = name
        self._cond = threading.Condition()
        self._card: EmulatedCard | None = None
        self._closed = False
        if card is not None:
            self.insert(card)

    @property
    def name(self) -> str:
        return self._name

    @property
    def card(self) -> EmulatedCard | None:
        return self._card

    def insert(self, card: EmulatedCard) -> None:
        with self._cond:
            card.power_on()
            self._card = card
            self._cond.notify_all()

    def remove(self) -> None:
        with self._cond:
            self._card = None
            self._cond.notify_all()

    def _send(self, apdu: bytes) -> bytes:
        card = self._card
        if card is None:
            raise CardRemovedError("transmit", "no card in the field")
        try:
            return card.process(apdu)
        except CardGone:
            self.remove()
            raise CardRemovedError("transmit", "card left the field") from None

    def transmit(self, apdu: bytes) -> bytes:
        if self._closed:
            raise TransportError("transmit", "transport closed")
        return exchange(self._send, apdu)

    def wait_for_card(self, timeout: float) -> bool:
        with self._cond:
            return self._cond.wait_for(
                lambda: self._card is not None and self._card.present, timeout
            )

    def wait_for_removal(self, timeout: float) -> bool:
        with self._cond:
            return self._cond.wait_for(
                lambda: self._card is None or not self._card.present, timeout
            )

    def reset(self) -> None:
        with self._cond:
            if self._card is None:
                raise CardRemovedError("reset", "no card in the field")
            self._card.power_on()

    def close(self) -> None:
        self._closed = True
