"""`station doctor`: check the box and say what is wrong and how to fix it.

Every check is a small function ``check_x(cfg, ...) -> CheckResult`` whose device or
network access is injectable, so tests run each one against simulated parts, working
and broken. :func:`run_checks` never raises: a check that crashes is itself a FAIL.
Device checks (camera, reader, OLED, GPIO) live in :mod:`station.doctor_hw`.

Safe to run while the service runs: nothing is written, the outbox is only read, and
the broker check connects with its own client id and a clean session.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import ssl
import stat
import threading
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from station import config as config_mod
from station.clock import ClockState, clock_state
from station.config import Config

if TYPE_CHECKING:
    from station.sync.outbox import OutboxSummary

log = logging.getLogger(__name__)

Status = Literal["OK", "WARN", "FAIL"]
EXPIRY_WARNING = timedelta(days=30)


@dataclass(frozen=True)
class CheckResult:
    name: str
    status: Status
    summary: str
    fix: str = ""

    def to_json(self) -> dict[str, str]:
        return asdict(self)


def ok(name: str, summary: str) -> CheckResult:
    return CheckResult(name, "OK", summary)


def warn(name: str, summary: str, fix: str) -> CheckResult:
    return CheckResult(name, "WARN", summary, fix)


def fail(name: str, summary: str, fix: str) -> CheckResult:
    return CheckResult(name, "FAIL", summary, fix)


Check = Callable[[Config], CheckResult]


# --- config -------------------------------------------------------------------------


def check_config(path: Path) -> tuple[CheckResult, Config | None]:
    try:
        cfg = config_mod.load(path)
    except config_mod.ConfigError as exc:
        fix = (
            "install the station (sudo ./setup.sh install) or pass --config FILE"
            if not path.exists()
            else f"edit {path}; `station config --defaults` shows every option"
        )
        return fail("config", str(exc), fix), None
    summary = f"{path} is valid (station {cfg.station.id}, hardware {cfg.station.hardware})"
    return ok("config", summary), cfg


# --- clock --------------------------------------------------------------------------


def check_clock(cfg: Config, probe: Callable[[], ClockState] = clock_state) -> CheckResult:
    s = probe()
    ntp = "sudo timedatectl set-ntp true; check the network and that an NTP server is reachable"
    if not s.clock_set:
        return fail("clock", f"the clock is not set (it says {s.now:%Y-%m-%d})", ntp)
    if s.synchronized is None:
        return warn("clock", "cannot tell whether the clock is synchronised", ntp)
    if not s.synchronized:
        why = "records are marked unsynchronised; TLS certificate checks may fail"
        return fail("clock", f"the clock is not synchronised ({s.source}): {why}", ntp)
    return ok("clock", f"synchronised ({s.source}), {s.now:%Y-%m-%d %H:%M} UTC")


# --- disk and outbox ----------------------------------------------------------------


def _existing(path: Path) -> Path:
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def check_disk(cfg: Config, usage: Callable[[Path], Any] = shutil.disk_usage) -> CheckResult:
    where = _existing(cfg.data_dir)
    free_mb = int(usage(where).free // (1024 * 1024))
    need = cfg.store.min_free_mb
    fix = f"free space on the SD card holding {where} (old logs: journalctl --vacuum-size=50M)"
    if free_mb < need:
        return fail(
            "disk", f"{free_mb} MB free, below store.min_free_mb = {need}: reads refused", fix
        )
    if free_mb < 2 * need:
        return warn("disk", f"{free_mb} MB free, close to store.min_free_mb = {need}", fix)
    data_ok = cfg.data_dir.is_dir() and os.access(cfg.data_dir, os.W_OK | os.X_OK)
    if not data_ok:
        return fail(
            "disk",
            f"{cfg.data_dir} is missing or not writable by this user",
            "run as the service user (sudo -u station ...) or re-run sudo ./setup.sh install",
        )
    return ok("disk", f"{free_mb} MB free on {where}")


def _segments(store: Path) -> list[Path]:
    return sorted(store.glob("seg-*.tdb"))


def check_outbox(cfg: Config, now: Callable[[], float] | None = None) -> CheckResult:
    from station.sync.errors import StoreError
    from station.sync.outbox import read_summary

    store, key_file = cfg.store_path, cfg.data_dir / "outbox.key"
    quarantine = store.parent / f"{store.name}.corrupt"
    segments = _segments(store) if store.is_dir() else []
    if not segments:
        return ok("outbox", f"empty ({store})")
    if key_file.exists() and (mode := stat.S_IMODE(key_file.stat().st_mode)) & 0o077:
        return fail(
            "outbox",
            f"the outbox key {key_file} is readable by others (mode {mode:o})",
            f"chmod 600 {key_file}",
        )
    try:
        found = read_summary(store, key_file.read_bytes())
    except (OSError, StoreError) as exc:
        return fail(
            "outbox",
            f"cannot read the outbox: {getattr(exc, 'strerror', None) or exc}",
            f"run as the service user (sudo -u station station doctor); check {key_file}",
        )
    pending, cap = found.pending, cfg.store.max_records
    oldest = found.oldest_stored_at
    age_h = ((now or _wall)() - oldest) / 3600 if oldest is not None else 0.0
    summary = f"{pending} records waiting, oldest {age_h:.1f} h"
    sync_fix = "check the broker check above; records leave once the ward acknowledges them"
    if found.refused_total:
        return fail("outbox", f"{summary}; {_refused_text(found, cfg)}", _REFUSED_FIX)
    if pending >= cap:
        return fail(
            "outbox", f"{summary}: full (store.max_records = {cap}), reads refused", sync_fix
        )
    if quarantine.is_dir() and any(quarantine.iterdir()):
        return warn(
            "outbox",
            f"{summary}; unreadable files were moved to {quarantine}",
            ("the station kept running with a fresh store; keep the files for investigation"),
        )
    if pending > 0.8 * cap or age_h > 24:
        return warn("outbox", summary, sync_fix)
    return ok("outbox", summary)


_REFUSED_FIX = (
    "`station outbox status` shows why. 'station mismatch': the records name the station id "
    "they were read under; set station.id (and the certificate) back to it, restart, requeue. "
    "'forged'/'unsigned': enrol this station's current key on the ward server (station keygen "
    "prints the line). Then: sudo systemctl stop station; sudo -u station station outbox "
    "requeue; sudo systemctl start station"
)


def _refused_text(found: OutboxSummary, cfg: Config) -> str:
    reasons = ", ".join(f"{n} {why}" for why, n in sorted(found.refused.items()))
    text = f"{found.refused_total} records refused by the ward ({reasons}), kept, not sent"
    others = sorted(found.refused_stations - {cfg.station.id})
    if others:
        text += f"; they name station {', '.join(others)} (this is {cfg.station.id})"
    return text


def _wall() -> float:
    return datetime.now(UTC).timestamp()


def check_station_key(cfg: Config) -> CheckResult:
    from station.sync.errors import SyncError
    from station.sync.signing import key_paths, load_or_create_signing_key, public_key_text

    key_file, pub_file = key_paths(cfg)
    if not key_file.exists():
        return warn(
            "station key",
            f"{key_file} missing (made at first start)",
            "sudo -u station /opt/station/.venv/bin/station keygen "
            "--config /etc/station/station.toml, then enroll it on the ward server",
        )
    mode = stat.S_IMODE(key_file.stat().st_mode)
    if mode & 0o077:
        return fail(
            "station key",
            f"{key_file} is readable by others (mode {mode:o})",
            f"chmod 600 {key_file}",
        )
    try:
        if not pub_file.exists():
            return warn("station key", f"{pub_file} missing", "run station keygen to rewrite it")
        key = load_or_create_signing_key(key_file, pub_file)
    except (SyncError, OSError) as exc:
        return fail("station key", str(exc), "run as the service user (sudo -u station ...)")
    return ok("station key", f"Ed25519, public key {public_key_text(key.public_key())}")


# --- trust anchors ------------------------------------------------------------------


def check_trust(cfg: Config, now: datetime | None = None) -> CheckResult:
    from station.verify.trust import TrustStore

    now = now or datetime.now(UTC)
    store = TrustStore.load(cfg.trust_dir)
    install = f"station trust import --trust-dir {cfg.trust_dir} MASTERLIST_OR_CSCA_FILE"
    if not store.anchors:
        problems = f" ({len(store.problems)} unreadable files)" if store.problems else ""
        return fail(
            "trust anchors",
            f"no CSCA certificates in {cfg.trust_dir}{problems}: "
            "chips cannot be verified (Passive Authentication)",
            install,
        )
    valid = [a for a in store.anchors if a.not_before <= now <= a.not_after]
    expired = len(store.anchors) - len(valid)
    if not valid:
        return fail(
            "trust anchors",
            f"all {expired} CSCA certificates have expired or are not valid yet",
            install + " (a current master list)",
        )
    soon = [a for a in valid if a.not_after - now < EXPIRY_WARNING]
    summary = f"{len(valid)} valid CSCA certificates, {len(store.crls)} CRLs"
    if expired or soon or store.problems:
        detail = f"{expired} expired, {len(soon)} expire within 30 days, "
        detail += f"{len(store.problems)} unreadable"
        return warn("trust anchors", f"{summary}; {detail}", install + " (a current master list)")
    return ok("trust anchors", summary)


# --- broker -------------------------------------------------------------------------


def check_broker(cfg: Config, timeout: float = 5.0) -> CheckResult:
    from station.sync.errors import SyncError
    from station.sync.link import LinkSettings

    m = cfg.mqtt
    if not m.enabled:
        return ok("broker", "sync disabled (mqtt.enabled = false)")
    where = f"{m.host}:{m.port}"
    try:
        settings = LinkSettings.from_config(cfg, client_id=f"{cfg.station.id}-doctor-{os.getpid()}")
        ctx = settings.ssl_context() if settings.tls else None
    except SyncError as exc:
        return fail(
            "broker",
            str(exc),
            "check [mqtt] ca_file, cert_file, key_file, "
            "password_file: paths and that user station can read them",
        )
    outcome = _mqtt_connect(settings, ctx, timeout)
    if outcome is not None:
        return fail("broker", f"{where}: {outcome[0]}", outcome[1])
    auth = "client certificate" if m.cert_file else ("password" if m.username else "anonymous")
    if not settings.tls:
        return warn(
            "broker",
            f"connected to {where} WITHOUT TLS ({auth})",
            "set mqtt.tls = true: records must not travel in clear",
        )
    return ok("broker", f"connected to {where} with TLS ({auth})")


def _mqtt_connect(
    settings: Any, ctx: ssl.SSLContext | None, timeout: float
) -> tuple[str, str] | None:
    """One clean-session MQTT 5 connect; None on success, else (problem, fix)."""
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    done = threading.Event()
    answer: list[Any] = []
    client = mqtt.Client(
        CallbackAPIVersion.VERSION2, client_id=settings.client_id, protocol=mqtt.MQTTv5
    )
    client.connect_timeout = timeout
    if ctx is not None:
        client.tls_set_context(ctx)
    if settings.username:
        client.username_pw_set(settings.username, settings.password or None)

    def on_connect(_c: Any, _u: Any, _f: Any, rc: Any, _p: Any) -> None:
        answer.append(rc)
        done.set()

    def on_disconnect(_c: Any, _u: Any, _f: Any, rc: Any, _p: Any) -> None:
        answer.append(rc)
        done.set()

    client.on_connect, client.on_disconnect = on_connect, on_disconnect
    try:
        client.connect(settings.host, settings.port, keepalive=30, clean_start=True)
    except ssl.SSLCertVerificationError as exc:
        return (
            f"server certificate not trusted ({exc.verify_message})",
            "mqtt.ca_file must be the ward broker's CA; check the clock (certificate dates)",
        )
    except ssl.SSLError as exc:
        return (
            f"TLS handshake failed ({exc.reason})",
            "the broker may require a client certificate: set mqtt.cert_file/key_file",
        )
    except OSError as exc:
        return (
            f"cannot reach the broker ({exc.strerror or exc})",
            "check the network, mqtt.host/port, the firewall, and that the broker runs",
        )
    client.loop_start()
    try:
        if not done.wait(timeout) or not answer:
            return ("no answer to CONNECT", "check mqtt.port is the broker's MQTT port")
        rc = answer[0]
        if rc.is_failure:
            return (
                f"broker refused the connection: {rc}",
                "check the credentials (mqtt.username/password_file or the client "
                "certificate) and the broker's ACL for this station",
            )
        client.disconnect()
    finally:
        client.loop_stop()
    return None


# --- running and reporting ----------------------------------------------------------


def _guarded(name: str, check: Check, cfg: Config) -> CheckResult:
    try:
        return check(cfg)
    except Exception as exc:  # a broken check must not hide the others
        log.debug("check %s crashed", name, exc_info=True)
        return fail(
            name,
            f"the check itself failed: {type(exc).__name__}: {exc}",
            "report this with `station doctor --json` output",
        )


def default_checks() -> list[tuple[str, Check]]:
    from station import doctor_hw

    return [
        ("camera", doctor_hw.check_camera),
        ("reader", doctor_hw.check_reader),
        ("display", doctor_hw.check_display),
        ("gpio", doctor_hw.check_gpio),
        ("trust anchors", check_trust),
        ("broker", check_broker),
        ("clock", check_clock),
        ("disk", check_disk),
        ("outbox", check_outbox),
        ("station key", check_station_key),
    ]


def run_checks(
    config_path: Path, checks: Sequence[tuple[str, Check]] | None = None
) -> list[CheckResult]:
    """The config check, then (only with a valid config) every other check in order."""
    first, cfg = check_config(config_path)
    if cfg is None:
        return [first]
    return [first] + [_guarded(n, c, cfg) for n, c in (checks or default_checks())]


def failed(results: Sequence[CheckResult]) -> bool:
    return any(r.status == "FAIL" for r in results)


def render_text(results: Sequence[CheckResult]) -> str:
    width = max(len(r.name) for r in results)
    lines = []
    for r in results:
        lines.append(f"{r.status:<4}  {r.name:<{width}}  {r.summary}")
        if r.fix and r.status != "OK":
            lines.append(f"{'':<4}  {'':<{width}}  fix: {r.fix}")
    if len(results) == 1 and results[0].status == "FAIL":
        lines.append("(the other checks need a valid config)")
    return "\n".join(lines) + "\n"


def render_json(results: Sequence[CheckResult]) -> str:
    body = {"ok": not failed(results), "checks": [r.to_json() for r in results]}
    return json.dumps(body, ensure_ascii=False, indent=2) + "\n"


__all__ = [
    "CheckResult",
    "check_broker",
    "check_clock",
    "check_config",
    "check_disk",
    "check_outbox",
    "check_station_key",
    "check_trust",
    "default_checks",
    "failed",
    "render_json",
    "render_text",
    "run_checks",
]
