"""The demo's tour: each card kind and each device fault the README lists, shown in turn.

A step is a card kind (``station.sim.counter.CardKind``) or a fault of the station's own
parts (``Fault``): the reader unplugged, the camera failing, the store full, the clock not
set. A fault step breaks the simulated part, shows what the station does with a card
meanwhile, then repairs it. ``TourDriver.step`` does one step and returns what the officer
saw (``Seen``); nothing here decides anything the station decides: the real station code
runs, only the parts are simulated.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal, cast, get_args

from station import flow
from station.display.screens import (
    MESSAGES,
    VERDICT_WORDS,
    ErrorKind,
    ErrorScreen,
    ResultScreen,
    Screen,
)
from station.flow.screens import station_problem
from station.ports import Pattern
from station.runtime.app import Station
from station.runtime.clock import ClockState
from station.sim.counter import CardFactory, CardKind, SimCard, SimCounter

Fault = Literal["reader-unplugged", "camera-failed", "store-full", "clock-not-set"]
FAULTS: tuple[Fault, ...] = get_args(Fault)
Step = CardKind | Fault
SETTLE_S = 12.0  # longest a card may take to reach its result screen
READ_S = 1.0  # how long the officer looks at a result in the demo
FAULT_SCREEN = {
    "reader-unplugged": ErrorKind.READER_UNPLUGGED,
    "camera-failed": ErrorKind.CAMERA_FAILED,
    "store-full": ErrorKind.STORE_FULL,
    "clock-not-set": ErrorKind.CLOCK_NOT_SET,
}


@dataclass
class Seen:
    """One step of the tour: what the panel showed and what was recorded."""

    step: Step
    shown: list[str] = field(default_factory=list)
    records: list[dict[str, Any]] = field(default_factory=list)


def describe(screen: Screen | None) -> str:
    """A screen in the officer's words (no personal data: titles and verdicts only)."""
    if isinstance(screen, ResultScreen):
        return f"{VERDICT_WORDS[screen.verdict]}: {screen.reason}"
    if isinstance(screen, ErrorScreen):
        return MESSAGES[screen.kind].title
    return type(screen).__name__.removesuffix("Screen").lower() if screen else "-"


def record_line(record: dict[str, Any]) -> str:
    """status, verification level and the reason code of one record."""
    level = (record.get("verification") or {}).get("level", "-")
    codes = [str(f["code"]) for f in (*record["errors"], *record["warnings"])]
    why = f" ({', '.join(codes)})" if codes else ""
    return f"{record['status']}/{record['source']}/{level}{why}"


class DemoClock:
    """The simulated box's clock as ``station.runtime.clock`` reports it: the real state,
    or "not set" while the tour shows a box that booted without network time."""

    def __init__(self, real: ClockState) -> None:
        self.real = real
        self.set_ok = True

    def probe(self) -> ClockState:
        return dataclasses.replace(self.real, clock_set=self.set_ok and self.real.clock_set)


class TourDriver:
    """Places cards, breaks and repairs parts, waits for the station's answer."""

    def __init__(
        self,
        station: Station,
        counter: SimCounter,
        clock: DemoClock,
        out: Callable[[str], None],
    ) -> None:
        self.station = station
        self.counter = counter
        self.clock = clock
        self.out = out
        self.seen: Seen | None = None

    def on_record(self, record: dict[str, Any]) -> None:
        self.out(f"  -> record {record['record_id']}  {record_line(record)}")
        if self.seen is not None:
            self.seen.records.append(record)

    # -- waiting ----------------------------------------------------------------------
    @property
    def screen(self) -> Screen | None:
        state = self.station.state
        return None if state is None else flow.screen_for(state)

    async def until(self, done: Callable[[], bool], timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if done():
                return True
            await asyncio.sleep(0.05)
        return False

    def _phase(self) -> flow.Phase:
        state = self.station.state
        return state.phase if state is not None else flow.Phase.IDLE

    def _show(self) -> None:
        text = describe(self.screen)
        assert self.seen is not None
        if not self.seen.shown or self.seen.shown[-1] != text:
            self.seen.shown.append(text)
            self.out(f"  screen: {text}")

    async def _settles(self, timeout: float = SETTLE_S) -> None:
        """Until the card reached a result or error screen (or nothing will happen)."""
        done = await self.until(
            lambda: self._phase() in (flow.Phase.RESULT, flow.Phase.ERROR), timeout
        )
        if done:
            self._show()
            await asyncio.sleep(READ_S)  # let the officer read it

    # -- steps ------------------------------------------------------------------------
    async def step(self, index: int, seen: Seen, factory: CardFactory) -> None:
        """Show ``seen.step``; what the panel showed and the records go into ``seen``."""
        self.seen = seen
        step = seen.step
        if step in FAULTS:
            self.out(f"step {index}: {step} (a part of the station fails, then is repaired)")
            await self._fault(step, factory.make("good"))
        else:
            self.out(f"card {index}: {step} card placed on the station")
            await self._card(factory.make(cast(CardKind, step)))

    async def _card(self, card: SimCard) -> None:
        self.counter.place(card)
        if card.put_back is not None:  # lifted mid-read: wait for "put it back", do so
            moved = ErrorScreen(ErrorKind.CARD_MOVED)
            if await self.until(lambda: self.screen == moved, SETTLE_S):
                self._show()
                await asyncio.sleep(READ_S)
                assert self.counter.field is not None
                self.counter.field.insert(card.put_back)
        await self._settles()
        self.counter.remove()
        await self.until(lambda: self._phase() is flow.Phase.IDLE, SETTLE_S)
        await asyncio.sleep(0.3)

    async def _fault(self, fault: Fault, card: SimCard) -> None:
        problem = ErrorScreen(FAULT_SCREEN[fault])
        undo = self._break(fault)
        if await self.until(lambda: self.screen == problem, SETTLE_S):
            self._show()
        self.out("  a card is placed meanwhile")
        sounds = len(self._patterns())
        self.counter.place(card)

        def finished() -> bool:
            return self._phase() in (flow.Phase.RESULT, flow.Phase.ERROR)

        def reacted() -> bool:  # a result, or the error sound of a refused read
            return finished() or Pattern.ERROR in self._patterns()[sounds:]

        await self.until(reacted, 3.0)  # with the camera down nothing happens
        if finished():
            await self._settles()
        assert self.seen is not None
        if not self.seen.records and Pattern.ERROR in self._patterns()[sounds:]:
            self.seen.shown.append("read refused (error sound), nothing stored")
            self.out("  " + self.seen.shown[-1])
        self.counter.remove()
        undo()
        await self.until(self._healthy, SETTLE_S)
        self.out("  repaired: " + describe(self.screen))

    def _healthy(self) -> bool:
        state = self.station.state
        return state is not None and state.phase is flow.Phase.IDLE and not station_problem(state)

    def _patterns(self) -> list[Pattern]:
        patterns = getattr(self.station.devices.indicators, "patterns", None)
        return list(patterns()) if patterns is not None else []

    def _break(self, fault: Fault) -> Callable[[], None]:
        """Break one simulated part; returns how to repair it."""
        devices = self.station.devices
        if fault == "reader-unplugged":
            assert devices.field is not None
            devices.field.unplug()
            return devices.field.plug
        if fault == "camera-failed":
            assert devices.scene is not None
            devices.scene.fail(True)
            return lambda: devices.scene.fail(False) if devices.scene else None
        if fault == "store-full":  # as if the box had been offline until the store filled
            outbox = self.station.services.outbox
            limit, outbox.max_records = outbox.max_records, 0
            return lambda: setattr(outbox, "max_records", limit)
        self.clock.set_ok = False
        return lambda: setattr(self.clock, "set_ok", True)


__all__ = ["FAULTS", "DemoClock", "Fault", "Seen", "Step", "TourDriver", "describe"]
