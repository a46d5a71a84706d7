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
    with pytest.raises(config.ConfigMissing, match=r"no config file .*nope\.toml"):
        config.load(tmp_path / "nope.toml")
    with pytest.raises(config.ConfigMissing, match="is a folder"):
        config.load(tmp_path)
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


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(
        "[station]\nid = ''\nhardwre = 'pi'\n[camera]\nwidth = 1\nfps = 'x'\n[kamera]\n",
        encoding="utf-8",
    )
    with pytest.raises(config.ConfigError) as caught:
        config.load(path)
    problems = caught.value.problems
    assert len(problems) == 5, problems
    for where in ("station.id", "station.hardwre", "camera.width", "camera.fps", "kamera"):
        assert any(f"{path}: {where}:" in p for p in problems), where
    assert str(caught.value).count("\n") == 4


@pytest.mark.parametrize("bad", ["", "a/b#", "a b", "+", "quầy-1", "-x", "x" * 65])
def test_station_id_must_be_a_topic_level_and_ward_key(bad: str) -> None:
    with pytest.raises(config.ConfigError, match=r"station\.id: must be 1-64 letters"):
        config.from_mapping({"station": {"id": bad}})


@pytest.mark.parametrize("good", ["quay-1", "station_01", "w7.desk2", "A"])
def test_station_ids_that_work(good: str) -> None:
    assert config.from_mapping({"station": {"id": good}}).station.id == good


@pytest.mark.parametrize("bad", ["", "a/+/b", "cccd/#", "a//b", "/cccd", "a b"])
def test_topic_prefix_has_no_wildcards_or_empty_levels(bad: str) -> None:
    with pytest.raises(config.ConfigError, match=r"mqtt\.topic_prefix"):
        config.from_mapping({"mqtt": {"topic_prefix": bad}})


def test_choices_in_any_case() -> None:
    cfg = config.from_mapping({"station": {"log_level": "debug", "hardware": "PI"}})
    assert cfg.station.log_level == "DEBUG" and cfg.station.hardware == "pi"
    with pytest.raises(config.ConfigError, match=r"station\.log_level: must be one of"):
        config.from_mapping({"station": {"log_level": "verbose"}})


def test_cli_check_lists_every_problem_and_a_missing_file_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[gpio]\nbuzzer_pin = 99\nled_red_pin = -1\n", encoding="utf-8")
    assert main(["config", "--check", str(bad)]) == 1
    err = capsys.readouterr().err
    assert "2 problem(s)" in err and "gpio.buzzer_pin" in err and "gpio.led_red_pin" in err
    assert main(["config", "--check", str(tmp_path / "nope.toml")]) == 2
    assert "no config file" in capsys.readouterr().err
