"""Scenarios on the whole station (station.runtime.app.Station) on simulated parts: synthetic
camera frames, emulated chips in the simulated reader field, the real outbox, fake GPIO
and the luma dummy panel. Real time, with short timeouts; every wait is on a condition."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from station import config
from station.display.render import render
from station.display.screens import (
    ErrorKind,
    ErrorScreen,
    IdleScreen,
    ResultScreen,
    SyncLink,
    Verdict,
)
from station.drivers.display_sim import SimDisplay
from station.drivers.gpio_sim import FakeIndicators
from station.flow import Phase, screen_for
from station.ports import Pattern
from station.runtime.app import Services, Station
from station.runtime.wiring import open_devices
from station.sim import frames
from station.sim.counter import CardFactory, SimCounter, full_chip
from station.sim.emulator import Misbehaviour
from station.sync.outbox import Outbox
from tests.support import eventually, wait_for

RESULT_S = 2.0


class Running:
    """A station running in its own thread and event loop."""

    def __init__(self, tmp: Path, factory: CardFactory, **sections: dict[str, Any]) -> None:
        from station.verify.store import import_file

        raw = {
            "station": {"id": "test-counter", "hardware": "sim", "data_dir": str(tmp)},
            "ui": {"result_timeout_s": RESULT_S},
            "mqtt": {"enabled": False},
            **sections,
        }
        self.cfg = config.from_mapping(raw)
        csca = tmp / "csca.der"
        csca.write_bytes(factory.pki.csca_der)
        import_file(self.cfg.trust_dir, csca)
        self.outbox = Outbox.from_config(self.cfg)
        self.devices = open_devices(self.cfg, echo=lambda _text: None)
        assert self.devices.scene is not None
        self.counter = SimCounter(self.devices.scene, self.devices.field)
        self.records: list[dict[str, Any]] = []
        self.station = Station(
            self.cfg, self.devices, Services(self.outbox, on_record=self.records.append)
        )
        self.loop = asyncio.new_event_loop()
        self.stop_event = asyncio.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()
        wait_for(lambda: self.station.state is not None)

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_until_complete(self.station.run(self.stop_event))

    @property
    def phase(self) -> Phase | None:
        state = self.station.state
        return None if state is None else state.phase

    @property
    def screen(self) -> Any:
        assert self.station.state is not None
        return screen_for(self.station.state)

    @property
    def patterns(self) -> list[Pattern]:
        indicators = self.devices.indicators
        assert isinstance(indicators, FakeIndicators)
        return indicators.patterns()

    def panel_shows(self, screen: Any) -> bool:
        display = self.devices.display
        assert isinstance(display, SimDisplay)
        image = display.image
        return image is not None and image.tobytes() == render(screen).tobytes()

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.stop_event.set)
        self.thread.join(15)
        self.devices.close()
        self.outbox.close()


@pytest.fixture(scope="module")
def factory() -> CardFactory:
    return CardFactory(seed=606)


@pytest.fixture
def station(tmp_path: Path, factory: CardFactory) -> Iterator[Running]:
    running = Running(tmp_path, factory)
    yield running
    running.close()


def result(station: Running) -> ResultScreen | None:
    screen = station.screen
    return screen if isinstance(screen, ResultScreen) else None


def test_good_card_verdict_sound_panel_and_record(station: Running, factory: CardFactory) -> None:
    card = factory.make("good")
    station.counter.place(card)
    wait_for(lambda: result(station) is not None)
    shown = result(station)
    assert shown is not None and shown.verdict is Verdict.VERIFIED, shown
    assert shown.person is not None and shown.person.full_name == card.citizen.full_name
    wait_for(lambda: station.panel_shows(shown))
    # the state (hence the screen) changes before the loop plays the sound: wait for it
    wait_for(lambda: len(station.patterns) >= 2, what="the verdict's sound")
    assert station.patterns == [Pattern.QR_SEEN, Pattern.VERIFIED]
    (record,) = station.records
    assert record["verification"]["level"] == "verified"


def test_same_card_left_on_the_counter_is_one_record(
    station: Running, factory: CardFactory
) -> None:
    station.counter.place(factory.make("good"))
    wait_for(lambda: result(station) is not None)
    wait_for(lambda: station.phase is Phase.IDLE, RESULT_S + 5)
    # The card keeps lying there, frames and chip presence keep coming: no second read.
    assert not eventually(lambda: len(station.records) > 1 or station.phase is not Phase.IDLE, 1.5)
    station.counter.place(factory.make("good"))  # a different card is read at once
    wait_for(lambda: len(station.records) == 2)


def test_untrusted_signer_needs_attention(station: Running, factory: CardFactory) -> None:
    station.counter.place(factory.make("untrusted"))
    wait_for(lambda: result(station) is not None)
    shown = result(station)
    assert shown is not None and shown.verdict is Verdict.ATTENTION
    wait_for(lambda: station.patterns[-1:] == [Pattern.ATTENTION], what="the attention sound")


@pytest.mark.parametrize(
    ("kind", "reason"),
    [("stripped-clone", "Nghi chip bị sao chép"), ("forged-signer", "Chữ ký trên chip sai")],
)
def test_clone_and_forged_signer_are_refused(
    station: Running, factory: CardFactory, kind: str, reason: str
) -> None:
    station.counter.place(factory.make(kind))  # type: ignore[arg-type]
    wait_for(lambda: result(station) is not None)
    shown = result(station)
    assert shown is not None and (shown.verdict, shown.reason) == (Verdict.FAILED, reason)
    assert shown.advice is ErrorKind.CHIP_NOT_GENUINE
    wait_for(lambda: station.patterns[-1:] == [Pattern.FAILED], what="the failed sound")


@pytest.mark.parametrize(
    ("kind", "kind_shown"),
    [
        ("foreign-qr", ErrorKind.QR_OTHER),  # no MRZ comes after it either
        ("card2024-front", ErrorKind.NO_QR_CHIP),  # a 2024 card's front: no QR, no MRZ
        ("locked", ErrorKind.CHIP_LOCKED),  # no key the QR gives opens the chip
    ],
)
def test_wrong_side_or_other_qr(
    station: Running, factory: CardFactory, kind: Any, kind_shown: ErrorKind
) -> None:
    station.counter.place(factory.make(kind))
    wait_for(lambda: station.screen == ErrorScreen(kind_shown))
    wait_for(lambda: station.panel_shows(ErrorScreen(kind_shown)))
    wait_for(lambda: Pattern.ERROR in station.patterns, what="the error sound")


@pytest.mark.parametrize("kind", ["card2024", "back2021"])
def test_a_card_back_up_is_read_from_its_mrz(
    station: Running, factory: CardFactory, kind: Any
) -> None:
    """The 2024 card (QR and MRZ on its back, a chip whose CAN is not the ID's digits) and a
    2021 card placed back up: the MRZ's key opens the chip, same verdict as a 2021 front."""
    card = factory.make(kind)
    station.counter.place(card)
    wait_for(lambda: result(station) is not None, 15)
    shown = result(station)
    assert shown is not None and shown.verdict is Verdict.VERIFIED, shown
    assert shown.person is not None and shown.person.full_name == card.citizen.full_name
    (record,) = station.records
    assert record["chip"]["key_source"] == "mrz-ocr"
    assert record["chip"]["access"] in ("PACE-MRZ", "BAC")
    assert record["source"] in (
        ("mrz+chip", "qr+mrz+chip") if kind == "card2024" else ("mrz+chip",)
    )
    assert record["mrz"]["id_number"] == card.citizen.id_number
    assert "full_name" not in record["mrz"] and "DG2" not in record["chip"]["files"]
    assert record["verification"]["qr_chip_match"] is True
    station.counter.remove()


def test_no_mrz_analysis_while_a_2021_qr_is_in_view(station: Running, factory: CardFactory) -> None:
    wait_for(lambda: station.station._camera is not None)
    camera = station.station._camera
    assert camera is not None and camera.mrz is not None
    station.counter.place(factory.make("good"))
    wait_for(lambda: result(station) is not None)
    seen = camera.mrz.analysed  # the empty counter before was analysed, at its bounded rate
    frames = camera.frames
    # at 4 analyses a second, 1.5 s would give ~6 more; one may have been handed over already
    assert not eventually(lambda: camera.mrz.analysed > seen + 1, 1.5)  # type: ignore[union-attr]
    assert camera.frames > frames + 5


def test_a_2024_back_in_a_1280x720_frame_gives_its_qr_too(tmp_path: Path) -> None:
    factory = CardFactory(seed=2024, size=(1280, 720))
    running = Running(tmp_path, factory, camera={"width": 1280, "height": 720})
    try:
        card = factory.make("card2024")
        running.counter.place(card)
        wait_for(lambda: len(running.records) == 1, 15)
        (record,) = running.records
        assert record["source"] == "qr+mrz+chip" and record["status"] == "unrecognised"
        assert record["qr_raw"] == card.citizen.qr_payload_2024()
        assert record["qr_clues"]["id_number"] == card.citizen.id_number
        assert record["verification"]["level"] == "verified"
    finally:
        running.close()


def test_an_mrz_too_small_for_the_frame_is_read_at_full_resolution(station: Running) -> None:
    from station.mrz.reader import MrzReader

    card = CardFactory(seed=8).back("back2021", char_h=5.0, full_size=(1280, 960))
    assert card.full is not None
    assert MrzReader().read(card.frame).too_small and MrzReader().read(card.full).usable
    station.counter.place(card)
    wait_for(lambda: result(station) is not None, 15)
    scene = station.devices.scene
    assert scene is not None and scene.full_captures >= 2
    (record,) = station.records
    assert record["source"] == "mrz+chip" and record["chip"]["key_source"] == "mrz-ocr"


def test_chip_but_no_qr_says_turn_the_card_over(station: Running, factory: CardFactory) -> None:
    good = factory.make("good")
    face_down = frames.card_frame(good.citizen, damage="no-qr", seed=3)
    station.counter.place(type(good)(good.kind, good.citizen, face_down, good.chip))
    wait_for(lambda: station.screen == ErrorScreen(ErrorKind.NO_QR_CHIP))
    assert station.records == []
    station.counter.place(good)  # turned over
    wait_for(lambda: result(station) is not None)


def test_card_lifted_mid_read_then_put_back(station: Running, factory: CardFactory) -> None:
    card = factory.make("good")
    lifting = full_chip(
        card.citizen, factory.pki, Misbehaviour(lost_after_bytes=1000)
    )  # mid-read: no face is read
    station.counter.place(type(card)(card.kind, card.citizen, card.frame, lifting))
    wait_for(lambda: station.screen == ErrorScreen(ErrorKind.CARD_MOVED))
    assert station.devices.field is not None
    station.devices.field.insert(full_chip(card.citizen, factory.pki))
    wait_for(lambda: result(station) is not None)
    shown = result(station)
    assert shown is not None and shown.verdict is Verdict.VERIFIED
    assert len(station.records) == 1


def test_card_whose_can_is_not_the_id_digits_reads_with_bac(
    station: Running, factory: CardFactory
) -> None:
    """The chip refuses PACE with the QR-derived CAN; BAC with the QR-derived key opens it and
    the record says so."""
    station.counter.place(factory.make("other-can"))
    wait_for(lambda: result(station) is not None)
    shown = result(station)
    assert shown is not None and shown.verdict is Verdict.VERIFIED, shown
    (record,) = station.records
    assert record["chip"]["access"] == "BAC"
    assert record["chip"]["pace_fallback"] == {"tried": "PACE-CAN", "reason": "wrong-password"}


def test_records_refused_by_the_ward_reach_the_idle_panel(
    station: Running, factory: CardFactory
) -> None:
    """The publisher reports records the ward refused: the officer's idle footer asks for
    IT, and the counter keeps serving cards."""
    from station.sync.publisher import SyncState

    station.counter.place(factory.make("good"))
    wait_for(lambda: len(station.records) == 1)
    station.counter.remove()
    wait_for(lambda: station.phase is Phase.IDLE, RESULT_S + 5)
    rid = station.records[0]["record_id"]
    assert station.outbox.mark_refused([(rid, "station mismatch")]) == 1
    station.station._on_sync(SyncState(connected=True, pending=0, last_sync_at=None, refused=1))
    refused = IdleScreen(SyncLink.ONLINE, 0, refused=1, portal=station.cfg.ui.portal_url)
    wait_for(lambda: station.screen == refused)
    wait_for(lambda: station.panel_shows(refused))
    station.counter.place(factory.make("good"))
    wait_for(lambda: len(station.records) == 2)


@pytest.mark.parametrize(
    ("misbehaviour", "code", "shown"),
    [
        (Misbehaviour(wrong_key=True), "chip_refused_keys", ErrorScreen(ErrorKind.CHIP_LOCKED)),
        (None, "no_chip", None),
    ],
)
def test_qr_only_record_says_why_the_chip_gave_nothing(
    station: Running,
    factory: CardFactory,
    misbehaviour: Misbehaviour | None,
    code: str,
    shown: Any,
) -> None:
    """The ward can tell "chip failed" from "no chip": level qr-only and the reason."""
    card = factory.make("good")
    chip = None
    if misbehaviour is not None:  # refuses the BAC keys and the CAN the QR gives
        chip = full_chip(card.citizen, factory.pki, misbehaviour, can="000000")
    station.counter.place(type(card)(card.kind, card.citizen, card.frame, chip))
    wait_for(lambda: station.records, timeout=15)
    (record,) = station.records
    assert record["source"] == "qr" and record["status"] == "ok"
    assert record["verification"]["level"] == "qr-only"
    assert record["verification"]["passive"] == "not-checked"
    assert [w["code"] for w in record["warnings"]][-1] == code
    if shown is not None:
        wait_for(lambda: station.screen == shown)
    else:
        wait_for(lambda: result(station) is not None)
        screen = result(station)
        assert screen is not None and screen.verdict is Verdict.ATTENTION


def test_a_hostile_face_image_costs_the_face_not_the_station(
    tmp_path: Path, factory: CardFactory
) -> None:
    from dataclasses import replace

    from station.sim.emulator import auth, pace
    from station.sim.emulator.card import EmulatedCard
    from station.sim.emulator.face import bomb_png
    from station.sim.emulator.files import build_profile

    running = Running(tmp_path, factory, privacy={"show_face": True})
    try:
        card = factory.make("good")
        chip = EmulatedCard(build_profile(card.citizen, pki=factory.pki, face_image=bomb_png()))
        pace.install(chip)
        auth.install(chip)
        running.counter.place(replace(card, chip=chip))
        wait_for(lambda: result(running) is not None, 15)
        shown = result(running)
        assert shown is not None and shown.verdict is Verdict.VERIFIED and shown.face is None
        running.counter.remove()
        wait_for(lambda: running.phase is Phase.IDLE, RESULT_S + 5)
        good = factory.make("good")  # the chip worker is alive: the next card reads
        running.counter.place(good)
        wait_for(lambda: len(running.records) == 2 and result(running) is not None, 15)
        shown = result(running)
        assert shown is not None and shown.face is not None
    finally:
        running.close()


def test_an_mrz_process_that_keeps_dying_is_on_the_panel_and_qr_reads_go_on(
    tmp_path: Path, factory: CardFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The MRZ process exits at once on every start: the idle panel says the MRZ cannot be
    read (red LED), a 2021 card is still read from its QR; when the process serves again
    the idle panel comes back."""
    from station.ports import Leds
    from station.runtime import vision
    from station.runtime.mrzproc import BOOT

    monkeypatch.setattr(vision, "BOOT", "import sys; sys.exit(3)")
    monkeypatch.setattr(vision, "RESTART_S", 0.05)
    monkeypatch.setattr(vision, "RESTART_MAX_S", 0.2)
    running = Running(tmp_path, factory)
    try:
        down = ErrorScreen(ErrorKind.MRZ_FAILED)
        wait_for(lambda: running.screen == down, 30, what="the MRZ failure on the panel")
        wait_for(lambda: running.panel_shows(down))
        indicators = running.devices.indicators
        assert isinstance(indicators, FakeIndicators)
        wait_for(lambda: indicators.leds == Leds(red=True), what="the red LED")
        running.counter.place(factory.make("good"))
        wait_for(lambda: result(running) is not None, 15)
        shown = result(running)
        assert shown is not None and shown.verdict is Verdict.VERIFIED
        (record,) = running.records
        assert record["source"] == "qr+chip"
        running.counter.remove()
        wait_for(lambda: running.screen == down, RESULT_S + 5, what="idle, still down")
        monkeypatch.setattr(vision, "BOOT", BOOT)  # the real process from the next start
        wait_for(lambda: isinstance(running.screen, IdleScreen), 60, what="the recovery")
        wait_for(lambda: indicators.leds == Leds(), what="the LED off")
    finally:
        running.close()
