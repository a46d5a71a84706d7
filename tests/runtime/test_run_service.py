"""`station run` (what the unit starts) under a fake systemd: notify socket, watchdog,
SIGTERM -> STOPPING, MQTT status offline, the OLED showing that the station stopped."""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image, ImageChops

from station import config
from station.display.render import render
from station.display.screens import ErrorKind, ErrorScreen
from station.sim.broker import Broker
from tests.runtime.support import NotifySocket, write_config

STATION = "t1"


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Broker]:
    with Broker(tmp_path_factory.mktemp("broker"), clients=(STATION, "ward")) as b:
        yield b


@pytest.fixture
def notify_socket() -> Iterator[NotifySocket]:
    d = tempfile.mkdtemp(prefix="sdr", dir="/tmp")
    ns = NotifySocket(os.path.join(d, "notify"))
    yield ns
    ns.sock.close()
    os.unlink(ns.path)
    os.rmdir(d)


def status_messages(broker: Broker) -> tuple[Any, queue.Queue[dict[str, Any]]]:
    """A ward-side subscriber to the station's retained status topic."""
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    got: queue.Queue[dict[str, Any]] = queue.Queue()
    link = broker.link_settings("ward", client_id="ward-status-watch")
    client = mqtt.Client(
        CallbackAPIVersion.VERSION2, client_id=link.client_id, protocol=mqtt.MQTTv5
    )
    client.tls_set_context(link.ssl_context())
    topic = f"{broker.prefix}/{STATION}/status"
    client.on_connect = lambda c, *_a: c.subscribe(topic, qos=1)
    client.on_message = lambda _c, _u, m: got.put(json.loads(m.payload))
    client.connect("127.0.0.1", link.port)
    client.loop_start()
    return client, got


def next_state(got: queue.Queue[dict[str, Any]], want: str, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    seen = []
    while (left := deadline - time.monotonic()) > 0:
        try:
            msg = got.get(timeout=left)
        except queue.Empty:
            break
        seen.append(msg)
        if msg.get("state") == want:
            return
    raise AssertionError(f"status {want!r} not received; got {seen}")


def test_station_run_under_systemd_protocol(
    broker: Broker, notify_socket: NotifySocket, tmp_path: Path
) -> None:
    data, png = tmp_path / "data", tmp_path / "png"
    cfg = config.replace(config.Config(), "station", id=STATION, data_dir=str(data))
    cfg = config.replace(broker.station_config(cfg, STATION), "display", png_dir=str(png))
    path = tmp_path / "station.toml"
    write_config(cfg, path)
    client, got = status_messages(broker)
    env = dict(os.environ, NOTIFY_SOCKET=notify_socket.path, WATCHDOG_USEC="1000000")
    code = "import sys; from station.cli import main; sys.exit(main())"
    proc = subprocess.Popen(
        [sys.executable, "-c", code, "run", "--config", str(path)],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        ready = notify_socket.wait_for("READY=1", timeout=20)
        assert all(m[0].startswith(("STATUS=", "READY=1")) for m in ready), ready
        next_state(got, "online")
        for _ in range(2):
            notify_socket.wait_for("WATCHDOG=1", timeout=5)
        proc.send_signal(signal.SIGTERM)
        stopping = notify_socket.wait_for("STOPPING=1", timeout=10)
        assert not [m for m in stopping if m[0].startswith("ERRNO=")], stopping
        _, err = proc.communicate(timeout=20)
        assert proc.returncode == 0, err[-2000:]
        next_state(got, "offline")
    finally:
        proc.kill()
        proc.wait()
        client.loop_stop()
        client.disconnect()
    last = sorted(png.glob("*.png"))[-1]
    expected = render(ErrorScreen(ErrorKind.STATION_STOPPED)).convert("L")
    shown = Image.open(last).convert("L")
    assert ImageChops.difference(shown, expected).getbbox() is None, f"{last} is not 'stopped'"
