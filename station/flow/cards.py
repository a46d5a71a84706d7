"""A card placed on the station: what the camera read of it decides what happens next.

- A 2021 QR (with an identity): the chip is read with the QR's keys.
- An MRZ (``MrzSeen``): the chip is read with the MRZ's exact key, the 2024 QR's
  recognised values (``QrResult.clues``) as further candidates when its QR was decoded too.
- A QR that gives no key by itself (a 2024 card's, another kind, one found but not
  decodable): with the MRZ path on, the flow waits up to ``Settings.mrz_wait_s`` for the
  MRZ (phase LOOKING; not while the MRZ process is down: ``Health.mrz``); then a 2024 QR's
  clues alone open the chip, or the officer is told.
- A QR of the 2021 shape with wrong values: the record is stored and the error shown.
"""

from __future__ import annotations

from dataclasses import replace

from station.display.outcome import person_from_qr
from station.display.screens import ErrorKind
from station.fingerprint import fingerprint
from station.flow.events import Phase, Play, ShowScreen
from station.flow.screens import idle_screen, refuses_reads
from station.flow.state import Presentation, Read, State
from station.flow.steps import Result, enter, idle, marks, qr_only, read_chip, store
from station.ports import Pattern
from station.qr.models import QrResult, QrStatus


def start(state: State, shown: Presentation, now: float, *, waited: bool = False) -> Result:
    """A new card: check the station can take it, then read its chip, wait for its MRZ, or
    store what it is. ``waited``: the MRZ wait is over."""
    state = replace(state, read=None, error=None, page=0, reveal=False, held=None)
    if refuses_reads(state):
        state = replace(state, phase=Phase.IDLE, timer=None)
        return state, [ShowScreen(idle_screen(state)), Play(Pattern.ERROR)]
    qr, mrz = shown.qr, shown.mrz
    mark = marks(qr, mrz)
    if qr.identity is None and mrz is None:
        may_follow = qr.status in (QrStatus.UNRECOGNISED, QrStatus.NO_QR)
        if state.settings.mrz and state.health.mrz and not waited and may_follow:
            return look(state, qr, now)
        if qr.clues is None:
            return _refused(state, qr, mark, now)
    person = person_from_qr(qr.identity) if qr.identity is not None else None
    state = replace(state, read=Read(mark, qr, person, mrz=mrz))
    beep = (Play(Pattern.QR_SEEN),) if state.phase is not Phase.LOOKING else ()
    if state.settings.chip and state.health.reader:
        return read_chip(state, now, *beep)
    why = "disabled" if not state.settings.chip else "reader-gone"
    state, fx = qr_only(state, why if mrz is None else f"mrz-{why}", now)
    return state, [*beep, *fx]


def _refused(state: State, qr: QrResult, mark: frozenset[str], now: float) -> Result:
    """A QR that opens nothing: stored with its error (no personal data for one that did
    not decode: the record says a QR was seen and could not be read)."""
    if qr.status is QrStatus.NO_QR:
        kind, mark = ErrorKind.QR_UNREADABLE, frozenset({fingerprint(b"unreadable QR")})
    elif qr.status is QrStatus.UNRECOGNISED:
        kind = ErrorKind.QR_OTHER
    else:
        kind = ErrorKind.QR_INVALID
    return store(replace(state, read=Read(mark, qr, None, error=kind)), now)


def look(state: State, qr: QrResult, now: float) -> Result:
    """Wait for the MRZ of the card whose QR gives no key by itself."""
    state = replace(state, phase=Phase.LOOKING, read=Read(marks(qr, None), qr, None))
    beep = (Play(Pattern.QR_SEEN),) if qr.status is not QrStatus.NO_QR else ()
    return enter(state, "mrz", now + state.settings.mrz_wait_s, *beep)


def joins(state: State, qr: QrResult) -> bool:
    """``qr`` is the QR of the card being read from its MRZ: not a 2021 CCCD's QR (that
    is on a card's front, the MRZ on its back) and the read has none yet."""
    read = state.read
    return (
        read is not None
        and state.phase in (Phase.READING, Phase.VERIFYING, Phase.STORING, Phase.RESULT)
        and read.mrz is not None
        and read.qr.status is QrStatus.NO_QR
        and qr.identity is None
    )


def attach(state: State, qr: QrResult) -> State:
    """Keep the late QR with the read (its record keeps the raw text) without re-reading."""
    assert state.read is not None
    read = state.read
    return replace(state, read=replace(read, qr=qr, marks=read.marks | marks(qr, None)))


def to_idle(state: State, now: float) -> Result:
    """Back to idle; a card seen meanwhile (queued) is read at once."""
    queued = state.queued
    state, fx = idle(state)
    if queued is not None:
        return start(state, queued, now)
    return state, fx
