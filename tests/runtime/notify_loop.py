"""A minimal service main loop built on station.runtime.service, run as a child process by tests.

It is what station/runtime/app.py does in miniature: READY after start-up, watchdog pings from the
asyncio loop, STOPPING on SIGTERM/SIGINT, and the "write" in progress completes before exit.
SIGUSR1 blocks the loop thread (a hung driver call) so the watchdog pings must stop.
Each write appends "begin N" / "end N" to the file named by argv[1].
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import threading
import time
from pathlib import Path

from station.runtime.service import ServiceNotifier, install_stop_handlers, start_watchdog


def write_record(path: Path, n: int) -> None:
    with path.open("a", encoding="utf-8") as f:
        f.write(f"begin {n}\n")
        f.flush()
        time.sleep(0.05)  # the slow part of a durable write (fsync on an SD card)
        f.write(f"end {n}\n")
        f.flush()
        os.fsync(f.fileno())


def block_forever(notifier: ServiceNotifier) -> None:
    notifier.status("blocking")
    threading.Event().wait(60)  # the loop thread hangs here


async def main(path: Path) -> int:
    loop = asyncio.get_running_loop()
    notifier = ServiceNotifier.from_env()
    stop = asyncio.Event()
    remove = install_stop_handlers(loop, lambda _name: stop.set(), notifier)
    loop.add_signal_handler(signal.SIGUSR1, block_forever, notifier)
    watchdog = start_watchdog(loop, notifier)
    notifier.ready("idle")
    n = 0
    while not stop.is_set():
        n += 1
        await loop.run_in_executor(None, write_record, path, n)
    notifier.status(f"stopped after {n} writes")
    watchdog.cancel()
    remove()
    notifier.close()
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main(Path(sys.argv[1]))))
