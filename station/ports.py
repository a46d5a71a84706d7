"""The hardware ports: what the station needs of each device, and the values they carry.

Everything above this module talks to devices only through these protocols; the real
adapters (``station.drivers.*_pi``, ``card_pcsc``, ``display_luma``, ``gpio_rpi``) and the
fakes beside them implement them, and ``station.runtime.wiring`` picks one of each from
the config. Nothing here imports a hardware library or another station module.

- ``Camera``: grayscale frames (the QR/MRZ decoders work on luminance).
- ``CardTransport``: one reader slot; ``transmit`` takes an encoded command APDU and
  returns response data + SW1 SW2. Its failures are ``TransportError`` /
  ``CardRemovedError``.
- ``Display``: shows a 128x64 mode "1" image.
- ``Indicators``: buzzer patterns and the green/red/amber LEDs, never blocking.
- ``Button``: delivers ``ButtonEvent``s to one handler, on a device thread: SHORT
  (released before the long-press time), LONG (fired while still held) and
  HOLD_RELEASE (the release that ends a long press).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Protocol

import numpy as np
import numpy.typing as npt

if TYPE_CHECKING:
    from PIL import Image

# ---- camera -------------------------------------------------------------------------

Frame = npt.NDArray[np.uint8]


class CameraError(RuntimeError):
    """The camera is missing, failed to start, or stopped delivering frames."""


class Camera(Protocol):
    def start(self) -> None:
        """Open the device; raises CameraError."""

    def capture_gray(self) -> Frame:
        """The next frame as a HxW uint8 array; raises CameraError."""

    def capture_full_gray(self) -> Frame:
        """One frame at the sensor's full resolution (small print: the MRZ); raises
        CameraError. A camera with one resolution returns its next frame."""

    def close(self) -> None: ...


# ---- card reader --------------------------------------------------------------------


class TransportError(Exception):
    """The reader or the link failed (no reader, protocol error, timeout).

    ``step`` names what was being done ("transmit", "connect", ...), ``detail`` why.
    """

    def __init__(self, step: str, detail: str = "") -> None:
        super().__init__(f"{step}: {detail}" if detail else step)
        self.step = step
        self.detail = detail


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


# ---- display ------------------------------------------------------------------------


class Display(Protocol):
    def show(self, image: Image.Image) -> None: ...

    def close(self) -> None: ...


# ---- buzzer, LEDs, button -----------------------------------------------------------


class Pattern(StrEnum):
    QR_SEEN = "qr-seen"
    VERIFIED = "verified"
    ATTENTION = "attention"
    FAILED = "failed"
    ERROR = "error"


@dataclass(frozen=True)
class Leds:
    green: bool = False
    red: bool = False
    amber: bool = False


class Indicators(Protocol):
    def play(self, pattern: Pattern) -> None: ...

    def set_leds(self, leds: Leds) -> None: ...

    def close(self) -> None: ...


class ButtonKind(StrEnum):
    SHORT = "short"
    LONG = "long"
    HOLD_RELEASE = "hold-release"


@dataclass(frozen=True)
class ButtonEvent:
    kind: ButtonKind
    at: float  # monotonic seconds
    held_s: float = 0.0


ButtonHandler = Callable[[ButtonEvent], None]


class Button(Protocol):
    def set_handler(self, handler: ButtonHandler | None) -> None: ...

    def close(self) -> None: ...


__all__ = [
    "Button",
    "ButtonEvent",
    "ButtonHandler",
    "ButtonKind",
    "Camera",
    "CameraError",
    "CardRemovedError",
    "CardTransport",
    "Display",
    "Frame",
    "Indicators",
    "Leds",
    "Pattern",
    "TransportError",
]
