"""Indicators and button: the pure button logic, the fakes, the RPi.GPIO adapter."""

from __future__ import annotations

import threading

import pytest

from station.config import GpioSection
from station.drivers.gpio import PATTERNS, ButtonLogic, duration_ms
from station.drivers.gpio_rpi import GpioError, RpiButton, RpiIndicators, import_gpio
from station.drivers.gpio_sim import FakeButton, FakeIndicators
from station.ports import ButtonEvent, ButtonKind, Leds, Pattern
from tests.support import wait_for

from .fake_rpi_gpio import HIGH, LOW, FakeGpio

SECTION = GpioSection(debounce_ms=30, long_press_ms=1200)


def test_patterns_are_distinct_and_short() -> None:
    shapes = {tuple((t.hz, t.on_ms) for t in PATTERNS[p]) for p in Pattern}
    assert len(shapes) == len(Pattern)
    assert duration_ms(Pattern.QR_SEEN) <= 100
    assert all(duration_ms(p) <= 1000 for p in Pattern)


def test_logic_short_long_and_bounce() -> None:
    logic = ButtonLogic(0.03, 1.2)
    assert logic.edge(True, 10.0) == ()
    assert logic.edge(False, 10.01) == ()  # bounce inside the debounce window
    assert logic.edge(False, 10.2)[0].kind is ButtonKind.SHORT
    assert logic.edge(True, 11.0) == ()
    assert logic.poll(11.5) is None
    long = logic.poll(12.3)
    assert long is not None and long.kind is ButtonKind.LONG
    assert logic.poll(12.5) is None  # once per hold
    (release,) = logic.edge(False, 13.0)
    assert release.kind is ButtonKind.HOLD_RELEASE and release.held_s == pytest.approx(2.0)


def test_logic_long_without_poll_gives_long_then_release() -> None:
    logic = ButtonLogic(0.0, 1.0)
    logic.edge(True, 0.0)
    assert [e.kind for e in logic.edge(False, 3.0)] == [ButtonKind.LONG, ButtonKind.HOLD_RELEASE]


def test_fake_button_press_durations() -> None:
    now = [100.0]
    button = FakeButton(SECTION, clock=lambda: now[0])
    got: list[ButtonEvent] = []
    button.set_handler(got.append)
    button.press(0.2)
    button.press(2.0, at=101.0)
    assert [e.kind for e in got] == [ButtonKind.SHORT, ButtonKind.LONG, ButtonKind.HOLD_RELEASE]
    assert got[1].at == pytest.approx(102.2)  # fired at the long-press time, while held
    assert got[2].at == pytest.approx(103.0)


def test_fake_button_chatter_is_one_press() -> None:
    button = FakeButton(SECTION, clock=lambda: 0.0)
    for i, level in enumerate([True, False, True, False, True]):
        button.edge(level, 5.0 + i * 0.005)
    button.edge(False, 5.5)
    assert [e.kind for e in button.events] == [ButtonKind.SHORT]


def test_fake_indicators_record_with_clock() -> None:
    now = [7.0]
    ind = FakeIndicators(SECTION, clock=lambda: now[0])
    ind.play(Pattern.QR_SEEN)
    now[0] = 8.0
    ind.set_leds(Leds(green=True))
    ind.set_leds(Leds(green=True))  # no change, not recorded
    ind.play(Pattern.VERIFIED)
    assert ind.patterns() == [Pattern.QR_SEEN, Pattern.VERIFIED]
    assert [p.at for p in ind.played] == [7.0, 8.0]
    assert [c.leds for c in ind.led_changes] == [Leds(green=True)]
    ind.close()
    assert ind.leds == Leds()


def test_muted_buzzer_plays_nothing() -> None:
    ind = FakeIndicators(GpioSection(buzzer_enabled=False))
    ind.play(Pattern.ERROR)
    assert ind.patterns() == []


def test_import_gpio_off_a_pi_says_what_to_do() -> None:
    try:
        import_gpio()
    except GpioError as exc:
        assert "rpi-lgpio" in str(exc)
    else:  # pragma: no cover - only on a Raspberry Pi
        pytest.skip("running on a Pi: RPi.GPIO imports")


def test_rpi_indicators_leds_and_passive_buzzer() -> None:
    gpio = FakeGpio()
    ind = RpiIndicators(SECTION, gpio=gpio)
    assert gpio.mode == gpio.BCM
    ind.set_leds(Leds(red=True))
    assert gpio.levels[SECTION.led_red_pin] == HIGH
    assert gpio.levels[SECTION.led_green_pin] == LOW
    ind.play(Pattern.VERIFIED)
    tones = [t.hz for t in PATTERNS[Pattern.VERIFIED]]
    wait_for(lambda: [e[2] for e in gpio.pwm_log if e[1] == "start"] == tones)
    wait_for(lambda: len(gpio.pwm_log) == 2 * len(tones))  # every tone stopped
    ind.close()
    ind.close()
    assert gpio.levels[SECTION.led_red_pin] == LOW  # LEDs off when closed
    assert set(gpio.cleaned) == {
        SECTION.buzzer_pin,
        SECTION.led_green_pin,
        SECTION.led_red_pin,
        SECTION.led_amber_pin,
    }


def test_rpi_active_buzzer_new_pattern_cuts_the_old() -> None:
    gpio = FakeGpio()
    ind = RpiIndicators(GpioSection(buzzer_passive=False), gpio=gpio)
    pin = SECTION.buzzer_pin

    def interrupt(wpin: int, level: int) -> None:
        if wpin == pin and level == HIGH:
            gpio.on_write = None
            ind.play(Pattern.QR_SEEN)  # arrives while the first error beep sounds

    gpio.on_write = interrupt
    ind.play(Pattern.ERROR)  # three beeps, unless cut
    highs = lambda: [w for w in gpio.writes if w[1] == pin and w[2] == HIGH]  # noqa: E731
    wait_for(lambda: len(highs()) == 2 and gpio.levels[pin] == LOW)
    ind.close()
    assert len(highs()) == 2  # one error beep, then the QR beep; the rest was cut


def test_rpi_button_short_and_long() -> None:
    gpio = FakeGpio()
    section = GpioSection(long_press_ms=300, debounce_ms=20)
    button = RpiButton(section, gpio=gpio)
    pin = section.button_pin
    assert gpio.setups[pin] == (gpio.IN, gpio.PUD_UP)
    got: list[ButtonEvent] = []
    seen = threading.Event()

    def handler(event: ButtonEvent) -> None:
        got.append(event)
        seen.set()

    button.set_handler(handler)
    gpio.drive(pin, LOW)  # active low: pressed
    gpio.drive(pin, HIGH)
    assert [e.kind for e in got] == [ButtonKind.SHORT]
    gpio.drive(pin, LOW)
    wait_for(lambda: len(got) == 2)  # LONG fires while held
    assert got[1].kind is ButtonKind.LONG
    gpio.drive(pin, HIGH)
    assert [e.kind for e in got][2:] == [ButtonKind.HOLD_RELEASE]
    button.close()
    button.close()
    assert gpio.cleaned.count(pin) == 1 and pin not in gpio.callbacks


def test_rpi_button_handler_error_does_not_kill_callbacks() -> None:
    gpio = FakeGpio()
    button = RpiButton(SECTION, gpio=gpio)

    def bad(event: ButtonEvent) -> None:
        raise ValueError("boom")

    button.set_handler(bad)
    gpio.drive(SECTION.button_pin, LOW)
    gpio.drive(SECTION.button_pin, HIGH)
    got: list[ButtonEvent] = []
    button.set_handler(got.append)
    gpio.drive(SECTION.button_pin, LOW)
    gpio.drive(SECTION.button_pin, HIGH)
    assert [e.kind for e in got] == [ButtonKind.SHORT]
    button.close()


@pytest.mark.hardware
def test_real_gpio_on_a_pi() -> None:
    """On a Raspberry Pi (RPi.GPIO or rpi-lgpio): the same adapter on real pins."""
    try:
        gpio = import_gpio()
    except GpioError as exc:
        pytest.skip(str(exc))
    ind = RpiIndicators(SECTION, gpio=gpio)
    ind.set_leds(Leds(green=True, red=True, amber=True))
    ind.play(Pattern.QR_SEEN)
    ind.set_leds(Leds())
    ind.close()
    button = RpiButton(SECTION, gpio=gpio)
    button.close()


def test_fake_indicators_keep_a_bounded_history() -> None:
    """A simulated station that runs for days must not grow: only the newest are kept."""
    ind = FakeIndicators(SECTION, clock=lambda: 0.0)
    for i in range(FakeIndicators.HISTORY * 3):
        ind.play(Pattern.QR_SEEN if i % 2 else Pattern.VERIFIED)
        ind.set_leds(Leds(green=bool(i % 2)))
    assert len(ind.played) == FakeIndicators.HISTORY
    assert len(ind.led_changes) == FakeIndicators.HISTORY
    assert ind.patterns()[-1] == Pattern.QR_SEEN  # the newest survive
