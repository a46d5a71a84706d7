"""Until the first connection attempt has an answer the station says "connecting", never
"online": against a silent port, a closed port and a real broker."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from station import config, flow
from station.display.render import layout
from station.display.screens import IdleScreen, SyncLink
from station.sim.broker import Broker
from station.sync.outbox import Outbox
from station.sync.publisher import Publisher, SyncState
from tests.support import wait_for


@pytest.fixture()
def silent_port() -> Iterator[int]:
    """A port that accepts TCP connections and never says a word (no CONNACK)."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(8)
        yield server.getsockname()[1]


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def states(cfg: config.Config, port: int, until: object) -> list[SyncState]:
    seen: list[SyncState] = []
    cfg = config.replace(cfg, "mqtt", host="127.0.0.1", port=port, tls=False)
    with Outbox.from_config(cfg) as outbox:
        publisher = Publisher.from_config(cfg, outbox, on_state=seen.append).start()
        try:
            wait_for(lambda: seen and until(seen[-1]), timeout=15)  # type: ignore[operator]
        finally:
            publisher.stop()
    return seen


@pytest.fixture()
def cfg(tmp_path: Path) -> config.Config:
    data = tmp_path / "data"
    data.mkdir(mode=0o700)
    return config.replace(config.Config(), "station", id="st-1", data_dir=str(data))


def test_silent_broker_is_connecting_not_online(cfg: config.Config, silent_port: int) -> None:
    seen = states(cfg, silent_port, lambda s: s.connecting)
    assert not any(s.connected for s in seen)


def test_closed_port_is_offline_once_the_attempt_failed(cfg: config.Config) -> None:
    seen = states(cfg, _closed_port(), lambda s: not s.connecting)
    assert not seen[-1].connected and not any(s.connected for s in seen)


def test_broker_up_goes_online(cfg: config.Config, tmp_path: Path) -> None:
    with Broker(tmp_path / "broker", clients=("st-1",)) as broker:
        seen = states(cfg, broker.plain_port, lambda s: s.connected)
    first = next(i for i, s in enumerate(seen) if s.connected)
    assert all(s.connecting for s in seen[:first])  # never "offline" before the answer
    assert not seen[first].connecting


def test_the_idle_screen_starts_connecting() -> None:
    state, effects = flow.initial(flow.Settings())
    assert state.health.sync is SyncLink.CONNECTING
    shown = [e.screen for e in effects if isinstance(e, flow.ShowScreen)]
    assert shown == [IdleScreen(SyncLink.CONNECTING, 0)]
    texts = [op.text for op in layout(shown[0]).ops if hasattr(op, "text")]
    assert any(t.startswith("Đang kết nối") for t in texts), texts
    assert not any("Có mạng" in t for t in texts)
