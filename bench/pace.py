"""PACE vs BAC: host CPU time of the access handshake, measured side by side in one run.

CPU time of this thread (time.thread_time, so other load on the machine does not count).
The terminal side runs against the in-process card emulator; the time the emulated card
spends answering is measured inside the transport and subtracted, so "host ms" is the
station's own work (key derivation, point arithmetic, MACs, APDU coding). Target: under 50 ms
for PACE-ECDH-GM on brainpoolP256r1.

    .venv/bin/python bench/pace.py [--rounds N]
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from collections.abc import Callable

from metered import MeteredCard

from station.drivers.card_sim import EmulatorTransport
from station.icao import bac, pace
from station.icao.channel import CardChannel
from station.icao.securityinfos import PaceInfo, SecurityInfos, pace_protocol
from station.sim import citizens
from station.sim.emulator import pace as card_pace
from station.sim.emulator.card import EmulatedCard
from station.sim.emulator.files import build_profile


def measure(
    run: Callable[[CardChannel], object], card: Callable[[], EmulatedCard], rounds: int
) -> tuple[float, float, int]:
    """(median host ms, median card ms, APDUs per handshake)."""
    host, chip, apdus = [], [], 0
    for _ in range(rounds):
        metered = MeteredCard(card())
        channel = CardChannel(EmulatorTransport(metered))
        started = time.thread_time()
        run(channel)
        total = time.thread_time() - started
        host.append((total - metered.cpu_s) * 1000)
        chip.append(metered.cpu_s * 1000)
        apdus = metered.apdus
    return statistics.median(host), statistics.median(chip), apdus


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15)
    args = parser.parse_args()
    citizen = citizens.generate(random.Random(1))
    profile = build_profile(citizen, pace=False)
    key = bac.BacKey(profile.document_number, profile.date_of_birth, profile.date_of_expiry)
    rows: list[tuple[str, float, float, int]] = []
    bac_card = card_pace.without_pace(profile)
    rows.append(
        (
            "BAC (3DES)",
            *measure(
                lambda ch: bac.perform_bac(bac.BacApduSender(ch), key),
                lambda: EmulatedCard(bac_card),
                args.rounds,
            ),
        )
    )
    cases = [
        ("ECDH", "AES-128", 13, "brainpoolP256r1"),
        ("ECDH", "3DES", 13, "brainpoolP256r1"),
        ("ECDH", "AES-128", 12, "secp256r1"),
        ("ECDH", "AES-128", 14, "brainpoolP320r1 *"),
        ("ECDH", "AES-256", 16, "brainpoolP384r1"),
        ("ECDH", "AES-256", 15, "secp384r1"),
        ("ECDH", "AES-256", 17, "brainpoolP512r1"),
        ("ECDH", "AES-256", 18, "secp521r1"),
        ("DH", "AES-128", 0, "MODP 1024/160"),
        ("DH", "AES-256", 2, "MODP 2048/256"),
    ]
    password = pace.PacePassword.can(citizen.can)
    for ka, cipher, pid, label in cases:
        info = PaceInfo(pace_protocol(ka, cipher), 2, pid)
        chip_profile = card_pace.with_pace(profile, [info])
        card_access = SecurityInfos((info,))
        rows.append(
            (
                f"PACE-{ka}-GM {cipher} {label}",
                *measure(
                    lambda ch, ca=card_access: pace.establish(ch, password, ca),  # type: ignore[misc]
                    lambda p=chip_profile: EmulatedCard(p, handlers=card_pace.handlers()),  # type: ignore[misc]
                    args.rounds,
                ),
            )
        )
    base = rows[0][1]
    print(f"{'handshake':44} {'host ms':>8} {'x BAC':>7} {'card ms':>8} {'APDUs':>6}")
    for name, host, chip, apdus in rows:
        print(f"{name:44} {host:8.2f} {host / base:7.1f} {chip:8.2f} {apdus:6d}")
    print(
        f"(median of {args.rounds}; * = a curve OpenSSL lacks: every scalar multiplication"
        " runs on the Python ladder)"
    )


if __name__ == "__main__":
    main()
