"""The benches' one way to talk to an emulated card: the simulated reader slot
(``station.drivers.card_sim``, the same transport the station uses off the Pi) holding
a card wrapped in ``MeteredCard``, which counts APDUs and bytes and keeps the card's own
time apart, so a bench can subtract it from the station's side.

    card = MeteredCard(EmulatedCard(profile))
    transport = EmulatorTransport(card)
    ...
    host_cpu = total_cpu - card.cpu_s      # CPU time of this thread (time.thread_time)
    host_wall = total_wall - card.wall_s   # wall clock (time.perf_counter)
"""

from __future__ import annotations

import time

from station.sim.emulator import EmulatedCard

TURNAROUND_S = 0.010  # per-APDU turnaround on a real reader (ISO 14443 + reader firmware)
BITS_PER_BYTE = 9  # on air: 8 data bits + parity


def link_seconds(apdus: float, nbytes: float, rate: int) -> float:
    """Estimated ISO 14443 link time of an exchange at ``rate`` bit/s."""
    return apdus * TURNAROUND_S + nbytes * BITS_PER_BYTE / rate


class MeteredCard:
    """An emulated card that counts what it answers and how long it takes."""

    def __init__(self, card: EmulatedCard) -> None:
        self.card = card
        self.apdus = 0
        self.bytes = 0  # command + response bytes
        self.cpu_s = 0.0
        self.wall_s = 0.0

    @property
    def present(self) -> bool:
        return self.card.present

    def power_on(self) -> bytes:
        return self.card.power_on()

    def process(self, raw: bytes) -> bytes:
        cpu, wall = time.thread_time(), time.perf_counter()
        try:
            answer = self.card.process(raw)
        finally:
            self.cpu_s += time.thread_time() - cpu
            self.wall_s += time.perf_counter() - wall
        self.apdus += 1
        self.bytes += len(raw) + len(answer)
        return answer
