"""The reader state machine on a fake clock: happy path, failures, removals, repeats."""

from __future__ import annotations

from dataclasses import replace

import pytest

from station.display.screens import (
    Denied,
    ErrorKind,
    ErrorScreen,
    IdleScreen,
    Outcome,
    QrSeenScreen,
    ReadingScreen,
    ResultScreen,
    SyncLink,
    Verdict,
    VerifyingScreen,
)
from station.flow import (
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
    Phase,
    Play,
    QrSeen,
    QrUnreadable,
    QrVisible,
    ReaderState,
    SetLeds,
    Settings,
    StartChipRead,
    Stop,
    StoreDone,
    StoreFailed,
    StoreRecord,
    StoreState,
    SyncState,
    TimerFired,
    Verified,
)
from station.flow.state import Presentation
from station.ports import ButtonKind, Leds, Pattern
from station.qr.models import QrStatus
from station.qr.payload import parse_payload

from .harness import CHIP, VERIFICATION, VERIFIED, Station, qr_results, timers

A, B = qr_results(2)


def plays(fx: list[object]) -> list[Pattern]:
    return [e.pattern for e in fx if isinstance(e, Play)]


def test_happy_path_effects_in_order() -> None:
    st = Station()
    assert st.screen == IdleScreen()
    fx = st.send(QrSeen(st.now, A))
    assert plays(fx) == [Pattern.QR_SEEN]
    assert st.screen == QrSeenScreen(chip=True)
    start = st.last(StartChipRead)
    assert isinstance(start, StartChipRead) and start.qr is A
    st.send(ChipProgress(st.now, start.job, 0.4, 7000))
    assert st.screen == ReadingScreen(0.4, 7000)
    fx = st.send(ChipDone(st.now, start.job, chip=CHIP))
    assert st.screen == VerifyingScreen()
    assert timers(fx) == ["verify"]  # the chip worker verifies next, in the same job
    fx = st.send(Verified(st.now, start.job, VERIFIED, verification=VERIFICATION))
    store = st.last(StoreRecord)
    assert isinstance(store, StoreRecord) and store.chip is CHIP
    assert store.verification is VERIFICATION
    assert not any(isinstance(s, ResultScreen) for s in st.screens)  # not told before stored
    fx = st.send(StoreDone(st.now, store.job))
    assert plays(fx) == [Pattern.VERIFIED] and SetLeds(Leds(green=True)) in fx
    result = st.screen
    assert isinstance(result, ResultScreen) and result.verdict is Verdict.VERIFIED
    assert result.person is not None and result.person.full_name == A.identity.full_name  # type: ignore[union-attr]


def test_result_pages_reveal_and_timeout_clear_everything() -> None:
    st = Station()
    st.happy(A)
    st.send(Button(st.now, ButtonKind.SHORT))
    assert isinstance(st.screen, ResultScreen) and st.screen.page == 1
    st.send(Button(st.now, ButtonKind.LONG))
    assert isinstance(st.screen, ResultScreen) and st.screen.reveal_id
    st.send(Button(st.now, ButtonKind.HOLD_RELEASE))
    assert isinstance(st.screen, ResultScreen) and not st.screen.reveal_id
    st.advance(st.settings.result_s - 1)
    assert st.state.phase is Phase.RESULT  # the button re-armed the timeout
    st.advance(2)
    assert st.state.phase is Phase.IDLE and st.screen == IdleScreen()
    assert st.last(SetLeds) == SetLeds(Leds())
    # privacy: nothing of the citizen is left, only a fingerprint while the card lies here
    text = repr(st.state)
    identity = A.identity
    assert identity is not None
    for secret in (identity.full_name, identity.id_number, A.raw_text[:20]):
        assert secret not in text
    assert st.state.read is None and st.state.held is not None
    st.send(QrVisible(st.now, False))
    assert st.state.held is None


def test_reader_disabled_goes_qr_only() -> None:
    st = Station(Settings(chip=False))
    assert st.screen == IdleScreen(chip=False)
    fx = st.send(QrSeen(st.now, A))
    assert not st.all(StartChipRead)
    store = st.last(StoreRecord)
    assert isinstance(store, StoreRecord) and store.chip is None and store.verification is None
    assert st.screen == QrSeenScreen(chip=False)
    assert plays(fx) == [Pattern.QR_SEEN]
    fx = st.send(StoreDone(st.now, store.job))
    assert isinstance(st.screen, ResultScreen) and st.screen.verdict is Verdict.ATTENTION
    assert plays(fx) == [Pattern.ATTENTION]


@pytest.mark.parametrize(
    ("failure", "reason"),
    [
        (ChipFailure.NO_CHIP, "Không thấy chip, chỉ có QR"),
        (ChipFailure.READER_GONE, "Mất đầu đọc, chỉ có QR"),
    ],
)
def test_chip_failures_fall_back_to_qr_only(failure: ChipFailure, reason: str) -> None:
    st = Station()
    st.send(QrSeen(st.now, A))
    st.send(ChipFailed(st.now, st.job_of(StartChipRead), failure))
    store = st.last(StoreRecord)
    assert isinstance(store, StoreRecord) and store.chip is None
    st.send(StoreDone(st.now, store.job))
    assert isinstance(st.screen, ResultScreen) and st.screen.reason == reason


def test_chip_error_retries_once_then_qr_only() -> None:
    st = Station()
    st.send(QrSeen(st.now, A))
    st.send(ChipFailed(st.now, st.job_of(StartChipRead), ChipFailure.ERROR))
    assert len(st.all(StartChipRead)) == 2 and st.state.phase is Phase.READING
    st.send(ChipFailed(st.now, st.job_of(StartChipRead), ChipFailure.ERROR))
    assert len(st.all(StartChipRead)) == 2 and st.state.phase is Phase.STORING


def test_chip_refuses_every_key_stores_then_says_so() -> None:
    st = Station()
    st.send(QrSeen(st.now, A))
    st.send(ChipFailed(st.now, st.job_of(StartChipRead), ChipFailure.ACCESS_DENIED))
    fx = st.send(StoreDone(st.now, st.job_of(StoreRecord)))
    assert st.screen == ErrorScreen(ErrorKind.CHIP_LOCKED)
    assert plays(fx) == [Pattern.ERROR] and SetLeds(Leds(red=True)) in fx
    assert st.state.read is None
    st.send(Button(st.now, ButtonKind.SHORT))  # the officer dismisses it
    assert st.state.phase is Phase.IDLE


def test_failed_verification_shows_advice() -> None:
    st = Station()
    bad = Outcome(Verdict.FAILED, "QR và chip không khớp", advice=ErrorKind.CHIP_MISMATCH)
    st.happy(A, bad)
    assert isinstance(st.screen, ResultScreen)
    assert st.screen.advice is ErrorKind.CHIP_MISMATCH and st.screen.verdict is Verdict.FAILED
    assert plays(st.effects)[-1] is Pattern.FAILED and st.last(SetLeds) == SetLeds(Leds(red=True))


@pytest.mark.parametrize(
    ("status", "kind"),
    [(QrStatus.UNRECOGNISED, ErrorKind.QR_OTHER), (QrStatus.INVALID, ErrorKind.QR_INVALID)],
)
def test_other_or_broken_qr_is_stored_then_explained(status: QrStatus, kind: ErrorKind) -> None:
    fields = A.raw_text.split("|")
    fields[3] = "31022000"  # no such day
    raw = "https://example.invalid/x" if status is QrStatus.UNRECOGNISED else "|".join(fields)
    qr = parse_payload(raw)
    assert qr.status is status and qr.identity is None
    st = Station()
    st.send(QrSeen(st.now, qr))
    if status is QrStatus.UNRECOGNISED:  # maybe a 2024 card: its MRZ is waited for
        assert st.screen == QrSeenScreen(seen="looking") and st.state.phase is Phase.LOOKING
        st.advance(st.settings.mrz_wait_s + 0.1)
    assert not st.all(StartChipRead)
    st.send(StoreDone(st.now, st.job_of(StoreRecord)))
    assert st.screen == ErrorScreen(kind)
    st.advance(st.settings.error_s + 0.1)
    assert st.state.phase is Phase.IDLE


def test_unreadable_qr_and_no_qr_with_chip() -> None:
    st = Station()
    st.send(QrUnreadable(st.now))
    st.advance(st.settings.mrz_wait_s + 0.1)  # no MRZ came either (a 2024 card's fine QR)
    store = st.last(StoreRecord)  # a record says a QR was seen and could not be read
    assert isinstance(store, StoreRecord) and store.qr.status is QrStatus.NO_QR
    assert [e.code for e in store.qr.errors] == ["qr_unreadable"] and store.chip is None
    assert st.screen == ErrorScreen(ErrorKind.QR_UNREADABLE)
    assert not plays(st.effects)  # the sound follows the stored record
    st.send(StoreDone(st.now, store.job))
    assert st.screen == ErrorScreen(ErrorKind.QR_UNREADABLE)
    assert plays(st.effects) == [Pattern.ERROR]
    st.advance(st.settings.error_s + 0.1)
    st.send(CardPresent(st.now))  # a chip, but no QR (2024 card face down)
    st.advance(st.settings.no_qr_s + 0.1)
    assert st.screen == ErrorScreen(ErrorKind.NO_QR_CHIP)
    st.advance(5 * st.settings.error_s)
    assert st.screen == ErrorScreen(ErrorKind.NO_QR_CHIP)  # while the card lies there
    st.send(QrSeen(st.now, A))  # turned over: read as usual
    assert st.state.phase is Phase.READING


def test_no_qr_error_clears_when_the_card_is_taken() -> None:
    st = Station()
    st.send(CardPresent(st.now))
    st.advance(st.settings.no_qr_s + 0.1)
    st.send(CardGone(st.now))
    assert st.state.phase is Phase.IDLE and st.screen == IdleScreen()


def test_card_away_resumes_when_its_qr_is_seen_again() -> None:
    st = Station()
    st.send(QrSeen(st.now, A))
    st.send(ChipFailed(st.now, st.job_of(StartChipRead), ChipFailure.REMOVED))
    st.send(QrVisible(st.now, False))
    st.advance(2)
    st.send(QrSeen(st.now, A))  # no presence event from the reader, but the QR is back
    assert st.state.phase is Phase.READING and len(st.all(StartChipRead)) == 2


def test_qr_only_same_card_needs_to_leave_the_camera() -> None:
    st = Station(Settings(chip=False))
    st.send(QrSeen(st.now, A))
    st.send(StoreDone(st.now, st.job_of(StoreRecord)))
    st.advance(st.settings.result_s + 1)
    st.send(QrSeen(st.now, A))
    assert len(st.all(StoreRecord)) == 1
    st.send(QrVisible(st.now, False))
    st.send(QrSeen(st.now, A))  # placed again: a new read
    assert len(st.all(StoreRecord)) == 2


def test_store_full_refuses_new_reads_until_freed() -> None:
    st = Station()
    st.send(QrSeen(st.now, A))
    st.send(ChipDone(st.now, st.job_of(StartChipRead), chip=CHIP))
    st.send(Verified(st.now, st.job_of(StartChipRead), VERIFIED))
    fx = st.send(StoreFailed(st.now, st.job_of(StoreRecord), full=True))
    assert st.screen == ErrorScreen(ErrorKind.STORE_FULL) and plays(fx) == [Pattern.ERROR]
    st.advance(st.settings.error_s + 0.1)
    assert st.screen == ErrorScreen(ErrorKind.STORE_FULL)  # idle shows the problem
    reads = len(st.all(StartChipRead))
    st.send(QrVisible(st.now, False))
    fx = st.send(QrSeen(st.now, B))
    assert len(st.all(StartChipRead)) == reads and plays(fx) == [Pattern.ERROR]
    st.send(StoreState(st.now, full=False))
    assert st.screen == IdleScreen()
    st.send(QrSeen(st.now, A))
    assert len(st.all(StartChipRead)) == reads + 1


def test_store_write_error_and_timeout() -> None:
    st = Station(Settings(chip=False))
    st.send(QrSeen(st.now, A))
    st.send(StoreFailed(st.now, st.job_of(StoreRecord), full=False))
    assert st.screen == ErrorScreen(ErrorKind.STORE_FAILED)
    st.send(QrSeen(st.now, B))
    job = st.job_of(StoreRecord)
    st.advance(st.settings.store_s + 0.1)
    assert st.screen == ErrorScreen(ErrorKind.STORE_FAILED)
    st.send(StoreDone(st.now, job))  # too late: ignored
    assert st.state.phase is Phase.ERROR


def test_clock_not_set_refuses_and_recovers() -> None:
    st = Station()
    st.send(ClockState(st.now, ok=False))
    assert st.screen == ErrorScreen(ErrorKind.CLOCK_NOT_SET)
    assert st.last(SetLeds) == SetLeds(Leds(red=True))
    st.send(QrSeen(st.now, A))
    assert not st.all(StartChipRead)
    st.send(ClockState(st.now, ok=True))
    assert st.screen == IdleScreen()


def test_camera_failure_and_reader_unplugged_then_back() -> None:
    st = Station()
    st.send(CameraState(st.now, ok=False))
    assert st.screen == ErrorScreen(ErrorKind.CAMERA_FAILED)
    st.send(CameraState(st.now, ok=True))
    st.send(ReaderState(st.now, connected=False))
    assert st.screen == ErrorScreen(ErrorKind.READER_UNPLUGGED)
    st.send(QrSeen(st.now, A))  # QR still works meanwhile
    assert not st.all(StartChipRead) and st.all(StoreRecord)
    st.send(StoreDone(st.now, st.job_of(StoreRecord)))
    st.advance(st.settings.result_s + 0.1)
    assert st.screen == ErrorScreen(ErrorKind.READER_UNPLUGGED)
    st.send(ReaderState(st.now, connected=True))  # plugged back: no restart needed
    assert st.screen == IdleScreen()
    st.send(QrVisible(st.now, False))
    st.send(QrSeen(st.now, B))
    assert st.all(StartChipRead)


def test_reader_unplugged_mid_read() -> None:
    st = Station()
    st.send(QrSeen(st.now, A))
    job = st.job_of(StartChipRead)
    fx = st.send(ReaderState(st.now, connected=False))
    assert CancelChipRead(job) in fx and st.state.phase is Phase.STORING


def test_sync_state_on_idle() -> None:
    st = Station()
    st.send(SyncState(st.now, SyncLink.OFFLINE, 42))
    assert st.screen == IdleScreen(SyncLink.OFFLINE, 42)


def test_records_refused_by_the_ward_show_on_idle_and_reads_go_on() -> None:
    st = Station()
    st.send(SyncState(st.now, SyncLink.ONLINE, 3, refused=6))
    assert st.screen == IdleScreen(SyncLink.ONLINE, 3, refused=6)
    st.send(QrSeen(st.now, A))  # not a station problem: the counter keeps serving
    assert st.job_of(StartChipRead)
    st.send(SyncState(st.now, SyncLink.ONLINE, 3, refused=0))  # requeued and delivered
    assert st.state.health.refused == 0


def test_old_records_and_a_refusing_broker_show_on_idle_and_reads_go_on() -> None:
    st = Station()
    st.send(SyncState(st.now, SyncLink.ONLINE, 5, stale_min=26 * 60))
    assert st.screen == IdleScreen(SyncLink.ONLINE, 5, stale_min=26 * 60)
    denied = Denied("station-02", "station-01")
    st.send(SyncState(st.now, SyncLink.ONLINE, 5, stale_min=26 * 60, denied=denied))
    assert isinstance(st.screen, IdleScreen) and st.screen.denied == denied
    st.send(QrSeen(st.now, A))  # records are still stored: the counter keeps serving
    assert st.job_of(StartChipRead)


def test_timeouts_on_every_wait() -> None:
    st = Station()
    st.send(QrSeen(st.now, A))
    job = st.job_of(StartChipRead)
    fx = st.advance(st.settings.read_s + 0.1)
    assert CancelChipRead(job) in fx and st.state.phase is Phase.STORING
    st.send(StoreDone(st.now, st.job_of(StoreRecord)))
    assert isinstance(st.screen, ResultScreen) and st.screen.reason == "Đọc chip quá lâu"
    st.send(QrSeen(st.now, B))
    st.send(ChipDone(st.now, st.job_of(StartChipRead), chip=CHIP))
    st.advance(st.settings.verify_s + 0.1)
    store = st.last(StoreRecord)
    assert isinstance(store, StoreRecord) and store.chip is CHIP and store.verification is None


def test_stale_timer_and_stale_job_are_ignored() -> None:
    st = Station()
    st.send(QrSeen(st.now, A))
    old = st.job_of(StartChipRead)
    st.send(CardGone(st.now))
    st.send(CardPresent(st.now))
    assert st.job_of(StartChipRead) != old
    before = st.state
    assert st.send(ChipFailed(st.now, old, ChipFailure.REMOVED)) == []
    assert st.send(TimerFired(st.now, "read")) == []  # not due yet
    assert st.state == before


@pytest.mark.parametrize("at", ["seen", "progress"])
def test_card_removed_mid_read_resumes_when_back(at: str) -> None:
    st = Station()
    st.send(QrSeen(st.now, A))
    st.send(CardPresent(st.now))
    job = st.job_of(StartChipRead)
    if at == "progress":
        st.send(ChipProgress(st.now, job, 0.3, 5000))
    fx = st.send(CardGone(st.now))
    assert CancelChipRead(job) in fx and plays(fx) == [Pattern.ERROR]
    assert st.screen == ErrorScreen(ErrorKind.CARD_MOVED)
    st.advance(3)
    st.send(CardPresent(st.now))
    assert st.state.phase is Phase.READING and st.job_of(StartChipRead) != job
    st.send(ChipDone(st.now, st.job_of(StartChipRead), chip=CHIP))
    assert st.state.phase is Phase.VERIFYING


def test_card_removed_reported_by_the_read_itself() -> None:
    st = Station()
    st.send(QrSeen(st.now, A))
    fx = st.send(ChipFailed(st.now, st.job_of(StartChipRead), ChipFailure.REMOVED))
    assert not any(isinstance(e, CancelChipRead) for e in fx)
    assert st.state.phase is Phase.CARD_AWAY
    st.advance(st.settings.card_away_s + 0.1)
    store = st.last(StoreRecord)  # not put back: the QR part is kept, with why
    assert isinstance(store, StoreRecord) and store.chip is None
    assert store.chip_failure == "card_removed"
    st.send(StoreDone(st.now, store.job))
    assert st.screen == ErrorScreen(ErrorKind.CARD_LOST)
    assert st.state.read is None


@pytest.mark.parametrize("phase", [Phase.VERIFYING, Phase.STORING, Phase.RESULT])
def test_card_removed_after_the_chip_was_read(phase: Phase) -> None:
    st = Station()
    st.send(QrSeen(st.now, A))
    st.send(CardPresent(st.now))
    st.send(ChipDone(st.now, st.job_of(StartChipRead), chip=CHIP))
    if phase is not Phase.VERIFYING:
        st.send(Verified(st.now, st.job_of(StartChipRead), VERIFIED))
    if phase is Phase.RESULT:
        st.send(StoreDone(st.now, st.job_of(StoreRecord)))
    assert st.state.phase is phase
    st.send(CardGone(st.now))
    st.send(QrVisible(st.now, False))
    assert st.state.phase is phase  # the data is in: finish normally
    if phase is Phase.VERIFYING:
        st.send(Verified(st.now, st.job_of(StartChipRead), VERIFIED))
    if phase is not Phase.RESULT:
        st.send(StoreDone(st.now, st.job_of(StoreRecord)))
    assert isinstance(st.screen, ResultScreen)
    st.advance(st.settings.result_s + 0.1)
    assert st.state.held is None  # the card is gone: placing it again reads it again
    st.send(QrSeen(st.now, A))
    assert st.state.phase is Phase.READING


def test_two_different_cards_back_to_back() -> None:
    st = Station()
    st.happy(A)
    st.now += 1
    st.happy(B)  # the next card clears the first result at once
    stores = st.all(StoreRecord)
    assert [s.qr for s in stores] == [A, B]  # type: ignore[attr-defined]
    assert isinstance(st.screen, ResultScreen)
    assert st.screen.person is not None and st.screen.person.full_name == B.identity.full_name  # type: ignore[union-attr]


def test_next_card_during_verify_is_queued() -> None:
    st = Station()
    st.send(QrSeen(st.now, A))
    st.send(ChipDone(st.now, st.job_of(StartChipRead), chip=CHIP))
    st.send(QrSeen(st.now, B))
    assert st.state.queued == Presentation(B) and len(st.all(StartChipRead)) == 1
    st.send(Verified(st.now, st.job_of(StartChipRead), VERIFIED))
    st.send(StoreDone(st.now, st.job_of(StoreRecord)))
    assert isinstance(st.screen, ResultScreen)
    st.advance(2.1)
    start = st.last(StartChipRead)
    assert isinstance(start, StartChipRead) and start.qr is B


def test_card_swapped_mid_read_cancels_and_reads_the_new_one() -> None:
    st = Station()
    st.send(QrSeen(st.now, A))
    job = st.job_of(StartChipRead)
    fx = st.send(QrSeen(st.now, B))
    assert fx[0] == CancelChipRead(job)
    start = st.last(StartChipRead)
    assert isinstance(start, StartChipRead) and start.qr is B


def test_same_card_held_for_a_minute_is_one_record() -> None:
    st = Station()
    st.send(CardPresent(st.now))
    st.happy(A)
    for _ in range(12):  # the tracker re-reports it now and then; timers keep running
        st.advance(5)
        st.send(QrVisible(st.now, False))  # a hand hides the QR; the chip stays
        st.send(QrVisible(st.now, True))
        st.send(QrSeen(st.now, A))
    assert len(st.all(StoreRecord)) == 1 and len(st.all(StartChipRead)) == 1
    assert st.state.phase is Phase.IDLE
    assert st.screen == IdleScreen()  # no "no QR" error for the held card either


def test_stop_is_final() -> None:
    st = Station()
    st.send(QrSeen(st.now, A))
    job = st.job_of(StartChipRead)
    fx = st.send(Stop(st.now))
    assert CancelChipRead(job) in fx
    assert st.screen == ErrorScreen(ErrorKind.STATION_STOPPED)
    assert st.state.read is None
    assert st.send(QrSeen(st.now, B)) == []


def test_face_only_when_configured() -> None:
    from station.display.screens import Face

    face = Face(2, 2, bytes(4))
    for show in (False, True):
        st = Station(Settings(show_face=show))
        st.send(QrSeen(st.now, A))
        st.send(ChipDone(st.now, st.job_of(StartChipRead), chip=CHIP, face=face))
        st.send(Verified(st.now, st.job_of(StartChipRead), VERIFIED))
        st.send(StoreDone(st.now, st.job_of(StoreRecord)))
        assert isinstance(st.screen, ResultScreen)
        assert (st.screen.face is not None) is show


def test_settings_from_config() -> None:
    from station import config

    cfg = config.replace(config.Config(), "ui", result_timeout_s=7.0)
    cfg = config.replace(cfg, "reader", enabled=False)
    settings = Settings.from_config(cfg)
    assert settings.result_s == 7.0 and settings.chip is False
    assert replace(settings, chip=True).chip


PER_FILE = [
    ("DG1", 0.1, 300),
    ("DG1", 0.2, 600),
    ("DG2", 0.5, 4000),
    ("DG2", 0.9, 18000),
    ("EF.SOD", 0.95, 200),
    ("EF.SOD", 1.0, 900),
]
CUMULATIVE = [("", 0.1, 300), ("", 0.5, 4600), ("", 0.9, 18600), ("", 1.0, 19500)]


@pytest.mark.parametrize("reports", [PER_FILE, CUMULATIVE])
def test_progress_bytes_add_up_per_file_or_cumulative(
    reports: list[tuple[str, float, int]],
) -> None:
    st = Station()
    st.send(QrSeen(st.now, A))
    job = st.job_of(StartChipRead)
    for file, fraction, count in reports:
        st.send(ChipProgress(st.now, job, fraction, count, file))
    assert st.screen == ReadingScreen(1.0, 600 + 18000 + 900)


@pytest.mark.parametrize(
    ("failure", "reason", "code"),
    [
        (ChipFailure.NO_CHIP, "", "no_chip"),
        (ChipFailure.READER_GONE, "", "reader_error"),
        (ChipFailure.ACCESS_DENIED, "", "chip_refused_keys"),
        (ChipFailure.ERROR, "chip_unparseable", "chip_unparseable"),
        (ChipFailure.ERROR, "", "chip_read_error"),
    ],
)
def test_a_qr_only_record_after_a_failed_chip_says_why(
    failure: ChipFailure, reason: str, code: str
) -> None:
    st = Station()
    st.send(QrSeen(st.now, A))
    st.send(ChipFailed(st.now, st.job_of(StartChipRead), failure, reason))
    if failure is ChipFailure.ERROR:  # retried once
        st.send(ChipFailed(st.now, st.job_of(StartChipRead), failure, reason))
    store = st.last(StoreRecord)
    assert isinstance(store, StoreRecord) and store.chip is None and store.verification is None
    assert store.chip_failure == code


def test_timeouts_and_a_disabled_reader_say_why_too() -> None:
    st = Station()
    st.send(QrSeen(st.now, A))
    st.advance(st.settings.read_s + 0.1)
    store = st.last(StoreRecord)
    assert isinstance(store, StoreRecord) and store.chip_failure == "chip_timeout"
    st = Station()
    st.send(QrSeen(st.now, A))
    job = st.job_of(StartChipRead)
    st.send(ChipDone(st.now, job, chip=CHIP))
    st.advance(st.settings.verify_s + 0.1)  # the verifier never answered
    store = st.last(StoreRecord)
    assert isinstance(store, StoreRecord) and store.chip is CHIP
    assert store.chip_failure == "verification_error"
    st = Station(Settings(chip=False))
    st.send(QrSeen(st.now, A))
    store = st.last(StoreRecord)
    assert isinstance(store, StoreRecord) and store.chip_failure == "reader_disabled"
    st = Station()
    st.happy(A)
    store = st.last(StoreRecord)
    assert isinstance(store, StoreRecord) and store.chip_failure is None
