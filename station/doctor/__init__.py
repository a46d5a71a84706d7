"""`station doctor`: check the box and say what is wrong and how to fix it.

:func:`run_checks` runs the config check and then every check of
:mod:`station.doctor.checks` (software) and :mod:`station.doctor.hardware` (devices); it
never raises: a check that crashes is itself a FAIL. Safe to run while the service runs.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

from station.config import Config
from station.doctor import hardware
from station.doctor.checks import (
    check_broker,
    check_clock,
    check_config,
    check_disk,
    check_mrz,
    check_outbox,
    check_station_key,
    check_trust,
    check_ward_key,
)
from station.doctor.results import Check, CheckResult, fail, failed, render_json, render_text

log = logging.getLogger(__name__)


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
    return [
        ("camera", hardware.check_camera),
        ("mrz", check_mrz),
        ("reader", hardware.check_reader),
        ("display", hardware.check_display),
        ("gpio", hardware.check_gpio),
        ("trust anchors", check_trust),
        ("broker", check_broker),
        ("clock", check_clock),
        ("disk", check_disk),
        ("outbox", check_outbox),
        ("station key", check_station_key),
        ("ward key", check_ward_key),
    ]


def run_checks(
    config_path: Path, checks: Sequence[tuple[str, Check]] | None = None
) -> list[CheckResult]:
    """The config check, then (only with a valid config) every other check in order."""
    first, cfg = check_config(config_path)
    if cfg is None:
        return [first]
    return [first] + [_guarded(n, c, cfg) for n, c in (checks or default_checks())]


__all__ = [
    "CheckResult",
    "check_broker",
    "check_clock",
    "check_config",
    "check_disk",
    "check_mrz",
    "check_outbox",
    "check_station_key",
    "check_trust",
    "check_ward_key",
    "default_checks",
    "failed",
    "hardware",
    "render_json",
    "render_text",
    "run_checks",
]
