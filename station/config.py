"""Station configuration: one TOML file, defaults for everything, validated at load.

Each ``[section]`` is a frozen dataclass below; each option's bounds (or the pattern a
string must match) live in its field metadata. Unknown sections/options and out-of-range
values raise ``ConfigError`` naming ``section.option`` (a typo must never be silently
ignored); every problem of a file is reported at once (``ConfigError.problems``). Choices
are matched in any case (``log_level = "debug"``).
Render the documented default file with ``station config --defaults``.
"""

from __future__ import annotations

import dataclasses
import re
import socket
import tomllib
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TypeVar

DEFAULT_PATH = Path("/etc/station/station.toml")
# The station's secret key files (see Config.key_file; `station keys seal` seals them).
OUTBOX_KEY, SIGNING_KEY, LOG_KEY, TLS_KEY = (
    "outbox.key", "station_ed25519.key", "log_pseudonym.key", "tls-client.key",
)  # fmt: skip

# The national population database's public service portal, where citizens log in and look
# their data up (Thông tư 46/2022/TT-BCA); see README "The OLED screens".
PORTAL_URL = "https://dichvucong.dancuquocgia.gov.vn"

Hardware = Literal["sim", "pi"]
Backend = Literal["auto", "sim", "pi"]


# A station id is a single MQTT topic level and a ward database key: no / + # or spaces.
STATION_ID_PATTERN = r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}"
STATION_ID_RULE = "1-64 letters, digits, '.', '_' or '-', starting with a letter or digit"
# A topic prefix may have levels (a/b) but no wildcards, no empty level, no spaces.
TOPIC_PREFIX_PATTERN = r"[A-Za-z0-9._-]+(/[A-Za-z0-9._-]+)*"


class ConfigError(ValueError):
    """A config that cannot be used. ``problems`` lists every problem found, each naming
    ``section.option``; the message is one problem per line."""

    def __init__(self, problems: str | typing.Sequence[str]) -> None:
        self.problems = (problems,) if isinstance(problems, str) else tuple(problems)
        super().__init__("\n".join(self.problems))


def valid_station_id(text: str) -> bool:
    """Whether ``text`` can be a station id (topic level, ward key, certificate CN)."""
    return re.fullmatch(STATION_ID_PATTERN, text) is not None


def opt(
    default: Any,
    doc: str,
    *,
    lo: float | None = None,
    hi: float | None = None,
    pattern: str | None = None,
    rule: str = "",
) -> Any:
    """A config option with its documentation and optional numeric bounds, or the
    ``pattern`` a string must match (``rule`` says it in words)."""
    meta = {"doc": doc, "lo": lo, "hi": hi, "pattern": pattern, "rule": rule}
    return field(default=default, metadata=meta)


def _default_station_id() -> str:
    name = socket.gethostname().split(".")[0]
    return name if valid_station_id(name) else "station"


@dataclass(frozen=True)
class StationSection:
    """The box itself."""

    id: str = field(
        default_factory=_default_station_id,
        metadata={
            "doc": "station id used in records and MQTT topics (default: host name)",
            "pattern": STATION_ID_PATTERN,
            "rule": STATION_ID_RULE,
        },
    )
    hardware: Hardware = opt("sim", "'pi' for real devices, 'sim' for simulated ones")
    data_dir: str = opt("/var/lib/station", "where the outbox, keys and audit log live")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = opt("INFO", "log level")
    audit_log: str = opt(
        "", "audit log file ('' = <data_dir>/audit.log; the service uses /var/log/station)"
    )
    unsealed_dir: str = opt(
        "/run/station/keys", "where sealed keys are unsealed at start (RAM; station keys seal)"
    )
    otp_command: str = opt(
        "rpi-otp-private-key", "prints the board's OTP private key (hex) that seals the keys"
    )


@dataclass(frozen=True)
class CameraSection:
    """QR camera (picamera2 on the Pi: the low-res YUV stream's Y plane)."""

    backend: Backend = opt("auto", "'auto' follows station.hardware; or 'pi' / 'sim'")
    width: int = opt(640, "frame width decoded for QR", lo=160, hi=4056)
    height: int = opt(480, "frame height decoded for QR", lo=120, hi=3040)
    fps: float = opt(10.0, "frames per second to analyse", lo=0.5, hi=60)
    sim_images: str = opt("", "sim: folder of PNG/JPEG frames to replay ('' = synthetic cards)")
    qr_absent_frames: int = opt(
        5, "a QR must be missing this many frames before it counts again", lo=1, hi=1000
    )
    qr_absent_s: float = opt(
        1.0, "... and for this many seconds (same card = one read)", lo=0, hi=600
    )
    mrz: bool = opt(True, "read the MRZ of frames without a 2021 QR (2024 cards, card backs)")
    mrz_fps: float = opt(4.0, "most frames per second analysed for the MRZ", lo=0.2, hi=30)
    mrz_wait_s: float = opt(
        2.5, "after a QR that opens no chip by itself, wait this long for the MRZ", lo=0, hi=30
    )


@dataclass(frozen=True)
class DisplaySection:
    """128x64 OLED via luma.oled."""

    backend: Backend = opt("auto", "'auto' follows station.hardware; or 'pi' / 'sim'")
    driver: Literal["ssd1306", "sh1106"] = opt("ssd1306", "OLED controller")
    interface: Literal["i2c", "spi"] = opt("i2c", "bus the OLED is on")
    i2c_port: int = opt(1, "I2C bus number", lo=0, hi=20)
    i2c_address: int = opt(0x3C, "I2C address (0x3C or 0x3D)", lo=0x03, hi=0x77)
    spi_port: int = opt(0, "SPI port", lo=0, hi=6)
    spi_device: int = opt(0, "SPI chip select", lo=0, hi=3)
    spi_dc_pin: int = opt(24, "SPI data/command GPIO (BCM)", lo=0, hi=27)
    spi_reset_pin: int = opt(25, "SPI reset GPIO (BCM)", lo=0, hi=27)
    rotate: int = opt(0, "rotation in quarter turns", lo=0, hi=3)
    contrast: int = opt(255, "panel contrast", lo=0, hi=255)
    max_fps: float = opt(15.0, "most frames per second written to the bus", lo=1, hi=60)
    png_dir: str = opt("", "sim: also save every new screen as PNG here ('' = off)")
    terminal: bool = opt(False, "sim: draw every new screen in the terminal")


@dataclass(frozen=True)
class GpioSection:
    """Buzzer, LEDs and button (RPi.GPIO API, BCM numbering; rpi-lgpio on a Pi 5)."""

    backend: Backend = opt("auto", "'auto' follows station.hardware; or 'pi' / 'sim'")
    buzzer_pin: int = opt(12, "buzzer GPIO", lo=0, hi=27)
    led_green_pin: int = opt(5, "green LED GPIO", lo=0, hi=27)
    led_red_pin: int = opt(6, "red LED GPIO", lo=0, hi=27)
    led_amber_pin: int = opt(13, "amber LED GPIO", lo=0, hi=27)
    button_pin: int = opt(26, "button GPIO", lo=0, hi=27)
    button_active_low: bool = opt(True, "button pulls the pin to ground when pressed")
    debounce_ms: int = opt(30, "button debounce", lo=0, hi=500)
    long_press_ms: int = opt(1200, "hold time that counts as a long press", lo=300, hi=10000)
    buzzer_enabled: bool = opt(True, "sound on/off")
    buzzer_passive: bool = opt(
        True, "passive buzzer: PWM tones; false = active buzzer switched on/off"
    )


@dataclass(frozen=True)
class ReaderSection:
    """NFC reader (PC/SC via pcscd)."""

    backend: Backend = opt("auto", "'auto' follows station.hardware; 'pi' = PC/SC; 'sim'")
    name: str = opt("", "PC/SC reader name (substring); '' = first reader")
    enabled: bool = opt(True, "read the chip after the QR code")
    access: Literal["auto", "pace", "bac"] = opt(
        "auto",
        "'auto': PACE when the card offers it, BAC if PACE is not offered or fails; "
        "or only 'pace' / 'bac'",
    )
    pace_password: Literal["can", "mrz"] = opt(
        "can", "PACE password: the CAN (last 6 digits of the ID) or the QR-derived MRZ key"
    )
    timeout_s: float = opt(20.0, "longest a whole chip read may take", lo=1, hi=300)


@dataclass(frozen=True)
class StoreSection:
    """The durable local outbox."""

    path: str = opt("", "outbox file ('' = <data_dir>/outbox.db)")
    max_records: int = opt(10000, "refuse new reads when this many wait", lo=10, hi=1_000_000)
    min_free_mb: int = opt(50, "refuse new reads below this free disk space", lo=1, hi=100_000)
    alert_age_h: float = opt(
        24.0, "alert (idle screen, ward) when a record has waited this long", lo=0.1, hi=8760
    )


@dataclass(frozen=True)
class MqttSection:
    """Sync to the ward broker."""

    enabled: bool = opt(True, "publish records over MQTT")
    host: str = opt("localhost", "broker host")
    port: int = opt(8883, "broker port", lo=1, hi=65535)
    tls: bool = opt(True, "use TLS")
    ca_file: str = opt("", "CA certificate to pin ('' = system CAs)")
    cert_file: str = opt("", "client certificate (PEM)")
    key_file: str = opt("", "client private key (PEM)")
    username: str = opt("", "user name ('' = none)")
    password_file: str = opt("", "file holding the password")
    topic_prefix: str = opt(
        "cccd",
        "records go to <prefix>/<station id>/records",
        pattern=TOPIC_PREFIX_PATTERN,
        rule="levels of letters, digits, '.', '_' or '-' separated by '/' (no + # or spaces)",
    )
    keepalive_s: int = opt(60, "MQTT keepalive", lo=5, hi=3600)
    inflight: int = opt(400, "records sent but not yet acknowledged by the ward", lo=1, hi=5000)
    batch_records: int = opt(50, "most records in one MQTT message", lo=1, hi=500)
    ack_timeout_s: float = opt(30.0, "resend a record the ward has not acked after", lo=1, hi=86400)
    heartbeat_s: float = opt(60.0, "heartbeat period (queue depth, uptime)", lo=1, hi=86400)
    reconnect_max_s: float = opt(60.0, "longest wait between reconnects", lo=1, hi=3600)
    session_expiry_s: int = opt(604800, "broker keeps the session this long", lo=0, hi=4294967295)
    ward_key: str = opt(
        "",
        "the ward's ack key (base64, printed by `station ward enroll`); records are deleted"
        " only on acks it signed ('' = never)",
    )


@dataclass(frozen=True)
class PrivacySection:
    """What personal data leaves the chip (Decree 13/2023: minimise)."""

    store_sensitive: bool = opt(False, "store/send ethnicity and religion")
    store_face: bool = opt(False, "store/send the face image")
    show_face: bool = opt(False, "show a face thumbnail on the OLED")


@dataclass(frozen=True)
class UiSection:
    """What the officer sees."""

    result_timeout_s: float = opt(20.0, "clear the result after this long", lo=2, hi=600)
    portal_url: str = opt(
        PORTAL_URL,
        "idle screen: QR code to the citizens' own lookup of their data "
        "('' = none; at most 53 bytes, or it is not shown; not while an alert for IT shows)",
    )


@dataclass(frozen=True)
class TrustSection:
    """Trust anchors for Passive Authentication."""

    dir: str = opt("", "trust store folder ('' = <data_dir>/trust)")


@dataclass(frozen=True)
class Config:
    station: StationSection = field(default_factory=StationSection)
    camera: CameraSection = field(default_factory=CameraSection)
    display: DisplaySection = field(default_factory=DisplaySection)
    gpio: GpioSection = field(default_factory=GpioSection)
    reader: ReaderSection = field(default_factory=ReaderSection)
    store: StoreSection = field(default_factory=StoreSection)
    mqtt: MqttSection = field(default_factory=MqttSection)
    privacy: PrivacySection = field(default_factory=PrivacySection)
    ui: UiSection = field(default_factory=UiSection)
    trust: TrustSection = field(default_factory=TrustSection)

    def backend(self, device: Literal["camera", "display", "gpio", "reader"]) -> Hardware:
        """The resolved backend ('pi' or 'sim') of one device."""
        section = getattr(self, device)
        chosen: str = section.backend
        return self.station.hardware if chosen == "auto" else chosen  # type: ignore[return-value]

    @property
    def data_dir(self) -> Path:
        return Path(self.station.data_dir)

    @property
    def store_path(self) -> Path:
        return Path(self.store.path) if self.store.path else self.data_dir / "outbox.db"

    @property
    def audit_path(self) -> Path:
        return (
            Path(self.station.audit_log) if self.station.audit_log else self.data_dir / "audit.log"
        )

    @property
    def sealed_dir(self) -> Path:
        """Sealed keys (``<name>.sealed``), when ``station keys seal`` was run."""
        return self.data_dir / "sealed"

    def key_sealed(self, name: str) -> bool:
        return (self.sealed_dir / f"{name}.sealed").exists()

    def key_file(self, name: str) -> Path:
        """Where the secret key ``name`` is read: ``<data_dir>/<name>``, or its unsealed
        copy in ``station.unsealed_dir`` when it is sealed (``<data_dir>/sealed``)."""
        if self.key_sealed(name):
            return Path(self.station.unsealed_dir) / name
        return self.data_dir / name

    @property
    def trust_dir(self) -> Path:
        return Path(self.trust.dir) if self.trust.dir else self.data_dir / "trust"


T = TypeVar("T")


def _check_value(where: str, value: Any, tp: Any, meta: typing.Mapping[str, Any]) -> Any:
    origin = typing.get_origin(tp)
    if origin is Literal:
        choices = typing.get_args(tp)
        folded = {c.casefold(): c for c in choices if isinstance(c, str)}
        if isinstance(value, str) and value.casefold() in folded:
            return folded[value.casefold()]
        raise ConfigError(f"{where}: must be one of {', '.join(map(repr, choices))}, got {value!r}")
    if tp is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{where}: must be true or false, got {value!r}")
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{where}: must be a whole number, got {value!r}")
    elif tp is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(f"{where}: must be a number, got {value!r}")
        value = float(value)
    elif tp is str:
        if not isinstance(value, str):
            raise ConfigError(f"{where}: must be a string, got {value!r}")
        pattern = meta.get("pattern")
        if pattern is not None and re.fullmatch(pattern, value) is None:
            raise ConfigError(f"{where}: must be {meta.get('rule') or pattern}, got {value!r}")
        return value
    else:  # pragma: no cover - a programming error in this module
        raise TypeError(f"unsupported option type {tp!r} for {where}")
    lo, hi = meta.get("lo"), meta.get("hi")
    if (lo is not None and value < lo) or (hi is not None and value > hi):
        raise ConfigError(f"{where}: must be between {lo:g} and {hi:g}, got {value!r}")
    return value


def _build_section(name: str, cls: type[T], raw: Any, problems: list[str]) -> T | None:
    """The section, or None when it has problems (appended to ``problems``)."""
    if not isinstance(raw, dict):
        problems.append(f"{name}: must be a table ([{name}])")
        return None
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    before = len(problems)
    problems += [f"{name}.{key}: unknown option (typo?)" for key in raw if key not in fields]
    values = {}
    for key, value in raw.items():
        if key in fields:
            try:
                values[key] = _check_value(f"{name}.{key}", value, hints[key], fields[key].metadata)
            except ConfigError as exc:
                problems += exc.problems
    return cls(**values) if len(problems) == before else None


def from_mapping(raw: typing.Mapping[str, Any]) -> Config:
    """Validate a parsed TOML document into a Config; ConfigError lists every problem."""
    sections = {f.name: f for f in dataclasses.fields(Config)}
    problems = [f"{name}: unknown section (typo?)" for name in raw if name not in sections]
    hints = typing.get_type_hints(Config)
    built = {}
    for name, value in raw.items():
        if name in sections:
            section = _build_section(name, hints[name], value, problems)
            if section is not None:
                built[name] = section
    if problems:
        raise ConfigError(problems)
    return Config(**built)


def load(path: str | Path) -> Config:
    """Load and validate a config file; a missing file is an error, not defaults."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise ConfigMissing(
            f"no config file {p} (write one with: station config --defaults)"
        ) from exc
    except IsADirectoryError as exc:
        raise ConfigMissing(f"config file {p} is a folder, not a file") from exc
    except OSError as exc:
        raise ConfigMissing(f"cannot read config file {p}: {exc.strerror or exc}") from exc
    except UnicodeDecodeError as exc:
        raise ConfigError(f"config file {p} is not UTF-8 text") from exc
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {p} is not valid TOML: {exc}") from exc
    try:
        return from_mapping(raw)
    except ConfigError as exc:
        raise ConfigError([f"{p}: {problem}" for problem in exc.problems]) from None


class ConfigMissing(ConfigError):
    """The config file does not exist or cannot be read at all."""


def bounded_number(
    kind: type[int] | type[float], lo: float, hi: float | None = None
) -> typing.Callable[[str], Any]:
    """A command-line ``type`` (argparse): a number of ``kind`` in [lo, hi], refused with the
    same words as a config option out of bounds (argparse names the option)."""
    import argparse

    def parse(text: str) -> Any:
        try:
            value = kind(text)
        except ValueError:
            what = "a whole number" if kind is int else "a number"
            raise argparse.ArgumentTypeError(f"must be {what}, got {text!r}") from None
        if value < lo or (hi is not None and value > hi):
            limits = f"at least {lo:g}" if hi is None else f"between {lo:g} and {hi:g}"
            raise argparse.ArgumentTypeError(f"must be {limits}, got {text!r}")
        return value

    return parse


def replace(cfg: Config, section: str, **changes: Any) -> Config:
    """A copy of ``cfg`` with options of one section changed (for tests and the demo)."""
    return dataclasses.replace(
        cfg, **{section: dataclasses.replace(getattr(cfg, section), **changes)}
    )


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'


def render_defaults() -> str:
    """The default config as a commented TOML file (every option, its meaning, its bounds)."""
    lines = ["# CCCD reader station configuration. Every option is shown with its default.", ""]
    for section in dataclasses.fields(Config):
        cls = typing.get_type_hints(Config)[section.name]
        hints = typing.get_type_hints(cls)
        lines.append(f"# {(cls.__doc__ or '').strip()}")
        lines.append(f"[{section.name}]")
        default = cls()
        for f in dataclasses.fields(cls):
            doc = f.metadata.get("doc", "")
            lo, hi = f.metadata.get("lo"), f.metadata.get("hi")
            bounds = f" [{lo:g}..{hi:g}]" if lo is not None and hi is not None else ""
            tp = hints[f.name]
            if typing.get_origin(tp) is Literal:
                bounds = " [" + " | ".join(map(str, typing.get_args(tp))) + "]"
            lines.append(f"# {doc}{bounds}")
            value = getattr(default, f.name)
            if section.name == "station" and f.name == "id":
                lines.append('# id = "<host name>"')
            else:
                lines.append(f"{f.name} = {_toml_value(value)}")
        lines.append("")
    return "\n".join(lines)


__all__ = [
    "DEFAULT_PATH",
    "LOG_KEY",
    "OUTBOX_KEY",
    "SIGNING_KEY",
    "TLS_KEY",
    "Config",
    "ConfigError",
    "ConfigMissing",
    "bounded_number",
    "from_mapping",
    "load",
    "render_defaults",
    "replace",
    "valid_station_id",
]
