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
    used = set(re.findall(r"`station ([a-z-]+)", README))
    used |= set(re.findall(r"bin/station ([a-z-]+)", README))
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
