"""The reader flow: one pure state machine, ``step(state, event) -> (state, effects)``.

No threads, no clock, no I/O: every event carries ``now`` (monotonic seconds) and
the app executes the returned effects, in order, then feeds results back as events.

Phases: IDLE -> READING (QR or MRZ seen; chip read with progress) -> VERIFYING -> STORING
-> RESULT -> IDLE (after ``ui.result_timeout_s``, or at once when another card comes).
QR-only (reader disabled, unplugged, no chip answering, chip error, read timeout)
goes READING/IDLE -> STORING -> RESULT with an "attention" verdict; the record says why
(``StoreRecord.chip_failure``, a ``station.record.CHIP_NOT_VERIFIED`` code: level
``qr-only`` with that warning). Card lifted mid-read: CARD_AWAY ("keep it still"); the
read restarts when the chip is back within ``card_away_s``, else the QR part is stored
(``card_removed``) and ERROR(card-lost) shown; a chip refusing every key is stored
(``chip_refused_keys``) before ERROR(chip-locked). ERROR shows one ``ErrorKind`` screen
then returns to IDLE; STOPPED is final. A record is stored before the officer is
told it was read (the verdict sound/screen follows ``StoreDone``). A different
card's QR during VERIFYING/STORING is queued: its read starts 2 s after the verdict.

A QR that opens no chip by itself (a 2024 card's, another kind, or one found but not
decodable) goes IDLE -> LOOKING: the MRZ is waited for (``camera.mrz_wait_s``); see
``station.flow.cards``.

Events the app sends (``station.flow.*``; all have ``now``):
  QrSeen(result)            a new QR presentation (``QrReader.process`` output)
  MrzSeen(mrz, qr)          a checked MRZ, alike in consecutive frames (``MrzTracker``);
                            ``qr``: a QR of another kind decoded in the same frames
  QrVisible(visible)        the camera sees a QR / sees none any more (on change)
  QrUnreadable()            a QR is in view but cannot be decoded
  CardPresent() / CardGone()  the reader's field gained / lost a card
  ChipProgress(job, fraction, bytes_read, file)
  ChipDone(job, chip, person, face)  the chip is read; the chip worker verifies it next,
                            in the same job, while the card is still in the field:
  Verified(job, outcome, verification)  follows ChipDone with the same job
  ChipFailed(job, failure, reason)  ``ChipFailure``: removed / no-chip / access-denied /
                            error (``reason`` chip_unparseable or '') / reader-gone
  StoreDone(job) / StoreFailed(job, full)  the StoreRecord's outcome
  Button(kind)              ``station.ports.ButtonKind``
  TimerFired(name)          when a ``StartTimer`` comes due (stale ones are ignored)
  ReaderState(connected), CameraState(ok), MrzState(ok) (the MRZ process serves or keeps
  dying: while it is down no QR waits for an MRZ), ClockState(ok), SyncState(link,
  pending), StoreState(full), Stop()
Effects the app executes (frozen dataclasses in ``station.flow.events``):
  ShowScreen(screen), Play(pattern), SetLeds(leds), StartChipRead(job, qr) (read, then
  verify; ``mrz`` too when read), CancelChipRead(job), StoreRecord(job, qr, chip,
  verification, chip_failure, mrz),
  StartTimer(name, at) (one timer per name; a newer one replaces it).
``screen_for(state)`` gives the current state's screen.
``job`` numbers each started operation; results with an older ``job`` are dropped.

Privacy: the citizen's data lives only in ``State.read`` and leaves the state when
the result or error clears. What stays while the same card remains on the station is
``State.held``: short SHA-256 fingerprints of the QR text and the MRZ's checked lines,
so that card is not read again and again; they are dropped as soon as the card is gone.
"""

from __future__ import annotations

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
    MrzSeen,
    MrzState,
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
from station.flow.machine import initial, step
from station.flow.screens import screen_for
from station.flow.state import Health, Presentation, Read, Settings, State

__all__ = [
    "Button",
    "CameraState",
    "CancelChipRead",
    "CardGone",
    "CardPresent",
    "ChipDone",
    "ChipFailed",
    "ChipFailure",
    "ChipProgress",
    "ClockState",
    "Effect",
    "Event",
    "Health",
    "MrzSeen",
    "MrzState",
    "Phase",
    "Play",
    "Presentation",
    "QrSeen",
    "QrUnreadable",
    "QrVisible",
    "Read",
    "ReaderState",
    "SetLeds",
    "Settings",
    "ShowScreen",
    "StartChipRead",
    "StartTimer",
    "State",
    "Stop",
    "StoreDone",
    "StoreFailed",
    "StoreRecord",
    "StoreState",
    "SyncState",
    "TimerFired",
    "Verified",
    "fingerprint",
    "initial",
    "screen_for",
    "step",
]
