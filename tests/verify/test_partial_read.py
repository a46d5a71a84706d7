"""Read only what the record needs, and keep what parsed when a group does not."""

from __future__ import annotations

import pytest

from station.display.outcome import outcome_from_verification, person_from_chip
from station.drivers.card_sim import EmulatorTransport
from station.icao.access import AccessKeys
from station.icao.reader import ChipReader, wanted_files
from station.qr.models import QrResult, QrStatus
from station.record import build_record
from station.sim.emulator import auth
from station.sim.emulator.card import EmulatedCard
from station.sim.emulator.files import build_profile
from station.sim.emulator.switches import NORMAL
from station.verify.chip import verify_chip
from station.verify.verdict import Level
from tests.verify.support import ReadCard, qr_of, store_for


def test_the_face_is_read_only_when_it_is_stored_or_shown(pkis, citizen) -> None:
    assert "DG2" not in wanted_files(face=False) and "DG2" in wanted_files(face=True)
    profile = build_profile(citizen, pki=pkis["p256"], pace=False)
    sizes = {}
    for face in (False, True):
        card = EmulatedCard(profile, NORMAL)
        auth.install(card)
        reader = ChipReader(EmulatorTransport(card), order="bac")
        read = reader.read(AccessKeys.from_qr(qr_of(citizen)), files=wanted_files(face=face))
        v = verify_chip(read, qr_of(citizen), store_for(pkis["p256"]))
        assert v.level is Level.VERIFIED, v.findings  # PA covers the groups read
        assert ("DG2" in read.files) is face and (read.face is not None) is face
        sizes[face] = read.bytes_in
        record = build_record(QrResult(QrStatus.OK, qr_of(citizen), citizen.qr_payload()),
                              station_id="t", chip=read, verification=v)  # fmt: skip
        assert ("DG2" in record["chip"]["files"]) is face
    assert sizes[False] < 0.3 * sizes[True]  # the face is most of the bytes


@pytest.mark.parametrize("group", [2, 13])
def test_an_unparseable_group_keeps_the_identity_and_is_named(
    group: int, pkis, citizen, read_card: ReadCard
) -> None:
    live = read_card(citizen, pkis["p256"], malformed=(group,))
    read = live.read
    assert f"DG{group}" in read.files and f"DG{group}" in read.unparsed
    assert "offset" in read.unparsed[f"DG{group}"]
    assert read.citizen["id_number"] == citizen.id_number  # DG13, else DG1
    assert read.citizen["date_of_birth"] == citizen.date_of_birth.isoformat()
    v = verify_chip(read, qr_of(citizen), store_for(pkis["p256"]))
    assert v.passive.value == "ok"  # the raw bytes hash to the SOD as signed
    if group == 13:  # an identity group: the verdict is lowered
        assert v.level is Level.SIGNED_UNTRUSTED and v.reason_code == "group-unparsed"
    else:  # the face carries no identity: a note on the checks page, the level stands
        assert v.level is Level.VERIFIED and v.reason_code == "verified", v.findings
    assert v.unparsed == (f"DG{group}",) and v.to_json()["unparsed"] == [f"DG{group}"]
    checks = outcome_from_verification(v).checks
    assert any(c.label.endswith(f"(DG{group})") and c.ok is False for c in checks)
    record = build_record(QrResult(QrStatus.OK, qr_of(citizen), citizen.qr_payload()),
                          station_id="t", chip=read, verification=v)  # fmt: skip
    assert list(record["chip"]["unparsed"]) == [f"DG{group}"]
    assert record["source"] == "qr+chip" and record["citizen"]["id_number"] == citizen.id_number
    if group == 2:
        person = person_from_chip(read, qr_of(citizen))
        assert person is not None and person.full_name == citizen.full_name
