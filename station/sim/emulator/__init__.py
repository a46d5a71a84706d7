"""The card emulator: a synthetic CCCD chip, in-process or behind pcscd via vpcd.

    profile = build_profile(citizen)                      # files + keys (files.py)
    card = EmulatedCard(profile, Misbehaviour(...))       # card.py
    transport = EmulatorTransport(card)                   # station.drivers.card_sim

``station.sim.pcsc.PcscRig`` runs the same card behind a real pcscd (vpcd.py).
"""

from station.drivers.card_sim import CardGone, EmulatorTransport
from station.sim.emulator.card import ATR, EmulatedCard, Handler
from station.sim.emulator.files import CardProfile, build_profile
from station.sim.emulator.switches import NORMAL, REFERENCE_APPLET, Misbehaviour

__all__ = [
    "ATR",
    "NORMAL",
    "REFERENCE_APPLET",
    "CardGone",
    "CardProfile",
    "EmulatedCard",
    "EmulatorTransport",
    "Handler",
    "Misbehaviour",
    "build_profile",
]
