"""The flow's building blocks: each returns the next state and the effects that show it."""

from __future__ import annotations

from dataclasses import replace

from station.display.outcome import qr_only_outcome
from station.display.screens import ErrorKind
from station.fingerprint import fingerprint
from station.flow.events import (
    CancelChipRead,
    Effect,
    Phase,
    Play,
    SetLeds,
    ShowScreen,
    StartChipRead,
    StartTimer,
    StoreRecord,
)
from station.flow.screens import VERDICT_LEDS, VERDICT_PATTERN, idle_leds, idle_screen, screen_for
from station.flow.state import Settings, State
from station.mrz.td1 import ParsedMrz
from station.ports import Leds, Pattern
from station.qr.models import QrResult, QrStatus

Result = tuple[State, list[Effect]]
QUEUED_RESULT_S = 2.0  # how long a result stays when the next card is already waiting


def initial(settings: Settings) -> Result:
    """The starting state and the effects that draw its screen."""
    state = State(settings=settings)
    return state, [ShowScreen(idle_screen(state)), SetLeds(Leds())]


def marks(qr: QrResult | None, mrz: ParsedMrz | None) -> frozenset[str]:
    """Fingerprints of what identifies a card: its QR text, its MRZ's checked lines."""
    out = set()
    if qr is not None and qr.status is not QrStatus.NO_QR:
        out.add(fingerprint(qr.raw_text))
    if mrz is not None:
        out.add(fingerprint("".join(mrz.lines[:2])))
    return frozenset(out)


def current(state: State) -> frozenset[str]:
    """The marks of the card being read or still lying on the station."""
    if state.read is not None:
        return state.read.marks
    return state.held or frozenset()


def timer(state: State, name: str, at: float) -> Result:
    armed = StartTimer(name, at)
    return replace(state, timer=armed), [armed]


def show(state: State, *extra: Effect) -> Result:
    return state, [ShowScreen(screen_for(state)), *extra]


def enter(state: State, name: str | None, at: float, *extra: Effect) -> Result:
    """Show the state's screen, play/set ``extra``, arm its timer."""
    fx: list[Effect] = [ShowScreen(screen_for(state)), *extra]
    if name is None:
        return replace(state, timer=None), fx
    state, t = timer(state, name, at)
    return state, fx + t


def idle(state: State) -> Result:
    """Drop the citizen's data; remember only that this card is still lying here."""
    held = current(state)
    state = replace(
        state, phase=Phase.IDLE, read=None, error=None, page=0, reveal=False, queued=None,
        timer=None, held=held if state.card_here and held else None,
    )  # fmt: skip
    return state, [ShowScreen(idle_screen(state)), SetLeds(idle_leds(state))]


def error(state: State, kind: ErrorKind, now: float) -> Result:
    held = current(state) or None
    state = replace(state, phase=Phase.ERROR, error=kind, read=None, held=held, page=0)
    wait = QUEUED_RESULT_S if state.queued is not None else state.settings.error_s
    return enter(state, "error", now + wait, Play(Pattern.ERROR), SetLeds(Leds(red=True)))


def store(state: State, now: float) -> Result:
    read = state.read
    assert read is not None
    job = state.job + 1
    state = replace(state, phase=Phase.STORING, job=job)
    fx: Effect = StoreRecord(
        job, read.qr, read.chip, read.verification, read.chip_failure, read.mrz
    )
    return enter(state, "store", now + state.settings.store_s, fx)


def read_chip(state: State, now: float, *extra: Effect) -> Result:
    assert state.read is not None
    job = state.job + 1
    read = replace(state.read, fraction=0.0, bytes_read=0, file="", file_bytes=0)
    state = replace(state, phase=Phase.READING, job=job, read=read)
    fx = (*extra, StartChipRead(job, read.qr, read.mrz), SetLeds(Leds(amber=True)))
    return enter(state, "read", now + state.settings.read_s, *fx)


# The screen's reason (display.outcome.QR_ONLY_REASONS) -> the record's warning code.
WHY_CODE = {
    "disabled": "reader_disabled",
    "no-chip": "no_chip",
    "chip-error": "chip_read_error",
    "reader-gone": "reader_error",
    "timeout": "chip_timeout",
    "verify-error": "verification_error",
    "mrz-disabled": "reader_disabled",
    "mrz-reader-gone": "reader_error",
}


def qr_only(state: State, why: str, now: float, code: str = "") -> Result:
    assert state.read is not None
    read = replace(state.read, outcome=qr_only_outcome(why), chip_failure=code or WHY_CODE[why])
    return store(replace(state, read=read), now)


def failed_read(state: State, error: ErrorKind, code: str, now: float) -> Result:
    """Store the QR (and MRZ) part with why the chip gave nothing, then show ``error``."""
    assert state.read is not None
    read = replace(state.read, error=error, chip_failure=code, chip=None)
    return store(replace(state, read=read), now)


def finish(state: State, now: float) -> Result:
    """The record is stored: now the officer may be told."""
    read = state.read
    assert read is not None
    if read.error is not None:
        return error(state, read.error, now)
    assert read.outcome is not None
    verdict = read.outcome.verdict
    state = replace(state, phase=Phase.RESULT, page=0, reveal=False)
    wait = QUEUED_RESULT_S if state.queued is not None else state.settings.result_s
    fx = (Play(VERDICT_PATTERN[verdict]), SetLeds(VERDICT_LEDS[verdict]))
    return enter(state, "result", now + min(wait, state.settings.result_s), *fx)


def card_away(state: State, now: float, cancel: bool) -> Result:
    state = replace(state, phase=Phase.CARD_AWAY)
    fx: list[Effect] = [CancelChipRead(state.job)] if cancel else []
    return enter(
        state, "away", now + state.settings.card_away_s, *fx, Play(Pattern.ERROR),
        SetLeds(Leds(amber=True)),
    )  # fmt: skip
