"""``step(state, event) -> (state, effects)``: the transitions (see ``station.flow``)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

from station.display.outcome import qr_only_outcome
from station.display.screens import ErrorKind
from station.fingerprint import fingerprint
from station.flow import cards
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
    MrzSeen,
    MrzState,
    Phase,
    QrSeen,
    QrUnreadable,
    QrVisible,
    ReaderState,
    SetLeds,
    ShowScreen,
    Stop,
    StoreDone,
    StoreFailed,
    StoreState,
    SyncState,
    TimerFired,
    Verified,
)
from station.flow.screens import idle_leds, idle_screen, refuses_reads
from station.flow.state import Presentation, State
from station.flow.steps import (
    WHY_CODE,
    Result,
    card_away,
    current,
    enter,
    error,
    failed_read,
    finish,
    initial,
    marks,
    qr_only,
    read_chip,
    show,
    store,
    timer,
)
from station.ports import ButtonKind, Leds
from station.qr.models import NO_QR, QrStatus
from station.qr.payload import UNREADABLE_QR

__all__ = ["Result", "initial", "step"]


# ---- handlers ------------------------------------------------------------------------


def _on_qr(state: State, ev: QrSeen) -> Result:
    fp = fingerprint(ev.result.raw_text)
    state = replace(state, qr_visible=True)
    here = current(state)
    if fp in here and state.phase is Phase.CARD_AWAY:
        return _on_card(state, CardPresent(ev.now))  # seen again: it is back
    if fp in here:
        return state, []  # the same card, still lying there
    if cards.joins(state, ev.result):
        return cards.attach(state, ev.result), []
    return _new_card(state, Presentation(ev.result), ev.now)


def _on_mrz(state: State, ev: MrzSeen) -> Result:
    seen = marks(ev.qr, ev.mrz)
    here = current(state)
    if state.phase is Phase.LOOKING:  # the MRZ of the card whose QR gave no key
        assert state.read is not None
        qr = state.read.qr if ev.qr is None or seen & here else ev.qr
        if qr.status is QrStatus.NO_QR:  # an undecodable QR: the MRZ read stands alone
            qr = NO_QR
        return cards.start(state, Presentation(qr, ev.mrz), ev.now)
    if seen & here and state.phase is Phase.CARD_AWAY:
        return _on_card(state, CardPresent(ev.now))
    if seen & here:
        return state, []
    return _new_card(state, Presentation(ev.qr or NO_QR, ev.mrz), ev.now)


def _new_card(state: State, shown: Presentation, now: float) -> Result:
    if state.phase in (Phase.VERIFYING, Phase.STORING):
        return replace(state, queued=shown), []
    if state.phase is Phase.LOOKING:  # the waited-for card is settled first, then this one
        assert state.read is not None
        looked_at = state.read.qr
        return cards.start(replace(state, queued=shown), Presentation(looked_at), now, waited=True)
    if state.phase is Phase.READING:  # the card was swapped mid-read
        old = state.job
        state, fx = cards.start(state, shown, now)
        return state, [CancelChipRead(old), *fx]
    return cards.start(state, shown, now)


def _on_qr_visible(state: State, ev: QrVisible) -> Result:
    state = replace(state, qr_visible=ev.visible)
    return (state if state.card_here else replace(state, held=None)), []


def _on_unreadable(state: State, ev: QrUnreadable) -> Result:
    """A QR in view that does not decode: its MRZ is waited for (a 2024 card's QR may be
    too fine for the camera), else a record says so (no personal data) and the officer is
    told to straighten the card or clean the lens."""
    if state.phase is Phase.IDLE and state.held is None and not refuses_reads(state):
        if state.settings.mrz and state.health.mrz:
            return cards.look(state, UNREADABLE_QR, ev.now)
        return cards.start(state, Presentation(UNREADABLE_QR), ev.now, waited=True)
    return state, []


def _on_card(state: State, ev: CardPresent) -> Result:
    state = replace(state, chip_present=True)
    if state.phase is Phase.CARD_AWAY:
        assert state.read is not None
        state = replace(state, read=replace(state.read, attempts=state.read.attempts + 1))
        return read_chip(state, ev.now)
    if state.phase is Phase.IDLE and state.held is None:
        return timer(state, "no-qr", ev.now + state.settings.no_qr_s)
    return state, []


def _on_card_gone(state: State, ev: CardGone) -> Result:
    state = replace(state, chip_present=False)
    if not state.card_here:
        state = replace(state, held=None)
    if state.phase is Phase.READING:
        return card_away(state, ev.now, cancel=True)
    if state.phase is Phase.ERROR and state.error is ErrorKind.NO_QR_CHIP:
        return cards.to_idle(state, ev.now)
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
    return show(replace(state, read=read))


def _on_chip_done(state: State, ev: ChipDone) -> Result:
    if state.phase is not Phase.READING or ev.job != state.job or state.read is None:
        return state, []
    face = ev.face if state.settings.show_face else None
    person = ev.person or state.read.person
    read = replace(state.read, chip=ev.chip, person=person, face=face, fraction=1.0)
    state = replace(state, phase=Phase.VERIFYING, read=read)  # Verified comes with this job
    return enter(state, "verify", ev.now + state.settings.verify_s)


def _on_chip_failed(state: State, ev: ChipFailed) -> Result:
    if state.phase is not Phase.READING or ev.job != state.job or state.read is None:
        return state, []
    failure = ev.failure
    if failure is ChipFailure.REMOVED:
        return card_away(state, ev.now, cancel=False)
    if failure is ChipFailure.ACCESS_DENIED:
        return failed_read(state, ErrorKind.CHIP_LOCKED, "chip_refused_keys", ev.now)
    if failure is ChipFailure.ERROR and state.read.attempts < 1:
        state = replace(state, read=replace(state.read, attempts=state.read.attempts + 1))
        return read_chip(state, ev.now)
    if failure is ChipFailure.READER_GONE:
        state = replace(state, health=replace(state.health, reader=False))
    why = {ChipFailure.NO_CHIP: "no-chip", ChipFailure.READER_GONE: "reader-gone"}
    return qr_only(state, why.get(failure, "chip-error"), ev.now, ev.reason)


def _on_verified(state: State, ev: Verified) -> Result:
    if state.phase is not Phase.VERIFYING or ev.job != state.job or state.read is None:
        return state, []
    failure = None if ev.outcome is not None else WHY_CODE["verify-error"]
    failure = None if ev.outcome is not None else WHY_CODE["verify-error"]
    outcome = ev.outcome or qr_only_outcome("verify-error")
    read = replace(state.read, outcome=outcome, verification=ev.verification, chip_failure=failure)
    return store(replace(state, read=read), ev.now)


def _on_stored(state: State, ev: StoreDone) -> Result:
    if state.phase is not Phase.STORING or ev.job != state.job:
        return state, []
    return finish(state, ev.now)


def _on_store_failed(state: State, ev: StoreFailed) -> Result:
    if state.phase is not Phase.STORING or ev.job != state.job:
        return state, []
    if ev.full:
        state = replace(state, health=replace(state.health, store_full=True))
    return error(state, ErrorKind.STORE_FULL if ev.full else ErrorKind.STORE_FAILED, ev.now)


def _on_button(state: State, ev: Button) -> Result:
    if state.phase is Phase.ERROR and ev.kind is ButtonKind.SHORT:
        return cards.to_idle(state, ev.now)
    if state.phase is not Phase.RESULT:
        return state, []
    if ev.kind is ButtonKind.SHORT:
        state = replace(state, page=state.page + 1)
    else:
        state = replace(state, reveal=ev.kind is ButtonKind.LONG)
    return enter(state, "result", ev.now + state.settings.result_s)


def _on_timer(state: State, ev: TimerFired) -> Result:
    armed = state.timer
    if armed is None or armed.name != ev.name or ev.now < armed.at:
        return state, []  # stale or early
    state = replace(state, timer=None)
    name, phase, now = ev.name, state.phase, ev.now
    if name == "read" and phase is Phase.READING:
        old = state.job
        state, fx = qr_only(state, "timeout", now)
        return state, [CancelChipRead(old), *fx]
    if name == "verify" and phase is Phase.VERIFYING:
        return _on_verified(state, Verified(now, state.job, None))
    if name == "store" and phase is Phase.STORING:
        return error(replace(state, job=state.job + 1), ErrorKind.STORE_FAILED, now)
    if name == "mrz" and phase is Phase.LOOKING:  # no MRZ came: the QR alone decides
        assert state.read is not None
        return cards.start(state, Presentation(state.read.qr), now, waited=True)
    if name == "away" and phase is Phase.CARD_AWAY:  # not put back: keep the QR part
        return failed_read(state, ErrorKind.CARD_LOST, "card_removed", now)
    if name == "error" and state.error is ErrorKind.NO_QR_CHIP and state.chip_present:
        return timer(state, "error", now + state.settings.error_s)  # until it is turned over
    if name in ("result", "error") and phase in (Phase.RESULT, Phase.ERROR):
        return cards.to_idle(state, now)
    if name == "no-qr" and phase is Phase.IDLE and state.chip_present and state.held is None:
        if not state.health.camera:  # the camera is down: "turn it over" would be wrong
            return state, []
        return error(state, ErrorKind.NO_QR_CHIP, now)
    return state, []


def _health(state: State, now: float, **changes: Any) -> Result:
    state = replace(state, health=replace(state.health, **changes))
    if state.phase is Phase.READING and not state.health.reader:
        old = state.job
        state, fx = qr_only(state, "reader-gone", now)
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
    MrzSeen: _on_mrz,
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
    MrzState: lambda s, e: _health(s, e.now, mrz=e.ok),
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
