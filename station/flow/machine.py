"""``step(state, event) -> (state, effects)``: the transitions (see ``station.flow``)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

from station.display.outcome import person_from_qr, qr_only_outcome
from station.display.screens import ErrorKind
from station.fingerprint import fingerprint
from station.flow.events import (
    Button,
    CameraState,
    CancelChipRead,
    CardGone,
    CardPresent,
    ChipDone,
    ChipFailed,
    ChipFailure,
    ChipProgress,
    ClockState,
    Effect,
    Event,
    Phase,
    Play,
    QrSeen,
    QrUnreadable,
    QrVisible,
    ReaderState,
    SetLeds,
    ShowScreen,
    StartChipRead,
    StartTimer,
    Stop,
    StoreDone,
    StoreFailed,
    StoreRecord,
    StoreState,
    SyncState,
    TimerFired,
    Verified,
)
from station.flow.screens import (
    VERDICT_LEDS,
    VERDICT_PATTERN,
    idle_leds,
    idle_screen,
    refuses_reads,
    screen_for,
)
from station.flow.state import Read, Settings, State
from station.ports import ButtonKind, Leds, Pattern
from station.qr.models import QrResult, QrStatus
from station.qr.payload import finding

Result = tuple[State, list[Effect]]
QUEUED_RESULT_S = 2.0  # how long a result stays when the next card is already waiting


def initial(settings: Settings) -> Result:
    """The starting state and the effects that draw its screen."""
    state = State(settings=settings)
    return state, [ShowScreen(idle_screen(state)), SetLeds(Leds())]


def _timer(state: State, name: str, at: float) -> Result:
    timer = StartTimer(name, at)
    return replace(state, timer=timer), [timer]


def _show(state: State, *extra: Effect) -> Result:
    return state, [ShowScreen(screen_for(state)), *extra]


def _enter(state: State, timer: str | None, at: float, *extra: Effect) -> Result:
    """Show the state's screen, play/set ``extra``, arm its timer."""
    fx: list[Effect] = [ShowScreen(screen_for(state)), *extra]
    if timer is None:
        return replace(state, timer=None), fx
    state, t = _timer(state, timer, at)
    return state, fx + t


def _to_idle(state: State, now: float) -> Result:
    """Drop the citizen's data; remember only that this card is still lying here."""
    held = state.read.fp if state.read is not None else state.held
    queued = state.queued
    state = replace(
        state,
        phase=Phase.IDLE,
        read=None,
        error=None,
        page=0,
        reveal=False,
        queued=None,
        timer=None,
        held=held if state.card_here else None,
    )
    if queued is not None:
        return _start(state, queued, now)
    return state, [ShowScreen(idle_screen(state)), SetLeds(idle_leds(state))]


def _error(state: State, kind: ErrorKind, now: float) -> Result:
    held = state.read.fp if state.read is not None else state.held
    state = replace(state, phase=Phase.ERROR, error=kind, read=None, held=held, page=0)
    return _enter(
        state, "error", now + state.settings.error_s, Play(Pattern.ERROR), SetLeds(Leds(red=True))
    )


def _store(state: State, now: float) -> Result:
    assert state.read is not None
    job = state.job + 1
    state = replace(state, phase=Phase.STORING, job=job)
    read = state.read
    assert read is not None
    fx: Effect = StoreRecord(job, read.qr, read.chip, read.verification, read.chip_failure)
    return _enter(state, "store", now + state.settings.store_s, fx)


def _read_chip(state: State, now: float, *extra: Effect) -> Result:
    assert state.read is not None
    job = state.job + 1
    read = replace(state.read, fraction=0.0, bytes_read=0, file="", file_bytes=0)
    state = replace(state, phase=Phase.READING, job=job, read=read)
    fx = (*extra, StartChipRead(job, read.qr), SetLeds(Leds(amber=True)))
    return _enter(state, "read", now + state.settings.read_s, *fx)


# The screen's reason (display.outcome.QR_ONLY_REASONS) -> the record's warning code.
WHY_CODE = {
    "disabled": "reader_disabled",
    "no-chip": "no_chip",
    "chip-error": "chip_read_error",
    "reader-gone": "reader_error",
    "timeout": "chip_timeout",
    "verify-error": "verification_error",
}


def _qr_only(state: State, why: str, now: float, code: str = "") -> Result:
    assert state.read is not None
    read = replace(state.read, outcome=qr_only_outcome(why), chip_failure=code or WHY_CODE[why])
    return _store(replace(state, read=read), now)


def _failed_read(state: State, error: ErrorKind, code: str, now: float) -> Result:
    """Store the QR part with why the chip gave nothing, then show ``error``."""
    assert state.read is not None
    read = replace(state.read, error=error, chip_failure=code, chip=None)
    return _store(replace(state, read=read), now)


def _start(state: State, qr: QrResult, now: float) -> Result:
    """A new card's QR: check the station can take it, then read its chip or store it."""
    state = replace(state, read=None, error=None, page=0, reveal=False, held=None)
    if refuses_reads(state):
        state = replace(state, phase=Phase.IDLE, timer=None)
        return state, [ShowScreen(idle_screen(state)), Play(Pattern.ERROR)]
    fp = fingerprint(qr.raw_text)
    if qr.status in (QrStatus.UNRECOGNISED, QrStatus.NO_QR) or qr.identity is None:
        kind = ErrorKind.QR_OTHER if qr.status is QrStatus.UNRECOGNISED else ErrorKind.QR_INVALID
        if qr.status is QrStatus.NO_QR:
            kind = ErrorKind.QR_UNREADABLE
        return _store(replace(state, read=Read(fp, qr, None, error=kind)), now)
    state = replace(state, read=Read(fp, qr, person_from_qr(qr.identity)))
    if state.settings.chip and state.health.reader:
        return _read_chip(state, now, Play(Pattern.QR_SEEN))
    state, fx = _qr_only(state, "disabled" if not state.settings.chip else "reader-gone", now)
    return state, [Play(Pattern.QR_SEEN), *fx]


def _finish(state: State, now: float) -> Result:
    """The record is stored: now the officer may be told."""
    read = state.read
    assert read is not None
    if read.error is not None:
        return _error(state, read.error, now)
    assert read.outcome is not None
    verdict = read.outcome.verdict
    state = replace(state, phase=Phase.RESULT, page=0, reveal=False)
    wait = QUEUED_RESULT_S if state.queued is not None else state.settings.result_s
    fx = (Play(VERDICT_PATTERN[verdict]), SetLeds(VERDICT_LEDS[verdict]))
    return _enter(state, "result", now + min(wait, state.settings.result_s), *fx)


def _card_away(state: State, now: float, cancel: bool) -> Result:
    state = replace(state, phase=Phase.CARD_AWAY)
    fx: list[Effect] = [CancelChipRead(state.job)] if cancel else []
    return _enter(
        state, "away", now + state.settings.card_away_s, *fx, Play(Pattern.ERROR),
        SetLeds(Leds(amber=True)),
    )  # fmt: skip


# ---- handlers ------------------------------------------------------------------------


def _on_qr(state: State, ev: QrSeen) -> Result:
    fp = fingerprint(ev.result.raw_text)
    state = replace(state, qr_visible=True)
    current = state.read.fp if state.read is not None else state.held
    if fp == current and state.phase is Phase.CARD_AWAY:
        return _on_card(state, CardPresent(ev.now))  # seen again: it is back
    if fp == current:
        return state, []  # the same card, still lying there
    if state.phase in (Phase.VERIFYING, Phase.STORING):
        return replace(state, queued=ev.result), []
    if state.phase is Phase.READING:  # the card was swapped mid-read
        old = state.job
        state, fx = _start(state, ev.result, ev.now)
        return state, [CancelChipRead(old), *fx]
    return _start(state, ev.result, ev.now)


def _on_qr_visible(state: State, ev: QrVisible) -> Result:
    state = replace(state, qr_visible=ev.visible)
    return (state if state.card_here else replace(state, held=None)), []


UNREADABLE_QR = QrResult(QrStatus.NO_QR, None, "", errors=(finding("qr_unreadable"),))


def _on_unreadable(state: State, ev: QrUnreadable) -> Result:
    """A QR in view that does not decode: a record says so (no personal data), then the
    officer is told to straighten the card or clean the lens."""
    if state.phase is Phase.IDLE and state.held is None and not refuses_reads(state):
        read = Read(
            fingerprint(b"unreadable QR"), UNREADABLE_QR, None, error=ErrorKind.QR_UNREADABLE
        )
        return _store(replace(state, read=read, error=None, page=0), ev.now)
    return state, []


def _on_card(state: State, ev: CardPresent) -> Result:
    state = replace(state, chip_present=True)
    if state.phase is Phase.CARD_AWAY:
        assert state.read is not None
        state = replace(state, read=replace(state.read, attempts=state.read.attempts + 1))
        return _read_chip(state, ev.now)
    if state.phase is Phase.IDLE and state.held is None:
        return _timer(state, "no-qr", ev.now + state.settings.no_qr_s)
    return state, []


def _on_card_gone(state: State, ev: CardGone) -> Result:
    state = replace(state, chip_present=False)
    if not state.card_here:
        state = replace(state, held=None)
    if state.phase is Phase.READING:
        return _card_away(state, ev.now, cancel=True)
    if state.phase is Phase.ERROR and state.error is ErrorKind.NO_QR_CHIP:
        return _to_idle(state, ev.now)
    return state, []


def _on_progress(state: State, ev: ChipProgress) -> Result:
    if state.phase is not Phase.READING or ev.job != state.job or state.read is None:
        return state, []
    read = state.read
    total = ev.bytes_read
    if ev.file:  # per-file counts: earlier files' bytes plus this file's so far
        done = read.bytes_read - (read.file_bytes if ev.file == read.file else 0)
        total = done + ev.bytes_read
    read = replace(
        read, fraction=ev.fraction, bytes_read=total, file=ev.file, file_bytes=ev.bytes_read
    )
    return _show(replace(state, read=read))


def _on_chip_done(state: State, ev: ChipDone) -> Result:
    if state.phase is not Phase.READING or ev.job != state.job or state.read is None:
        return state, []
    face = ev.face if state.settings.show_face else None
    person = ev.person or state.read.person
    read = replace(state.read, chip=ev.chip, person=person, face=face, fraction=1.0)
    state = replace(state, phase=Phase.VERIFYING, read=read)  # Verified comes with this job
    return _enter(state, "verify", ev.now + state.settings.verify_s)


def _on_chip_failed(state: State, ev: ChipFailed) -> Result:
    if state.phase is not Phase.READING or ev.job != state.job or state.read is None:
        return state, []
    failure = ev.failure
    if failure is ChipFailure.REMOVED:
        return _card_away(state, ev.now, cancel=False)
    if failure is ChipFailure.ACCESS_DENIED:
        return _failed_read(state, ErrorKind.CHIP_LOCKED, "chip_refused_keys", ev.now)
    if failure is ChipFailure.ERROR and state.read.attempts < 1:
        state = replace(state, read=replace(state.read, attempts=state.read.attempts + 1))
        return _read_chip(state, ev.now)
    if failure is ChipFailure.READER_GONE:
        state = replace(state, health=replace(state.health, reader=False))
    why = {ChipFailure.NO_CHIP: "no-chip", ChipFailure.READER_GONE: "reader-gone"}
    return _qr_only(state, why.get(failure, "chip-error"), ev.now, ev.reason)


def _on_verified(state: State, ev: Verified) -> Result:
    if state.phase is not Phase.VERIFYING or ev.job != state.job or state.read is None:
        return state, []
    failure = None if ev.outcome is not None else WHY_CODE["verify-error"]
    outcome = ev.outcome or qr_only_outcome("verify-error")
    read = replace(state.read, outcome=outcome, verification=ev.verification, chip_failure=failure)
    return _store(replace(state, read=read), ev.now)


def _on_stored(state: State, ev: StoreDone) -> Result:
    if state.phase is not Phase.STORING or ev.job != state.job:
        return state, []
    return _finish(state, ev.now)


def _on_store_failed(state: State, ev: StoreFailed) -> Result:
    if state.phase is not Phase.STORING or ev.job != state.job:
        return state, []
    if ev.full:
        state = replace(state, health=replace(state.health, store_full=True))
    return _error(state, ErrorKind.STORE_FULL if ev.full else ErrorKind.STORE_FAILED, ev.now)


def _on_button(state: State, ev: Button) -> Result:
    if state.phase is Phase.ERROR and ev.kind is ButtonKind.SHORT:
        return _to_idle(state, ev.now)
    if state.phase is not Phase.RESULT:
        return state, []
    if ev.kind is ButtonKind.SHORT:
        state = replace(state, page=state.page + 1)
    else:
        state = replace(state, reveal=ev.kind is ButtonKind.LONG)
    return _enter(state, "result", ev.now + state.settings.result_s)


def _on_timer(state: State, ev: TimerFired) -> Result:
    timer = state.timer
    if timer is None or timer.name != ev.name or ev.now < timer.at:
        return state, []  # stale or early
    state = replace(state, timer=None)
    name, phase, now = ev.name, state.phase, ev.now
    if name == "read" and phase is Phase.READING:
        old = state.job
        state, fx = _qr_only(state, "timeout", now)
        return state, [CancelChipRead(old), *fx]
    if name == "verify" and phase is Phase.VERIFYING:
        return _on_verified(state, Verified(now, state.job, None))
    if name == "store" and phase is Phase.STORING:
        return _error(replace(state, job=state.job + 1), ErrorKind.STORE_FAILED, now)
    if name == "away" and phase is Phase.CARD_AWAY:  # not put back: keep the QR part
        return _failed_read(state, ErrorKind.CARD_LOST, "card_removed", now)
    if name == "error" and state.error is ErrorKind.NO_QR_CHIP and state.chip_present:
        return _timer(state, "error", now + state.settings.error_s)  # until it is turned over
    if name in ("result", "error") and phase in (Phase.RESULT, Phase.ERROR):
        return _to_idle(state, now)
    if name == "no-qr" and phase is Phase.IDLE and state.chip_present and state.held is None:
        if not state.health.camera:  # the camera is down: "turn it over" would be wrong
            return state, []
        return _error(state, ErrorKind.NO_QR_CHIP, now)
    return state, []


def _health(state: State, now: float, **changes: Any) -> Result:
    state = replace(state, health=replace(state.health, **changes))
    if state.phase is Phase.READING and not state.health.reader:
        old = state.job
        state, fx = _qr_only(state, "reader-gone", now)
        return state, [CancelChipRead(old), *fx]
    if state.phase is Phase.IDLE:
        return state, [ShowScreen(idle_screen(state)), SetLeds(idle_leds(state))]
    return state, []


def _on_sync(state: State, ev: SyncState) -> Result:
    return _health(
        state, ev.now, sync=ev.link, pending=ev.pending, refused=ev.refused,
        stale_min=ev.stale_min, denied=ev.denied,
    )  # fmt: skip


def _on_stop(state: State, ev: Stop) -> Result:
    fx: list[Effect] = [CancelChipRead(state.job)] if state.phase is Phase.READING else []
    health = replace(state.health, stopped=True)
    state = State(settings=state.settings, phase=Phase.STOPPED, health=health, job=state.job)
    return state, [*fx, ShowScreen(idle_screen(state)), SetLeds(Leds())]


_HANDLERS: dict[type, Callable[[State, Any], Result]] = {
    QrSeen: _on_qr,
    QrVisible: _on_qr_visible,
    QrUnreadable: _on_unreadable,
    CardPresent: _on_card,
    CardGone: _on_card_gone,
    ChipProgress: _on_progress,
    ChipDone: _on_chip_done,
    ChipFailed: _on_chip_failed,
    Verified: _on_verified,
    StoreDone: _on_stored,
    StoreFailed: _on_store_failed,
    Button: _on_button,
    TimerFired: _on_timer,
    ReaderState: lambda s, e: _health(s, e.now, reader=e.connected),
    CameraState: lambda s, e: _health(s, e.now, camera=e.ok),
    ClockState: lambda s, e: _health(s, e.now, clock=e.ok),
    StoreState: lambda s, e: _health(s, e.now, store_full=e.full),
    SyncState: _on_sync,
    Stop: _on_stop,
}


def step(state: State, event: Event) -> Result:
    """The next state and the effects to execute, in order. Never raises on bad input."""
    if state.phase is Phase.STOPPED:
        return state, []
    return _HANDLERS[type(event)](state, event)
