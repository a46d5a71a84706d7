"""The emulated card behind a real pcscd: a vpcd client (vsmartcard's virtual reader).

vpcd protocol: the card side is the TCP client; every message is a 2-byte big-endian
length then the payload. A 1-byte payload is a control code (0 power off, 1 power on,
2 reset, 4 get ATR -> answer the ATR); longer payloads are command APDUs answered with
the response APDU. Closing the socket = card removed. TCP_QUICKACK is set before every
receive (vpcd writes length and data separately; without it each APDU costs ~40 ms).

``serve(port, control)`` is the bridge process's main loop (``station.sim.pcsc`` starts
it): the parent sends ``("insert", card)``, ``("remove",)``, ``("stats",)`` and
``("stop",)`` over a multiprocessing connection and gets one reply per message.
"""

from __future__ import annotations

import logging
import select
import socket
import time
from multiprocessing.connection import Connection
from typing import Any

from station.drivers.card_sim import CardGone
from station.sim.emulator.card import ATR, EmulatedCard

log = logging.getLogger(__name__)

CONNECT_TIMEOUT_S = 5.0
IO_TIMEOUT_S = 10.0


def _quickack(sock: socket.socket) -> None:
    quickack = getattr(socket, "TCP_QUICKACK", None)
    if quickack is not None:
        sock.setsockopt(socket.IPPROTO_TCP, quickack, 1)


def _recv_exact(sock: socket.socket, count: int) -> bytes | None:
    data = bytearray()
    while len(data) < count:
        _quickack(sock)
        chunk = sock.recv(count - len(data))
        if not chunk:
            return None
        data += chunk
    return bytes(data)


def _send(sock: socket.socket, payload: bytes) -> None:
    sock.sendall(len(payload).to_bytes(2, "big") + payload)


def connect(host: str, port: int, timeout: float = CONNECT_TIMEOUT_S) -> socket.socket:
    deadline = time.monotonic() + timeout
    while True:
        try:
            sock = socket.create_connection((host, port), timeout=IO_TIMEOUT_S)
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)  # vpcd not listening yet: bounded retry
            continue
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return sock


def answer(card: EmulatedCard, payload: bytes) -> bytes | None:
    """The reply to one vpcd message (None = nothing to send)."""
    if len(payload) == 1:
        if payload[0] == 4:
            return ATR  # also vpcd's presence probe: must not reset the card
        if payload[0] in (1, 2):
            card.power_on()
        return None
    return card.process(payload)


class Bridge:
    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.card: EmulatedCard | None = None
        self.sock: socket.socket | None = None

    def insert(self, card: EmulatedCard) -> None:
        self.remove()
        card.power_on()
        self.card = card
        self.sock = connect(self.host, self.port)

    def remove(self) -> None:
        if self.sock is not None:
            self.sock.close()
        self.sock, self.card = None, None

    def pump(self) -> None:
        """Handle one message from vpcd (the socket is readable)."""
        assert self.sock is not None and self.card is not None
        header = _recv_exact(self.sock, 2)
        payload = _recv_exact(self.sock, int.from_bytes(header, "big")) if header else None
        if payload is None:
            self.remove()  # vpcd closed the connection
            return
        try:
            reply = answer(self.card, payload)
        except CardGone:
            self.remove()
            return
        if reply is not None:
            _send(self.sock, reply)

    def stats(self) -> dict[str, Any]:
        card = self.card
        return {
            "present": card is not None,
            "apdus": card.apdus if card else 0,
            "bytes_sent": card.bytes_sent if card else 0,
        }


def serve(port: int, control: Connection, host: str = "127.0.0.1") -> None:
    bridge = Bridge(host, port)
    while True:
        waiting: list[Any] = [control] + ([bridge.sock] if bridge.sock is not None else [])
        ready, _, _ = select.select(waiting, [], [], 1.0)
        if bridge.sock is not None and bridge.sock in ready:
            try:
                bridge.pump()
            except OSError as exc:
                log.warning("vpcd link failed: %s", exc)
                bridge.remove()
        if control in ready:
            message = control.recv()
            command = message[0]
            if command == "stop":
                bridge.remove()
                control.send("ok")
                return
            try:
                if command == "insert":
                    bridge.insert(message[1])
                elif command == "remove":
                    bridge.remove()
                control.send(bridge.stats() if command == "stats" else "ok")
            except OSError as exc:
                control.send(f"error: {exc}")
