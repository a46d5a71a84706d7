"""Helpers shared by the service tests (a fake systemd notify socket, config files)."""

from __future__ import annotations

import json
import socket
import time

from station.config import Config


class NotifySocket:
    """The receiving end of sd_notify that systemd would own."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(path)

    def recv(self, timeout: float) -> list[str] | None:
        self.sock.settimeout(timeout)
        try:
            data = self.sock.recv(4096)
        except TimeoutError:
            return None
        return data.decode().split("\n")

    def wait_for(self, line: str, timeout: float = 10.0) -> list[list[str]]:
        """Messages received up to and including the first containing ``line``."""
        seen: list[list[str]] = []
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            msg = self.recv(left)
            if msg is None:
                break
            seen.append(msg)
            if line in msg:
                return seen
        raise AssertionError(f"{line!r} not received within {timeout}s; got {seen}")


def write_config(cfg: Config, path: object) -> None:
    """A TOML file with the sections of ``cfg`` the tests change."""
    lines = []
    for section in ("station", "camera", "display", "gpio", "store", "mqtt", "trust"):
        lines.append(f"[{section}]")
        for key, value in vars(getattr(cfg, section)).items():
            lines.append(f"{key} = {json.dumps(value)}")
    with open(str(path), "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")
