"""`station doctor`: every check against working and broken parts (real where possible)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from station import config, doctor
from station.config import Config
from station.doctor import hardware as doctor_hw
from station.drivers.camera_sim import Scene, SimCamera
from station.drivers.gpio_rpi import GpioError
from station.ports import CameraError, TransportError
from station.record import qr_record
from station.runtime.clock import ClockState
from station.sim.broker import Broker
from station.sim.pki import make_test_pki
from station.verify.store import import_file
from tests.runtime.support import write_config

REPO = Path(__file__).resolve().parents[2]
NOW = datetime.now(UTC)
CLI = "import sys; from station.cli import main; sys.exit(main())"


WARD_KEY = "11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo="  # an Ed25519 public key


@pytest.fixture
def cfg(tmp_path: Path) -> Config:
    data = tmp_path / "data"
    data.mkdir(mode=0o700)
    return config.replace(config.Config(), "station", id="st-1", data_dir=str(data))


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Broker]:
    work = tmp_path_factory.mktemp("broker")
    with Broker(work, clients=("st-1", "ward"), users={"st-1": "right"}) as b:
        yield b


def pi(cfg: Config, device: str) -> Config:
    return config.replace(cfg, device, backend="pi")


def install_csca(cfg: Config, tmp: Path, now: datetime) -> None:
    pki = make_test_pki("p256", now=now)
    path = tmp / f"csca-{now:%Y%m%d}.der"
    path.write_bytes(pki.csca_der)
    import_file(cfg.trust_dir, path)


# --- config -----------------------------------------------------------------------------


def test_config_valid_invalid_missing(tmp_path: Path) -> None:
    good = tmp_path / "good.toml"
    good.write_text(config.render_defaults())
    result, loaded = doctor.check_config(good)
    assert result.status == "OK" and loaded is not None
    bad = tmp_path / "bad.toml"
    bad.write_text("[camera]\nfsp = 5\n")
    result, loaded = doctor.check_config(bad)
    assert result.status == "FAIL" and "camera.fsp" in result.summary and loaded is None
    assert "station config --defaults" in result.fix
    result, _ = doctor.check_config(tmp_path / "none.toml")
    assert result.status == "FAIL" and "setup.sh install" in result.fix


# --- clock, disk ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("state", "status", "words"),
    [
        (ClockState(True, "timedatectl", True, NOW), "OK", "synchronised"),
        (ClockState(False, "adjtimex", True, NOW), "FAIL", "not synchronised"),
        (ClockState(True, "adjtimex", False, datetime(1970, 1, 1, tzinfo=UTC)), "FAIL", "not set"),
        (ClockState(None, "none", True, NOW), "WARN", "cannot tell"),
    ],
)
def test_clock(cfg: Config, state: ClockState, status: str, words: str) -> None:
    result = doctor.check_clock(cfg, probe=lambda: state)
    assert result.status == status and words in result.summary
    assert status == "OK" or "set-ntp" in result.fix


def test_disk_thresholds(cfg: Config) -> None:
    def free(mb: int) -> Any:
        return lambda _p: SimpleNamespace(free=mb * 1024 * 1024)

    assert doctor.check_disk(cfg, free(10_000)).status == "OK"
    assert doctor.check_disk(cfg, free(80)).status == "WARN"
    low = doctor.check_disk(cfg, free(20))
    assert low.status == "FAIL" and "store.min_free_mb = 50" in low.summary
    real = doctor.check_disk(cfg)  # the real file system of this machine
    assert real.status in ("OK", "WARN", "FAIL") and "MB free" in real.summary


def test_disk_data_dir_missing(cfg: Config, tmp_path: Path) -> None:
    gone = config.replace(cfg, "station", data_dir=str(tmp_path / "nope"))
    result = doctor.check_disk(gone, lambda _p: SimpleNamespace(free=10**12))
    assert result.status == "FAIL" and "not writable" in result.summary


# --- trust anchors ----------------------------------------------------------------------


def test_trust_empty_valid_expired_and_expiring(cfg: Config, tmp_path: Path) -> None:
    empty = doctor.check_trust(cfg)
    assert empty.status == "FAIL" and "trust import" in empty.fix
    install_csca(cfg, tmp_path, NOW - timedelta(days=11 * 365))  # expired a year ago
    expired = doctor.check_trust(cfg)
    assert expired.status == "FAIL" and "expired" in expired.summary
    install_csca(cfg, tmp_path, NOW)
    assert doctor.check_trust(cfg).status == "WARN"  # one good, one expired
    fresh = config.replace(cfg, "trust", dir=str(tmp_path / "fresh"))
    install_csca(fresh, tmp_path, NOW)
    assert doctor.check_trust(fresh).status == "OK"
    install_csca(fresh, tmp_path, NOW - timedelta(days=10 * 365 - 10))  # 10 days left
    soon = doctor.check_trust(fresh)
    assert soon.status == "WARN" and "1 expire within 30 days" in soon.summary


@pytest.mark.skipif(os.geteuid() != 0, reason="chown needs root")
def test_on_a_pi_the_trust_store_must_be_roots_alone(cfg: Config, tmp_path: Path) -> None:
    installed = config.replace(cfg, "station", hardware="pi")
    install_csca(installed, tmp_path, NOW)
    assert doctor.check_trust(installed).status == "OK"
    os.chown(installed.trust_dir / "certs", 4242, 4242)  # left to the service user
    loose = doctor.check_trust(installed)
    assert loose.status == "WARN" and "owned by uid 4242" in loose.summary
    assert "chown -R root:root" in loose.fix
    os.chown(installed.trust_dir / "certs", 0, 0)
    installed.trust_dir.chmod(0o777)
    assert "writable by its group or others" in doctor.check_trust(installed).summary


# --- broker (real mosquitto on loopback) ------------------------------------------------


def test_broker_ok_with_client_certificate(cfg: Config, broker: Broker) -> None:
    result = doctor.check_broker(broker.station_config(cfg, "st-1"))
    assert result.status == "OK" and "with TLS (client certificate)" in result.summary


def test_broker_ok_with_password_and_refused_with_wrong_one(
    cfg: Config, broker: Broker, tmp_path: Path
) -> None:
    pw = tmp_path / "pw"
    pw.write_text("right\n")
    base = config.replace(
        cfg, "mqtt", host="127.0.0.1", port=broker.password_port, tls=True,
        ca_file=str(broker.pki.ca_file), username="st-1", password_file=str(pw),
    )  # fmt: skip
    assert doctor.check_broker(base).status == "OK"
    pw.write_text("wrong\n")
    refused = doctor.check_broker(base)
    assert refused.status == "FAIL" and "refused" in refused.summary
    assert "credentials" in refused.fix


def test_broker_unreachable_untrusted_and_no_client_cert(
    cfg: Config, broker: Broker, tmp_path: Path
) -> None:
    good = broker.station_config(cfg, "st-1")
    down = config.replace(good, "mqtt", port=1)
    result = doctor.check_broker(down)
    assert result.status == "FAIL" and "cannot reach" in result.summary
    other_ca = Broker(tmp_path / "other", clients=())  # not started: only its CA is used
    untrusted = config.replace(good, "mqtt", ca_file=str(other_ca.pki.ca_file))
    result = doctor.check_broker(untrusted)
    assert result.status == "FAIL" and "not trusted" in result.summary
    assert "ca_file" in result.fix
    no_cert = config.replace(good, "mqtt", cert_file="", key_file="")
    result = doctor.check_broker(no_cert)
    assert result.status == "FAIL"
    missing = config.replace(good, "mqtt", cert_file=str(tmp_path / "none.crt"))
    result = doctor.check_broker(missing)
    assert result.status == "FAIL" and "cert_file" in result.fix


def test_broker_plain_is_a_warning_and_disabled_is_ok(cfg: Config, broker: Broker) -> None:
    plain = broker.station_config(cfg, "st-1", tls=False)
    assert doctor.check_broker(plain).status == "WARN"
    off = config.replace(cfg, "mqtt", enabled=False)
    assert doctor.check_broker(off).status == "OK"


def test_station_id_other_than_the_certificate_names_both(cfg: Config, broker: Broker) -> None:
    renamed = config.replace(broker.station_config(cfg, "st-1"), "station", id="st-2")
    result = doctor.check_broker(renamed)
    assert result.status == "FAIL"
    assert "'st-2'" in result.summary and "'st-1'" in result.summary and "CN" in result.summary
    assert "station.id = 'st-1'" in result.fix
    pw = config.replace(renamed, "mqtt", cert_file="", key_file="", username="st-1")
    assert "mqtt.username is 'st-1'" in doctor.check_broker(pw).summary


def test_ward_key(cfg: Config) -> None:
    pinned = config.replace(cfg, "mqtt", ward_key=WARD_KEY)
    assert doctor.check_ward_key(pinned).status == "OK"
    unset = doctor.check_ward_key(cfg)
    assert unset.status == "FAIL" and "no record is ever deleted" in unset.summary
    assert "ward enroll" in unset.fix
    bad = doctor.check_ward_key(config.replace(cfg, "mqtt", ward_key="not a key"))
    assert bad.status == "FAIL" and bad.summary.startswith("mqtt.ward_key:")
    off = config.replace(cfg, "mqtt", enabled=False)
    assert doctor.check_ward_key(off).status == "OK"


# --- outbox and station key -------------------------------------------------------------


def fill_outbox(cfg: Config, n: int) -> None:
    from station.sync.outbox import Outbox

    with Outbox.from_config(cfg) as box:
        for _ in range(n):
            box.append(qr_record(None, station_id="st-1"))


def test_outbox_empty_pending_full_and_unreadable(cfg: Config) -> None:
    assert doctor.check_outbox(cfg).status == "OK"
    fill_outbox(cfg, 12)
    result = doctor.check_outbox(cfg)
    assert result.status == "OK" and result.summary.startswith("12 records waiting")
    day_later = doctor.check_outbox(cfg, now=lambda: datetime.now(UTC).timestamp() + 90_000)
    assert day_later.status == "WARN"
    capped = config.replace(cfg, "store", max_records=12)
    full = doctor.check_outbox(capped)
    assert full.status == "FAIL" and "full" in full.summary
    (cfg.data_dir / "outbox.key").write_bytes(os.urandom(32))  # a different key
    wrong = doctor.check_outbox(cfg)
    assert wrong.status == "FAIL"


def test_station_key_missing_ok_and_too_open(cfg: Config) -> None:
    from station.sync.signing import key_paths, load_or_create_signing_key

    assert doctor.check_station_key(cfg).status == "WARN"
    key, pub = key_paths(cfg)
    load_or_create_signing_key(key, pub)
    assert doctor.check_station_key(cfg).status == "OK"
    key.chmod(0o644)
    result = doctor.check_station_key(cfg)
    assert result.status == "FAIL" and "chmod 600" in result.fix


# --- devices ----------------------------------------------------------------------------


class HangingCamera(SimCamera):
    def __init__(self) -> None:
        super().__init__(Scene(64, 48))
        self.release = threading.Event()

    def capture_gray(self) -> Any:
        self.release.wait(10)
        raise CameraError("closed")

    def close(self) -> None:
        self.release.set()
        super().close()


def test_camera_sim_ok_failing_and_hanging(cfg: Config) -> None:
    result = doctor_hw.check_camera(cfg)
    assert result.status == "OK" and "640x480" in result.summary
    scene = Scene(320, 240)
    scene.fail()
    broken = doctor_hw.check_camera(cfg, opener=lambda _c: SimCamera(scene, fps=50))
    assert broken.status == "FAIL" and "simulated camera failure" in broken.summary
    hung = doctor_hw.check_camera(cfg, opener=lambda _c: HangingCamera(), timeout=0.3)
    assert hung.status == "FAIL" and "no frame" in hung.summary
    assert "systemctl stop station" in hung.fix


def test_camera_pi_without_picamera2_fails_with_a_fix(cfg: Config) -> None:
    result = doctor_hw.check_camera(pi(cfg, "camera"))
    assert result.status == "FAIL" and "picamera2" in result.summary
    assert "python3-picamera2" in result.fix


class ScriptedTransport:
    def __init__(self, response: bytes) -> None:
        self.response, self.sent, self.closed = response, [], False  # type: ignore[var-annotated]

    name = "Reader 0"

    def transmit(self, apdu: bytes) -> bytes:
        self.sent.append(apdu)
        return self.response

    def close(self) -> None:
        self.closed = True


def test_reader_cases(cfg: Config) -> None:
    assert doctor_hw.check_reader(cfg).status == "OK"  # simulated
    real = pi(cfg, "reader")

    def no_pcscd() -> list[tuple[str, bool]]:
        raise TransportError("PC/SC context (is pcscd running?)", "Service not available")

    down = doctor_hw.check_reader(real, lister=no_pcscd)
    assert down.status == "FAIL" and "pcscd" in down.fix
    none = doctor_hw.check_reader(real, lister=lambda: [])
    assert none.status == "FAIL" and "no PC/SC reader" in none.summary
    named = config.replace(real, "reader", name="ACR1252")
    wrong = doctor_hw.check_reader(named, lister=lambda: [("Virtual PCD 00 00", False)])
    assert wrong.status == "FAIL" and "'ACR1252'" in wrong.summary
    empty = doctor_hw.check_reader(real, lister=lambda: [("ACS ACR1252 00 00", False)])
    assert empty.status == "OK" and "no card" in empty.summary
    chip = ScriptedTransport(bytes.fromhex("9000"))
    present = doctor_hw.check_reader(
        real, lister=lambda: [("ACS ACR1252 00 00", True)], opener=lambda _n: chip
    )
    assert present.status == "OK" and "eMRTD" in present.summary
    assert chip.sent == [doctor_hw.SELECT_EMRTD] and chip.closed
    other = doctor_hw.check_reader(
        real,
        lister=lambda: [("ACS ACR1252 00 00", True)],
        opener=lambda _n: ScriptedTransport(bytes.fromhex("6A82")),
    )
    assert other.status == "WARN" and "6A82" in other.summary


def test_reader_with_the_emulated_cccd_chip(cfg: Config) -> None:
    from station.drivers.card_sim import EmulatorTransport
    from station.sim.citizens import generate_many
    from station.sim.emulator.card import EmulatedCard
    from station.sim.emulator.files import build_profile

    card = EmulatedCard(build_profile(generate_many(3, 1)[0]))
    result = doctor_hw.check_reader(
        pi(cfg, "reader"),
        lister=lambda: [("Emulated CCCD reader", True)],
        opener=lambda _n: EmulatorTransport(card),
    )
    assert result.status == "OK" and "eMRTD" in result.summary


def test_display_cases(cfg: Config, tmp_path: Path) -> None:
    assert doctor_hw.check_display(cfg).status == "OK"  # simulated
    real = pi(cfg, "display")
    assert doctor_hw.check_display(real, probe=lambda _p, _a: None).status == "OK"
    no_bus = doctor_hw.check_display(real, probe=doctor_hw.i2c_probe)  # no I2C bus here
    assert no_bus.status == "FAIL" and "do_i2c 0" in no_bus.fix
    silent = doctor_hw.check_display(
        real, probe=lambda _p, a: f"nothing answers at address 0x{a:02X}"
    )
    assert silent.status == "FAIL" and "0x3C" in silent.summary and "i2cdetect" in silent.fix
    spi = config.replace(real, "display", interface="spi")
    node = tmp_path / "spidev0.0"
    assert doctor_hw.check_display(spi, spi_path=lambda p, d: str(node)).status == "FAIL"
    node.write_bytes(b"")
    assert doctor_hw.check_display(spi, spi_path=lambda p, d: str(node)).status == "OK"


def test_gpio_cases(cfg: Config, tmp_path: Path) -> None:
    assert doctor_hw.check_gpio(cfg).status == "OK"  # simulated
    real = pi(cfg, "gpio")
    off_pi = doctor_hw.check_gpio(real)  # RPi.GPIO cannot work on this machine
    assert off_pi.status == "FAIL" and "rpi-lgpio" in off_pi.fix

    def no_lib() -> Any:
        raise GpioError("RPi.GPIO unavailable")

    assert doctor_hw.check_gpio(real, importer=no_lib).status == "FAIL"
    chip = tmp_path / "gpiochip0"
    chip.write_bytes(b"")
    lib = SimpleNamespace(VERSION="0.7.1")
    good = doctor_hw.check_gpio(real, importer=lambda: lib, devices=lambda: [str(chip)])
    assert good.status == "OK" and "0.7.1" in good.summary
    none = doctor_hw.check_gpio(real, importer=lambda: lib, devices=lambda: [])
    assert none.status == "FAIL" and "group gpio" in none.fix


# --- the whole run ----------------------------------------------------------------------


def synced(_cfg: Config) -> doctor.CheckResult:
    return doctor.check_clock(_cfg, probe=lambda: ClockState(True, "timedatectl", True, NOW))


def whole_run_checks() -> list[tuple[str, doctor.Check]]:
    return [(n, synced if n == "clock" else c) for n, c in doctor.default_checks()]


def break_part(part: str, cfg: Config, tmp: Path) -> Config:
    """``cfg`` with one part of the station broken for real."""
    if part == "broker":
        return config.replace(cfg, "mqtt", port=1)
    if part == "trust anchors":
        return config.replace(cfg, "trust", dir=str(tmp / "no-anchors"))
    if part == "camera":
        (tmp / "no-frames").mkdir()
        return config.replace(cfg, "camera", sim_images=str(tmp / "no-frames"))
    if part == "outbox":
        fill_outbox(cfg, 10)
        return config.replace(cfg, "store", max_records=10)
    if part == "station key":
        from station.sync.signing import key_paths

        key_paths(cfg)[0].chmod(0o644)
        return cfg
    if part == "ward key":
        return config.replace(cfg, "mqtt", ward_key="")
    return pi(cfg, part)  # display, gpio: the real devices do not exist on this machine


@pytest.mark.parametrize(
    "part",
    [None, "broker", "trust anchors", "camera", "outbox", "station key", "ward key", "display",
     "gpio"],
)  # fmt: skip
def test_all_ok_on_sim_hardware_then_each_part_broken(
    cfg: Config, broker: Broker, tmp_path: Path, part: str | None
) -> None:
    from station.sync.signing import key_paths, load_or_create_signing_key

    good = broker.station_config(cfg, "st-1")
    good = config.replace(good, "mqtt", ward_key=WARD_KEY)
    install_csca(good, tmp_path, NOW)
    load_or_create_signing_key(*key_paths(good))
    path = tmp_path / "station.toml"
    write_config(good if part is None else break_part(part, good, tmp_path), path)
    results = doctor.run_checks(path, whole_run_checks())
    text = doctor.render_text(results)
    if part is None:
        assert [r.status for r in results] == ["OK"] * len(results), text
        assert not doctor.failed(results)
        return
    assert [r.name for r in results if r.status != "OK"] == [part], text
    broken = next(r for r in results if r.name == part)
    assert broken.status == "FAIL" and broken.fix and f"fix: {broken.fix}" in text


def test_a_crashing_check_is_a_failure_not_a_crash(cfg: Config, tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    write_config(cfg, path)

    def boom(_cfg: Config) -> doctor.CheckResult:
        raise KeyError("x")

    results = doctor.run_checks(path, [("boom", boom)])
    assert results[-1].status == "FAIL" and "KeyError" in results[-1].summary


def test_cli_json_and_exit_status(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[mqtt]\nport = 0\n")
    done = subprocess.run(
        [sys.executable, "-c", CLI, "doctor", "--config", str(bad), "--json"],
        capture_output=True, text=True, timeout=60, cwd=REPO,
    )  # fmt: skip
    assert done.returncode == 1
    body = json.loads(done.stdout)
    assert body["ok"] is False and body["checks"][0]["name"] == "config"
    assert "mqtt.port" in body["checks"][0]["summary"]


def test_reader_through_real_pcscd_and_vpcd(cfg: Config, pcsc_rig: Any) -> None:
    """pyscard -> pcscd -> vpcd -> emulated CCCD, through the check's default adapters."""
    from station.sim.citizens import generate_many
    from station.sim.emulator.card import EmulatedCard
    from station.sim.emulator.files import build_profile

    real = pi(cfg, "reader")
    try:
        empty = doctor_hw.check_reader(real)
        assert empty.status == "OK" and "Virtual PCD 00 00 present, no card" in empty.summary
        pcsc_rig.insert(EmulatedCard(build_profile(generate_many(5, 1)[0])))
        present = doctor_hw.check_reader(real)
        assert present.status == "OK" and "eMRTD" in present.summary
        wrong = doctor_hw.check_reader(config.replace(real, "reader", name="ACR1252"))
        assert wrong.status == "FAIL" and "Virtual PCD 00 00" in wrong.summary
    finally:
        pcsc_rig.remove()  # the rig is shared by the session: leave it empty


def test_reader_check_with_pcscd_unreachable(cfg: Config, pcsc_rig: Any, tmp_path: Path) -> None:
    """pcscd down: a client whose socket path leads nowhere (libpcsclite reads
    PCSCLITE_CSOCK_NAME), while the session's real pcscd keeps running for the others."""
    code = (
        "import json; from station import config; from station.doctor import hardware; "
        "cfg = config.replace(config.from_mapping({}), 'reader', backend='pi'); "
        "r = hardware.check_reader(cfg); print(json.dumps([r.status, r.summary, r.fix]))"
    )
    env = dict(os.environ, PCSCLITE_CSOCK_NAME=str(tmp_path / "no-pcscd.comm"))
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    status, summary, fix = json.loads(done.stdout)
    assert status == "FAIL" and "PC/SC unavailable" in summary and "pcscd" in fix


def test_mrz_process_serves_fails_to_start_or_is_off(
    cfg: Config, monkeypatch: pytest.MonkeyPatch
) -> None:
    from station.runtime import vision

    good = doctor.check_mrz(cfg)
    assert good.status == "OK" and "analyses a frame" in good.summary
    assert doctor.check_mrz(config.replace(cfg, "camera", mrz=False)).status == "OK"
    monkeypatch.setattr(vision, "BOOT", "import sys; sys.exit(3)")  # exits at once
    broken = doctor.check_mrz(cfg)
    assert broken.status == "FAIL" and "exit status 3" in broken.summary
    assert "journalctl -u station" in broken.fix
