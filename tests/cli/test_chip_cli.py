"""`station read-chip` / `station readers` through the real PC/SC rig."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from station.cli import main

pytestmark = pytest.mark.timeout(60)


def test_readers_and_read_chip(
    pcsc_rig: Any, profiles: Any, citizens: Any, make_card: Any, capsys: Any, tmp_path: Path
) -> None:
    pcsc_rig.insert(make_card(profiles[0]))
    assert main(["readers", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert {"name": "Virtual PCD 00 00", "card_present": True} in listed
    qr = citizens[0].qr_payload()
    args = ["read-chip", "--json", "--reader", "Virtual PCD 00 00", "--qr", qr]
    # no trust anchor installed: signed but not trusted, exit 1, the record printed anyway
    empty = str(tmp_path / "no-trust")
    files = ["--files", "DG1,DG13,SOD", "--save-dir", str(tmp_path), "--trust-dir", empty]
    assert main([*args, *files]) == 1
    record = json.loads(capsys.readouterr().out)
    assert record["verification"]["level"] == "signed-untrusted"
    assert record["source"] == "qr+chip"
    assert record["citizen"]["expiry_date"] == citizens[0].expiry_date.isoformat()
    assert "religion" not in record["citizen"]
    assert record["chip"]["files"] == ["EF.CardAccess", "DG1", "DG13", "EF.SOD"]  # SOD lists
    assert (tmp_path / "DG13.bin").read_bytes() == profiles[0].dg(13)


def test_read_chip_errors_are_one_line(
    pcsc_rig: Any, profiles: Any, make_card: Any, capsys: Any
) -> None:
    pcsc_rig.insert(make_card(profiles[1], wrong_key=True))
    p = profiles[1]
    key = f"{p.document_number},{p.date_of_birth},{p.date_of_expiry}"
    assert main(["read-chip", "--reader", "Virtual PCD 00 00", "--mrz-key", key]) == 1
    err = capsys.readouterr().err.strip()
    assert (
        err.startswith("station read-chip: BAC failed in EXTERNAL AUTHENTICATE") and "6300" in err
    )
    assert "\n" not in err
    assert main(["read-chip", "--id", "123", "--dob", "2000-01-01"]) == 2
