"""The flow's effects executed against real parts: zxing-cpp on synthetic camera frames,
the emulated chip read for real (PACE/BAC, SM), real verification, the sim display
through the refresh worker, fake GPIO. A tiny synchronous executor stands in for the
app's loop (station/runtime/app.py does this with threads)."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import pytest

from station.config import GpioSection
from station.display.outcome import outcome_from_verification, person_from_chip
from station.display.render import render
from station.display.screens import ErrorKind, ErrorScreen, ResultScreen, Verdict
from station.drivers.display_sim import SimDisplay
from station.drivers.gpio_sim import FakeButton, FakeIndicators
from station.flow import (
    Button,
    CancelChipRead,
    CardPresent,
    ChipDone,
    ChipFailed,
    ChipFailure,
    ChipProgress,
    Effect,
    Event,
    Play,
    QrSeen,
    QrVisible,
    SetLeds,
    Settings,
    ShowScreen,
    StartChipRead,
    StartTimer,
    StoreDone,
    StoreRecord,
    TimerFired,
    Verified,
    initial,
    step,
)
from station.icao.access import AccessKeys
from station.icao.errors import AccessError, ChipError
from station.icao.reader import ChipReader
from station.ports import CardRemovedError, Pattern, TransportError
from station.qr.reader import QrReader
from station.runtime.refresh import RefreshWorker
from station.sim import pki
from station.sim.citizens import SyntheticCitizen, generate
from station.sim.emulator import EmulatedCard, EmulatorTransport, Misbehaviour, auth
from station.sim.emulator.files import build_profile
from station.sim.frames import card_frame, empty_frame
from station.verify.chip import verify_chip
from station.verify.trust import TrustStore

TODAY = date(2026, 1, 15)


@pytest.fixture(scope="module")
def chain() -> pki.TestPki:
    return pki.make_test_pki("p256")


@dataclass
class Counter:
    """Executes the flow's effects synchronously on a fake clock."""

    chain: pki.TestPki
    now: float = 100.0
    settings: Settings = field(default_factory=Settings)
    qr: QrReader = field(default_factory=lambda: QrReader(today=lambda: TODAY))
    transport: EmulatorTransport = field(default_factory=EmulatorTransport)
    indicators: FakeIndicators = field(init=False)
    display: SimDisplay = field(default_factory=SimDisplay)
    stored: list[tuple[Any, ...]] = field(default_factory=list)
    timers: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.indicators = FakeIndicators(clock=lambda: self.now)
        self.worker = RefreshWorker(self.display, max_fps=60)
        self.reader = ChipReader(self.transport)
        self.trust = TrustStore.from_der([self.chain.csca_der], [self.chain.crl_der])
        self.state, fx = initial(self.settings)
        self.run(fx)

    def send(self, event: Event) -> None:
        self.state, fx = step(self.state, event)
        self.run(fx)

    def run(self, effects: list[Effect]) -> None:
        for effect in effects:
            self.execute(effect)

    def execute(self, effect: Effect) -> None:
        if isinstance(effect, ShowScreen):
            self.worker.submit(effect.screen)
            self.shown = effect.screen
        elif isinstance(effect, Play):
            self.indicators.play(effect.pattern)
        elif isinstance(effect, SetLeds):
            self.indicators.set_leds(effect.leds)
        elif isinstance(effect, StartTimer):
            self.timers = {effect.name: effect.at}
        elif isinstance(effect, StartChipRead):
            for event in self.read_chip(effect):  # read, then verify (as the chip worker)
                self.send(event)
        elif isinstance(effect, StoreRecord):
            self.stored.append((effect.qr.raw_text, effect.chip, effect.verification))
            self.send(StoreDone(self.now, effect.job))
        else:
            assert isinstance(effect, CancelChipRead)

    def read_chip(self, start: StartChipRead) -> list[Event]:
        identity = start.qr.identity
        assert identity is not None
        progress: list[Event] = []
        try:
            read = self.reader.read(
                AccessKeys.from_qr(identity),
                progress=lambda p: progress.append(
                    ChipProgress(self.now, start.job, p.fraction, p.file_read, p.file)
                ),
            )
        except CardRemovedError:
            return [ChipFailed(self.now, start.job, ChipFailure.REMOVED)]
        except AccessError:
            return [ChipFailed(self.now, start.job, ChipFailure.ACCESS_DENIED)]
        except (ChipError, TransportError):
            return [ChipFailed(self.now, start.job, ChipFailure.ERROR)]
        done = ChipDone(self.now, start.job, read, person_from_chip(read, identity))
        v = verify_chip(read, identity, self.trust)
        verified = Verified(self.now, start.job, outcome_from_verification(v), v)
        return [*progress[-3:], done, verified]

    def place(self, citizen: SyntheticCitizen, switches: Misbehaviour | None = None) -> None:
        card = EmulatedCard(build_profile(citizen, pki=self.chain), switches or Misbehaviour())
        auth.install(card)
        self.transport.insert(card)
        self.frame(card_frame(citizen, seed=1))

    def frame(self, frame: Any) -> None:
        for result in self.qr.process(frame, self.now):
            self.send(QrSeen(self.now, result))
        if self.qr.visible != self.state.qr_visible:
            self.send(QrVisible(self.now, self.qr.visible))

    def advance(self, seconds: float) -> None:
        self.now += seconds
        for name, at in list(self.timers.items()):
            if at <= self.now:
                del self.timers[name]
                self.send(TimerFired(self.now, name))

    def panel(self) -> bytes:
        assert self.worker.wait_idle(5)
        image = self.display.image
        assert image is not None
        return image.tobytes()

    def close(self) -> None:
        self.worker.close()


def citizens(n: int, seed: int = 9) -> list[SyntheticCitizen]:
    rng = random.Random(seed)
    return [generate(rng, today=TODAY) for _ in range(n)]


def test_card_to_verdict_on_the_panel(chain: pki.TestPki) -> None:
    station = Counter(chain)
    (alice,) = citizens(1)
    station.place(alice)
    screen = station.shown
    assert isinstance(screen, ResultScreen), screen
    assert screen.verdict is Verdict.VERIFIED, screen.reason
    assert screen.person is not None and screen.person.full_name == alice.full_name
    assert station.panel() == render(screen).tobytes()
    assert station.indicators.patterns() == [Pattern.QR_SEEN, Pattern.VERIFIED]
    assert len(station.stored) == 1 and station.stored[0][1] is not None
    # the button pages through the result on the real panel
    button = FakeButton(GpioSection(), clock=lambda: station.now)
    button.set_handler(lambda e: station.send(Button(e.at, e.kind)))
    button.press(0.2)
    assert station.panel() == render(station.shown).tobytes()
    assert isinstance(station.shown, ResultScreen) and station.shown.page == 1
    station.close()


def test_same_card_stays_one_record_then_next_card(chain: pki.TestPki) -> None:
    station = Counter(chain)
    alice, bob = citizens(2)
    station.place(alice)
    for _ in range(30):  # a minute of frames, 2 s apart, the card not moving
        station.advance(2)
        station.frame(card_frame(alice, seed=1))
    assert len(station.stored) == 1
    station.frame(empty_frame())
    station.advance(2)
    station.frame(empty_frame())
    station.place(bob)
    assert len(station.stored) == 2
    assert isinstance(station.shown, ResultScreen) and station.shown.person is not None
    assert station.shown.person.full_name == bob.full_name
    station.close()


def test_wrong_key_card_says_chip_refuses(chain: pki.TestPki) -> None:
    station = Counter(chain)
    (alice,) = citizens(1, seed=3)
    station.place(alice, Misbehaviour(wrong_key=True))
    assert station.shown == ErrorScreen(ErrorKind.CHIP_LOCKED)
    assert station.indicators.patterns()[-1] is Pattern.ERROR
    assert len(station.stored) == 1 and station.stored[0][1] is None  # the QR read is kept
    station.close()


def test_card_lifted_mid_read_then_back(chain: pki.TestPki) -> None:
    station = Counter(chain)
    (alice,) = citizens(1, seed=5)
    station.place(alice, Misbehaviour(lost_after_bytes=1000))  # mid-read (no face read)
    assert station.shown == ErrorScreen(ErrorKind.CARD_MOVED)
    assert station.panel() == render(ErrorScreen(ErrorKind.CARD_MOVED)).tobytes()
    station.advance(2)
    card = EmulatedCard(build_profile(alice, pki=chain))
    auth.install(card)
    station.transport.insert(card)
    station.send(CardPresent(station.now))
    assert isinstance(station.shown, ResultScreen) and station.shown.verdict is Verdict.VERIFIED
    assert len(station.stored) == 1
    station.close()
