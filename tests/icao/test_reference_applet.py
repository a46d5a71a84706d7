"""Chips that behave like other eMRTD implementations: the behaviours a reference open-source
passport applet showed, one emulator switch each and all of them together, over both card
transports (in-process emulator, and pyscard -> pcscd -> vpcd)."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from station.icao.access import AccessKeys
from station.icao.reader import ChipReader, wanted_files
from station.sim.emulator import REFERENCE_APPLET, EmulatedCard, Misbehaviour, auth

pytestmark = pytest.mark.timeout(60)

SWITCHES = [
    {"card_access_sw": 0x6986},  # SELECT EF.CardAccess before the application: no current EF
    {"card_access_sw": 0x6A86},
    {"card_access_sw": 0x6D00},
    {"card_access_read_sw": 0x6700},  # a wrong-length answer
    {"no_short_ef": True},  # no READ BINARY by short EF id: SELECT + offsets
    {"zero_le_empty": True},  # Le = 00 under secure messaging gives nothing
    {"past_end_6f00": True},  # reading past the end answers 6F00
    {"plain_errors": True},  # errors unprotected, the card's counter moved on
    {"plain_errors": True, "wrong_mac_6985": True, "past_end_6f00": True},
    {"session_until_reset": True},
    {"bac_refusal_sw": 0x6982},
]


def _ids(switches: dict[str, Any]) -> str:
    return ",".join(
        f"{k}={v:X}" if isinstance(v, int) and v > 1 else k for k, v in switches.items()
    )


@pytest.mark.parametrize("switches", SWITCHES, ids=_ids)
def test_each_behaviour_still_gives_the_whole_read(
    slot: Any, profiles: Any, citizens: Any, make_card: Any, identity: Any, switches: dict[str, Any]
) -> None:
    transport = slot.insert(make_card(profiles[0], **switches))
    result = ChipReader(transport).read(AccessKeys.from_qr(identity(citizens[0])))
    assert result.files["DG2"] == profiles[0].dg(2)
    assert result.files["EF.SOD"] == profiles[0].files[0x011D]
    assert result.citizen["id_number"] == citizens[0].id_number and not result.unparsed


def test_a_refused_cryptogram_answered_6982_moves_on_to_the_next_key(
    slot: Any, profiles: Any, citizens: Any, make_card: Any, identity: Any
) -> None:
    keys = AccessKeys.from_qr(identity(citizens[1]))
    later = keys.bac[2]  # the chip carries a later candidate's expiry
    profile = dataclasses.replace(profiles[1], date_of_expiry=later.key.date_of_expiry)
    transport = slot.insert(make_card(profile, bac_refusal_sw=0x6982))
    result = ChipReader(transport, order="bac").read(keys, files=("DG1",))
    assert result.key_source == later.source


def test_the_reference_applet_reads_and_verifies_twice_without_removal(
    slot: Any, profiles: Any, citizens: Any, identity: Any, test_pki: Any
) -> None:
    """All the behaviours together; the same card read again (the applet keeps its session
    state until a reset), then Active and Chip Authentication over the open session."""
    from station.verify.chip import verify_chip
    from station.verify.trust import TrustStore

    card = EmulatedCard(profiles[2], REFERENCE_APPLET)
    auth.install(card)
    transport = slot.insert(card)
    reader = ChipReader(transport)
    ident = identity(citizens[2])
    first = reader.read(AccessKeys.from_qr(ident))
    assert first.access == "BAC" and first.unreadable == {"EF.CardAccess": "6986"}
    second = reader.read(AccessKeys.from_qr(ident), files=wanted_files(face=False))
    assert second.files["DG13"] == first.files["DG13"] and "DG2" not in second.files
    store = TrustStore.from_der([test_pki.csca_der], [test_pki.crl_der])
    verification = verify_chip(second, ident, store)
    assert verification.level.value == "verified", verification.findings
    fresh = ChipReader(transport).read(AccessKeys.from_qr(ident), files=("DG1",))
    assert fresh.mrz is not None and fresh.mrz.valid  # a new reader: reset on refusal


def test_the_applet_preset_is_every_switch() -> None:
    defaults = Misbehaviour()
    changed = {f.name for f in dataclasses.fields(Misbehaviour)}
    changed = {n for n in changed if getattr(REFERENCE_APPLET, n) != getattr(defaults, n)}
    assert changed == {k for s in SWITCHES for k in s} - {"card_access_read_sw"}
