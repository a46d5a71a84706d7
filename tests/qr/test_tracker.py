"""De-duplication of QR sightings (fake clock) and the frame -> result reader on real frames."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from station.fingerprint import fingerprint
from station.qr.decoder import QrTracker
from station.qr.models import QrStatus
from station.qr.reader import QrReader
from station.record import qr_record
from station.sim.citizens import generate_many
from station.sim.frames import camera_script, card_frame, empty_frame

TODAY = date(2024, 6, 30)
FPS = 10.0


def run(tracker: QrTracker, frames: list[list[bytes]]) -> list[tuple[bytes, ...]]:
    return [tracker.update(payloads, i / FPS) for i, payloads in enumerate(frames)]


def test_same_code_in_consecutive_frames_is_one_event() -> None:
    tracker = QrTracker(absent_frames=3, absent_s=0.25)
    events = run(tracker, [[b"A"]] * 20)
    assert events[0] == (b"A",)
    assert all(e == () for e in events[1:])


def test_short_dropouts_do_not_re_emit() -> None:
    tracker = QrTracker(absent_frames=3, absent_s=0.25)
    frames = [[b"A"], [], [], [b"A"], [], [b"A"]]
    assert [e for e in run(tracker, frames) if e] == [(b"A",)]


def test_re_emit_after_absence_of_frames_and_time() -> None:
    tracker = QrTracker(absent_frames=3, absent_s=0.25)
    frames = [[b"A"], [], [], [], [b"A"], [b"A"]]
    assert run(tracker, frames) == [(b"A",), (), (), (), (b"A",), ()]


def test_both_frame_and_time_gaps_are_required() -> None:
    tracker = QrTracker(absent_frames=2, absent_s=10.0)
    assert tracker.update([b"A"], 0.0) == (b"A",)
    assert tracker.update([], 0.1) == ()
    assert tracker.update([], 0.2) == ()
    assert tracker.update([b"A"], 0.3) == ()  # 2 frames missed but only 0.3 s
    for t in (1.0, 2.0, 11.0):
        tracker.update([], t)
    assert tracker.update([b"A"], 12.0) == (b"A",)


def test_two_cards_and_duplicates_within_a_frame() -> None:
    tracker = QrTracker(absent_frames=1, absent_s=0.0)
    assert tracker.update([b"A", b"B", b"A"], 0.0) == (b"A", b"B")
    assert tracker.update([b"B", b"C"], 0.1) == (b"C",)
    assert tracker.update([], 0.2) == ()
    assert tracker.update([b"A"], 0.3) == (b"A",)


def test_forgets_absent_codes_and_reset() -> None:
    tracker = QrTracker(absent_frames=2, absent_s=0.0)
    tracker.update([b"A"], 0.0)
    assert len(tracker) == 1
    tracker.update([], 0.1)
    tracker.update([], 0.2)
    assert len(tracker) == 0
    tracker.update([b"B"], 0.3)
    tracker.reset()
    assert tracker.update([b"B"], 0.4) == (b"B",)


class NaiveTracker:
    """The rule of ``QrTracker`` written the plain way: every remembered payload is tested
    on every frame (the tracker stops at the first one still in view)."""

    def __init__(self, absent_frames: int, absent_s: float) -> None:
        self.absent_frames, self.absent_s = absent_frames, absent_s
        self.frame = 0
        self.last: dict[bytes, tuple[int, float]] = {}

    def update(self, payloads: list[bytes], now: float) -> tuple[bytes, ...]:
        self.frame += 1
        events = []
        for p in dict.fromkeys(payloads):
            seen = self.last.get(p)
            if seen is None or (
                self.frame - seen[0] - 1 >= self.absent_frames and now - seen[1] >= self.absent_s
            ):
                events.append(p)
            self.last[p] = (self.frame, now)
        self.last = {
            p: s
            for p, s in self.last.items()
            if not (self.frame - s[0] >= self.absent_frames and now - s[1] >= self.absent_s)
        }
        return tuple(events)


@settings(max_examples=300, deadline=None)
@given(
    absent_frames=st.integers(1, 4),
    absent_s=st.sampled_from([0.0, 0.05, 0.3]),
    frames=st.lists(
        st.tuples(
            st.lists(st.sampled_from([b"A", b"B", b"C", b"D", b"E"]), max_size=4),
            st.sampled_from([0.0, 0.0, 0.02, 0.1, 0.5]),  # time since the previous frame
        ),
        max_size=40,
    ),
)
def test_tracker_agrees_with_the_plain_rule(
    absent_frames: int, absent_s: float, frames: list[tuple[list[bytes], float]]
) -> None:
    tracker, naive = (
        QrTracker(absent_frames=absent_frames, absent_s=absent_s),
        NaiveTracker(absent_frames, absent_s),
    )
    now = 0.0
    for payloads, step in frames:
        now += step
        assert tracker.update(payloads, now) == naive.update(payloads, now)
        assert len(tracker) == len(naive.last)


def test_tracker_rejects_bad_settings() -> None:
    with pytest.raises(ValueError):
        QrTracker(absent_frames=0)
    with pytest.raises(ValueError):
        QrTracker(absent_s=-1)


def test_fingerprint_is_short_hex_and_hides_the_payload() -> None:
    fp = fingerprint(b"001099012345|...")
    assert len(fp) == 16 and int(fp, 16) >= 0
    assert "001099" not in fp


def test_reader_on_a_camera_sequence() -> None:
    """Card A held for 8 frames, removed for 12, shown again, then card B: three events."""
    a, b = generate_many(21, 2, today=TODAY)
    frames = (
        [card_frame(a, angle=3 * i, noise=3, seed=i) for i in range(8)]
        + [empty_frame((640, 480), seed=i) for i in range(12)]
        + [card_frame(a, angle=-5, seed=100 + i) for i in range(3)]
        + [card_frame(b, module_px=5, angle=30, seed=200 + i) for i in range(4)]
    )
    reader = QrReader(tracker=QrTracker(absent_frames=5, absent_s=0.5), today=lambda: TODAY)
    events = []
    visible = []
    for i, frame in enumerate(frames):
        for result in reader.process(frame, now=i / FPS):
            events.append((i, result))
        visible.append(reader.visible)
    assert [i for i, _ in events] == [0, 20, 23]
    names = [r.identity.full_name for _, r in events if r.identity is not None]
    assert names == [a.full_name, a.full_name, b.full_name]
    assert all(r.status is QrStatus.OK for _, r in events)
    assert visible[:8] == [True] * 8 and visible[8:20] == [False] * 12
    record = qr_record(events[0][1], station_id="counter-1")
    assert record["status"] == "ok" and record["citizen"]["id_number"] == a.id_number


def test_reader_reports_other_codes_as_unrecognised() -> None:
    citizen = generate_many(22, 1, today=TODAY)[0]
    reader = QrReader(today=lambda: TODAY)
    results = reader.process(card_frame(citizen, damage="url", seed=1), now=0.0)
    assert [r.status for r in results] == [QrStatus.UNRECOGNISED]
    assert reader.process(card_frame(citizen, damage="covered", seed=1), now=0.1) == ()


def test_camera_script_gives_one_event_per_readable_card() -> None:
    citizens = generate_many(23, 8, today=TODAY)
    reader = QrReader(tracker=QrTracker(absent_frames=5, absent_s=0.5), today=lambda: TODAY)
    events: dict[int, list[QrStatus]] = {}
    damages: dict[int, object] = {}
    for n, shot in enumerate(camera_script(citizens, frames_per_card=4, gap_frames=6, seed=5)):
        damages[shot.index] = damages.get(shot.index) or shot.damage
        for result in reader.process(shot.frame, now=n / FPS):
            events.setdefault(shot.index, []).append(result.status)
    assert damages[3] == "covered" and damages[7] == "smudged"
    expected = {i: [QrStatus.OK] for i in range(8) if damages[i] is None}
    assert events == expected


def test_sight_gives_the_new_payloads_and_parse_the_results_of_process() -> None:
    """``process`` is ``sight`` then ``parse``: the camera thread sights only."""
    a, b = generate_many(24, 2, today=TODAY)
    frames = [card_frame(a, seed=1), card_frame(a, seed=2), card_frame(b, seed=3)]
    sighting = QrReader(today=lambda: TODAY)
    whole = QrReader(today=lambda: TODAY)
    for i, frame in enumerate(frames):
        payloads = sighting.sight(frame, now=i / FPS)
        results = whole.process(frame, now=i / FPS)
        assert tuple(sighting.parse(p) for p in payloads) == results
        assert sighting.visible and sighting.cccd_visible and not sighting.unreadable
    assert [len(sighting.sight(f, now=1.0)) for f in frames[:1]] == [0]  # still in view


# Payloads around the 2021 shape: what the byte check says yes to, the text check must too.
_SHAPES = [
    "079203001234|123456789|Nguyễn Văn A|01011990|Nam|Hà Nội|01012021",
    "\ufeff079203001234|||||||",
    " 079203001234\t|a|b|c|d|e|f",
    "\u00a0079203001234\u3000|a|b|c|d|e|f",  # Unicode spaces: bytes say no, text says yes
    "\x1c079203001234|a|b|c|d|e|f",
    "07920300123|a|b|c|d|e|f",
    "079203001234|a|b|c|d|e",
    "079203001234|a|b|c|d|e|f|g",
    "０７９２０３００１２３４|a|b|c|d|e|f",  # full-width digits
]


def _encodable(text: str, codec: str) -> bool:
    try:
        text.encode(codec)
    except UnicodeEncodeError:
        return False
    return True


@pytest.mark.parametrize(
    "raw", [t.encode(c) for t in _SHAPES for c in ("utf-8", "latin-1") if _encodable(t, c)]
)
def test_the_byte_shape_check_never_contradicts_the_text(raw: bytes) -> None:
    from station.qr.payload import decode_text, looks_like_cccd, split_fields
    from station.qr.reader import _cccd_bytes

    by_text = looks_like_cccd(split_fields(decode_text(raw)))
    assert _cccd_bytes(raw) in (None, by_text)
    reader = QrReader(today=lambda: TODAY)
    assert reader._cccd_shaped(raw) is by_text  # the text decides what the bytes do not


def _shape_by_splitting(payload: bytes) -> bool:
    """The byte shape check the plain way: split on ``|``, strip, 12 ASCII digits."""
    fields = payload.removeprefix(b"\xef\xbb\xbf").split(b"|")
    first = fields[0].strip()
    return len(fields) == 7 and len(first) == 12 and all(48 <= c <= 57 for c in first)


_PIECES = [
    b"|",
    b"0",
    b"7",
    b"9",
    b" ",
    b"\t",
    b"\n",
    b"\x0b",
    b"\xa0",
    b"\xef\xbb\xbf",
    b"a",
    b"\xc3",
]
_NEAR_SHAPE = st.builds(
    lambda bom, pad, digits, rest: bom + pad + digits.encode() + pad + rest,
    st.sampled_from([b"", b"\xef\xbb\xbf"]),
    st.sampled_from([b"", b" ", b"\r\n", b"\x0c", b"\xa0"]),
    st.text("0123456789", min_size=12, max_size=12)
    | st.text("0123456789", min_size=11, max_size=13),
    st.sampled_from(
        [b"|a|b|c|d|e|f", b"|a|b|c|d|e", b"||||||", b"|a\n|b|c|d|e|f|g", b"|\xc3|b|c|d|e|f"]
    ),
)


@settings(max_examples=300, deadline=None)
@given(
    st.one_of(
        st.lists(st.sampled_from(_PIECES), max_size=40).map(b"".join),
        st.builds(
            lambda head, tail: head + b"|".join(tail),
            st.sampled_from([b"", b"\xef\xbb\xbf", b" ", b"\xef\xbb\xbf\xef\xbb\xbf"]),
            st.lists(st.binary(max_size=14), min_size=5, max_size=9),
        ),
    )
)
def test_the_byte_shape_regex_is_the_split_rule(raw: bytes) -> None:
    from station.qr.reader import _cccd_bytes

    assert (_cccd_bytes(raw) is True) is _shape_by_splitting(raw)


@settings(max_examples=300, deadline=None)
@given(_NEAR_SHAPE)
def test_the_byte_shape_regex_is_the_split_rule_near_the_shape(raw: bytes) -> None:
    from station.qr.reader import _cccd_bytes

    assert (_cccd_bytes(raw) is True) is _shape_by_splitting(raw)


_TEXT_PIECES = [
    "|",
    "\uff5c",
    "\u01c0",
    "\u2223",
    "0",
    "1",
    "a",
    "\u0301",
    "\u00e0",
    "\u1ea1",
    "\ufeff",
]
_TEXT_PIECES += [" ", "\u00a0", "\u3000", "\ufffd", "\x00"]


@settings(max_examples=400, deadline=None)
@given(
    st.lists(st.sampled_from(_TEXT_PIECES), max_size=30).map("".join),
    st.sampled_from(["utf-8", "latin-1"]),
    st.binary(max_size=3),
)
def test_what_the_bytes_decide_the_text_decides_alike(text: str, codec: str, junk: bytes) -> None:
    """Vertical-bar look-alikes, combining marks (NFC), Unicode spaces, damaged UTF-8: a
    decision of the byte check is the text check's."""
    from station.qr.payload import decode_text, looks_like_cccd, split_fields
    from station.qr.reader import _cccd_bytes

    raw = text.encode(codec, errors="ignore") + junk
    assert _cccd_bytes(raw) in (None, looks_like_cccd(split_fields(decode_text(raw))))
