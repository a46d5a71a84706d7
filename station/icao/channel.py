"""The APDU sender protocols talk to: a card transport plus an optional SM session.

``CardChannel.send(cmd)`` wraps the command when a ``SecureMessaging`` session is set
and unwraps (MAC-checks) the answer. Access protocols (BAC here, PACE in
``station.icao.pace``) receive the channel as their narrow ``ApduSender`` and install
the session they establish with ``channel.sm = ...``.

The channel is also what the station learns about one card while it reads it:

- ``short_ef``: READ BINARY by short EF id works (False once the card refused it: files are
  then selected by id, for the rest of this card, Chip Authentication's probe included);
- ``in_doubt``: an error came back unprotected under secure messaging. Cards differ in
  whether their send sequence counter moved for it, so the session may be out of step:
  ``settle()`` re-opens it (``reopen``, installed by the reader) before the next command.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

from station.icao.apdu import CommandAPDU, ResponseAPDU
from station.icao.errors import ChipError

if TYPE_CHECKING:
    from station.icao.sm import SecureMessaging
    from station.ports import CardTransport

log = logging.getLogger(__name__)


class ApduSender(Protocol):
    def send(self, cmd: CommandAPDU) -> ResponseAPDU: ...


class CardChannel:
    """One card session: transport + secure messaging state. Counts APDUs and bytes."""

    def __init__(self, transport: CardTransport, sm: SecureMessaging | None = None) -> None:
        self.transport = transport
        self._sm = sm
        self.in_doubt = False
        self.short_ef = True
        self.reopen: Callable[[], None] | None = None
        self.reopens = 0  # sessions re-opened on this channel (a file's selection is lost)
        self.apdus = 0
        self.bytes_out = 0
        self.bytes_in = 0
        self.deadline: float | None = None  # time.monotonic() after which no APDU is sent

    @property
    def sm(self) -> SecureMessaging | None:
        return self._sm

    @sm.setter
    def sm(self, session: SecureMessaging | None) -> None:
        self._sm = session
        self.in_doubt = False

    def settle(self) -> bool:
        """Re-open the session when it may be out of step (``in_doubt``); True if it did."""
        if not self.in_doubt or self.reopen is None:
            return False
        log.info("an error came back unprotected: re-opening the session")
        self.reopen()
        self.reopens += 1
        self.in_doubt = False
        return True

    def transmit(self, apdu: bytes) -> bytes:
        """Raw pass-through (counted), for protocols that build their own APDUs (PACE)."""
        if self.deadline is not None and time.monotonic() > self.deadline:
            raise ChipError("chip read", "took longer than allowed (reader.timeout_s)")
        answer = self.transport.transmit(apdu)
        self.apdus += 1
        self.bytes_out += len(apdu)
        self.bytes_in += len(answer)
        return answer

    def send_plain(self, cmd: CommandAPDU) -> ResponseAPDU:
        return ResponseAPDU.parse(self.transmit(cmd.encode()))

    def send(self, cmd: CommandAPDU) -> ResponseAPDU:
        if self.sm is None:
            return self.send_plain(cmd)
        wrapped = self.sm.wrap(cmd)
        response = self.send_plain(wrapped)
        if wrapped.is_extended and not response.data and response.sw >> 8 == 0x67:
            # Extended length refused by the reader or the chip before SM processing:
            # the chip's counter did not move. (If it did, the next answer is 6988 and
            # the file reader re-opens the session.)
            self.sm.ssc -= 1
            return response
        answer = self.sm.unwrap(response)
        if not response.data:  # an unprotected error (sm.unwrap refuses 9000 without MAC)
            self.in_doubt = True
        return answer


def settle(sender: ApduSender) -> None:
    """``CardChannel.settle`` for protocols handed a plain ``ApduSender`` (AA, CA)."""
    if isinstance(sender, CardChannel):
        sender.settle()
