"""The screen and LEDs for each state (pure)."""

from __future__ import annotations

from typing import Literal

from station.display.screens import (
    ErrorKind,
    ErrorScreen,
    IdleScreen,
    QrSeenScreen,
    ReadingScreen,
    ResultScreen,
    Screen,
    Verdict,
    VerifyingScreen,
)
from station.flow.events import Phase
from station.flow.state import State
from station.ports import Leds, Pattern
from station.qr.models import QrStatus

VERDICT_PATTERN = {
    Verdict.VERIFIED: Pattern.VERIFIED,
    Verdict.ATTENTION: Pattern.ATTENTION,
    Verdict.FAILED: Pattern.FAILED,
}
VERDICT_LEDS = {
    Verdict.VERIFIED: Leds(green=True),
    Verdict.ATTENTION: Leds(amber=True),
    Verdict.FAILED: Leds(red=True),
}


def station_problem(state: State) -> ErrorKind | None:
    """What keeps the idle station from working normally, most serious first."""
    h = state.health
    if h.stopped:
        return ErrorKind.STATION_STOPPED
    if not h.clock:
        return ErrorKind.CLOCK_NOT_SET
    if h.store_full:
        return ErrorKind.STORE_FULL
    if not h.camera:
        return ErrorKind.CAMERA_FAILED
    if state.settings.chip and not h.reader:
        return ErrorKind.READER_UNPLUGGED
    if state.settings.mrz and not h.mrz:
        return ErrorKind.MRZ_FAILED
    return None


def refuses_reads(state: State) -> bool:
    """New reads are refused (records need a right clock and room in the store)."""
    return station_problem(state) in (
        ErrorKind.STATION_STOPPED,
        ErrorKind.CLOCK_NOT_SET,
        ErrorKind.STORE_FULL,
    )


def idle_screen(state: State) -> Screen:
    problem = station_problem(state)
    if problem is not None:
        return ErrorScreen(problem)
    h = state.health
    return IdleScreen(
        h.sync, h.pending, chip=state.settings.chip, refused=h.refused, stale_min=h.stale_min,
        denied=h.denied, portal=state.settings.portal_url,
    )  # fmt: skip


def idle_leds(state: State) -> Leds:
    return Leds(red=True) if station_problem(state) is not None else Leds()


def screen_for(state: State) -> Screen:
    """The screen model for the current state."""
    read = state.read
    phase = state.phase
    if phase is Phase.IDLE or (read is None and phase is not Phase.ERROR):
        return idle_screen(state)
    if phase is Phase.ERROR:
        return ErrorScreen(state.error or ErrorKind.CHIP_FAILED)
    if phase is Phase.STOPPED:
        return ErrorScreen(ErrorKind.STATION_STOPPED)
    assert read is not None
    if phase is Phase.LOOKING:
        return QrSeenScreen(chip=state.settings.chip, seen="looking")
    seen: Literal["qr", "mrz"] = "qr" if read.qr.status is not QrStatus.NO_QR else "mrz"
    if phase is Phase.READING:
        if read.fraction > 0 or read.bytes_read > 0:
            return ReadingScreen(read.fraction, read.bytes_read)
        return QrSeenScreen(chip=True, seen=seen)
    if phase is Phase.CARD_AWAY:
        return ErrorScreen(ErrorKind.CARD_MOVED)
    if phase is Phase.VERIFYING or (phase is Phase.STORING and read.chip is not None):
        return VerifyingScreen()
    if phase is Phase.STORING and read.error is not None:
        return ErrorScreen(read.error)  # what went wrong is known; sound and LEDs follow
    if phase is Phase.STORING:
        return QrSeenScreen(chip=False, seen=seen)
    outcome = read.outcome
    assert outcome is not None
    return ResultScreen(
        outcome.verdict,
        outcome.reason,
        read.person,
        outcome.checks,
        read.face,
        page=state.page,
        reveal_id=state.reveal,
        advice=outcome.advice,
    )
