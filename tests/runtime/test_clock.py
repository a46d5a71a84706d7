"""Clock synchronisation: timedatectl first, the kernel's adjtimex status otherwise."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from station.runtime.clock import (
    STA_UNSYNC,
    CachedClockState,
    ClockState,
    adjtimex_synced,
    clock_state,
    parse_timedatectl,
    synced_from_timex,
    timedatectl_synced,
)

NOW = datetime(2026, 5, 1, 8, 0, tzinfo=UTC)


def test_timex_status_bits() -> None:
    assert synced_from_timex(0x2001, 250_000)  # PLL | NANO, 0.25 s max error
    assert not synced_from_timex(STA_UNSYNC, 250_000)
    assert not synced_from_timex(0, 16_000_000)  # "maximum error unknown"


def test_real_adjtimex_answers_on_linux() -> None:
    # this container's kernel clock is whatever the host's is: only the type is certain
    assert isinstance(adjtimex_synced(), bool)


def test_timedatectl_output_parsing() -> None:
    assert parse_timedatectl("yes\n") is True
    assert parse_timedatectl("NTPSynchronized=no\n") is False
    assert parse_timedatectl("") is None


def test_timedatectl_runner_failure_is_unknown() -> None:
    calls: list[Sequence[str]] = []

    def fails(argv: Sequence[str]) -> str | None:
        calls.append(argv)
        return None

    assert timedatectl_synced(fails) is None
    assert list(calls[0]) == ["timedatectl", "show", "-p", "NTPSynchronized", "--value"]
    assert timedatectl_synced(lambda _argv: "yes\n") is True


def test_timedatectl_preferred_then_kernel_then_unknown() -> None:
    s = clock_state(NOW, timedatectl=lambda: True, adjtimex=lambda: False)
    assert (s.synchronized, s.source, s.trustworthy) == (True, "timedatectl", True)
    s = clock_state(NOW, timedatectl=lambda: None, adjtimex=lambda: False)
    assert (s.synchronized, s.source, s.trustworthy) == (False, "adjtimex", False)
    s = clock_state(NOW, timedatectl=lambda: None, adjtimex=lambda: None)
    assert (s.synchronized, s.source) == (None, "none")


def test_clock_not_set_after_cold_boot() -> None:
    s = clock_state(datetime(1970, 1, 1, tzinfo=UTC), timedatectl=lambda: True)
    assert not s.clock_set and not s.trustworthy
    assert clock_state(datetime(2024, 1, 1, tzinfo=UTC), timedatectl=lambda: True).clock_set


def test_cached_state_reprobes_after_max_age() -> None:
    probes: list[int] = []
    t = [0.0]

    def probe() -> ClockState:
        probes.append(1)
        return ClockState(len(probes) > 1, "adjtimex", True, NOW)

    cache = CachedClockState(60.0, probe=probe, monotonic=lambda: t[0])
    assert cache.get().synchronized is False
    t[0] = 59.0
    assert cache.get().synchronized is False and len(probes) == 1
    t[0] = 60.0
    assert cache.get().synchronized is True and len(probes) == 2
