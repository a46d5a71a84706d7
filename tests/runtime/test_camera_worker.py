"""The camera thread's work per frame (``CameraWorker._frame``) on generated frames: it
sights QR codes and hands the payloads on unparsed; the MRZ path gets this presentation's
payloads and attaches the one of another kind."""

from __future__ import annotations

import threading
from datetime import date
from typing import Any

from station import config, flow
from station.drivers.camera_sim import Scene, SimCamera
from station.qr.models import QrStatus
from station.qr.reader import QrReader
from station.runtime.workers import CameraWorker, Posted, QrSighted
from station.sim.citizens import generate_many
from station.sim.frames import card_frame, empty_frame

TODAY = date(2024, 6, 30)


def worker(posted: list[Posted], mrz: bool = False) -> CameraWorker:
    """A worker whose clock moves 0.1 s a frame (what a call of ``_frame`` reads)."""
    section = config.from_mapping({"camera": {"mrz": mrz}}).camera
    ticks = iter(range(10**6))
    w = CameraWorker(SimCamera(Scene(64, 48)), posted.append, lambda: next(ticks) / 10, section)
    w._qr = QrReader(tracker=w._qr.tracker, today=lambda: TODAY)
    return w


def test_a_new_card_is_posted_unparsed_and_parsed_where_it_is_handled(
    monkeypatch: Any,
) -> None:
    citizen = generate_many(31, 1, today=TODAY)[0]
    posted: list[Posted] = []
    w = worker(posted)
    camera_thread = threading.get_ident()
    parsed_on: list[int] = []
    parse = w._qr.parse

    def spy(payload: bytes, *, event: bool = True) -> Any:
        parsed_on.append(threading.get_ident())
        return parse(payload, event=event)

    monkeypatch.setattr(w._qr, "parse", spy)
    visible, unreadable = w._frame(card_frame(citizen, seed=1), False, 0)
    visible, unreadable = w._frame(card_frame(citizen, seed=2), visible, unreadable)
    sightings = [e for e in posted if isinstance(e, QrSighted)]
    assert len(sightings) == 1 and parsed_on == []  # the camera did not parse
    assert [type(e) for e in posted] == [flow.QrVisible, QrSighted]

    handled: list[flow.QrSeen] = []
    other = threading.Thread(target=lambda: handled.append(sightings[0].event()))
    other.start()
    other.join()
    assert parsed_on and parsed_on[0] != camera_thread
    (seen,) = handled
    assert seen.result.status is QrStatus.OK and seen.result.identity is not None
    assert seen.result.identity.id_number == citizen.id_number


def test_the_mrz_path_gets_the_newest_qr_of_another_kind() -> None:
    """A 2021 card's QR, then a QR of another kind in the same presentation: the MRZ
    event carries the other one; once nothing is in view, none."""
    a = generate_many(32, 1, today=TODAY)[0]
    posted: list[Posted] = []
    w = worker(posted, mrz=True)
    assert w.mrz is not None
    offers: list[tuple[bytes, ...]] = []
    w.mrz.offer = lambda frame, qr=(), *, full=False: offers.append(qr)  # type: ignore[method-assign]
    w._frame(card_frame(a, damage="url", seed=1), False, 0)  # a link's QR: MRZ offered
    assert len(offers) == 1 and len(offers[0]) == 1
    other = w._parse_other(offers[0])
    assert other is not None and other.status is QrStatus.UNRECOGNISED
    w._frame(card_frame(a, seed=2), True, 0)  # the 2021 front: no MRZ offer
    assert len(offers) == 1
    assert w._parse_other(w._seen) == other
    for i in range(12):  # gone from view: the tracker forgets, so does the worker
        w._frame(empty_frame((640, 480), seed=i), False, 0)
    assert w._seen == () and offers[-1] == ()
