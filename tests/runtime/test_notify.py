"""sd_notify protocol: READY, WATCHDOG, STOPPING over a real AF_UNIX datagram socket."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from station.runtime.service import (
    ServiceNotifier,
    WatchdogPinger,
    install_stop_handlers,
    watchdog_interval_from_env,
)
from tests.runtime.support import NotifySocket

LOOP = Path(__file__).with_name("notify_loop.py")
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def notify_socket() -> Iterator[NotifySocket]:
    d = tempfile.mkdtemp(prefix="sdn", dir="/tmp")  # AF_UNIX paths must stay short
    ns = NotifySocket(os.path.join(d, "notify"))
    yield ns
    ns.sock.close()
    os.unlink(ns.path)
    os.rmdir(d)


def start_loop(
    ns: NotifySocket, out: Path, watchdog_usec: int = 100_000
) -> subprocess.Popen[bytes]:
    env = dict(os.environ, NOTIFY_SOCKET=ns.path, WATCHDOG_USEC=str(watchdog_usec))
    env["PYTHONPATH"] = str(REPO)
    return subprocess.Popen([sys.executable, str(LOOP), str(out)], env=env)


def test_ready_watchdog_and_stopping_on_sigterm(
    notify_socket: NotifySocket, tmp_path: Path
) -> None:
    out = tmp_path / "writes.txt"
    proc = start_loop(notify_socket, out)
    try:
        first = notify_socket.wait_for("READY=1")
        assert "STATUS=idle" in first[-1]
        for _ in range(3):
            notify_socket.wait_for("WATCHDOG=1", timeout=5)
        proc.send_signal(signal.SIGTERM)
        notify_socket.wait_for("STOPPING=1", timeout=5)
        assert proc.wait(timeout=10) == 0
    finally:
        proc.kill()
        proc.wait()
    lines = out.read_text().splitlines()
    # the write in progress when SIGTERM arrived completed: every begin has its end
    assert lines and lines[-1].startswith("end ")
    assert len(lines) % 2 == 0


def test_blocked_loop_stops_watchdog_pings(notify_socket: NotifySocket, tmp_path: Path) -> None:
    proc = start_loop(notify_socket, tmp_path / "w.txt")
    try:
        notify_socket.wait_for("READY=1")
        notify_socket.wait_for("WATCHDOG=1", timeout=5)
        proc.send_signal(signal.SIGUSR1)
        notify_socket.wait_for("STATUS=blocking", timeout=5)
        # pings every 0.05 s while healthy; blocked: nothing for 20 periods
        later = notify_socket.recv(timeout=1.0)
        assert later is None, f"loop is blocked but sent {later}"
    finally:
        proc.kill()
        proc.wait()


def test_no_socket_is_a_silent_no_op() -> None:
    n = ServiceNotifier.from_env({})
    assert not n.enabled
    assert n.ready() is False and n.watchdog_ping() is False
    assert n.watchdog_interval is None


def test_abstract_socket_and_status_is_one_line() -> None:
    name = f"station-test-{os.getpid()}"
    recv = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    recv.bind("\0" + name)
    try:
        n = ServiceNotifier.from_env({"NOTIFY_SOCKET": "@" + name})
        assert n.status("2 pending\nREADY=1")
        recv.settimeout(5)
        assert recv.recv(4096).decode() == "STATUS=2 pending READY=1"
        n.close()
    finally:
        recv.close()


def test_watchdog_interval_is_half_and_respects_pid() -> None:
    assert watchdog_interval_from_env({"WATCHDOG_USEC": "30000000"}) == 15.0
    mine = {"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": str(os.getpid())}
    assert watchdog_interval_from_env(mine) == 15.0
    other = {"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": str(os.getpid() + 1)}
    assert watchdog_interval_from_env(other) is None
    assert watchdog_interval_from_env({"WATCHDOG_USEC": "0"}) is None


def test_pinger_rate_limit_and_health(notify_socket: NotifySocket) -> None:
    now = [100.0]
    healthy = [True]
    n = ServiceNotifier(notify_socket.path, watchdog_interval=15.0)
    pinger = WatchdogPinger(n, healthy=lambda: healthy[0], clock=lambda: now[0])
    assert pinger.tick()
    now[0] += 10
    assert not pinger.tick()  # too early
    now[0] += 6
    assert pinger.tick()
    now[0] += 20
    healthy[0] = False
    assert not pinger.tick()  # a stuck component: no ping, systemd restarts us
    received = [notify_socket.recv(1.0), notify_socket.recv(1.0), notify_socket.recv(0.2)]
    assert received == [["WATCHDOG=1"], ["WATCHDOG=1"], None]
    n.close()


def test_plain_signal_handlers_call_back_once(notify_socket: NotifySocket) -> None:
    calls: list[str] = []
    before = signal.getsignal(signal.SIGINT)  # SIG_IGN when the suite runs as a background job
    n = ServiceNotifier(notify_socket.path)
    restore = install_stop_handlers(None, calls.append, n)
    try:
        os.kill(os.getpid(), signal.SIGINT)
        os.kill(os.getpid(), signal.SIGTERM)
    finally:
        restore()
    assert calls == ["SIGINT"]
    assert notify_socket.recv(2.0) == ["STOPPING=1", "STATUS=stopping (SIGINT)"]
    assert signal.getsignal(signal.SIGINT) is before  # restored as it was
    n.close()
