"""The flow with the MRZ path: 2024 cards (QR + MRZ on the back) and card backs."""

from __future__ import annotations

import random

from station.display.screens import ErrorKind, ErrorScreen, QrSeenScreen, ResultScreen
from station.flow import (
    CardPresent,
    ChipDone,
    MrzSeen,
    Phase,
    Presentation,
    QrSeen,
    QrUnreadable,
    Settings,
    StartChipRead,
    StoreDone,
    StoreRecord,
    Verified,
)
from station.mrz.td1 import ParsedMrz, parse_lines
from station.ports import Pattern
from station.qr.models import NO_QR, QrResult, QrStatus
from station.qr.payload import parse_payload
from station.sim.citizens import generate, mrz_lines
from tests.flow.harness import CHIP, TODAY, VERIFICATION, VERIFIED, Station, qr_results

RNG = random.Random(2024)
CARD = generate(RNG, today=TODAY, generation=2024)
OTHER = generate(RNG, today=TODAY, generation=2024)
MRZ: ParsedMrz = parse_lines(mrz_lines(CARD))
MRZ_OTHER: ParsedMrz = parse_lines(mrz_lines(OTHER))
QR_2024: QrResult = parse_payload(CARD.qr_payload_2024(), today=TODAY)
URL: QrResult = parse_payload("https://example.invalid/x", today=TODAY)
(A,) = qr_results(1)


def plays(st: Station) -> list[Pattern]:
    from station.flow import Play

    return [e.pattern for e in st.effects if isinstance(e, Play)]


def _finish(st: Station) -> StoreRecord:
    job = st.job_of(StartChipRead)
    st.send(ChipDone(st.now, job, chip=CHIP))
    st.send(Verified(st.now, job, VERIFIED, VERIFICATION))
    record = st.last(StoreRecord)
    assert isinstance(record, StoreRecord)
    st.send(StoreDone(st.now, record.job))
    return record


def test_a_card_back_is_read_from_its_mrz() -> None:
    assert MRZ.ok and QR_2024.status is QrStatus.UNRECOGNISED and QR_2024.clues is not None
    st = Station()
    st.send(MrzSeen(st.now, MRZ))
    start = st.last(StartChipRead)
    assert start == StartChipRead(start.job, NO_QR, MRZ)  # type: ignore[union-attr]
    assert st.screen == QrSeenScreen(seen="mrz") and plays(st) == [Pattern.QR_SEEN]
    record = _finish(st)
    assert record.mrz == MRZ and record.qr is NO_QR
    assert isinstance(st.screen, ResultScreen)
    st.send(MrzSeen(st.now, MRZ))  # the same card still lying there
    assert len(st.all(StartChipRead)) == 1


def test_a_2024_qr_waits_for_the_mrz_then_reads_with_both() -> None:
    st = Station()
    st.send(QrSeen(st.now, QR_2024))
    assert st.state.phase is Phase.LOOKING and st.screen == QrSeenScreen(seen="looking")
    assert not st.all(StartChipRead) and plays(st) == [Pattern.QR_SEEN]
    st.now += 0.6
    st.send(MrzSeen(st.now, MRZ))
    start = st.last(StartChipRead)
    assert isinstance(start, StartChipRead) and (start.qr, start.mrz) == (QR_2024, MRZ)
    assert plays(st) == [Pattern.QR_SEEN]  # one beep for the card
    assert _finish(st).qr == QR_2024


def test_without_an_mrz_a_2024_qr_opens_with_its_clues_and_a_url_is_refused() -> None:
    st = Station()
    st.send(QrSeen(st.now, QR_2024))
    st.advance(st.settings.mrz_wait_s + 0.1)
    start = st.last(StartChipRead)
    assert isinstance(start, StartChipRead) and (start.qr, start.mrz) == (QR_2024, None)
    other = Station()
    other.send(QrSeen(other.now, URL))
    other.advance(other.settings.mrz_wait_s + 0.1)
    assert not other.all(StartChipRead)
    other.send(StoreDone(other.now, other.job_of(StoreRecord)))
    assert other.screen == ErrorScreen(ErrorKind.QR_OTHER)


def test_an_undecodable_qr_waits_for_the_mrz() -> None:
    st = Station()
    st.send(QrUnreadable(st.now))
    assert st.state.phase is Phase.LOOKING and plays(st) == []
    st.send(MrzSeen(st.now, MRZ))
    start = st.last(StartChipRead)
    assert isinstance(start, StartChipRead) and start.mrz == MRZ


def test_the_qr_decoded_after_the_mrz_joins_the_read() -> None:
    st = Station()
    st.send(MrzSeen(st.now, MRZ))
    st.send(QrSeen(st.now, QR_2024))  # the same back's QR, decoded a frame later
    assert len(st.all(StartChipRead)) == 1 and st.state.phase is Phase.READING
    assert _finish(st).qr == QR_2024
    st.send(QrSeen(st.now, QR_2024))
    assert len(st.all(StartChipRead)) == 1


def test_a_2021_qr_during_an_mrz_read_is_another_card() -> None:
    st = Station()
    st.send(MrzSeen(st.now, MRZ))
    st.send(QrSeen(st.now, A))
    start = st.last(StartChipRead)
    assert isinstance(start, StartChipRead) and (start.qr, start.mrz) == (A, None)
    assert len(st.all(StartChipRead)) == 2


def test_an_mrz_while_verifying_is_queued() -> None:
    st = Station()
    st.send(MrzSeen(st.now, MRZ))
    job = st.job_of(StartChipRead)
    st.send(ChipDone(st.now, job, chip=CHIP))
    st.send(MrzSeen(st.now, MRZ_OTHER))
    assert st.state.queued == Presentation(NO_QR, MRZ_OTHER)
    st.send(Verified(st.now, job, VERIFIED, VERIFICATION))
    st.send(StoreDone(st.now, st.job_of(StoreRecord)))
    st.advance(3)
    start = st.last(StartChipRead)
    assert isinstance(start, StartChipRead) and start.mrz == MRZ_OTHER


def test_mrz_off_refuses_other_qr_at_once_and_chip_off_stores_the_mrz() -> None:
    st = Station(Settings(mrz=False))
    st.send(QrSeen(st.now, URL))
    assert st.state.phase is Phase.STORING
    st = Station(Settings(chip=False))
    st.send(MrzSeen(st.now, MRZ))
    record = st.last(StoreRecord)
    assert isinstance(record, StoreRecord) and record.mrz == MRZ and record.chip is None
    assert st.state.read is not None and st.state.read.outcome is not None
    assert st.state.read.outcome.reason == "Chỉ đọc dòng MRZ"


def test_a_chip_whose_mrz_comes_in_time_is_no_turn_the_card_over() -> None:
    st = Station()
    st.send(CardPresent(st.now))
    st.now += 1.0
    st.send(MrzSeen(st.now, MRZ))
    st.advance(st.settings.no_qr_s + 1)
    assert st.screen != ErrorScreen(ErrorKind.NO_QR_CHIP)
    assert st.state.phase is Phase.READING


def test_another_card_while_waiting_for_an_mrz_settles_the_first() -> None:
    st = Station()
    st.send(QrSeen(st.now, URL))
    st.send(QrSeen(st.now, A))  # the URL card taken away, a 2021 card placed
    assert st.state.queued == Presentation(A) and not st.all(StartChipRead)
    st.send(StoreDone(st.now, st.job_of(StoreRecord)))  # the URL's record
    assert st.screen == ErrorScreen(ErrorKind.QR_OTHER)
    st.advance(2.1)  # shown briefly: the next card waits
    start = st.last(StartChipRead)
    assert isinstance(start, StartChipRead) and start.qr == A


def test_while_the_mrz_process_is_down_the_idle_screen_says_so_and_qr_reads_go_on() -> None:
    from station.flow import MrzState, ReaderState, SetLeds
    from station.ports import Leds

    st = Station()
    st.send(MrzState(st.now, False))
    assert st.screen == ErrorScreen(ErrorKind.MRZ_FAILED)
    assert st.last(SetLeds) == SetLeds(Leds(red=True))
    # A 2021 card is read from its QR as before.
    st.send(QrSeen(st.now, A))
    start = st.last(StartChipRead)
    assert isinstance(start, StartChipRead) and (start.qr, start.mrz) == (A, None)
    _finish(st)
    assert isinstance(st.screen, ResultScreen)
    st.advance(st.state.settings.result_s + 1)
    assert st.screen == ErrorScreen(ErrorKind.MRZ_FAILED)  # back to idle: still down
    # A 2024 QR does not wait for an MRZ that cannot come: its values open the chip now.
    st.send(QrSeen(st.now, QR_2024))
    assert st.state.phase is Phase.READING
    start = st.last(StartChipRead)
    assert isinstance(start, StartChipRead) and (start.qr, start.mrz) == (QR_2024, None)
    _finish(st)
    st.advance(st.state.settings.result_s + 1)
    # A more serious problem is shown first; once the MRZ serves again, the idle screen.
    st.send(ReaderState(st.now, False))
    assert st.screen == ErrorScreen(ErrorKind.READER_UNPLUGGED)
    st.send(ReaderState(st.now, True))
    assert st.screen == ErrorScreen(ErrorKind.MRZ_FAILED)
    st.send(MrzState(st.now, True))
    assert not isinstance(st.screen, ErrorScreen)
    assert st.last(SetLeds) == SetLeds(Leds())
    st.send(QrSeen(st.now + 1, URL))  # and a QR of another kind waits for the MRZ again
    assert st.state.phase is Phase.LOOKING


def test_an_undecodable_qr_does_not_wait_for_the_mrz_while_it_is_down() -> None:
    from station.flow import MrzState

    st = Station()
    st.send(MrzState(st.now, False))
    st.send(QrUnreadable(st.now))
    assert st.state.phase is not Phase.LOOKING
    assert st.screen == ErrorScreen(ErrorKind.QR_UNREADABLE)


def test_without_the_mrz_path_its_process_state_is_not_shown() -> None:
    from station.flow import MrzState

    st = Station(Settings(mrz=False))
    st.send(MrzState(st.now, False))
    assert not isinstance(st.screen, ErrorScreen)
