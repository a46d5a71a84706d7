"""One suite, run against the in-process emulator and pyscard -> pcscd -> vpcd."""

from __future__ import annotations

import dataclasses
import itertools
from typing import Any

import pytest

from station.icao.access import AccessKeys
from station.icao.errors import AccessError, FileReadError, SecureMessagingError
from station.icao.reader import ChipReader, ReadProgress
from station.ports import CardRemovedError
from station.qr.models import QrResult, QrStatus
from station.record import qr_record, with_chip

pytestmark = pytest.mark.timeout(60)


def _read(transport: Any, keys: AccessKeys, **kw: Any) -> Any:
    return ChipReader(transport, order="bac").read(keys, **kw)


def test_reads_the_whole_card(
    slot: Any, profiles: Any, citizens: Any, make_card: Any, identity: Any
) -> None:
    citizen, profile = citizens[0], profiles[0]
    transport = slot.insert(make_card(profile))
    seen: list[ReadProgress] = []
    result = _read(transport, AccessKeys.from_qr(identity(citizen)), progress=seen.append)
    assert result.access == "BAC" and result.key_source == "qr-computed"
    assert {n: result.files[n] for n in ("DG1", "DG2", "DG13", "EF.SOD")} == {
        "DG1": profile.dg(1), "DG2": profile.dg(2), "DG13": profile.dg(13),
        "EF.SOD": profile.files[0x011D],
    }  # fmt: skip
    fields = result.citizen
    assert fields["id_number"] == citizen.id_number
    assert fields["full_name"] == citizen.full_name
    assert fields["date_of_birth"] == citizen.date_of_birth.isoformat()
    assert fields["expiry_date"] == citizen.expiry_date.isoformat()
    assert (fields["father_name"], fields["mother_name"]) == (
        citizen.father_name,
        citizen.mother_name,
    )
    assert fields["religion"] == citizen.religion
    assert result.mrz.document_number == citizen.document_number and result.mrz.valid
    assert result.face.format == "jpeg" and result.face.width == 300
    assert 15_000 < len(result.face.data) < 22_000
    # progress: per file, growing, ending complete
    assert seen[-1].fraction == pytest.approx(1.0)
    assert all(a.fraction <= b.fraction + 1e-9 for a, b in itertools.pairwise(seen))
    assert result.apdus <= 20  # extended length: big files in one or two APDUs


def test_no_expiry_card_and_neighbouring_milestone(
    slot: Any, profiles: Any, citizens: Any, make_card: Any, identity: Any
) -> None:
    no_expiry = citizens[4]
    transport = slot.insert(make_card(profiles[4]))
    result = _read(transport, AccessKeys.from_qr(identity(no_expiry)), files=("DG1", "DG13"))
    assert result.key_source == "qr-computed" and result.citizen["expiry_date"] is None
    # a card whose chip carries the next milestone instead of the computed expiry
    keys = AccessKeys.from_qr(identity(citizens[1]))
    other = next(c for c in keys.bac if c.source == "qr-milestone")
    shifted = dataclasses.replace(profiles[1], date_of_expiry=other.key.date_of_expiry)
    transport = slot.insert(make_card(shifted))
    result = _read(transport, keys, files=("DG1",))
    assert result.key_source == "qr-milestone"


def test_mrz_key_and_refused_files(slot: Any, profiles: Any, make_card: Any) -> None:
    p = profiles[2]
    transport = slot.insert(make_card(p))
    keys = AccessKeys.from_mrz(p.document_number, p.date_of_birth, p.date_of_expiry)
    result = _read(transport, keys, files=("DG1", "DG3", "DG11"))
    assert result.key_source == "mrz-key"
    assert result.unreadable == {"DG3": "6982", "DG11": "not listed in EF.COM"}
    assert list(result.files) == ["EF.CardAccess", "EF.COM", "DG1"]


RECOVERABLE = [
    {"no_extended": True},
    {"max_answer": 40},
    {"empty_on_large_le": True},
    {"strict_le": True},
    {"sm_6988_after": 6},
]


@pytest.mark.parametrize("switches", RECOVERABLE, ids=lambda s: next(iter(s)))
def test_recoverable_misbehaviour_still_reads(
    slot: Any, profiles: Any, citizens: Any, make_card: Any, identity: Any, switches: dict[str, Any]
) -> None:
    transport = slot.insert(make_card(profiles[0], **switches))
    result = _read(transport, AccessKeys.from_qr(identity(citizens[0])))
    assert result.files["DG2"] == profiles[0].dg(2)


FATAL = [
    ({"wrong_key": True}, AccessError, r"BAC failed in EXTERNAL AUTHENTICATE.*6300"),
    ({"mac_error_after": 4}, SecureMessagingError, r"reading .* at offset \d+.*MAC invalid"),
    ({"garbage_after": 4}, SecureMessagingError, r"reading .* at offset \d+.*secure messaging"),
    ({"lost_after_bytes": 3000}, CardRemovedError, r"reading DG2 at offset \d+.*left the field"),
    ({"sm_6988_after": 3, "sm_6988_times": 99}, FileReadError, r"session lost.*6988"),
]


@pytest.mark.parametrize(("switches", "error", "message"), FATAL, ids=lambda s: str(s)[:24])
def test_fatal_misbehaviour_is_a_clear_error_then_next_card_reads(
    slot: Any, profiles: Any, citizens: Any, make_card: Any, identity: Any,
    switches: dict[str, Any], error: type[Exception], message: str,
) -> None:  # fmt: skip
    keys = AccessKeys.from_qr(identity(citizens[0]))
    transport = slot.insert(make_card(profiles[0], **switches))
    with pytest.raises(error, match=message):
        _read(transport, keys)
    transport = slot.insert(make_card(profiles[0]))
    assert _read(transport, keys, files=("DG1",)).mrz.valid


def test_record_privacy(
    slot: Any, profiles: Any, citizens: Any, make_card: Any, identity: Any
) -> None:
    ident = identity(citizens[3])
    transport = slot.insert(make_card(profiles[3]))
    result = _read(transport, AccessKeys.from_qr(ident))
    base = qr_record(QrResult(QrStatus.OK, ident, citizens[3].qr_payload()), station_id="t1")
    plain = with_chip(base, result)
    assert plain["source"] == "qr+chip"
    assert "ethnicity" not in plain["citizen"] and "religion" not in plain["citizen"]
    assert "face" not in plain["chip"]
    assert plain["chip"]["access"] == "BAC" and plain["chip"]["key_source"] == "qr-computed"
    # EF.SOD lists the groups: EF.COM is not read
    assert plain["chip"]["files"][:3] == ["EF.CardAccess", "DG1", "DG2"]
    full = with_chip(base, result, store_sensitive=True, store_face=True)
    assert full["citizen"]["ethnicity"] == citizens[3].ethnicity
    assert full["chip"]["face"]["format"] == "jpeg"


def test_access_auto_falls_back_to_bac_and_uses_pace_hook(
    slot: Any, profiles: Any, citizens: Any, make_card: Any, identity: Any
) -> None:
    keys = AccessKeys.from_qr(identity(citizens[2]))
    # EF.CardAccess offers PACE but this chip has no PACE handlers: MSE:Set AT fails
    transport = slot.insert(make_card(profiles[2]))
    result = ChipReader(transport).read(keys, files=("DG1",))
    assert (result.access, result.key_source) == ("BAC", "qr-computed")
    pace_card = pytest.importorskip("station.sim.emulator.pace")
    from station.sim.emulator import EmulatedCard

    transport = slot.insert(EmulatedCard(profiles[2], handlers=pace_card.handlers()))
    result = ChipReader(transport).read(keys, files=("DG1", "DG13"))
    assert (result.access, result.key_source) == ("PACE-CAN", "qr-can")
    assert result.citizen["id_number"] == citizens[2].id_number


def test_presence_waits_are_bounded(slot: Any, profiles: Any, make_card: Any) -> None:
    transport = slot.insert(make_card(profiles[0]))
    assert not transport.wait_for_removal(0.2)
    slot.remove()
    assert transport.wait_for_removal(5)
    assert not transport.wait_for_card(0.3)
    with pytest.raises(CardRemovedError):
        transport.transmit(bytes.fromhex("00A4040C07A0000002471001"))
    transport = slot.insert(make_card(profiles[0]))
    transport.reset()
    assert transport.transmit(bytes.fromhex("00A4040C07A0000002471001")) == b"\x90\x00"
