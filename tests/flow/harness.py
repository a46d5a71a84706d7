"""A fake-clock driver for the pure flow: keeps the state, collects effects, fires timers."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from station.display.render import layout
from station.display.screens import Check, Outcome, Screen, Verdict
from station.flow import (
    ChipDone,
    ChipProgress,
    Effect,
    Event,
    QrSeen,
    Settings,
    ShowScreen,
    StartChipRead,
    StartTimer,
    State,
    StoreDone,
    StoreRecord,
    TimerFired,
    Verified,
    initial,
    step,
)
from station.icao.result import ChipRead
from station.qr.models import QrResult
from station.qr.payload import parse_payload
from station.sim.citizens import generate_many
from station.verify.passive import Passive
from station.verify.verdict import Auth, Verification

TODAY = date(2026, 1, 15)
VERIFIED = Outcome(Verdict.VERIFIED, "Thẻ thật, dữ liệu khớp", (Check("Chữ ký chip", True),))
# What the chip worker hands the flow: opaque to it, carried into StoreRecord.
CHIP = ChipRead(
    files={}, mrz=None, dg13=None, face=None, access="BAC", key_source="qr-computed", read_ms=0
)
VERIFICATION = Verification(Passive.OK, Auth.OK, Auth.OK, True)


def qr_results(n: int, seed: int = 66) -> list[QrResult]:
    return [parse_payload(c.qr_payload(), today=TODAY) for c in generate_many(seed, n, today=TODAY)]


@dataclass
class Station:
    """Steps events through the flow like the app would, on a fake clock."""

    settings: Settings = field(default_factory=Settings)
    now: float = 1000.0
    state: State = field(init=False)
    effects: list[Effect] = field(default_factory=list)
    screens: list[Screen] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.state, fx = initial(self.settings)
        self._record(fx)

    def _record(self, fx: list[Effect]) -> list[Effect]:
        self.effects.extend(fx)
        for effect in fx:
            if isinstance(effect, ShowScreen):
                lay = layout(effect.screen)  # every screen the flow shows must draw uncut
                assert not lay.truncated, effect.screen
                self.screens.append(effect.screen)
        return fx

    def send(self, event: Event) -> list[Effect]:
        self.state, fx = step(self.state, event)
        return self._record(fx)

    def advance(self, seconds: float) -> list[Effect]:
        """Move the clock, firing each timer that comes due (as the app's loop does)."""
        end = self.now + seconds
        out: list[Effect] = []
        while True:
            timer = self.state.timer
            if timer is None or timer.at > end:
                break
            self.now = max(self.now, timer.at)
            out += self.send(TimerFired(self.now, timer.name))
        self.now = end
        return out

    def last(self, kind: type) -> Effect:
        return [e for e in self.effects if isinstance(e, kind)][-1]

    def all(self, kind: type) -> list[Effect]:
        return [e for e in self.effects if isinstance(e, kind)]

    @property
    def screen(self) -> Screen:
        return self.screens[-1]

    def job_of(self, kind: type) -> int:
        effect = self.last(kind)
        assert isinstance(effect, StartChipRead | StoreRecord)
        return effect.job

    def happy(self, qr: QrResult, outcome: Outcome = VERIFIED) -> None:
        """A whole successful read of ``qr`` (QR seen to verdict on screen)."""
        self.send(QrSeen(self.now, qr))
        job = self.job_of(StartChipRead)
        self.now += 0.3
        self.send(ChipProgress(self.now, job, 0.5, 9000))
        self.now += 0.3
        self.send(ChipDone(self.now, job, chip=CHIP))
        self.send(Verified(self.now, job, outcome, verification=VERIFICATION))
        self.send(StoreDone(self.now, self.job_of(StoreRecord)))


def timers(fx: list[Effect]) -> list[str]:
    return [e.name for e in fx if isinstance(e, StartTimer)]
