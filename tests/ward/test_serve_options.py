"""`station ward serve` options reach the receiver: the reconnect cap is low by default."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import pytest

from station.cli import main
from station.sync.link import Backoff


class FakeReceiver:
    seen: ClassVar[list[Any]] = []

    def __init__(self, settings: Any, db: Any, **kw: Any) -> None:
        FakeReceiver.seen.append(settings)

    def run(self) -> None:
        return None

    def stop(self, status: int = 0) -> None:
        return None


@pytest.fixture()
def fake_receiver(monkeypatch: pytest.MonkeyPatch) -> type[FakeReceiver]:
    import station.ward.receiver

    FakeReceiver.seen = []
    monkeypatch.setattr(station.ward.receiver, "WardReceiver", FakeReceiver)
    return FakeReceiver


def test_reconnect_cap_defaults_to_5_s_and_can_be_set(
    tmp_path: Path, fake_receiver: type[FakeReceiver]
) -> None:
    db = str(tmp_path / "ward.sqlite")
    assert main(["ward", "serve", "--broker", "mqtt://127.0.0.1:1883", "--db", db]) == 0
    assert main(["ward", "serve", "--broker", "mqtt://127.0.0.1:1883", "--db", db,
                 "--reconnect-max", "2.5"]) == 0  # fmt: skip
    first, second = fake_receiver.seen
    assert first.reconnect_max_s == 5.0 and second.reconnect_max_s == 2.5
    backoff = Backoff(first.reconnect_min_s, first.reconnect_max_s)
    assert max(backoff.next_delay() for _ in range(50)) <= 5.0
