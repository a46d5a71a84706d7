"""What a read sends: the fewest APDUs the standards allow (issue 14's counter target), and
the fallbacks that keep other chips readable. The INS / P1 / P2 of each command are in the
clear under secure messaging, so a recording card shows the sequence."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from station.drivers.card_sim import EmulatorTransport
from station.icao import lds
from station.icao.access import AccessKeys
from station.icao.reader import ChipReader, wanted_files
from station.sim.counter import full_chip
from station.sim.emulator import REFERENCE_APPLET, EmulatedCard, Misbehaviour, auth
from station.sim.emulator import pace as card_pace
from station.sim.emulator.files import DG_FIDS, FID_COM, FID_SOD, CardProfile, ef_com
from station.verify.chip import verify_chip
from station.verify.trust import TrustStore

pytestmark = pytest.mark.timeout(60)


class Recording:
    """An emulated card that keeps (CLA, INS, P1, P2) of every command it answers."""

    def __init__(self, card: EmulatedCard) -> None:
        self.card = card
        self.headers: list[tuple[int, int, int, int]] = []

    @property
    def present(self) -> bool:
        return self.card.present

    def power_on(self) -> bytes:
        return self.card.power_on()

    def process(self, raw: bytes) -> bytes:
        self.headers.append((raw[0], raw[1], raw[2], raw[3]))
        return self.card.process(raw)

    def commands(self) -> list[tuple[int, int, int]]:
        return [h[1:] for h in self.headers]


def _chip(profile: CardProfile, switches: Any = None) -> EmulatedCard:
    card = EmulatedCard(profile) if switches is None else EmulatedCard(profile, switches)
    card_pace.install(card)
    auth.install(card)
    return card


def _store(test_pki: Any) -> TrustStore:
    return TrustStore.from_der([test_pki.csca_der], [test_pki.crl_der])


def test_default_read_is_thirteen_apdus_in_the_inspection_order(
    citizens: Any, identity: Any, test_pki: Any
) -> None:
    """EF.CardAccess by short EF id, PACE (MSE + 4 GA), SELECT the application, EF.SOD (its
    group list replaces EF.COM), DG14, Chip Authentication (MSE + GA, no probe: DG1's answer
    proves the keys), DG1, DG13. No EF.COM, no DG15, no INTERNAL AUTHENTICATE."""
    card = Recording(full_chip(citizens[0], test_pki))
    ident = identity(citizens[0])
    read = ChipReader(EmulatorTransport(card)).read(  # type: ignore[arg-type]
        AccessKeys.from_qr(ident), files=wanted_files(face=False)
    )
    assert card.commands() == [
        (0xB0, 0x9C, 0x00),  # READ BINARY EF.CardAccess (SFI 1C), plain
        (0x22, 0xC1, 0xA4),  # PACE: MSE:Set AT
        *[(0x86, 0x00, 0x00)] * 4,  # GENERAL AUTHENTICATE x 4
        (0xA4, 0x04, 0x0C),  # SELECT the eMRTD application
        (0xB0, 0x9D, 0x00),  # EF.SOD, whole, extended length
        (0xB0, 0x8E, 0x00),  # DG14
        (0x22, 0x41, 0xA4),  # CA: MSE:Set AT
        (0x86, 0x00, 0x00),  # CA: GENERAL AUTHENTICATE
        (0xB0, 0x81, 0x00),  # DG1, the first answer under CA's keys
        (0xB0, 0x8D, 0x00),  # DG13
    ]
    assert read.apdus == 13 and read.access == "PACE-CAN"
    assert list(read.files) == ["EF.CardAccess", "EF.SOD", "DG14", "DG1", "DG13"]
    assert read.chip_auth is not None and read.chip_auth.ok and read.chip_auth.aa_skipped
    v = verify_chip(read, ident, _store(test_pki))
    assert len(card.headers) == 13  # verification sent nothing more: CA ran, AA not needed
    assert (v.level.value, v.active.value, v.chip_auth.value) == (
        "verified",
        "skipped",
        "ok",
    ), v.findings
    assert v.to_json()["active_skipped"] == "chip-auth" and v.missing == ()


def test_the_sod_decides_what_is_read_not_ef_com(
    citizens: Any, identity: Any, profiles: Any, test_pki: Any
) -> None:
    """EF.COM leaving DG14 and DG15 out does not hide them: the SOD hashes them, they are
    read. A wanted group the SOD does not hash is "not listed in EF.SOD"."""
    files = dict(profiles[1].files)
    files[FID_COM] = ef_com([1, 2, 13])
    card = Recording(_chip(dataclasses.replace(profiles[1], files=files)))
    ident = identity(citizens[1])
    wanted = ("DG1", "DG11", "DG13", "DG14", "DG15", "EF.SOD")
    read = ChipReader(EmulatorTransport(card)).read(  # type: ignore[arg-type]
        AccessKeys.from_qr(ident), files=wanted
    )
    assert "DG14" in read.files and read.chip_auth is not None and read.chip_auth.ok
    assert read.unreadable == {"DG11": "not listed in EF.SOD"}
    assert (0xB0, 0x9E, 0x00) not in card.commands()  # EF.COM never read
    assert verify_chip(read, ident, _store(test_pki)).level.value == "verified"


def test_a_group_the_sod_lists_but_the_chip_lacks_is_missing(
    citizens: Any, identity: Any, profiles: Any, test_pki: Any
) -> None:
    """A copy without the key files, EF.COM not naming them either: the SOD still lists
    DG14 and DG15, the chip does not give them: a suspected clone (both asked for: no CA
    passed, so AA's DG15 too)."""
    files = dict(profiles[1].files)
    del files[DG_FIDS[14]], files[DG_FIDS[15]]
    files[FID_COM] = ef_com([1, 2, 13])
    read = ChipReader(EmulatorTransport(_chip(dataclasses.replace(profiles[1], files=files)))).read(
        AccessKeys.from_qr(identity(citizens[1])), files=wanted_files(face=False)
    )
    assert read.unreadable == {"DG14": "6A82", "DG15": "6A82"}
    v = verify_chip(read, identity(citizens[1]), _store(test_pki))
    assert (v.reason_code, v.missing) == ("clone-suspected", (14, 15))


def test_an_unparseable_sod_group_list_falls_back_to_ef_com(
    citizens: Any, identity: Any, profiles: Any, test_pki: Any
) -> None:
    files = dict(profiles[1].files)
    files[FID_SOD] = bytes.fromhex("7706300402010099")  # the outer tag, no SignedData
    with pytest.raises(lds.LdsError):
        lds.sod_groups(files[FID_SOD])
    card = Recording(_chip(dataclasses.replace(profiles[1], files=files)))
    ident = identity(citizens[1])
    read = ChipReader(EmulatorTransport(card)).read(  # type: ignore[arg-type]
        AccessKeys.from_qr(ident), files=wanted_files(face=False)
    )
    assert (0xB0, 0x9E, 0x00) in card.commands()  # EF.COM read for the list
    assert {"EF.COM", "DG1", "DG13", "DG14"} <= set(read.files)
    v = verify_chip(read, ident, _store(test_pki))
    assert v.level.value != "verified"  # PA cannot pass on that SOD


def test_sod_groups_lists_the_hashed_groups(profiles: Any) -> None:
    assert lds.sod_groups(profiles[0].files[FID_SOD]) == (1, 2, 13, 14, 15)
    with pytest.raises(lds.LdsError):
        lds.sod_groups(profiles[0].files[FID_SOD][:-40])


def test_card_access_refused_by_short_ef_falls_back_to_select(
    citizens: Any, identity: Any, profiles: Any
) -> None:
    """A chip without READ BINARY by short EF id: EF.CardAccess is selected and read (PACE
    still opens it), every file after it too; the whole read is there."""
    card = Recording(_chip(profiles[0], Misbehaviour(no_short_ef=True)))
    read = ChipReader(EmulatorTransport(card)).read(  # type: ignore[arg-type]
        AccessKeys.from_qr(identity(citizens[0])), files=wanted_files(face=False)
    )
    assert card.commands()[:3] == [(0xB0, 0x9C, 0x00), (0xA4, 0x02, 0x0C), (0xB0, 0x00, 0x00)]
    assert read.access == "PACE-CAN" and "EF.CardAccess" in read.files
    assert read.chip_auth is not None and read.chip_auth.ok
    assert read.citizen["id_number"] == citizens[0].id_number


def test_reference_applet_with_chip_authentication(
    citizens: Any, identity: Any, profiles: Any, test_pki: Any
) -> None:
    """Every applet behaviour at once: no short EF id (refused on EF.CardAccess already, so
    the session never falls out of step for it), CA proven by the SELECT after it."""
    card = Recording(_chip(profiles[2], REFERENCE_APPLET))
    ident = identity(citizens[2])
    read = ChipReader(EmulatorTransport(card)).read(  # type: ignore[arg-type]
        AccessKeys.from_qr(ident), files=wanted_files(face=False)
    )
    assert read.access == "BAC" and read.unreadable == {"EF.CardAccess": "6986"}
    assert read.chip_auth is not None and read.chip_auth.ok, read.chip_auth
    assert not any(h[2] & 0x80 for h in card.headers if h[1] == 0xB0 and h[0] & 0x0C)
    v = verify_chip(read, ident, _store(test_pki))
    assert v.level.value == "verified", v.findings
