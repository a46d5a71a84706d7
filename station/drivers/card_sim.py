"""The simulated reader slot: the fake beside ``card_pcsc``, holding a simulated card.

Tests and the demo ``insert(card)`` / ``remove()`` a card (``station.sim.emulator``'s
``SimulatedCard``, or anything with the ``SimulatedCard`` shape) and ``unplug()`` /
``plug()`` the reader itself; the station side sees the same ``CardTransport`` port as
with pyscard (an unplugged reader raises ``TransportError`` like a pulled USB reader).
Thread-safe (the app reads the chip in a worker thread while the demo inserts cards).
"""

from __future__ import annotations

import threading
from typing import Protocol

from station.drivers.card import exchange
from station.ports import CardRemovedError, TransportError


class CardGone(Exception):
    """The simulated card left the field during an APDU (the slot reports
    CardRemovedError)."""


class SimulatedCard(Protocol):
    """A card that answers APDUs in-process."""

    present: bool

    def power_on(self) -> bytes:
        """Reset the card; returns its ATR."""
        ...

    def process(self, raw: bytes) -> bytes:
        """Answer one command APDU (data + SW1 SW2); raises CardGone."""
        ...


class EmulatorTransport:
    """One reader slot with maybe a simulated card in it (``station.ports.CardTransport``)."""

    def __init__(
        self, card: SimulatedCard | None = None, name: str = "Emulated CCCD reader"
    ) -> None:
        self._name = name
        self._cond = threading.Condition()
        self._card: SimulatedCard | None = None
        self._closed = False
        self._unplugged = False
        if card is not None:
            self.insert(card)

    @property
    def name(self) -> str:
        return self._name

    @property
    def card(self) -> SimulatedCard | None:
        return self._card

    def insert(self, card: SimulatedCard) -> None:
        with self._cond:
            card.power_on()
            self._card = card
            self._cond.notify_all()

    def remove(self) -> None:
        with self._cond:
            self._card = None
            self._cond.notify_all()

    def unplug(self) -> None:
        """The reader's cable is pulled: every call fails until ``plug()``."""
        with self._cond:
            self._unplugged = True
            self._cond.notify_all()

    def plug(self) -> None:
        with self._cond:
            self._unplugged = False
            self._cond.notify_all()

    def reopen(self) -> EmulatorTransport:
        """Open the slot again after ``close()`` (what a reconnect does); fails while
        unplugged."""
        self._check_plugged("opening the reader")
        self._closed = False
        return self

    def _check_plugged(self, step: str) -> None:
        if self._unplugged:
            raise TransportError(step, "reader unplugged (simulated)")

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
        self._check_plugged("transmit")
        if self._closed:
            raise TransportError("transmit", "transport closed")
        return exchange(self._send, apdu)

    def wait_for_card(self, timeout: float) -> bool:
        with self._cond:
            self._cond.wait_for(
                lambda: self._unplugged or (self._card is not None and self._card.present),
                timeout,
            )
            self._check_plugged("waiting for a card")
            return self._card is not None and self._card.present

    def wait_for_removal(self, timeout: float) -> bool:
        with self._cond:
            self._cond.wait_for(
                lambda: self._unplugged or self._card is None or not self._card.present, timeout
            )
            self._check_plugged("watching the card")
            return self._card is None or not self._card.present

    def reset(self) -> None:
        self._check_plugged("reset")
        with self._cond:
            if self._card is None:
                raise CardRemovedError("reset", "no card in the field")
            self._card.power_on()

    def close(self) -> None:
        self._closed = True
