"""A real PC/SC stack with an emulated card: pcscd + vsmartcard's vpcd + the emulator.

    rig = PcscRig(workdir)          # writes its own reader.conf.d (vpcd on a non-default port)
    rig.start()                     # pcscd --foreground -c DIR; bridge process; waits until ready
    rig.insert(card)                # the EmulatedCard (pickled into the bridge process)
    transport = rig.transport()     # PcscTransport on "Virtual PCD 00 00"
    rig.remove(); rig.stop()        # both processes stopped by PID

pcscd's IPC socket directory (/run/pcscd) is fixed, so only one pcscd can run. Rigs in
several processes (test sessions run side by side) take turns through an exclusive lock
on ``LOCK_FILE``, waited for up to ``lock_wait_s``; a pcscd that no rig started (the
system's) makes ``start`` fail with ``RigError``. ``missing_parts()`` names what
is not installed (tests skip on it, except in CI).
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

DEFAULT_PORT = 0x9C7B  # vpcd's default is 0x8C7B (35963)
PCSCD_SOCKET = Path("/run/pcscd/pcscd.comm")
VPCD_LIBS = (
    Path("/usr/lib/pcsc/drivers/serial/libifdvpcd.so"),
    Path("/usr/lib64/pcsc/drivers/serial/libifdvpcd.so"),
    Path("/usr/local/lib/pcsc/drivers/serial/libifdvpcd.so"),
)
READER_NAME = "Virtual PCD 00 00"
LOCK_FILE = Path("/tmp/station-pcsc-rig.lock")


class RigError(RuntimeError):
    """The PC/SC test rig could not start (names what is missing or in the way)."""


def _pcscd() -> str | None:
    return shutil.which("pcscd") or next(
        (p for p in ("/usr/sbin/pcscd", "/sbin/pcscd") if os.path.exists(p)), None
    )


def _vpcd_lib() -> Path | None:
    return next((p for p in VPCD_LIBS if p.exists()), None)


def missing_parts() -> list[str]:
    missing = []
    if _pcscd() is None:
        missing.append("pcscd (apt: pcscd)")
    if _vpcd_lib() is None:
        missing.append("vpcd driver (apt: vsmartcard-vpcd)")
    try:
        import smartcard  # noqa: F401
    except ImportError:
        missing.append("pyscard")
    return missing


def other_pcscd_running() -> bool:
    if not PCSCD_SOCKET.exists():
        return False
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
        probe.settimeout(1.0)
        try:
            probe.connect(str(PCSCD_SOCKET))
        except OSError:
            return False
    return True


def wait_for(condition: Any, timeout: float, what: str, interval: float = 0.05) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise RigError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(interval)


def _port_open(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


@dataclass
class PcscRig:
    workdir: Path
    port: int = DEFAULT_PORT
    timeout_s: float = 15.0
    lock_wait_s: float = 180.0
    _lock: Any = field(default=None, init=False)
    pcscd: subprocess.Popen[bytes] | None = field(default=None, init=False)
    bridge: Any = field(default=None, init=False)
    _control: Any = field(default=None, init=False)

    @property
    def reader_name(self) -> str:
        return READER_NAME

    def write_config(self) -> Path:
        lib = _vpcd_lib()
        if lib is None:
            raise RigError("vpcd driver not installed (apt: vsmartcard-vpcd)")
        conf = self.workdir / "reader.conf.d"
        conf.mkdir(parents=True, exist_ok=True)
        (conf / "vpcd").write_text(
            f'FRIENDLYNAME "Virtual PCD"\nDEVICENAME /dev/null:0x{self.port:04X}\n'
            f"LIBPATH {lib}\nCHANNELID 0x{self.port:04X}\n"
        )
        return conf

    def start(self) -> None:
        missing = missing_parts()
        if missing:
            raise RigError("missing: " + ", ".join(missing))
        self._take_lock()
        try:
            if other_pcscd_running():
                raise RigError(f"another pcscd is running ({PCSCD_SOCKET} answers): stop it first")
        except BaseException:
            self._release_lock()
            raise
        conf = self.write_config()
        log_file = (self.workdir / "pcscd.log").open("wb")
        self.pcscd = subprocess.Popen(
            [str(_pcscd()), "--foreground", "--debug", "--apdu", "-c", str(conf)],
            stdout=log_file, stderr=subprocess.STDOUT,
        )  # fmt: skip
        log_file.close()
        try:
            wait_for(lambda: self._alive() and _port_open(self.port), self.timeout_s, "vpcd's port")
            self._start_bridge()
            wait_for(self._reader_listed, self.timeout_s, "pcscd to list the virtual reader")
        except BaseException:
            self.stop()
            raise

    def _take_lock(self) -> None:
        import fcntl

        handle = LOCK_FILE.open("a")
        deadline = time.monotonic() + self.lock_wait_s
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    handle.close()
                    raise RigError(
                        f"another PC/SC rig held {LOCK_FILE} for {self.lock_wait_s:.0f} s"
                    ) from None
                time.sleep(0.2)  # another process's rig is running: bounded wait
        self._lock = handle

    def _release_lock(self) -> None:
        if self._lock is not None:
            self._lock.close()  # closing releases the flock
            self._lock = None

    def _alive(self) -> bool:
        if self.pcscd is None or self.pcscd.poll() is not None:
            tail = (self.workdir / "pcscd.log").read_text(errors="replace")[-400:]
            raise RigError(f"pcscd exited: {tail}")
        return True

    def _start_bridge(self) -> None:
        from station.sim.emulator.vpcd import serve

        ctx = multiprocessing.get_context("spawn")
        self._control, child = ctx.Pipe()
        self.bridge = ctx.Process(target=serve, args=(self.port, child), daemon=True)
        self.bridge.start()
        child.close()

    def _reader_listed(self) -> bool:
        from station.drivers.card_pcsc import list_readers
        from station.ports import TransportError

        try:
            return any(name == READER_NAME for name, _ in list_readers())
        except TransportError:
            return False

    def _ask(self, *message: Any) -> Any:
        if self._control is None:
            raise RigError("rig not started")
        self._control.send(message)
        if not self._control.poll(self.timeout_s):
            raise RigError(f"card bridge did not answer {message[0]!r}")
        reply = self._control.recv()
        if isinstance(reply, str) and reply.startswith("error"):
            raise RigError(f"card bridge: {reply}")
        return reply

    def card_present(self) -> bool:
        from station.drivers.card_pcsc import list_readers

        return any(name == READER_NAME and present for name, present in list_readers())

    def insert(self, card: Any) -> None:
        """Put ``card`` on the reader (after the previous one is seen gone)."""
        self.remove()
        self._ask("insert", card)
        wait_for(self.card_present, self.timeout_s, "pcscd to see the card")

    def remove(self) -> None:
        """Take the card away and wait until pcscd has seen it go."""
        self._ask("remove")
        wait_for(lambda: not self.card_present(), self.timeout_s, "pcscd to see the card removed")

    def stats(self) -> dict[str, Any]:
        result: dict[str, Any] = self._ask("stats")
        return result

    def transport(self) -> Any:
        from station.drivers.card_pcsc import PcscTransport

        return PcscTransport(READER_NAME)

    def stop(self) -> None:
        """Stop the bridge and pcscd by PID, then let the next rig have the lock."""
        try:
            self._stop_bridge()
            self._stop_pcscd()
        finally:
            self._release_lock()

    def _stop_bridge(self) -> None:
        if self.bridge is None:
            return
        with contextlib.suppress(RigError, OSError, EOFError):
            self._ask("stop")
        self.bridge.join(5)
        if self.bridge.is_alive() and self.bridge.pid:
            os.kill(self.bridge.pid, signal.SIGKILL)
            self.bridge.join(5)
        self.bridge = None

    def _stop_pcscd(self) -> None:
        if self.pcscd is None:
            return
        if self.pcscd.poll() is None:
            os.kill(self.pcscd.pid, signal.SIGTERM)
            try:
                self.pcscd.wait(5)
            except subprocess.TimeoutExpired:
                os.kill(self.pcscd.pid, signal.SIGKILL)
                self.pcscd.wait(5)
        self.pcscd = None
        wait_for(lambda: not other_pcscd_running(), self.timeout_s, "pcscd's socket to close")

    def __enter__(self) -> PcscRig:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
