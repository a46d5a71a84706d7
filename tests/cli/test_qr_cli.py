"""`station scan-qr` and `station parse-qr`: in-process and through the installed script."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from station.cli import main
from station.record import SCHEMA
from station.sim.citizens import generate_many
from station.sim.frames import card_frame, card_png

STATION = Path(sys.executable).with_name("station")
CITIZENS = generate_many(31, 3)  # real today: the CLI validates against the clock
EXAMPLE = "001099012345||Nguyễn Văn A|15031999|Nam||10052021"


def json_lines(out: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in out.splitlines()]


@pytest.fixture()
def images(tmp_path: Path) -> dict[str, Path]:
    files = {
        "card.png": card_png(CITIZENS[0]),
        "card.jpg": card_png(CITIZENS[1], module_px=5, fmt="JPEG"),
        "url.png": card_png(CITIZENS[2], damage="url"),
        "noqr.png": card_png(CITIZENS[2], damage="no-qr"),
        "broken.png": b"\x89PNG not really",
    }
    paths = {}
    for name, data in files.items():
        paths[name] = tmp_path / name
        paths[name].write_bytes(data)
    frame = card_frame(CITIZENS[2], (1280, 720), angle=30, noise=5, seed=2)
    paths["frame.png"] = tmp_path / "frame.png"
    Image.fromarray(frame).save(paths["frame.png"])
    return paths


def test_scan_qr_json_all_ok(images: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    paths = [str(images[n]) for n in ("card.png", "card.jpg", "frame.png")]
    assert main(["scan-qr", "--json", "--station-id", "ward-7", *paths]) == 0
    records = json_lines(capsys.readouterr().out)
    assert [r["file"] for r in records] == paths
    for record, citizen in zip(records, (CITIZENS[0], CITIZENS[1], CITIZENS[2]), strict=True):
        assert record["schema"] == SCHEMA
        assert record["status"] == "ok" and record["source"] == "qr"
        assert record["station_id"] == "ward-7"
        uuid.UUID(str(record["record_id"]))
        assert datetime.fromisoformat(str(record["read_at"])).utcoffset() is not None
        assert record["citizen"] == {
            "id_number": citizen.id_number,
            "old_id_number": citizen.old_id_number,
            "full_name": citizen.full_name,
            "date_of_birth": citizen.date_of_birth.isoformat(),
            "sex": citizen.sex,
            "place_of_residence": citizen.place_of_residence,
            "issue_date": citizen.issue_date.isoformat(),
        }
        assert record["errors"] == []


def test_scan_qr_statuses_and_exit_1(
    images: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    names = ("card.png", "url.png", "noqr.png", "broken.png")
    assert main(["scan-qr", "--json", *(str(images[n]) for n in names)]) == 1
    records = json_lines(capsys.readouterr().out)
    assert [r["status"] for r in records] == ["ok", "unrecognised", "no-qr", "no-qr"]
    assert str(records[1]["qr_raw"]).startswith("https://")
    assert [e["code"] for e in records[2]["errors"]] == ["no_qr_found"]  # type: ignore[attr-defined,index]
    assert [e["code"] for e in records[3]["errors"]] == ["image_unreadable"]  # type: ignore[attr-defined,index]
    assert all(r["citizen"] is None for r in records[1:])


def test_scan_qr_missing_file_is_status_not_crash(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["scan-qr", str(tmp_path / "nope.png")]) == 1
    out = capsys.readouterr().out
    assert "no-qr" in out and "image_unreadable" in out


def test_scan_qr_human_summary(images: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["scan-qr", str(images["card.png"])]) == 0
    out = capsys.readouterr().out
    assert f"{images['card.png']}: ok" in out
    assert CITIZENS[0].full_name in out and "Họ và tên / full name" in out


def test_usage_errors_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    for argv in (["scan-qr"], ["parse-qr", "--bogus"]):
        with pytest.raises(SystemExit) as exc:
            main(argv)
        assert exc.value.code == 2
    capsys.readouterr()


def test_parse_qr_argument(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["parse-qr", "--json", "--station-id", "s1", EXAMPLE]) == 0
    (record,) = json_lines(capsys.readouterr().out)
    assert record["status"] == "ok"
    assert record["citizen"]["full_name"] == "Nguyễn Văn A"  # type: ignore[index]
    assert main(["parse-qr", "--json", "hello"]) == 1
    (record,) = json_lines(capsys.readouterr().out)
    assert record["status"] == "unrecognised" and record["qr_raw"] == "hello"


def run_script(args: list[str], stdin: bytes) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [str(STATION), *args], input=stdin, capture_output=True, timeout=60, check=False
    )


@pytest.mark.skipif(not STATION.exists(), reason="console script not installed in this venv")
def test_parse_qr_stdin_raw_bytes_through_the_script() -> None:
    ok = run_script(["parse-qr", "--json"], EXAMPLE.encode("utf-8") + b"\n")
    assert ok.returncode == 0, ok.stderr
    assert json.loads(ok.stdout)["citizen"]["full_name"] == "Nguyễn Văn A"
    damaged = EXAMPLE.encode("utf-8").replace(b"\xe1\xbb\x85", b"\xe1\xbb")  # cut "ễ"
    bad = run_script(["parse-qr", "--json"], damaged)
    assert bad.returncode == 1
    record = json.loads(bad.stdout)
    assert record["status"] == "invalid" and record["citizen"] is None
    assert [e["code"] for e in record["errors"]] == ["damaged_text"]
    human = run_script(["parse-qr"], EXAMPLE.encode("utf-8"))
    assert human.returncode == 0 and "Nguyễn Văn A" in human.stdout.decode("utf-8")
    assert human.stderr == b""


def test_scan_qr_reads_grayscale_array_images(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rgb = np.stack([card_frame(CITIZENS[0], seed=5)] * 3, axis=-1)
    path = tmp_path / "rgb.png"
    Image.fromarray(rgb).save(path)
    assert main(["scan-qr", "--json", str(path)]) == 0
    assert json_lines(capsys.readouterr().out)[0]["status"] == "ok"
