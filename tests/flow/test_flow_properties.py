"""Random event sequences: the flow never raises, every wait has a timer, nothing of a
citizen outlives the read, every screen it asks for draws uncut."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from station.display.screens import Outcome, SyncLink, Verdict
from station.flow import (
    Button,
    CameraState,
    CardGone,
    CardPresent,
    ChipDone,
    ChipFailed,
    ChipFailure,
    ChipProgress,
    ClockState,
    Event,
    Phase,
    QrSeen,
    QrUnreadable,
    QrVisible,
    ReaderState,
    Settings,
    Stop,
    StoreDone,
    StoreFailed,
    StoreState,
    SyncState,
    TimerFired,
    Verified,
)
from station.ports import ButtonKind
from station.qr.payload import parse_payload

from .harness import CHIP, VERIFIED, Station, qr_results

CARDS = [*qr_results(3, seed=5), parse_payload("WIFI:S:x;;")]
WAITING = (Phase.READING, Phase.CARD_AWAY, Phase.VERIFYING, Phase.STORING, Phase.RESULT)
BAD = Outcome(Verdict.FAILED, "Chip không xác thực (AA)")


def advance_read(state_phase: Phase, arg: int, now: float, job: int) -> Event:
    """The event that moves the current read on (what a working app would send)."""
    if state_phase is Phase.READING:
        return ChipDone(now, job, chip=CHIP)
    if state_phase is Phase.VERIFYING:
        return Verified(now, job, [VERIFIED, BAD, None][arg % 3])
    if state_phase is Phase.STORING:
        return StoreDone(now, job)
    return QrSeen(now, CARDS[arg % len(CARDS)])


def event(kind: str, arg: int, job_delta: int, now: float, job: int) -> Event:
    j = job - job_delta
    card = CARDS[arg % len(CARDS)]
    return {
        "qr": lambda: QrSeen(now, card),
        "qr-visible": lambda: QrVisible(now, bool(arg % 2)),
        "unreadable": lambda: QrUnreadable(now),
        "card": lambda: CardPresent(now),
        "gone": lambda: CardGone(now),
        "progress": lambda: ChipProgress(now, j, (arg % 11) / 10, arg * 700),
        "chip": lambda: ChipDone(now, j, chip=CHIP),
        "chip-failed": lambda: ChipFailed(now, j, list(ChipFailure)[arg % len(ChipFailure)]),
        "verified": lambda: Verified(now, j, [VERIFIED, BAD, None][arg % 3]),
        "stored": lambda: StoreDone(now, j),
        "store-failed": lambda: StoreFailed(now, j, full=bool(arg % 2)),
        "button": lambda: Button(now, list(ButtonKind)[arg % 3]),
        "reader": lambda: ReaderState(now, bool(arg % 2)),
        "camera": lambda: CameraState(now, bool(arg % 3)),
        "clock": lambda: ClockState(now, bool(arg % 3)),
        "sync": lambda: SyncState(now, list(SyncLink)[arg % 3], arg),
        "store-state": lambda: StoreState(now, bool(arg % 2)),
        "stop": lambda: Stop(now),
        "timer": lambda: TimerFired(now, ["read", "result", "error", "away"][arg % 4]),
    }[kind]()


KINDS = [
    "qr", "qr-visible", "unreadable", "card", "gone", "progress", "chip", "chip-failed",
    "verified", "stored", "store-failed", "button", "reader", "camera", "clock", "sync",
    "store-state", "timer",
]  # fmt: skip
STEPS = st.lists(
    st.tuples(
        st.sampled_from([*KINDS, *(["next"] * 20), "stop"]),  # mostly: the read goes on
        st.integers(0, 30),
        st.sampled_from([0, 0, 0, 1]),  # mostly the current job, sometimes a stale one
        st.floats(0, 30),
    ),
    max_size=40,
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(STEPS, st.booleans())
def test_random_sequences_keep_the_invariants(steps: list, chip: bool) -> None:  # type: ignore[type-arg]
    station = Station(Settings(chip=chip))
    for kind, arg, delta, wait in steps:
        if kind == "timer" and arg % 2:
            station.advance(wait)
        elif kind == "next":
            station.now += wait / 10
            s = station.state
            station.send(advance_read(s.phase, arg, station.now, s.job))
        else:
            station.now += wait
            station.send(event(kind, arg, delta, station.now, station.state.job))
        s = station.state
        if s.phase in WAITING or s.phase is Phase.ERROR:
            assert s.timer is not None, s.phase  # every wait ends
        if s.phase in (Phase.IDLE, Phase.ERROR, Phase.STOPPED):
            assert s.read is None  # nothing of the citizen stays
        if s.phase in WAITING:
            assert s.read is not None
        if s.phase is Phase.STOPPED:
            assert not s.health.stopped or s.read is None
