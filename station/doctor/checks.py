"""`station doctor` checks of the software side: config, clock, disk, outbox, station key,
ward key, trust anchors, broker, the MRZ process. Device checks are in
:mod:`station.doctor.hardware`.

Each is ``check_x(cfg, ...) -> CheckResult`` with its file, clock or network access
injectable. Nothing is written: the outbox is only read, and the broker check connects
with its own client id and a clean session.
"""

from __future__ import annotations

import logging
import os
import shutil
import stat
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from station import config as config_mod
from station.config import OUTBOX_KEY, Config
from station.doctor.results import CheckResult, fail, ok, warn
from station.runtime.clock import ClockState, clock_state

if TYPE_CHECKING:
    from station.sync.outbox import OutboxSummary

log = logging.getLogger(__name__)

Status = Literal["OK", "WARN", "FAIL"]
EXPIRY_WARNING = timedelta(days=30)


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
    from station.sync.outbox import is_full, read_summary

    store, key_file = cfg.store_path, cfg.key_file(OUTBOX_KEY)
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
    if is_full(pending, cap):
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


# --- the MRZ process ----------------------------------------------------------------

MRZ_FIX = (
    "reinstall the station (scripts/install.sh, or ./setup.sh deps in a checkout): the MRZ "
    "process is started with the same Python and imports numpy and station.mrz; its error (if "
    "any) is above, the running service's in `journalctl -u station`. Meanwhile cards are read "
    "from their QR (the panel says the MRZ cannot be read)"
)


def check_mrz(cfg: Config) -> CheckResult:
    """The MRZ process starts as the station starts it and analyses a frame (a blank one:
    only that it answers is checked; the reader's accuracy is ``bench/mrz.py``'s)."""
    if not cfg.camera.mrz:
        return ok("mrz", "off (camera.mrz = false): no MRZ process is started")
    import time

    import numpy as np

    from station.runtime.vision import MrzProcess, MrzProcessError

    process = MrzProcess()
    t0 = time.monotonic()
    try:
        process.await_ready()
        started = time.monotonic() - t0
        process.read(np.zeros((cfg.camera.height, cfg.camera.width), np.uint8))
    except MrzProcessError as exc:
        return fail("mrz", f"the MRZ process does not serve: {exc}", MRZ_FIX)
    except RuntimeError as exc:  # the reader raised inside the process
        first = str(exc).strip().splitlines()[-1]
        return fail("mrz", f"the MRZ process's reader failed: {first}", MRZ_FIX)
    finally:
        process.stop()
    return ok("mrz", f"the MRZ process starts ({started:.1f} s) and analyses a frame")


# --- trust anchors ------------------------------------------------------------------


def check_trust(cfg: Config, now: datetime | None = None) -> CheckResult:
    from station.runtime.trust import station_trust

    now = now or datetime.now(UTC)
    store = station_trust(cfg)
    install = f"station trust import --trust-dir {cfg.trust_dir} MASTERLIST_OR_CSCA_FILE"
    if not store.anchors and store.pinned:
        return warn(
            "trust anchors",
            f"no CSCA; {len(store.pinned)} pinned document signer(s) from the ward's bundle: "
            "only their cards can be verified",
            "install the CSCA at the ward (console page Chứng thư) when it can be had",
        )
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
    loose = _writable_by_others(cfg.trust_dir) if cfg.station.hardware == "pi" else None
    if loose is not None:
        return warn(
            "trust anchors",
            f"{summary}; but {loose}: whoever runs as the station could change what it trusts",
            f"sudo chown -R root:root {cfg.trust_dir} && sudo chmod -R go-w {cfg.trust_dir}",
        )
    if expired or soon or store.problems:
        detail = f"{expired} expired, {len(soon)} expire within 30 days, "
        detail += f"{len(store.problems)} unreadable"
        return warn("trust anchors", f"{summary}; {detail}", install + " (a current master list)")
    return ok("trust anchors", summary)


def _writable_by_others(root: Path) -> str | None:
    """What in the trust store is not root's alone to change (None: all of it is)."""
    for path in (root, root / "certs", root / "crls"):
        try:
            st = path.stat()
        except FileNotFoundError:
            continue
        if st.st_uid != 0:
            return f"{path} is owned by uid {st.st_uid}, not root"
        if st.st_mode & 0o022:
            return f"{path} is writable by its group or others (mode {stat.S_IMODE(st.st_mode):o})"
    return None


# --- broker -------------------------------------------------------------------------


def check_broker(cfg: Config, timeout: float = 5.0) -> CheckResult:
    from station.sync.errors import SyncError
    from station.sync.link import LinkSettings, probe

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
    clash = _identity_clash(cfg)
    if clash is not None:
        return clash
    problem = probe(settings, ctx, timeout)
    if problem is not None:
        return fail("broker", f"{where}: {problem.detail}", _PROBE_FIXES[problem.kind])
    auth = "client certificate" if m.cert_file else ("password" if m.username else "anonymous")
    if not settings.tls:
        return warn(
            "broker",
            f"connected to {where} WITHOUT TLS ({auth})",
            "set mqtt.tls = true: records must not travel in clear",
        )
    return ok("broker", f"connected to {where} with TLS ({auth})")


def _identity_clash(cfg: Config) -> CheckResult | None:
    """FAIL when the broker would take this station for another one: the deploy ACL lets a
    client write only under its own name (certificate CN or user name), so records sent
    under ``station.id`` would be refused (the broker's PUBACK says Not authorized)."""
    from station.sync.link import client_identity

    identity = client_identity(cfg.mqtt.cert_file, cfg.mqtt.username)
    if not identity or identity == cfg.station.id:
        return None
    source = "client certificate's CN" if cfg.mqtt.cert_file else "mqtt.username"
    return fail(
        "broker",
        f"station.id is {cfg.station.id!r} but the {source} is {identity!r}: the broker's ACL "
        f"refuses every record this station sends under {cfg.station.id!r}",
        f"set station.id = {identity!r} (records made meanwhile name {cfg.station.id!r}: "
        "they are refused by the ward, see station outbox status), or give this station a "
        f"certificate for {cfg.station.id!r} (make-certs.sh) and enrol it",
    )


def check_ward_key(cfg: Config) -> CheckResult:
    """The ward's ack key is pinned: without it no ack is believed, nothing is deleted."""
    from station.sync.errors import SyncError
    from station.sync.publisher import ward_key_of

    if not cfg.mqtt.enabled:
        return ok("ward key", "sync disabled (mqtt.enabled = false)")
    fix = (
        "on the ward server: station ward enroll STATION_ID PUBKEY prints the line "
        'ward_key = "..."; put it in [mqtt] of /etc/station/station.toml'
    )
    try:
        key = ward_key_of(cfg)
    except SyncError as exc:
        return fail("ward key", str(exc), fix)
    if key is None:
        return fail(
            "ward key",
            "mqtt.ward_key is not set: no ack can be verified, so no record is ever "
            "deleted from the outbox (they wait, safe, until it is set)",
            fix,
        )
    return ok("ward key", f"acks must be signed by the ward key {cfg.mqtt.ward_key.strip()}")


_PROBE_FIXES = {
    "untrusted": "mqtt.ca_file must be the ward broker's CA; check the clock (certificate dates)",
    "tls": "the broker may require a client certificate: set mqtt.cert_file/key_file",
    "unreachable": "check the network, mqtt.host/port, the firewall, and that the broker runs",
    "no-answer": "check mqtt.port is the broker's MQTT port (8883 with TLS, 1883 without)",
    "not-tls": "set mqtt.port to the broker's TLS port (8883); mqtt.tls = false only on a "
    "trusted test network",
    "not-mqtt": "mqtt.port must be the broker's MQTT port: another service (a web server?) "
    "answers there, or it is a TLS port and mqtt.tls is false",
    "refused": "check the credentials (mqtt.username/password_file or the client "
    "certificate) and the broker's ACL for this station",
}


__all__ = [
    "check_broker",
    "check_clock",
    "check_config",
    "check_disk",
    "check_outbox",
    "check_station_key",
    "check_trust",
    "check_ward_key",
]
