"""Soak tests: broker crashes, station SIGKILLs, power cuts during writes.

Kill points are chosen by counting progress lines, never by sleeping. Children
are forked from a pre-imported fork server (``zygote.py``) so that hundreds of
kills fit in the time budget.
"""

from __future__ import annotations

import dataclasses
import json
import os
import queue
import random
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from station import config
from station.sim.loopback import LoopbackWard
from station.sync.outbox import Outbox
from station.sync.publisher import Publisher
from tests.support import wait_for
from tests.sync.support import STATION, make_records

pytestmark = [pytest.mark.slow, pytest.mark.mqtt]

HERE = Path(__file__).parent


class Zygote:
    """Drives ``zygote.py``: send a task, read its lines, SIGKILL the child by pid."""

    def __init__(self) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, str(HERE / "zygote.py")],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, cwd=HERE,
        )  # fmt: skip
        self.lines: queue.Queue[str] = queue.Queue()
        self.early: list[str] = []
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self) -> None:
        assert self.proc.stdout is not None
        for raw in self.proc.stdout:
            self.lines.put(raw.decode().rstrip("\n"))

    def next_line(self, timeout: float = 30.0) -> str:
        try:
            return self.lines.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f"no output from the child within {timeout}s") from None

    def start(self, **cmd: Any) -> int:
        assert self.proc.stdin is not None
        self.proc.stdin.write((json.dumps(cmd) + "\n").encode())
        self.proc.stdin.flush()
        line = self.next_line()
        while not line.startswith("pid "):  # the child may speak first
            self.early.append(line)
            line = self.next_line()
        return int(line.split()[1])

    def lines_until_exit(self, pid: int, kill_after: int | None, prefix: str) -> list[str]:
        """Collect lines; SIGKILL ``pid`` after ``kill_after`` lines starting with ``prefix``."""
        seen, out = 0, list(self.early)
        self.early.clear()
        seen = sum(1 for line in out if line.startswith(prefix))
        killed = kill_after is not None and seen >= kill_after
        if killed:
            os.kill(pid, signal.SIGKILL)
        while True:
            line = self.next_line()
            if line.startswith(f"exit {pid} "):
                return out
            out.append(line)
            assert not line.startswith("error"), line
            if line.startswith(prefix):
                seen += 1
                if not killed and kill_after is not None and seen >= kill_after:
                    os.kill(pid, signal.SIGKILL)
                    killed = True

    def close(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        self.proc.wait(10)


@pytest.fixture
def zygote() -> Iterator[Zygote]:
    z = Zygote()
    yield z
    z.close()


def test_sigkill_during_outbox_writes_200_times(tmp_path: Path, zygote: Zygote) -> None:
    rng = random.Random(5)
    store = {"dir": str(tmp_path / "outbox.db"), "key": str(tmp_path / "outbox.key"),
             "sign_key": str(tmp_path / "station.key")}  # fmt: skip
    reported: list[str] = []
    loads = 0
    for cycle in range(200):
        pid = zygote.start(task="append", prefix="r-", start=cycle * 100, count=30,
                           segment_size=8, **store)  # fmt: skip
        lines = zygote.lines_until_exit(pid, rng.randint(0, 8), "stored ")
        for loaded in (line.split() for line in lines if line.startswith("loaded ")):
            assert loaded[2] == "0", f"cycle {cycle}: a store file was unreadable"
            assert int(loaded[1]) >= len(reported)
            loads += 1
        reported += [line.split()[1] for line in lines if line.startswith("stored ")]
    with Outbox(store["dir"], key_file=store["key"], segment_size=8,
                signing_key=Ed25519PrivateKey.generate()) as outbox:  # fmt: skip
        assert not outbox.quarantined
        present = set(outbox.record_ids())
    assert len(reported) > 300 and loads > 150
    missing = [r for r in reported if r not in present]
    assert not missing, f"{len(missing)} records reported stored are gone"


def _station_cmd(cfg: config.Config, ward: LoopbackWard) -> dict[str, Any]:
    link = ward.broker.link_settings(STATION, client_id=f"station-{STATION}")
    link = dataclasses.replace(link, reconnect_max_s=0.5)
    return {
        "task": "publish", "dir": str(cfg.store_path), "key": str(cfg.data_dir / "outbox.key"),
        "link": dataclasses.asdict(link), "station": STATION, "ack_timeout_s": 2.0, "inflight": 10,
        "sign_key": str(cfg.data_dir / "station_ed25519.key"), "ward_key": cfg.mqtt.ward_key,
    }  # fmt: skip


def test_station_sigkilled_100_times_while_sending(
    tmp_path: Path, zygote: Zygote, station_cfg: config.Config
) -> None:
    rng = random.Random(7)
    with LoopbackWard(tmp_path / "ward") as ward:
        cfg = ward.attach(station_cfg)
        records = make_records(1500, seed=3)
        with Outbox.from_config(cfg) as outbox:
            for r in records:
                outbox.append(r)
        cmd = _station_cmd(cfg, ward)
        for _ in range(100):
            pid = zygote.start(**cmd)
            zygote.lines_until_exit(pid, rng.randint(1, 3), "state ")
        db = ward.db()
        wait_for(lambda: db.stations()[0]["state"] == "offline", 10, "Last Will: offline")
        with Outbox.from_config(cfg) as outbox:
            left = outbox.pending_count()
        assert 0 < left < 1500, "the kills happened while records were being sent"
        pid = zygote.start(**cmd)
        assert "done" in zygote.lines_until_exit(pid, None, "state ")
        ids = db.record_ids()
        assert len(ids) == len(set(ids)) == 1500
        assert set(ids) == {r["record_id"] for r in records}
        with Outbox.from_config(cfg) as outbox:
            assert outbox.pending_count() == 0
        db.close()


def test_broker_killed_5_times_while_streaming_2000(
    tmp_path: Path, station_cfg: config.Config
) -> None:
    rng = random.Random(11)
    with LoopbackWard(tmp_path / "ward") as ward:
        cfg = ward.attach(config.replace(station_cfg, "mqtt", ack_timeout_s=2.0))
        records = make_records(2000, seed=4)
        db = ward.db()
        with Outbox.from_config(cfg) as outbox, Publisher.from_config(cfg, outbox) as pub:
            for chunk in range(5):
                for r in records[chunk * 400 : (chunk + 1) * 400]:
                    outbox.append(r)
                mark = chunk * 400 + rng.randint(50, 350)
                wait_for(lambda m=mark: db.count() >= m, 30, f"{mark} records at the ward")
                ward.broker.kill()
                ward.broker.start()
            wait_for(lambda: outbox.pending_count() == 0, 60, "outbox drained")
            assert pub.in_flight == 0
        ids = db.record_ids()
        assert len(ids) == len(set(ids)) == 2000
        assert set(ids) == {r["record_id"] for r in records}
        db.close()
