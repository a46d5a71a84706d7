"""Checks for ``station doctor``: is the broker reachable, is the outbox healthy?

Each check returns a :class:`Check` (ok, what was found, how to fix it) and never
raises; messages carry no personal data.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import stat
import time
from dataclasses import dataclass

from station.config import Config
from station.sync.errors import SyncError
from station.sync.link import Link, LinkSettings
from station.sync.outbox import read_summary


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str
    fix: str = ""


def check_broker(cfg: Config, timeout: float = 5.0) -> Check:
    """Connect with the configured TLS files/credentials and wait for CONNACK."""
    m = cfg.mqtt
    where = f"{m.host}:{m.port}{' (TLS)' if m.tls else ''}"
    if not m.enabled:
        return Check("broker", True, "MQTT sync is disabled (mqtt.enabled = false)")
    try:
        settings = LinkSettings.from_config(cfg, client_id=f"doctor-{cfg.station.id}")
        settings = dataclasses.replace(settings, session_expiry_s=0)
        result: list[bool] = []
        link = Link(settings, on_connect=lambda present: result.append(True), on_message=_drop)
    except SyncError as exc:
        return Check("broker", False, str(exc), "check mqtt.ca_file/cert_file/key_file paths")
    deadline = time.monotonic() + timeout
    try:
        while not result and time.monotonic() < deadline:
            link.step(0.05)
    finally:
        link.close()
    if result:
        return Check("broker", True, f"connected to {where}")
    return Check(
        "broker", False, f"no MQTT connection to {where} within {timeout:g}s",
        "check the network, mqtt.host/port, the clock (TLS needs it) and that the "
        "certificate CN equals station.id",
    )  # fmt: skip


def _drop(topic: str, payload: bytes) -> None:
    """Doctor subscribes to nothing."""


def check_outbox(cfg: Config) -> Check:
    """Outbox folder present, key private, no quarantined files, room left."""
    folder = cfg.store_path
    key = cfg.data_dir / "outbox.key"
    problems = []
    if key.exists() and stat.S_IMODE(os.stat(key).st_mode) & 0o077:
        problems.append(f"{key} is readable by others (chmod 600)")
    corrupt = folder.parent / f"{folder.name}.corrupt"
    if corrupt.exists() and any(corrupt.iterdir()):
        problems.append(f"unreadable outbox files were moved to {corrupt}")
    segments = len(list(folder.glob("seg-*.tdb"))) if folder.is_dir() else 0
    probe = folder if folder.exists() else cfg.data_dir
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    free_mb = shutil.disk_usage(probe).free // (1024 * 1024)
    if free_mb < cfg.store.min_free_mb:
        problems.append(f"only {free_mb} MB free (store.min_free_mb = {cfg.store.min_free_mb})")
    detail = f"{folder}: {segments} segment files, {free_mb} MB free"
    fix = "fix the file permissions / free disk space; see the log for details"
    if segments and key.exists():
        try:
            refused = read_summary(folder, key.read_bytes()).refused_total
        except (OSError, SyncError) as exc:
            problems.append(f"cannot read the outbox ({exc})")
        else:
            if refused:
                problems.append(f"{refused} records refused by the ward (kept, not sent)")
                fix = "see `station outbox status`, fix the station id / enrolment, then "
                fix += "stop the station and run `station outbox requeue`"
    if problems:
        return Check("outbox", False, f"{detail}; " + "; ".join(problems), fix)
    return Check("outbox", True, detail)


__all__ = ["Check", "check_broker", "check_outbox"]
