"""Every config option has an effect: changing it changes what the code that consumes it
builds or does. Each option has a probe that goes through that consumer (the wiring, the
device adapters on stand-in buses, the chip worker reading an emulated card, the outbox,
the link, the record builder); the table must cover every option of the schema."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import typing
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest

from station import config, flow
from station.cli.run import publisher_factory
from station.config import Config
from station.doctor.checks import check_trust
from station.drivers import card_pcsc, gpio_rpi
from station.drivers.camera_sim import Scene, SimCamera
from station.ports import Pattern
from station.runtime import wiring
from station.runtime.app import Services, Station
from station.runtime.logs import configure_logging
from station.runtime.workers import CameraWorker, ChipWorker, _ReadJob
from station.sim.citizens import generate_many
from station.sim.counter import full_chip
from station.sim.pki import make_test_pki
from station.sync.link import LinkSettings
from station.sync.outbox import Outbox
from station.sync.publisher import Publisher
from station.sync.signing import key_paths
from tests.drivers.fake_rpi_gpio import FakeGpio
from tests.support import eventually

Probe = Callable[[Config], Any]
ROOT: list[Path] = []  # the test's tmp folder (set by the fixture)


@pytest.fixture(autouse=True)
def _tmp(tmp_path: Path) -> Iterator[None]:
    ROOT[:] = [tmp_path]
    yield
    ROOT.clear()


def base() -> Config:
    data = ROOT[0] / "data"
    data.mkdir(mode=0o700, exist_ok=True)
    return config.from_mapping({"station": {"id": "st-1", "data_dir": str(data)}})


# ---- probes --------------------------------------------------------------------------


def started(cfg: Config) -> Station:
    """A station on simulated devices, started and stopped again (its workers remain)."""
    devices = wiring.open_devices(cfg)
    with Outbox.from_config(cfg) as outbox:
        station = Station(cfg, devices, Services(outbox=outbox))

        async def once() -> None:
            stop = asyncio.Event()
            stop.set()
            await station.run(stop)

        asyncio.run(once())
    devices.close()
    return station


def camera(cfg: Config) -> Any:
    cam, scene = wiring.make_camera(cfg)
    return (type(cam).__name__, getattr(cam, "_period", None), scene and scene.size)


def mrz_worker(cfg: Config) -> Any:
    """The camera worker's MRZ path: there or not, its rate, its tracker's absence time."""
    worker = CameraWorker(SimCamera(Scene(64, 48)), lambda e: None, lambda: 0.0, cfg.camera)
    mrz = worker.mrz
    return None if mrz is None else (mrz._period, mrz._tracker.absent_s)


def tracker(cfg: Config) -> Any:
    worker = started(cfg)._camera
    assert worker is not None
    t = worker._qr.tracker
    return (t.absent_frames, t.absent_s)


class LumaBus:
    """luma's serial constructors replaced by a no-op bus that records its arguments."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        from luma.core.interface import serial
        from luma.oled import device

        self.calls: list[Any] = []
        self.contrast: list[int] = []
        for name in ("i2c", "spi"):
            monkeypatch.setattr(serial, name, self._bus(name))
        for cls in (device.ssd1306, device.sh1106):
            monkeypatch.setattr(cls, "contrast", lambda dev, level: self.contrast.append(level))

    def _bus(self, name: str) -> Callable[..., Any]:
        from luma.core.interface.serial import noop

        def make(**kw: Any) -> Any:
            self.calls.append((name, sorted(kw.items())))
            return noop()

        return make


BUS: list[LumaBus] = []
GPIO: list[FakeGpio] = []


def oled(cfg: Config) -> Any:
    bus = BUS[0]
    bus.calls.clear()
    bus.contrast.clear()
    display = wiring.make_display(cfg)
    device = display._device  # type: ignore[attr-defined]
    out = (type(display).__name__, type(device).__name__, device.rotate, bus.calls[:],
           bus.contrast[:])  # fmt: skip
    display.close()
    return out


def sim_display(cfg: Config) -> Any:
    display = wiring.make_display(cfg, echo=lambda text: None)
    out = (getattr(display, "_png_dir", None), getattr(display, "_echo", None) is not None)
    display.close()
    return out


def refresh(cfg: Config) -> Any:
    worker = started(cfg)._display
    assert worker is not None
    return worker._interval


def gpio(cfg: Config) -> Any:
    """Pins set up, buzzer kind and whether a pattern sounds, button pull/debounce/hold."""
    fake = FakeGpio()
    GPIO[:] = [fake]
    indicators, button = wiring.make_gpio(cfg)
    indicators.play(Pattern.VERIFIED)
    buzzer = cfg.gpio.buzzer_pin
    sounded = eventually(
        lambda: fake.pwm_log or any(pin == buzzer for _, pin, _ in fake.writes[4:]), 2.0
    )
    if not fake.callbacks:  # the simulated button and indicators: nothing on the pins
        return type(indicators).__name__
    pin, (_, bounce) = next(iter(fake.callbacks.items()))
    held = button._logic.long_s  # type: ignore[attr-defined]
    out = (sorted(fake.setups.items()), bool(fake.pwm_log), sounded, pin, bounce, held)
    indicators.close()
    button.close()
    return (type(indicators).__name__, *out)


def reader(cfg: Config) -> Any:
    opener, field = wiring.make_reader(cfg)
    if opener is None:
        return None
    if field is not None:
        return "sim"
    return opener()  # PC/SC: the transport for reader.name (a stand-in here)


def chip_read(cfg: Config) -> Any:
    """What the chip worker's read of an emulated card used to open it."""
    from station.drivers.card_sim import EmulatorTransport
    from station.qr.payload import parse_payload

    citizen = generate_many(5, 1)[0]
    posted: list[flow.Event] = []
    worker = ChipWorker(lambda: EmulatorTransport(None), posted.append, lambda: 0.0, cfg)
    worker._transport = EmulatorTransport(full_chip(citizen, make_test_pki("p256")))
    worker._do_read(_ReadJob(1, parse_payload(citizen.qr_payload())))
    done = [e for e in posted if isinstance(e, flow.ChipDone)]
    return done[0].chip.access if done else posted


def settings(name: str) -> Probe:
    return lambda cfg: getattr(flow.Settings.from_config(cfg), name)


def outbox(name: str) -> Probe:
    def probe(cfg: Config) -> Any:
        with Outbox.from_config(cfg) as box:
            value = getattr(box, name)
            return str(value.path) if name == "audit" else value

    return probe


def link(cfg: Config) -> Any:
    return dataclasses.replace(LinkSettings.from_config(cfg), client_id="")


def publisher(name: str) -> Probe:
    def probe(cfg: Config) -> Any:
        with Outbox.from_config(cfg) as box:
            return getattr(Publisher.from_config(cfg, box), name)

    return probe


class _Chip:
    """A chip read as the record builder sees it (``station.record.ChipPart``)."""

    citizen: ClassVar[dict[str, str]] = {"full_name": "x", "ethnicity": "Kinh", "religion": "-"}

    def chip_json(self, *, store_face: bool = False) -> dict[str, Any]:
        return {"files": ["DG2"], "face": "/9j/"} if store_face else {"files": ["DG2"]}


def record(cfg: Config) -> Any:
    """The citizen and chip keys of the record the station builds under this config."""
    from station.qr.payload import parse_payload

    qr = parse_payload(generate_many(5, 1)[0].qr_payload())
    station = Station(cfg, None, Services(outbox=None))  # type: ignore[arg-type]
    built = station.build_record(flow.StoreRecord(1, qr, _Chip(), None))  # type: ignore[arg-type]
    return sorted(built["citizen"]), sorted(built["chip"])


def log_level(cfg: Config) -> Any:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    try:
        configure_logging(cfg.station.log_level)
        return root.level
    finally:
        for h in list(root.handlers):
            root.removeHandler(h)
        for h in handlers:
            root.addHandler(h)
        root.setLevel(level)


# option -> (probe, a value other than the default)
def sealed_key(cfg: Config) -> Any:
    """Where a sealed key is read (its unsealed copy): the first sealed one made here."""
    cfg.sealed_dir.mkdir(parents=True, exist_ok=True)
    (cfg.sealed_dir / "outbox.key.sealed").touch()
    return cfg.key_file("outbox.key")


def otp(cfg: Config) -> Any:
    from station.sync.sealing import SealError, otp_secret

    try:
        return otp_secret(cfg.station.otp_command)
    except SealError as exc:
        return str(exc)


PROBES: dict[str, tuple[Probe, Any]] = {
    "station.id": (lambda c: LinkSettings.from_config(c).client_id, "desk-2"),
    "station.hardware": (camera, "pi"),
    "station.data_dir": (lambda c: key_paths(c), "<tmp>/other"),
    "station.log_level": (log_level, "DEBUG"),
    "station.audit_log": (outbox("audit"), "<tmp>/audit.log"),
    "station.unsealed_dir": (sealed_key, "<tmp>/ram"),
    "station.otp_command": (otp, "echo " + "5a" * 32),
    "camera.backend": (camera, "pi"),
    "camera.width": (camera, 320),
    "camera.height": (camera, 240),
    "camera.fps": (camera, 2.0),
    "camera.sim_images": (camera, "<tmp>/frames"),
    "camera.qr_absent_frames": (tracker, 9),
    "camera.qr_absent_s": (tracker, 3.0),
    "camera.mrz": (mrz_worker, False),
    "camera.mrz_fps": (mrz_worker, 1.0),
    "camera.mrz_wait_s": (settings("mrz_wait_s"), 5.0),
    "display.backend": (oled, "pi"),
    "display.driver": (oled, "sh1106"),
    "display.interface": (oled, "spi"),
    "display.i2c_port": (oled, 3),
    "display.i2c_address": (oled, 0x3D),
    "display.spi_port": (oled, 1),
    "display.spi_device": (oled, 1),
    "display.spi_dc_pin": (oled, 22),
    "display.spi_reset_pin": (oled, 23),
    "display.rotate": (oled, 2),
    "display.contrast": (oled, 128),
    "display.max_fps": (refresh, 5.0),
    "display.png_dir": (sim_display, "<tmp>/png"),
    "display.terminal": (sim_display, True),
    "gpio.backend": (gpio, "pi"),
    "gpio.buzzer_pin": (gpio, 18),
    "gpio.led_green_pin": (gpio, 17),
    "gpio.led_red_pin": (gpio, 27),
    "gpio.led_amber_pin": (gpio, 22),
    "gpio.button_pin": (gpio, 21),
    "gpio.button_active_low": (gpio, False),
    "gpio.debounce_ms": (gpio, 80),
    "gpio.long_press_ms": (gpio, 3000),
    "gpio.buzzer_enabled": (gpio, False),
    "gpio.buzzer_passive": (gpio, False),
    "reader.backend": (reader, "pi"),
    "reader.name": (reader, "Reader That Is Not Here"),
    "reader.enabled": (reader, False),
    "reader.access": (chip_read, "bac"),
    "reader.pace_password": (chip_read, "mrz"),
    "reader.timeout_s": (settings("read_s"), 5.0),
    "store.path": (lambda c: str(Outbox.from_config(c).path), "<tmp>/elsewhere"),
    "store.max_records": (outbox("max_records"), 50),
    "store.min_free_mb": (outbox("min_free_bytes"), 10),
    "store.alert_age_h": (publisher("alert_age_s"), 2.0),
    "mqtt.enabled": (lambda c: publisher_factory(c, None) is None, False),  # type: ignore[arg-type]
    "mqtt.host": (link, "broker.example"),
    "mqtt.port": (link, 1883),
    "mqtt.tls": (link, False),
    "mqtt.ca_file": (link, "/etc/station/tls/ca.crt"),
    "mqtt.cert_file": (link, "/etc/station/tls/st.crt"),
    "mqtt.key_file": (link, "/etc/station/tls/st.key"),
    "mqtt.username": (link, "st-1"),
    "mqtt.password_file": (link, "<tmp>/password"),
    "mqtt.topic_prefix": (publisher("topics"), "ward7/cccd"),
    "mqtt.keepalive_s": (link, 20),
    "mqtt.inflight": (publisher("inflight_max"), 10),
    "mqtt.batch_records": (publisher("batch_records"), 5),
    "mqtt.ack_timeout_s": (publisher("ack_timeout_s"), 10.0),
    "mqtt.heartbeat_s": (publisher("heartbeat_s"), 30.0),
    "mqtt.reconnect_max_s": (link, 5.0),
    "mqtt.session_expiry_s": (link, 3600),
    "mqtt.ward_key": (publisher("ward_key"), "11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo="),
    "privacy.store_sensitive": (record, True),
    "privacy.store_face": (record, True),
    "privacy.show_face": (settings("show_face"), True),
    "ui.result_timeout_s": (settings("result_s"), 5.0),
    "ui.portal_url": (settings("portal_url"), ""),
    "trust.dir": (lambda c: check_trust(c).summary, "<tmp>/trust-elsewhere"),
}


def every_option() -> list[str]:
    out = []
    for section in dataclasses.fields(Config):
        cls = typing.get_type_hints(Config)[section.name]
        out += [f"{section.name}.{f.name}" for f in dataclasses.fields(cls)]
    return out


def test_every_option_has_a_probe() -> None:
    assert set(PROBES) == set(every_option())


@pytest.fixture()
def stand_ins(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    BUS[:] = [LumaBus(monkeypatch)]
    monkeypatch.setattr(gpio_rpi, "import_gpio", lambda: GPIO[0])
    monkeypatch.setattr(card_pcsc, "PcscTransport", lambda name: f"PC/SC reader {name!r}")
    yield
    BUS.clear()


def _value(value: Any) -> Any:
    if isinstance(value, str) and value.startswith("<tmp>"):
        path = ROOT[0] / value.removeprefix("<tmp>/")
        if value.endswith(("frames",)):
            from station.sim.frames import card_png

            path.mkdir(exist_ok=True)
            (path / "card.png").write_bytes(card_png(generate_many(5, 1)[0]))
        elif value.endswith("password"):
            path.write_text("secret\n", encoding="utf-8")
        return str(path)
    return value


# Options whose probe needs the Pi backend of their device to be chosen.
NEEDS_PI = {"display": "display", "gpio": "gpio"}


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # luma uses Image.getdata
@pytest.mark.parametrize("option", sorted(PROBES))
def test_option_has_an_effect(option: str, stand_ins: None) -> None:
    section, name = option.split(".")
    probe, other = PROBES[option]
    cfg = base()
    if section in NEEDS_PI and name not in ("backend", "max_fps", "png_dir", "terminal"):
        cfg = config.replace(cfg, section, backend="pi")
    if section == "display" and name.startswith("spi_"):
        cfg = config.replace(cfg, "display", interface="spi")
    if section == "reader" and name == "name":
        cfg = config.replace(cfg, "reader", backend="pi")
    if section == "mqtt" and name == "username":
        cfg = config.replace(cfg, "mqtt", password_file="")
    if option == "reader.access":
        cfg = config.replace(cfg, "reader", pace_password="can")
    assert getattr(getattr(cfg, section), name) != other, f"{option}: pick another value"
    before = probe(cfg)
    after = probe(config.replace(cfg, section, **{name: _value(other)}))
    assert before != after, f"{option} = {other!r} changes nothing ({before!r})"


def test_replay_camera_is_paced_at_camera_fps() -> None:
    """Replaying image files honours camera.fps instead of decoding non-stop."""
    import time

    frames = _value("<tmp>/frames")
    cfg = config.replace(base(), "camera", sim_images=frames, fps=20.0)
    cam, _ = wiring.make_camera(cfg)
    cam.start()
    began = time.monotonic()
    for _ in range(6):
        cam.capture_gray()
    assert time.monotonic() - began >= 6 / 20  # a wait per frame, never less
    cam.close()
