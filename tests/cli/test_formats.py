"""How commands print times and durations: ISO 8601 with offset, units that fit."""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path

import pytest

from station import config
from station.cli import main
from station.cli._common import duration
from station.record import iso_local, qr_record
from station.sync.outbox import Outbox

ISO = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d"


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0.2, "0 s"),
        (45, "45 s"),
        (89, "89 s"),
        (600, "10 min"),
        (3 * 3600, "3.0 h"),
        (36 * 3600, "36.0 h"),
        (5 * 86400, "5.0 days"),
    ],
)
def test_durations_in_units_that_fit(seconds: float, text: str) -> None:
    assert duration(seconds) == text


def test_timestamps_are_iso_8601_with_offset() -> None:
    text = iso_local(1_700_000_000)
    assert re.fullmatch(ISO, text), text
    assert datetime.fromisoformat(text).timestamp() == 1_700_000_000


def test_outbox_status_says_seconds_not_zero_hours(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "data"
    data.mkdir(mode=0o700)
    conf = tmp_path / "station.toml"
    conf.write_text(f'[station]\nid = "st-1"\ndata_dir = "{data}"\n', encoding="utf-8")
    with Outbox.from_config(config.load(conf)) as outbox:
        outbox.append(qr_record(None, station_id="st-1"))
    assert main(["outbox", "status", "--config", str(conf)]) == 0
    out = capsys.readouterr().out
    assert re.search(r"1 records waiting for the ward \(oldest waiting \d+ s\)", out), out
    assert "0.0 h" not in out
