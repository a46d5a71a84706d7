"""The APDU sender protocols talk to: a card transport plus an optional SM session.

``CardChannel.send(cmd)`` wraps the command when a ``SecureMessaging`` session is set
and unwraps (MAC-checks) the answer. Access protocols (BAC here, PACE in
``station.icao.pace``) receive the channel as their narrow ``ApduSender`` and install
the session they establish with ``channel.sm = ...``.
"""

from __future__ import annotations

import logging
import time
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
        self.sm = sm
        self.apdus = 0
        self.bytes_out = 0
        self.bytes_in = 0
        self.deadline: float | None = None  # time.monotonic() after which no APDU is sent

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
        return self.sm.unwrap(response)
