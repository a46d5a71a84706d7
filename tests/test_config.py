"""Config loading: defaults, validation errors naming section.option, round trip."""

from __future__ import annotations

from pathlib import Path

import pytest

from station import config
from station.cli import main


def test_defaults_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "station.toml"
    path.write_text(config.render_defaults(), encoding="utf-8")
    loaded = config.load(path)
    assert loaded.camera == config.Config().camera
    assert loaded.mqtt == config.Config().mqtt
    assert loaded.backend("camera") == "sim"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[camera]\nwidht = 640\n", "camera.widht: unknown option"),
        ("[kamera]\n", "kamera: unknown section"),
        ("[camera]\nwidth = 10\n", "camera.width: must be between 160 and 4056"),
        ("[camera]\nwidth = 'big'\n", "camera.width: must be a whole number"),
        ("[station]\nhardware = 'arduino'\n", "station.hardware: must be one of"),
        ("[mqtt]\ntls = 1\n", "mqtt.tls: must be true or false"),
        ("[ui]\nresult_timeout_s = 0.5\n", "ui.result_timeout_s: must be between"),
        ("camera = 3\n", "camera: must be a table"),
        ("[camera\n", "not valid TOML"),
    ],
)
def test_errors_name_the_option(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(config.ConfigError, match=message.replace("[", r"\[")):
        config.load(path)


def test_missing_and_binary_files(tmp_path: Path) -> None:
    with pytest.raises(config.ConfigError, match="cannot read config file"):
        config.load(tmp_path / "nope.toml")
    garbage = tmp_path / "garbage.toml"
    garbage.write_bytes(b"\xff\xfe\x00bad")
    with pytest.raises(config.ConfigError, match="not UTF-8"):
        config.load(garbage)


def test_per_device_backend_overrides_station_hardware() -> None:
    cfg = config.from_mapping({"station": {"hardware": "pi"}, "camera": {"backend": "sim"}})
    assert cfg.backend("camera") == "sim"
    assert cfg.backend("display") == "pi"


def test_int_accepted_for_float_option() -> None:
    cfg = config.from_mapping({"camera": {"fps": 5}})
    assert cfg.camera.fps == 5.0


def test_cli_check(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good = tmp_path / "good.toml"
    good.write_text("[station]\nid = 'quay-1'\n", encoding="utf-8")
    assert main(["config", "--check", str(good)]) == 0
    assert "quay-1" in capsys.readouterr().out
    bad = tmp_path / "bad.toml"
    bad.write_text("[gpio]\nbuzzer_pin = 99\n", encoding="utf-8")
    assert main(["config", "--check", str(bad)]) == 1
    assert "gpio.buzzer_pin" in capsys.readouterr().err
