"""Start-up to READY, and memory over 1,000 simulated reads.

1. Time from process start to the station's sd_notify ``READY=1`` (``station run`` on
   simulated hardware, a fake NOTIFY_SOCKET), side by side with a bare
   ``python -c "import station"``, ``python -c pass``, the standard library an asyncio
   service cannot start without, and ``import station.runtime.app`` (the code and device
   libraries that ``run`` loads), median of several interleaved runs. Every row runs
   with compiled bytecode, as the installed service does (``scripts/install.sh``
   compiles it; this bench uses a private PYTHONPYCACHEPREFIX and one warm-up run).
   Target: READY in under 3x the bare import. That target is below the floor
   on CPython 3.11: importing asyncio and logging alone takes about 3x an empty
   interpreter, so the bench also prints READY against ``import station.runtime.app``: the
   start-up work beyond loading code (config, outbox, devices, workers) must stay
   under 3x of that.
2. Resident memory of the station process while it reads 1,000 simulated cards end to end
   (QR, PACE/BAC chip read, verification, durable outbox, MQTT publish to a real loopback
   mosquitto, acknowledgements from a ward receiver running in another process).
   Targets: flat (no growth between the first and the last hundred reads), under 120 MB.

    .venv/bin/python bench/startup.py [--runs 5] [--reads 1000]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

CLI = "import sys; from station.cli import main; sys.exit(main())"
POOL = 24  # distinct cards, presented in turn
BARE = "python -c 'import station'"
FLOOR = "import asyncio, logging, tomllib"
APP = "python -c 'import station.runtime.app'"
READY = "station run -> READY"
STARTUP_ROWS: dict[str, str | None] = {
    "python -c pass": "pass",
    BARE: "import station",
    f"python -c '{FLOOR}'": FLOOR,  # what any asyncio service with a config loads
    APP: "import station.runtime.app",  # the code and device libraries `run` loads
    READY: None,
}


def rss_mb(pid: int | str = "self") -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


# --- 1. start-up --------------------------------------------------------------------


def bytecode_env(tmp: Path) -> dict[str, str]:
    """Cached bytecode for every row, like the installed service (see the docstring)."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPYCACHEPREFIX"] = str(tmp / "pycache")
    return env


def time_exit(code: str, env: dict[str, str]) -> float:
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], check=True, env=env)
    return time.perf_counter() - t0


def time_ready(config: Path, sock_path: str, base_env: dict[str, str]) -> float:
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind(sock_path)
        sock.settimeout(60)
        env = dict(base_env, NOTIFY_SOCKET=sock_path)
        t0 = time.perf_counter()
        proc = subprocess.Popen(
            [sys.executable, "-c", CLI, "run", "--config", str(config)],
            env=env, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            while b"READY=1" not in sock.recv(4096):
                pass
            ready = time.perf_counter() - t0
            proc.send_signal(signal.SIGTERM)
            proc.wait(30)
        finally:
            proc.kill()
            proc.wait()
    os.unlink(sock_path)
    return ready


def startup(tmp: Path, runs: int) -> list[tuple[str, float]]:
    config = tmp / "run.toml"
    config.write_text(
        f'[station]\nid = "bench"\ndata_dir = "{tmp / "run-data"}"\n[mqtt]\nenabled = false\n'
    )
    sock = f"/tmp/bench-notify-{os.getpid()}"
    env = bytecode_env(tmp)
    rows: dict[str, list[float]] = {name: [] for name in STARTUP_ROWS}
    for run in range(runs + 1):  # interleaved, so that drift hits all rows alike
        for name, code in STARTUP_ROWS.items():
            took = time_ready(config, sock, env) if code is None else time_exit(code, env)
            if run > 0:  # run 0 is the warm-up that writes the bytecode cache
                rows[name].append(took)
    return [(name, statistics.median(values)) for name, values in rows.items()]


# --- 2. memory over many reads ------------------------------------------------------


async def read_cards(reads: int, tmp: Path) -> list[tuple[int, float, int]]:
    """Run the station in this process; (reads done, RSS MB, pending) every 100 reads."""
    from station import config as config_mod
    from station.audit import AuditLog
    from station.runtime.app import Services, Station
    from station.runtime.wiring import open_devices
    from station.sim.broker import Broker
    from station.sim.counter import CardFactory, SimCounter
    from station.sync.outbox import Outbox
    from station.sync.publisher import Publisher
    from station.sync.signing import (
        WARD_KEY_NAME,
        key_paths,
        load_or_create_signing_key,
        public_key_text,
        ward_key_text,
    )
    from station.verify.store import import_file
    from station.ward.db import WardDB

    factory = CardFactory(7)
    cards = [factory.make("good") for _ in range(POOL)]
    raw = {
        "station": {"id": "bench", "hardware": "sim", "data_dir": str(tmp / "mem-data")},
        "camera": {"fps": 30.0},
        "ui": {"result_timeout_s": 2.0},
    }
    with Broker(tmp / "broker", clients=("bench", "ward")) as broker:
        cfg = broker.station_config(config_mod.from_mapping(raw), "bench")
        (tmp / "csca.der").write_bytes(factory.pki.csca_der)
        import_file(cfg.trust_dir, tmp / "csca.der")
        key = load_or_create_signing_key(*key_paths(cfg))
        ward_db = tmp / "ward.sqlite"
        db = WardDB(ward_db)
        db.enroll("bench", public_key_text(key.public_key()))
        db.close()
        cfg = config_mod.replace(cfg, "mqtt", ward_key=ward_key_text(tmp / WARD_KEY_NAME))
        ward = start_ward(broker, ward_db, tmp)
        audit = AuditLog(cfg.audit_path)
        outbox = Outbox.from_config(cfg, audit=audit)
        devices = open_devices(cfg)
        assert devices.scene is not None
        counter = SimCounter(devices.scene, devices.field)
        stored = asyncio.Event()
        services = Services(
            outbox=outbox,
            publisher_factory=lambda on_state: Publisher.from_config(
                cfg, outbox, on_state=on_state
            ),
            audit=audit,
            on_record=lambda _record: stored.set(),
        )
        station = Station(cfg, devices, services)
        stop = asyncio.Event()
        runner = asyncio.ensure_future(station.run(stop))
        samples: list[tuple[int, float, int]] = []
        try:
            for n in range(1, reads + 1):
                stored.clear()
                counter.place(cards[n % POOL])
                await asyncio.wait_for(stored.wait(), 30)
                counter.remove()
                await asyncio.sleep(2 / cfg.camera.fps)  # the camera sees the empty counter
                if n % 100 == 0:
                    samples.append((n, rss_mb(), outbox.pending_count()))
                    print(f"  {n} reads, RSS {samples[-1][1]:.1f} MB", file=sys.stderr)
        finally:
            stop.set()
            await runner
            devices.close()
            outbox.close()
            ward.send_signal(signal.SIGTERM)
            ward.wait(10)
    return samples


def start_ward(broker: Any, db: Path, tmp: Path) -> subprocess.Popen[bytes]:
    files = broker.pki.client("ward")
    args = ["ward", "serve", "--broker", broker.url(), "--db", str(db)]
    args += ["--ca", str(broker.pki.ca_file), "--cert", str(files.cert), "--key", str(files.key)]
    log = (tmp / "ward.log").open("wb")
    return subprocess.Popen([sys.executable, "-c", CLI, *args], stdout=log, stderr=log)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=5, help="start-up runs (median)")
    parser.add_argument("--reads", type=int, default=1000, help="simulated reads")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-startup-") as name:
        tmp = Path(name)
        rows = startup(tmp, args.runs)
        t0 = time.perf_counter()
        samples = asyncio.run(read_cards(args.reads, tmp))
        elapsed = time.perf_counter() - t0
    bare = dict(rows)[BARE]
    print(f"\nstart-up (median of {args.runs} runs)")
    print(f"{'':48}{'seconds':>10}{'x import':>10}")
    for name, seconds in rows:
        print(f"{name:48}{seconds:>10.3f}{seconds / bare:>10.2f}")
    table = dict(rows)
    ready, floor, app = table[READY], table[f"python -c '{FLOOR}'"], table[APP]
    met = "met" if ready < 3 * bare else "NOT met"
    print(f"target: READY < 3x bare import -> {met} ({ready / bare:.1f}x;")
    print(f"  the asyncio/logging floor alone is {floor / bare:.1f}x)")
    met = "met" if ready < 3 * app else "NOT met"
    print(f"start-up work: READY < 3x import station.runtime.app -> {met} ({ready / app:.2f}x)")
    print(f"\nmemory over {args.reads} reads ({elapsed:.0f} s, {args.reads / elapsed:.1f} reads/s)")
    print(f"{'reads':>8}{'RSS MB':>10}{'x first':>10}{'pending':>10}")
    for n, mb, pending in samples:
        print(f"{n:>8}{mb:>10.1f}{mb / samples[0][1]:>10.2f}{pending:>10}")
    if samples:
        growth = samples[-1][1] - samples[0][1]
        peak = max(mb for _, mb, _ in samples)
        print(
            f"growth {growth:+.1f} MB from read {samples[0][0]} to {samples[-1][0]}; "
            f"peak {peak:.1f} MB (target < 120 MB: {'met' if peak < 120 else 'NOT met'})"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
