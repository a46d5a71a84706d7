"""`station scan-mrz` on generated card backs, and `station read-chip --mrz` with the verdict."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from station.cli import main
from station.mrz.td1 import parse_lines
from station.sim.backs import ICAO_SPECIMEN, Look, back_frame
from station.sim.citizens import generate_many, mrz_lines

CITIZENS = generate_many(77, 2)


def _image(tmp: Path, name: str, lines: tuple[str, ...], fmt: str = "PNG") -> str:
    frame = back_frame(lines, (640, 480), 15, look=Look(angle_deg=1.5), seed=3)
    path = tmp / name
    Image.fromarray(frame).save(path, format=fmt, quality=92)
    return str(path)


def test_scan_mrz_json_per_image_and_exit_status(tmp_path: Path, capsys: Any) -> None:
    lines = mrz_lines(CITIZENS[0])
    png = _image(tmp_path, "back.png", lines)
    jpeg = _image(tmp_path, "back.jpg", mrz_lines(CITIZENS[1]), "JPEG")
    specimen = _image(tmp_path, "icao.png", ICAO_SPECIMEN)
    assert main(["scan-mrz", "--json", png, jpeg, specimen]) == 0
    out = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [o["file"] for o in out] == [png, jpeg, specimen]
    assert out[0]["lines"] == list(lines) and out[0]["layout"] == "VN" and out[0]["ok"]
    assert all(out[0]["checks"].values()) and len(out[0]["checks"]) == 5
    assert out[0]["fields"]["id_number"] == CITIZENS[0].id_number
    assert "surname" in out[0]["fields"]["name_unverified"]
    assert out[2]["layout"] == "ICAO" and out[2]["fields"]["document_number"] == "D23145890"
    blank = tmp_path / "blank.png"
    Image.new("L", (640, 480), 200).save(blank)
    (tmp_path / "text.png").write_text("not an image")
    assert main(["scan-mrz", png, str(blank), str(tmp_path / "text.png")]) == 1
    printed = capsys.readouterr().out
    assert f"{png}: ok" in printed and "MRZ not found" in printed
    assert "cannot read the image file: not a PNG or JPEG image" in printed
    assert "not covered by a check digit" in printed


def _trust(tmp: Path, pki: Any) -> str:
    csca = tmp / "csca.der"
    csca.write_bytes(pki.csca_der)
    assert main(["trust", "import", "--trust-dir", str(tmp / "trust"), str(csca)]) == 0
    return str(tmp / "trust")


@pytest.mark.timeout(60)
def test_read_chip_with_the_printed_mrz_gives_the_counter_verdict(
    pcsc_rig: Any, citizens: Any, profiles: Any, test_pki: Any, capsys: Any, tmp_path: Path
) -> None:
    from station.sim.emulator import EmulatedCard, auth

    card = EmulatedCard(profiles[0])
    auth.install(card)
    pcsc_rig.insert(card)
    trust = _trust(tmp_path, test_pki)
    capsys.readouterr()
    text = "|".join(mrz_lines(citizens[0]))
    args = ["read-chip", "--json", "--reader", "Virtual PCD 00 00", "--trust-dir", trust]
    assert main([*args, "--mrz", text]) == 0
    record = json.loads(capsys.readouterr().out)
    assert record["source"] == "mrz+chip" and record["chip"]["key_source"] == "mrz-text"
    assert "DG2" not in record["chip"]["files"]  # the face is neither stored nor shown
    verification = record["verification"]
    assert verification["level"] == "verified", verification
    assert (verification["passive"], verification["active"], verification["chip_auth"]) == (
        "ok", "skipped", "ok",
    )  # fmt: skip
    assert verification["active_skipped"] == "chip-auth"  # CA passed: AA not needed
    assert "DG15" not in record["chip"]["files"]
    assert verification["qr_chip_match"] is True
    bad = text[:7] + ("1" if text[7] != "1" else "2") + text[8:]
    assert not parse_lines(bad.split("|")).ok
    assert main([*args, "--mrz", bad]) == 2
    assert "does not pass its checks" in capsys.readouterr().err
