"""The emulator as an ISO 7816 card, key candidates, and the file reading strategy."""

from __future__ import annotations

import dataclasses
from datetime import date
from typing import Any

import pytest

from station.icao import bac
from station.icao.access import AccessKeys, bac_candidates
from station.icao.apdu import CommandAPDU, ResponseAPDU
from station.icao.channel import CardChannel
from station.icao.files import FileReader, ReadStrategy
from station.icao.reader import ChipReader, file_names
from station.icao.tlv import tlv
from station.qr.models import QrIdentity
from station.sim.emulator import EmulatedCard, EmulatorTransport
from station.sim.emulator.card import status

H = bytes.fromhex


def _send(card: EmulatedCard, hexstr: str) -> ResponseAPDU:
    return ResponseAPDU.parse(card.process(H(hexstr)))


def test_cccd_quirks(profiles: Any) -> None:
    card = EmulatedCard(profiles[0])
    assert _send(card, "00A4000C023F00").sw == 0x6D00  # SELECT MF like a real CCCD
    assert _send(card, "00A4020C02011C").ok  # EF.CardAccess directly
    assert _send(card, "00B0000040").data == profiles[0].files[0x011C]
    assert _send(card, "00A4040C07A0000002471001").ok
    assert _send(card, "00B0810004").sw == 0x6982  # DG1 before BAC
    assert _send(card, "00B08B0004").sw == 0x6A82  # DG11 absent
    assert _send(card, "00B0830004").sw == 0x6982  # DG3 needs EAC
    assert _send(card, "0084000004").sw == 0x6700
    assert _send(card, "00FE000000").sw == 0x6D00


def _handler_22(card: EmulatedCard, cmd: CommandAPDU) -> ResponseAPDU | None:
    return status(0x9000, b"mine") if cmd.p1 == 0xC1 else None


def test_handler_registration_chain(profiles: Any) -> None:
    card = EmulatedCard(profiles[0], handlers={0x22: [_handler_22]})
    assert _send(card, "0022C1A400").data == b"mine"
    assert _send(card, "002241A600").sw == 0x6A86  # no handler took it


def test_candidates_last_nine_digits_and_order() -> None:
    ident = QrIdentity(
        "001099012345", None, "Nguyễn Văn A", date(1999, 3, 15), "Nam", None, date(2021, 5, 10)
    )
    found = bac_candidates(ident)
    assert {c.key.document_number for c in found} == {"099012345"}
    assert (found[0].source, found[0].key.date_of_expiry) == ("qr-computed", "240315")
    milestones = [c.key.date_of_expiry for c in found if c.source == "qr-milestone"]
    assert milestones == ["390315", "590315"]  # ages 40 and 60, nearest first
    assert next(c.key.date_of_expiry for c in found if c.source == "qr-no-expiry") == "<<<<<<"
    given = bac_candidates(ident, expiry=date(2039, 3, 15))
    assert given[0].source == "given-expiry"
    assert AccessKeys.from_qr(ident).can == "012345"


def test_large_file_uses_odd_ins_beyond_32767(profiles: Any) -> None:
    big = tlv(0x75, bytes(range(256)) * 180)  # 46 KB
    profile = dataclasses.replace(profiles[0], files={**profiles[0].files, 0x0102: big})
    card = EmulatedCard(profile)
    transport = EmulatorTransport(card)
    reader = ChipReader(transport, order="bac")
    keys = AccessKeys.from_mrz(
        profile.document_number, profile.date_of_birth, profile.date_of_expiry
    )
    seen: list[Any] = []
    reader.read(keys, files=("DG1",))
    files = FileReader(reader.channel, ReadStrategy(max_le=0x3000))
    assert files.read("DG2", 0x0102, 2, lambda done, total: seen.append(done)) == big
    assert seen[-1] == len(big) and any(d > 0x8000 for d in seen)


def test_fixed_chunk_strategy_counts(profiles: Any) -> None:
    p = profiles[0]
    keys = AccessKeys.from_mrz(p.document_number, p.date_of_birth, p.date_of_expiry)
    counts = {}
    for label, strategy in (("station", ReadStrategy()), ("223", ReadStrategy.fixed_chunks())):
        reader = ChipReader(EmulatorTransport(EmulatedCard(p)), strategy=strategy, order="bac")
        counts[label] = reader.read(keys, files=("DG2",)).apdus
    assert counts["station"] + 70 < counts["223"]


def test_bac_protocol_against_card(profiles: Any) -> None:
    p = profiles[1]
    channel = CardChannel(EmulatorTransport(EmulatedCard(p)))
    channel.send(CommandAPDU(0, 0xA4, 4, 0x0C, H("A0000002471001")))
    key = bac.BacKey(p.document_number, p.date_of_birth, p.date_of_expiry)
    channel.sm = bac.perform_bac(bac.BacApduSender(channel), key).secure_messaging()
    answer = channel.send(CommandAPDU(0, 0xB0, 0x81, 0, ne=4))
    assert answer.ok and answer.data == p.dg(1)[:4]


def test_file_names() -> None:
    assert file_names("dg1, DG13,sod") == ("DG1", "DG13", "EF.SOD")
    with pytest.raises(ValueError, match="unknown file"):
        file_names("DG99")


def test_read_deadline_is_a_clear_error(profiles: Any) -> None:
    from station.icao.errors import ChipError

    p = profiles[0]
    keys = AccessKeys.from_mrz(p.document_number, p.date_of_birth, p.date_of_expiry)
    reader = ChipReader(EmulatorTransport(EmulatedCard(p)), order="bac", timeout_s=0.0)
    with pytest.raises(ChipError, match="took longer than allowed"):
        reader.read(keys)


def test_keys_from_id_and_dob() -> None:
    keys = AccessKeys.from_id("001099012345", date(1999, 3, 15), expiry=date(2039, 3, 15))
    sources = [c.source for c in keys.bac]
    assert sources[0] == "given-expiry" and keys.bac[0].key.date_of_expiry == "390315"
    assert len({c.key.date_of_expiry for c in keys.bac}) == len(keys.bac)
    assert "id-no-expiry" in sources and keys.can == "012345"
