"""Buzzer, LEDs and button through the RPi.GPIO API (BCM numbering).

Works on every Pi model: on a Pi 5 install ``rpi-lgpio``, a drop-in that provides
the same ``RPi.GPIO`` module. The module is imported when an adapter is made
(tests pass a stand-in module as ``gpio``). The buzzer plays from its own thread
(PWM tones for a passive buzzer, on/off for an active one); a new pattern cuts the
one playing. The button uses edge detection with ``bouncetime``; the level is read
in the callback, so a lost edge cannot leave the button stuck.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from station.drivers.gpio import PATTERNS, ButtonLogic, Clock, GpioSettings
from station.ports import ButtonEvent, ButtonHandler, Leds, Pattern

log = logging.getLogger(__name__)


class GpioError(RuntimeError):
    """GPIO cannot be used (library missing, not a Pi, pin busy)."""


def import_gpio() -> Any:
    """The RPi.GPIO module (or rpi-lgpio's), with a clear error off a Pi."""
    try:
        import RPi.GPIO as gpio
    except (ImportError, RuntimeError) as exc:
        raise GpioError(
            f"RPi.GPIO unavailable ({exc}); on a Raspberry Pi install RPi.GPIO, "
            "on a Pi 5 install rpi-lgpio; elsewhere use gpio.backend = 'sim'"
        ) from exc
    return gpio


class RpiIndicators:
    """Buzzer + three LEDs (implements ``station.ports.Indicators``)."""

    def __init__(self, section: GpioSettings, gpio: Any = None) -> None:
        self._gpio = gpio if gpio is not None else import_gpio()
        self._s = section
        self._pins = (
            section.buzzer_pin,
            section.led_green_pin,
            section.led_red_pin,
            section.led_amber_pin,
        )
        g = self._gpio
        g.setwarnings(False)
        g.setmode(g.BCM)
        for pin in self._pins:
            g.setup(pin, g.OUT, initial=g.LOW)
        self._pwm: Any = g.PWM(section.buzzer_pin, 2000) if section.buzzer_passive else None
        self._cond = threading.Condition()
        self._pending: Pattern | None = None
        self._stop = False
        self._thread = threading.Thread(target=self._run, name="buzzer", daemon=True)
        self._thread.start()

    def play(self, pattern: Pattern) -> None:
        if not self._s.buzzer_enabled:
            return
        with self._cond:
            self._pending = Pattern(pattern)
            self._cond.notify_all()

    def set_leds(self, leds: Leds) -> None:
        g = self._gpio
        for pin, on in (
            (self._s.led_green_pin, leds.green),
            (self._s.led_red_pin, leds.red),
            (self._s.led_amber_pin, leds.amber),
        ):
            g.output(pin, g.HIGH if on else g.LOW)

    def close(self) -> None:
        """Silence, LEDs off, release the pins (safe to call twice)."""
        with self._cond:
            if self._stop:
                return
            self._stop = True
            self._cond.notify_all()
        self._thread.join(2.0)
        self.set_leds(Leds())
        self._sound(None)
        self._gpio.cleanup(list(self._pins))

    def _sound(self, hz: int | None) -> None:
        g = self._gpio
        if self._pwm is None:
            g.output(self._s.buzzer_pin, g.LOW if hz is None else g.HIGH)
        elif hz is None:
            self._pwm.stop()
        else:
            self._pwm.ChangeFrequency(hz)
            self._pwm.start(50)

    def _wait(self, seconds: float) -> bool:
        """Sleep unless a new pattern or stop arrives; True when interrupted."""
        with self._cond:
            return self._cond.wait_for(lambda: self._pending is not None or self._stop, seconds)

    def _run(self) -> None:
        while True:
            with self._cond:
                self._cond.wait_for(lambda: self._pending is not None or self._stop)
                if self._stop:
                    return
                pattern, self._pending = self._pending, None
            assert pattern is not None
            try:
                for tone in PATTERNS[pattern]:
                    self._sound(tone.hz)
                    cut = self._wait(tone.on_ms / 1000)
                    self._sound(None)
                    if cut or self._wait(tone.off_ms / 1000):
                        break
            except Exception:
                log.exception("buzzer pattern %s failed", pattern.value)


class RpiButton:
    """The push button (implements ``station.ports.Button``)."""

    def __init__(self, section: GpioSettings, gpio: Any = None, clock: Clock = time.monotonic):
        self._gpio = gpio if gpio is not None else import_gpio()
        self._s = section
        self._clock = clock
        # RPi.GPIO's bouncetime does the debouncing; the logic only classifies.
        self._logic = ButtonLogic(0.0, section.long_press_ms / 1000)
        self._handler: ButtonHandler | None = None
        self._timer: threading.Timer | None = None
        self._closed = False
        g = self._gpio
        g.setwarnings(False)
        g.setmode(g.BCM)
        pull = g.PUD_UP if section.button_active_low else g.PUD_DOWN
        g.setup(section.button_pin, g.IN, pull_up_down=pull)
        g.add_event_detect(
            section.button_pin,
            g.BOTH,
            callback=self._on_edge,
            bouncetime=max(1, section.debounce_ms),
        )

    def set_handler(self, handler: ButtonHandler | None) -> None:
        self._handler = handler

    def close(self) -> None:
        """Stop edge detection and release the pin (safe to call twice)."""
        if self._closed:
            return
        self._closed = True
        self._handler = None
        if self._timer is not None:
            self._timer.cancel()
        self._gpio.remove_event_detect(self._s.button_pin)
        self._gpio.cleanup([self._s.button_pin])

    def _is_pressed(self) -> bool:
        level = bool(self._gpio.input(self._s.button_pin))
        return level != self._s.button_active_low

    def _on_edge(self, _channel: int) -> None:
        pressed = self._is_pressed()
        now = self._clock()
        if not pressed:
            self._emit(self._logic.poll(now))
        for event in self._logic.edge(pressed, now):
            self._emit(event)
        if pressed and self._logic.pressed:
            if self._timer is not None:
                self._timer.cancel()
            self._timer = threading.Timer(self._logic.long_s, self._on_long)
            self._timer.daemon = True
            self._timer.start()

    def _on_long(self) -> None:
        if not self._is_pressed():  # the release edge was lost: settle it now
            self._on_edge(self._s.button_pin)
            return
        self._emit(self._logic.poll(self._clock()))

    def _emit(self, event: ButtonEvent | None) -> None:
        handler = self._handler
        if event is None or handler is None:
            return
        try:
            handler(event)
        except Exception:
            log.exception("button handler failed on %s", event.kind.value)


__all__ = ["GpioError", "RpiButton", "RpiIndicators", "import_gpio"]
