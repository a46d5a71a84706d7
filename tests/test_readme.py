"""The README stays true: its config block is the code's, its commands exist, its record
example has the keys the code writes, and the screens it shows exist."""

from __future__ import annotations

import json
import re
from pathlib import Path

from station import config
from station.cli import build_parser
from station.qr.models import QrResult, QrStatus
from station.record import qr_record

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def _blocks(lang: str) -> list[str]:
    return re.findall(rf"```{lang}\n(.*?)```", README, flags=re.S)


def test_starts_with_the_two_commands() -> None:
    first = _blocks("sh")[0]
    assert "./setup.sh demo" in first and "./setup.sh test" in first


def test_config_block_is_the_code_defaults() -> None:
    (block,) = _blocks("toml")
    assert block == config.render_defaults(), "run: .venv/bin/python scripts/update_readme.py"


def test_every_station_command_exists() -> None:
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    known = set(sub.choices)  # type: ignore[arg-type]
    used = set(re.findall(r"`station ([a-z][a-z-]*)", README))
    used |= set(re.findall(r"bin/station ([a-z][a-z-]*)", README))
    assert used, "README names no station command"
    assert used <= known, f"README shows unknown commands: {used - known}"


def test_record_example_has_the_keys_the_code_writes() -> None:
    (block,) = _blocks("json")
    example = json.loads(block)
    built = qr_record(QrResult(QrStatus.OK, None, ""), station_id="x")
    assert set(built) <= set(example)
    assert example["schema"] == built["schema"]


def test_screens_shown_exist() -> None:
    images = re.findall(r"\]\((docs/screens/[^)]+\.png)\)", README)
    assert len(images) >= 20
    missing = [p for p in images if not (ROOT / p).is_file()]
    assert not missing, missing


def test_ci_runs_the_readme_test_command() -> None:
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert "./setup.sh test" in ci


# What each screen the README shows must say, so its caption stays true of its PNG.
CAPTIONS = {
    "idle": ("Mời đặt thẻ", "Tra cứu", "Có mạng", "chờ gửi 0"),
    "idle-connecting": ("Mời đặt thẻ", "Đang kết nối"),
    "idle-offline": ("Mất mạng", "chờ gửi 1234"),
    "idle-refused": ("Bị từ chối 12", "báo IT"),
    "idle-stale": ("Chưa gửi 26 giờ", "báo IT"),
    "idle-denied": ("Sai mã trạm", "station-02", "station-01", "Không gửi được"),
    "result-clone-p1": ("Không hợp lệ", "Nghi chip bị sao chép"),
    "idle-no-portal": ("Mời đặt thẻ", "chờ gửi 0"),
    "looking-for-mrz": ("Đã thấy mã QR", "MRZ"),
    "mrz-seen": ("Đã đọc mã MRZ", "đang mở"),
    "result-unparsed-p1": ("Hợp lệ", "Thẻ thật, dữ liệu khớp"),
    "result-unparsed-p5": ("Kiểm tra", "✗ Ảnh (DG2)"),
    "result-pinned-p1": ("Hợp lệ", "Thẻ thật,", "DS được ghim"),
    "result-pinned-p5": ("Kiểm tra", "✓ Chữ ký số: DS được ghim", "✓ Chip thật"),
    "qr-seen": ("Đã đọc mã QR", "đang mở"),
    "reading": ("Đang đọc chip", "KB"),
    "verifying": ("Đang kiểm tra",),
    "result-verified-p1": ("Hợp lệ", "Thẻ thật"),
    "result-attention-p1": ("Cần xem lại", "chứng"),
    "result-failed-p1": ("Không hợp lệ", "QR không khớp"),
    "result-verified-p2": ("Sinh ", "Số ", "******"),
    "result-verified-p3": ("Nơi thường trú",),
    "result-verified-p4": ("Quê quán",),
    "result-verified-p5": ("Kiểm tra", "✓ Chữ ký số", "✓ Chip thật", "✓ QR khớp chip"),
    "result-failed-p3": ("Kiểm tra", "✗ QR khớp chip"),
    "error-card-moved": ("Thẻ bị dịch ra",),
    "error-qr-unreadable": ("Không đọc được QR",),
    "error-no-qr-chip": ("Không thấy mã QR", "Lật thẻ"),
    "error-qr-other": ("Mã QR lạ",),
    "error-chip-locked": ("Chip từ chối mở",),
    "error-chip-not-genuine": ("Chip không thật",),
    "error-chip-mismatch": ("QR không khớp chip",),
    "error-reader-unplugged": ("Mất đầu đọc chip",),
    "error-camera-failed": ("Camera không chạy",),
    "error-mrz-failed": ("Lỗi đọc mã MRZ", "chỉ đọc được mã QR"),
    "error-store-full": ("Bộ nhớ đầy",),
    "error-clock-not-set": ("Đồng hồ chưa đúng",),
    "error-station-stopped": ("Trạm đã dừng",),
}


def test_screen_captions_match_what_the_png_shows() -> None:
    from tests.display.catalogue import layouts, screens

    shown = layouts(screens())
    names = re.findall(r"\]\(docs/screens/([^)]+)\.png\)", README)
    assert set(names) == set(CAPTIONS), "add the new README screen to CAPTIONS"
    for name in names:
        text = " ".join(op.text for op in shown[name].ops if hasattr(op, "text"))
        for words in CAPTIONS[name]:
            assert words in text, f"{name}.png does not show {words!r}: {text!r}"


def test_the_first_parse_qr_example_is_a_card_valid_today() -> None:
    import shlex

    from station.qr.payload import parse_payload

    lines = [ln for ln in "\n".join(_blocks("sh")).splitlines() if "bin/station parse-qr '" in ln]
    first = shlex.split(lines[0].split("#")[0])[-1]
    result = parse_payload(first)
    assert result.status == "ok" and result.warnings == (), result.warnings


ADMIN = (ROOT / "docs" / "admin.md").read_text(encoding="utf-8")
PLACEHOLDERS = {"<KEY>": "GVvxqjmDYIeUYaVqzPo2nKsmSnD0SK8n8Xt4jdaAv2I=", "<RECORD_ID>": "some-id"}


def _station_commands(text: str) -> list[list[str]]:
    import shlex

    out = []
    for line in text.splitlines():
        line = line.strip().strip("`")
        if "bin/station " not in line or line.startswith("|"):
            continue
        command = line[line.index("bin/station ") + len("bin/station ") :].split("  #")[0]
        for name, value in PLACEHOLDERS.items():
            command = command.replace(name, value)
        out.append(shlex.split(command.split(" | ")[0].split(" && ")[0]))
    return out


def test_every_command_of_the_admin_walkthrough_parses() -> None:
    commands = _station_commands(ADMIN)
    assert len(commands) >= 12
    parser = build_parser()
    for argv in commands:
        try:
            parser.parse_args(argv)
        except SystemExit as exc:
            if exc.code == 0:  # --version, --help
                continue
            shown = " ".join(argv)
            raise AssertionError(f"docs/admin.md: `station {shown}` does not parse") from exc


def test_admin_walkthrough_runs_as_the_station_user_and_in_order() -> None:
    for line in ADMIN.splitlines():
        if "/opt/station/.venv/bin/station " not in line:
            continue
        if any(verb in line for verb in ("trust import", "trust remove", "keys seal")):
            assert "sudo /opt" in line, line  # the trust store and sealing are root's
        elif any(verb in line for verb in ("doctor", "trust ", "keygen", "outbox", "readers")):
            assert "sudo -u station " in line, line  # the data folder is 0700, user station
    steps = [int(n) for n in re.findall(r"^## (\d+)\.", ADMIN, flags=re.M)]
    assert steps == list(range(1, len(steps) + 1)) and len(steps) >= 10
    assert "](docs/admin.md)" in README
