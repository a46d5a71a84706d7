"""Chip read cost against the emulator: APDUs, bytes, host CPU, estimated link time.

Run: .venv/bin/python bench/chip.py

For a realistic CCCD file set (DG2 ~18 KB JPEG), reads DG1+DG13+SOD and the full set
with the station's strategy (0xDF first read, then extended length) and with JMRTD's
fixed 223-byte chunks, on a card with and without extended length. Host CPU is the
station side only (the emulator's own time is measured and subtracted). Link time is
estimated for ISO 14443 at 106 and 424 kbit/s: 9 bits per byte on air (8 + parity) plus
10 ms turnaround per APDU.
"""

from __future__ import annotations

import dataclasses
import statistics
import time
from dataclasses import dataclass

from metered import MeteredCard, link_seconds

from station.drivers.card_sim import EmulatorTransport
from station.icao.access import AccessKeys, AccessOrder, open_chip
from station.icao.channel import CardChannel
from station.icao.files import ReadStrategy
from station.icao.reader import ChipReader
from station.sim.citizens import generate_many
from station.sim.emulator import EmulatedCard, Misbehaviour, build_profile
from station.sim.emulator.files import FID_CARD_ACCESS, CardProfile

RATES = (106_000, 424_000)
SETS = {
    "DG1+DG13+SOD": ("DG1", "DG13", "EF.SOD"),
    "full": ("DG1", "DG2", "DG13", "DG14", "DG15", "EF.SOD"),
}
ROUNDS = 7


@dataclass
class Run:
    apdus: int
    bytes_total: int
    host_cpu_s: float

    def link_s(self, rate: int) -> float:
        return link_seconds(self.apdus, self.bytes_total, rate)


def measure(
    profile: CardProfile, files: tuple[str, ...], fixed: bool, extended: bool, learned: bool = False
) -> Run:
    keys = AccessKeys.from_mrz(
        profile.document_number, profile.date_of_birth, profile.date_of_expiry
    )
    cpu: list[float] = []
    result = None
    for _ in range(ROUNDS):
        card = MeteredCard(EmulatedCard(profile, Misbehaviour(no_extended=not extended)))
        transport = EmulatorTransport(card)
        strategy = ReadStrategy.fixed_chunks() if fixed else ReadStrategy()
        if learned and not extended:
            strategy.max_le = 0xDF  # what the reader learned on an earlier card
        start = time.thread_time()
        result = ChipReader(transport, strategy=strategy, order="bac").read(keys, files=files)
        cpu.append(time.thread_time() - start - card.cpu_s)
    assert result is not None
    return Run(result.apdus, result.bytes_in + result.bytes_out, statistics.median(cpu))


def main() -> None:
    citizen = generate_many(42, 1)[0]
    profile = build_profile(citizen)
    print(f"file set: DG2 {len(profile.dg(2))} B, DG13 {len(profile.dg(13))} B, "
          f"SOD {len(profile.files[0x011D])} B; host CPU = median of {ROUNDS} reads")  # fmt: skip
    header = (
        f"{'files':<13} {'card':<8} {'strategy':<9} {'APDUs':>5} {'bytes':>6} "
        f"{'vs 223':>7} {'CPU ms':>7} {'CPU/APDU':>9} {'link106':>8} {'link424':>8} {'CPU/link':>8}"
    )
    print(header)
    print("-" * len(header))
    for set_name, files in SETS.items():
        for extended in (True, False):
            base = measure(profile, files, fixed=True, extended=extended)
            runs = [("223", base), ("station", measure(profile, files, False, extended))]
            if not extended:
                runs.append(("learned", measure(profile, files, False, extended, learned=True)))
            for label, run in runs:
                link106, link424 = run.link_s(RATES[0]), run.link_s(RATES[1])
                print(
                    f"{set_name:<13} {'ext' if extended else 'no-ext':<8} {label:<9} "
                    f"{run.apdus:>5} {run.bytes_total:>6} {run.apdus / base.apdus:>6.2f}x "
                    f"{run.host_cpu_s * 1000:>7.2f} {run.host_cpu_s / run.apdus * 1e6:>7.0f}us "
                    f"{link106:>7.2f}s {link424:>7.2f}s {run.host_cpu_s / link424:>7.1%}"
                )
    print("CPU/link uses the 424 kbit/s estimate (the stricter ratio); target < 5%.")
    print("'learned': second and later cards on a reader whose first card refused extended length.")
    handshakes(profile)


def handshake_cpu(profile: CardProfile, order: AccessOrder) -> tuple[float, str]:
    """Median host CPU (s) of opening the chip, card side subtracted."""
    from station.sim.emulator import pace as card_pace

    p = profile
    keys = AccessKeys.from_mrz(p.document_number, p.date_of_birth, p.date_of_expiry)
    keys = dataclasses.replace(keys, can=p.can)
    cpu, access = [], ""
    for _ in range(ROUNDS):
        card = MeteredCard(EmulatedCard(profile, handlers=card_pace.handlers()))
        channel = CardChannel(EmulatorTransport(card))
        start = time.thread_time()
        opened = open_chip(channel, keys, order=order, card_access=p.files[FID_CARD_ACCESS])
        cpu.append(time.thread_time() - start - card.cpu_s)
        access = opened.access
    return statistics.median(cpu), access


def handshakes(profile: CardProfile) -> None:
    try:
        bac_cpu, _ = handshake_cpu(profile, "bac")
        pace_cpu, access = handshake_cpu(profile, "pace")
    except ImportError as exc:
        print(f"PACE vs BAC: skipped ({exc})")
        return
    print(f"\nhandshake host CPU (median of {ROUNDS}, card side excluded)")
    print(f"  BAC                     {bac_cpu * 1000:8.2f} ms")
    label, ratio = access + " brainpoolP256r1", pace_cpu / bac_cpu
    print(f"  {label:<23} {pace_cpu * 1000:8.2f} ms   ({ratio:.0f}x BAC; target < 50 ms)")


if __name__ == "__main__":
    main()
