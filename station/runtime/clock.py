"""Is the system clock trustworthy?  A Raspberry Pi has no RTC: until NTP has synchronised,
the clock may be hours or years off, and TLS certificate checks and record timestamps with it.

:func:`clock_state` answers with ``timedatectl show -p NTPSynchronized`` when systemd's
timedated is reachable, else with the kernel's own view (``adjtimex(2)`` via ctypes: the
``STA_UNSYNC`` status bit and the maximum error), so it also works without systemd. It also
flags a clock that was never set at all (year before 2024, the typical 1970 or
last-shutdown time after a cold boot without network).

Records carry ``ClockState.synchronized`` so the ward server can tell which timestamps to
trust; use :class:`CachedClockState` on the read path (one probe a minute, not per read).
"""

from __future__ import annotations

import ctypes
import logging
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Literal

log = logging.getLogger(__name__)

MIN_PLAUSIBLE_YEAR = 2024
STA_UNSYNC = 0x0040
MAXERROR_UNSYNC_US = 16_000_000  # the kernel's NTP_PHASE_LIMIT: "maximum error unknown"

Source = Literal["timedatectl", "adjtimex", "none"]


@dataclass(frozen=True)
class ClockState:
    """``synchronized`` is None when nothing could tell."""

    synchronized: bool | None
    source: Source
    clock_set: bool
    now: datetime

    @property
    def trustworthy(self) -> bool:
        return bool(self.synchronized) and self.clock_set


class _Timeval(ctypes.Structure):
    _fields_ = [("tv_sec", ctypes.c_long), ("tv_usec", ctypes.c_long)]


class _Timex(ctypes.Structure):
    """Linux ``struct timex`` (native long layout; trailing padding as in <sys/timex.h>)."""

    _fields_ = [
        ("modes", ctypes.c_uint),
        ("offset", ctypes.c_long),
        ("freq", ctypes.c_long),
        ("maxerror", ctypes.c_long),
        ("esterror", ctypes.c_long),
        ("status", ctypes.c_int),
        ("constant", ctypes.c_long),
        ("precision", ctypes.c_long),
        ("tolerance", ctypes.c_long),
        ("time", _Timeval),
        ("tick", ctypes.c_long),
        ("ppsfreq", ctypes.c_long),
        ("jitter", ctypes.c_long),
        ("shift", ctypes.c_int),
        ("stabil", ctypes.c_long),
        ("jitcnt", ctypes.c_long),
        ("calcnt", ctypes.c_long),
        ("errcnt", ctypes.c_long),
        ("stbcnt", ctypes.c_long),
        ("tai", ctypes.c_int),
        ("_padding", ctypes.c_int * 16),
    ]


def synced_from_timex(status: int, maxerror_us: int) -> bool:
    """The kernel considers the clock synchronised: STA_UNSYNC clear and a known error."""
    return not (status & STA_UNSYNC) and maxerror_us < MAXERROR_UNSYNC_US


def adjtimex_synced() -> bool | None:
    """Read-only ``adjtimex`` (modes = 0); None off Linux or when the call is refused."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        tx = _Timex()
        tx.modes = 0
        if libc.adjtimex(ctypes.byref(tx)) < 0:
            log.debug("adjtimex failed: errno %d", ctypes.get_errno())
            return None
    except (OSError, AttributeError) as exc:
        log.debug("adjtimex unavailable: %s", exc)
        return None
    return synced_from_timex(tx.status, tx.maxerror)


def parse_timedatectl(output: str) -> bool | None:
    """``yes``/``no`` (from ``--value``) or ``NTPSynchronized=yes``; None otherwise."""
    value = output.strip().rpartition("=")[2].strip().lower()
    return {"yes": True, "no": False}.get(value)


def timedatectl_synced(
    run: Callable[[Sequence[str]], str | None] | None = None,
) -> bool | None:
    """Ask timedated; None when timedatectl is missing or systemd is not running."""
    run = _run_command if run is None else run
    if run is _run_command and shutil.which("timedatectl") is None:
        return None
    out = run(["timedatectl", "show", "-p", "NTPSynchronized", "--value"])
    return None if out is None else parse_timedatectl(out)


def _child_env() -> dict[str, str]:
    """Our environment without sd_notify variables: systemd's tools would report to our
    notify socket (``ERRNO=...``) as if they were the service."""
    hidden = ("NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID")
    return {k: v for k, v in os.environ.items() if k not in hidden}


def _run_command(argv: Sequence[str]) -> str | None:
    try:
        done = subprocess.run(
            list(argv), capture_output=True, text=True, timeout=3, check=False, env=_child_env()
        )
    except (OSError, subprocess.SubprocessError) as exc:
        log.debug("%s failed: %s", argv[0], exc)
        return None
    return done.stdout if done.returncode == 0 else None


def clock_is_set(now: datetime) -> bool:
    return now.year >= MIN_PLAUSIBLE_YEAR


def clock_state(
    now: datetime | None = None,
    *,
    timedatectl: Callable[[], bool | None] = timedatectl_synced,
    adjtimex: Callable[[], bool | None] = adjtimex_synced,
) -> ClockState:
    """Probe the clock (timedatectl first, the kernel second)."""
    now = datetime.now(UTC) if now is None else now
    synced, source = timedatectl(), "timedatectl"
    if synced is None:
        synced, source = adjtimex(), "adjtimex"
    if synced is None:
        source = "none"
    return ClockState(synced, source, clock_is_set(now), now)  # type: ignore[arg-type]


@dataclass
class CachedClockState:
    """``clock_state()`` re-probed at most every ``max_age_s`` seconds (for the read path)."""

    max_age_s: float = 60.0
    probe: Callable[[], ClockState] = clock_state
    monotonic: Callable[[], float] = time.monotonic
    _state: ClockState | None = field(default=None, init=False)
    _at: float = field(default=0.0, init=False)

    def get(self) -> ClockState:
        now = self.monotonic()
        if self._state is None or now - self._at >= self.max_age_s:
            self._state, self._at = self.probe(), now
        return self._state


__all__ = [
    "MIN_PLAUSIBLE_YEAR",
    "STA_UNSYNC",
    "CachedClockState",
    "ClockState",
    "adjtimex_synced",
    "clock_is_set",
    "clock_state",
    "parse_timedatectl",
    "synced_from_timex",
    "timedatectl_synced",
]
