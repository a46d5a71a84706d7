"""Buzzer, LEDs and button: how each pattern sounds, the pure button logic, and the fakes.

The ports (``Indicators``, ``Button``, ``Pattern``, ``Leds``, ``ButtonEvent``) are in
``station.ports``. The real adapter is ``station.drivers.gpio_rpi`` (RPi.GPIO API,
imported lazily); ``FakeIndicators`` / ``FakeButton`` behave the same and record what
happened, with timestamps from an injectable clock (gpiozero ``MockPin`` style:
``press(duration)``). Button handlers run on a device thread: the app must hand them to
its loop thread-safely.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from station.ports import ButtonEvent, ButtonHandler, ButtonKind, Leds, Pattern


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


__all__ = [
    "PATTERNS",
    "ButtonLogic",
    "FakeButton",
    "FakeIndicators",
    "GpioSettings",
    "LedChange",
    "Played",
    "Tone",
    "duration_ms",
]
