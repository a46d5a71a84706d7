"""A stand-in for the RPi.GPIO module (its API surface used by the adapter).

Outputs are recorded with timestamps; ``drive(pin, level)`` changes an input and
calls the edge callback from another thread, as the real library does.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

BCM, BOARD = 11, 10
OUT, IN = 0, 1
LOW, HIGH = 0, 1
PUD_UP, PUD_DOWN = 22, 21
BOTH, RISING, FALLING = 33, 31, 32


class FakeGpio:
    BCM, OUT, IN, LOW, HIGH, PUD_UP, PUD_DOWN, BOTH = (
        BCM,
        OUT,
        IN,
        LOW,
        HIGH,
        PUD_UP,
        PUD_DOWN,
        BOTH,
    )

    def __init__(self) -> None:
        self.mode: int | None = None
        self.levels: dict[int, int] = {}
        self.setups: dict[int, tuple[int, Any]] = {}
        self.writes: list[tuple[float, int, int]] = []
        self.pwm_log: list[tuple[float, str, float]] = []
        self.callbacks: dict[int, tuple[Callable[[int], None], int]] = {}
        self.cleaned: list[int] = []
        self.lock = threading.Lock()
        self.on_write: Callable[[int, int], None] | None = None

    def setwarnings(self, flag: bool) -> None:
        pass

    def setmode(self, mode: int) -> None:
        assert self.mode in (None, mode)
        self.mode = mode

    def setup(self, pin: int, direction: int, initial: int = LOW, pull_up_down: int = 0) -> None:
        assert self.mode == BCM
        self.setups[pin] = (direction, pull_up_down)
        if direction == OUT:
            self.levels[pin] = initial
        else:
            self.levels[pin] = HIGH if pull_up_down == PUD_UP else LOW

    def output(self, pin: int, level: int) -> None:
        assert self.setups[pin][0] == OUT, f"pin {pin} is not an output"
        with self.lock:
            self.levels[pin] = level
            self.writes.append((time.monotonic(), pin, level))
        if self.on_write is not None:
            self.on_write(pin, level)

    def input(self, pin: int) -> int:
        return self.levels[pin]

    def PWM(self, pin: int, hz: float) -> FakePwm:
        assert self.setups[pin][0] == OUT
        return FakePwm(self, hz)

    def add_event_detect(
        self, pin: int, edge: int, callback: Callable[[int], None], bouncetime: int
    ) -> None:
        assert self.setups[pin][0] == IN and edge == BOTH and bouncetime > 0
        self.callbacks[pin] = (callback, bouncetime)

    def remove_event_detect(self, pin: int) -> None:
        self.callbacks.pop(pin, None)

    def cleanup(self, pins: list[int] | None = None) -> None:
        self.cleaned.extend(pins or list(self.setups))

    def drive(self, pin: int, level: int) -> None:
        """An external signal on an input pin; the callback runs on another thread."""
        self.levels[pin] = level
        callback, _ = self.callbacks[pin]
        t = threading.Thread(target=callback, args=(pin,))
        t.start()
        t.join()


class FakePwm:
    def __init__(self, gpio: FakeGpio, hz: float) -> None:
        self.gpio = gpio
        self.hz = hz

    def ChangeFrequency(self, hz: float) -> None:
        self.hz = hz

    def start(self, duty: float) -> None:
        with self.gpio.lock:
            self.gpio.pwm_log.append((time.monotonic(), "start", self.hz))

    def stop(self) -> None:
        with self.gpio.lock:
            self.gpio.pwm_log.append((time.monotonic(), "stop", 0.0))
