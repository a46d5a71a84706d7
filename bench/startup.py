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
2. Memory of the station while it reads 1,000 simulated cards end to end (QR, PACE/BAC
   chip read, verification, durable outbox, MQTT publish to a real loopback mosquitto,
   acknowledgements from a ward receiver running in another process). The station is two
   processes: the main one (run here, in the bench's process: its figure also holds the
   simulated counter, card emulator and the bench's own code, which a Pi does not run)
   and the MRZ process it starts (``station.runtime.mrzproc``); one card in four is a 2021
   card placed back up, read through its MRZ. Printed: each one's RSS, the MRZ process's
   private memory (USS: pages no other process maps), and the total main RSS + MRZ USS:
   every page of the two counted once (what the MRZ process shares, the interpreter and
   numpy's libraries, the main process maps too); and, for scale, the main process's RSS
   before the station started, the simulated world built. The plain sum of
   the two RSS counts those shared pages twice; a sum of PSS would count too little here,
   as the bench's mosquitto and ward receiver (children of the bench, not part of the
   station, left out) share pages with the station and take their part of them.
   Targets: flat (no growth between the first and the last hundred reads); the issue's
   120 MB was set for the main process alone, before the MRZ process existed (printed
   against the main process's RSS, and the total beside it).

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
from dataclasses import dataclass
from pathlib import Path
from typing import Any

CLI = "import sys; from station.cli import main; sys.exit(main())"
POOL = 24  # distinct cards, presented in turn
BACKS = 4  # one card in BACKS is a 2021 card placed back up: read through its MRZ
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


def uss_mb(pid: int | str = "self") -> float:
    """Unique set size: the resident pages no other process maps (private clean + dirty)."""
    kib = 0
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
        if line.startswith(("Private_Clean:", "Private_Dirty:")):
            kib += int(line.split()[1])
    return kib / 1024


def mrz_children() -> list[int]:
    """This process's children that are MRZ processes (not mosquitto, not the ward)."""
    from station.runtime.mrzproc import BOOT

    pids = []
    for task in Path(f"/proc/{os.getpid()}/task").iterdir():
        for pid in (task / "children").read_text().split():
            try:
                cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
            except FileNotFoundError:  # ended meanwhile
                continue
            if BOOT.encode() in cmdline:
                pids.append(int(pid))
    return pids


@dataclass(frozen=True)
class Sample:
    reads: int
    main_rss: float  # MB
    child_rss: float  # the MRZ process (0 when none runs)
    child_uss: float  # its pages no other process maps
    children: int  # MRZ processes found (1 expected)
    pending: int

    @property
    def total(self) -> float:
        """Main RSS + MRZ USS: every page of the station's two processes once."""
        return self.main_rss + self.child_uss


def sample(reads: int, pending: int) -> Sample:
    children = mrz_children()
    child_rss = sum(rss_mb(pid) for pid in children)
    child_uss = sum(uss_mb(pid) for pid in children)
    return Sample(reads, rss_mb(), child_rss, child_uss, len(children), pending)


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


async def read_cards(reads: int, tmp: Path) -> tuple[float, list[Sample]]:
    """Run the station in this process: this process's RSS before the station started
    (the bench, the simulated world with its cards, the libraries both load), and a
    memory sample every 100 reads."""
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
    # The fronts' reads analyse only empty frames for the MRZ (between two cards); a back
    # makes the MRZ process locate and classify its lines, as it does at a real counter.
    cards = [factory.make("back2021" if i % BACKS == 0 else "good") for i in range(POOL)]
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
        before = rss_mb()
        station = Station(cfg, devices, services)
        stop = asyncio.Event()
        runner = asyncio.ensure_future(station.run(stop))
        samples: list[Sample] = []
        try:
            for n in range(1, reads + 1):
                stored.clear()
                counter.place(cards[n % POOL])
                await asyncio.wait_for(stored.wait(), 30)
                counter.remove()
                await asyncio.sleep(2 / cfg.camera.fps)  # the camera sees the empty counter
                if n % 100 == 0:
                    samples.append(sample(n, outbox.pending_count()))
                    last = samples[-1]
                    print(
                        f"  {n} reads, RSS {last.main_rss:.1f} + {last.child_rss:.1f} MB",
                        file=sys.stderr,
                    )
        finally:
            stop.set()
            await runner
            devices.close()
            outbox.close()
            ward.send_signal(signal.SIGTERM)
            ward.wait(10)
    return before, samples


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
        before, samples = asyncio.run(read_cards(args.reads, tmp))
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
    print("main: the station's process (here with the simulated counter and the bench in it);")
    print("MRZ: its MRZ process (USS: its pages no other process maps);")
    print("total: main RSS + MRZ USS, every page of the two once (MB)")
    print(f"(this process before the station started, the simulated world built: {before:.1f} MB)")
    head = f"{'reads':>8}{'main RSS':>10}{'MRZ RSS':>9}{'MRZ USS':>9}{'total':>8}{'x first':>9}"
    print(f"{head}{'pending':>9}")
    for s in samples:
        ratio = s.total / samples[0].total
        row = f"{s.reads:>8}{s.main_rss:>10.1f}{s.child_rss:>9.1f}{s.child_uss:>9.1f}"
        print(f"{row}{s.total:>8.1f}{ratio:>9.2f}{s.pending:>9}")
    if samples:
        first, last = samples[0], samples[-1]
        if any(s.children != 1 for s in samples):
            print(f"MRZ processes per sample: {[s.children for s in samples]} (1 expected)")
        for label, values in (
            ("main RSS", [s.main_rss for s in samples]),
            ("MRZ RSS", [s.child_rss for s in samples]),
            ("total", [s.total for s in samples]),
        ):
            print(
                f"{label}: {values[-1] - values[0]:+.1f} MB from read {first.reads} to "
                f"{last.reads}, peak {max(values):.1f} MB"
            )
        peak = max(s.main_rss for s in samples)
        total = max(s.total for s in samples)
        summed = max(s.main_rss + s.child_rss for s in samples)
        print(
            f"target < 120 MB (main process): {'met' if peak < 120 else 'NOT met'} "
            f"({peak:.1f} MB); with the MRZ process: {total:.1f} MB "
            f"(the two RSS summed, shared pages twice: {summed:.1f} MB)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
