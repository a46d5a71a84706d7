"""Fork server for the kill tests: imports once, forks one child per command.

Reads JSON commands on stdin, one per line. For each it forks a child that runs
the task and reports progress lines on stdout; the server itself writes
``pid <pid>`` after the fork and ``exit <pid> <status>`` once the child is gone
(a test SIGKILLs the child by that pid). Tasks:

- ``append``: open the outbox, report ``loaded <n> <quarantined>``, append records
  ``<prefix><i>`` reporting ``stored <id>`` after each append returned.
- ``publish``: open the outbox and run the publisher, reporting
  ``state <connected> <pending>`` on every change and ``done`` when drained.
"""

from __future__ import annotations

import json
import os
import sys
import threading
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # run as a script: tests.*

from station.sync.link import LinkSettings
from station.sync.outbox import Outbox
from station.sync.publisher import Publisher, SyncState
from station.sync.signing import load_or_create_signing_key, parse_public_key
from tests.sync.support import make_records


def say(line: str) -> None:
    os.write(1, (line + "\n").encode())


def open_outbox(cmd: dict[str, Any]) -> Outbox:
    sign = Path(cmd["sign_key"])
    return Outbox(
        cmd["dir"], key_file=cmd["key"], segment_size=cmd.get("segment_size", 32),
        max_records=100_000, signing_key=load_or_create_signing_key(sign, sign.with_suffix(".pub")),
    )  # fmt: skip


def task_append(cmd: dict[str, Any]) -> None:
    outbox = open_outbox(cmd)
    say(f"loaded {outbox.pending_count()} {len(outbox.quarantined)}")
    for i, rec in enumerate(make_records(cmd["count"], seed=cmd["start"])):
        rec["record_id"] = f"{cmd['prefix']}{cmd['start'] + i}"
        outbox.append(rec)
        say(f"stored {rec['record_id']}")


def task_publish(cmd: dict[str, Any]) -> None:
    outbox = open_outbox(cmd)
    drained = threading.Event()

    def on_state(s: SyncState) -> None:
        say(f"state {int(s.connected)} {s.pending}")
        if s.pending == 0:
            drained.set()

    pub = Publisher(
        outbox, LinkSettings(**cmd["link"]), station_id=cmd["station"],
        ack_timeout_s=cmd["ack_timeout_s"], inflight=cmd.get("inflight", 100), on_state=on_state,
        ward_key=parse_public_key(cmd["ward_key"]),
    )  # fmt: skip
    pub.start()
    drained.wait(cmd.get("timeout", 60))
    pub.stop()
    outbox.close()
    say("done" if drained.is_set() else "timeout")


def main() -> None:
    for line in sys.stdin:
        cmd = json.loads(line)
        pid = os.fork()
        if pid == 0:
            code = 0
            try:
                {"append": task_append, "publish": task_publish}[cmd["task"]](cmd)
            except BaseException as exc:
                say(f"error {type(exc).__name__}: {exc}")
                code = 1
            os._exit(code)
        say(f"pid {pid}")
        _, status = os.waitpid(pid, 0)
        say(f"exit {pid} {status}")


if __name__ == "__main__":
    main()
