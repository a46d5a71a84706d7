"""The simulated buzzer, LEDs and button: they behave like the real ones and record what
happened, with timestamps from an injectable clock (gpiozero ``MockPin`` style: a test
or the demo calls ``FakeButton.press(duration)``).
"""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass

from station.drivers.gpio import ButtonLogic, Clock, GpioSettings
from station.ports import ButtonEvent, ButtonHandler, Leds, Pattern


@dataclass(frozen=True)
class Played:
    at: float
    pattern: Pattern


@dataclass(frozen=True)
class LedChange:
    at: float
    leds: Leds


class FakeIndicators:
    """Records the patterns played and LED changes, with clock timestamps.

    Only the newest ``HISTORY`` of each are kept, so that a simulated station running
    for days (the demo, the soak and memory benchmarks) does not grow without bound.
    """

    HISTORY = 256

    def __init__(self, section: GpioSettings | None = None, clock: Clock = time.monotonic) -> None:
        self._enabled = section.buzzer_enabled if section is not None else True
        self._clock = clock
        self._lock = threading.Lock()
        self.played: deque[Played] = deque(maxlen=self.HISTORY)
        self.led_changes: deque[LedChange] = deque(maxlen=self.HISTORY)
        self.leds = Leds()
        self.closed = False

    def play(self, pattern: Pattern) -> None:
        if not self._enabled:
            return
        with self._lock:
            self.played.append(Played(self._clock(), Pattern(pattern)))

    def set_leds(self, leds: Leds) -> None:
        with self._lock:
            if leds != self.leds:
                self.leds = leds
                self.led_changes.append(LedChange(self._clock(), leds))

    def patterns(self) -> list[Pattern]:
        with self._lock:
            return [p.pattern for p in self.played]

    def close(self) -> None:
        self.set_leds(Leds())
        self.closed = True


class FakeButton:
    """A button pressed by code: ``press(duration)`` runs the real debounce/long logic."""

    def __init__(self, section: GpioSettings, clock: Clock = time.monotonic) -> None:
        self._logic = ButtonLogic(section.debounce_ms / 1000, section.long_press_ms / 1000)
        self._clock = clock
        self._handler: ButtonHandler | None = None
        self.events: list[ButtonEvent] = []

    def set_handler(self, handler: ButtonHandler | None) -> None:
        self._handler = handler

    def edge(self, pressed: bool, at: float) -> None:
        """Drive the pin to pressed/released at time ``at`` (like MockPin.drive_low)."""
        if not pressed:  # the long-press timer would have fired while it was held
            long_at = self._logic.long_deadline()
            if long_at is not None and long_at <= at:
                self._emit(self._logic.poll(long_at))
        for event in self._logic.edge(pressed, at):
            self._emit(event)

    def press(self, duration: float, at: float | None = None) -> None:
        """A whole press of ``duration`` seconds starting at ``at`` (default: clock())."""
        start = self._clock() if at is None else at
        self.edge(True, start)
        self.edge(False, start + duration)

    def _emit(self, event: ButtonEvent | None) -> None:
        if event is None:
            return
        self.events.append(event)
        if self._handler is not None:
            self._handler(event)

    def close(self) -> None:
        self._handler = None


__all__ = ["FakeButton", "FakeIndicators", "LedChange", "Played"]
