"""Buzzer, LEDs and button: what the real adapter and the fakes share.

How each ``Pattern`` sounds (``PATTERNS``), the pure debounce / long-press logic
(``ButtonLogic``) and the settings both read. The ports (``Indicators``, ``Button``,
``Pattern``, ``Leds``, ``ButtonEvent``) are in ``station.ports``; the real adapter is
``station.drivers.gpio_rpi`` (RPi.GPIO API, imported lazily), the fakes are
``station.drivers.gpio_sim``. Button handlers run on a device thread: the app must hand
them to its loop thread-safely.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from station.ports import ButtonEvent, ButtonKind, Pattern


class GpioSettings(Protocol):
    """What the GPIO adapters read of the config's ``[gpio]`` section."""

    @property
    def buzzer_enabled(self) -> bool: ...
    @property
    def buzzer_passive(self) -> bool: ...
    @property
    def buzzer_pin(self) -> int: ...
    @property
    def led_green_pin(self) -> int: ...
    @property
    def led_red_pin(self) -> int: ...
    @property
    def led_amber_pin(self) -> int: ...
    @property
    def button_pin(self) -> int: ...
    @property
    def button_active_low(self) -> bool: ...
    @property
    def debounce_ms(self) -> int: ...
    @property
    def long_press_ms(self) -> int: ...


Clock = Callable[[], float]


@dataclass(frozen=True)
class Tone:
    """One beep: ``hz`` (passive buzzer pitch), on for ``on_ms``, then silent ``off_ms``."""

    hz: int
    on_ms: int
    off_ms: int = 0


PATTERNS: dict[Pattern, tuple[Tone, ...]] = {
    Pattern.QR_SEEN: (Tone(2700, 50),),
    Pattern.VERIFIED: (Tone(2000, 90, 60), Tone(3000, 140)),
    Pattern.ATTENTION: (Tone(2200, 220, 120), Tone(2200, 220)),
    Pattern.FAILED: (Tone(800, 700),),
    Pattern.ERROR: (Tone(1200, 90, 90), Tone(1200, 90, 90), Tone(1200, 90)),
}


def duration_ms(pattern: Pattern) -> int:
    return sum(t.on_ms + t.off_ms for t in PATTERNS[pattern])


class ButtonLogic:
    """Debounce and short/long classification from raw edges (thread-safe, no I/O)."""

    def __init__(self, debounce_s: float, long_s: float) -> None:
        self.debounce_s = debounce_s
        self.long_s = long_s
        self._lock = threading.Lock()
        self._pressed_at: float | None = None
        self._last_edge = float("-inf")
        self._long_sent = False

    def edge(self, pressed: bool, now: float) -> tuple[ButtonEvent, ...]:
        """Feed a level change; returns the events it completes, in order."""
        with self._lock:
            if now - self._last_edge < self.debounce_s:
                return ()
            if pressed == (self._pressed_at is not None):
                return ()  # no change (a bounce or a repeated edge)
            self._last_edge = now
            if pressed:
                self._pressed_at, self._long_sent = now, False
                return ()
            assert self._pressed_at is not None
            held = now - self._pressed_at
            self._pressed_at = None
            if self._long_sent:
                return (ButtonEvent(ButtonKind.HOLD_RELEASE, now, held),)
            if held >= self.long_s:  # released before the long timer ran
                return (
                    ButtonEvent(ButtonKind.LONG, now, held),
                    ButtonEvent(ButtonKind.HOLD_RELEASE, now, held),
                )
            return (ButtonEvent(ButtonKind.SHORT, now, held),)

    def poll(self, now: float) -> ButtonEvent | None:
        """Called when the long-press time may have passed; returns LONG once per hold."""
        with self._lock:
            if self._pressed_at is None or self._long_sent:
                return None
            held = now - self._pressed_at
            if held < self.long_s:
                return None
            self._long_sent = True
            return ButtonEvent(ButtonKind.LONG, now, held)

    def long_deadline(self) -> float | None:
        """When the current hold becomes a long press (None when not pressed)."""
        with self._lock:
            if self._pressed_at is None or self._long_sent:
                return None
            return self._pressed_at + self.long_s

    @property
    def pressed(self) -> bool:
        return self._pressed_at is not None


__all__ = [
    "PATTERNS",
    "ButtonLogic",
    "GpioSettings",
    "Tone",
    "duration_ms",
]
