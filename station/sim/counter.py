"""A simulated counter: the camera's view and the reader's field, with cards placed on them.

The demo and the scenario tests use this to present synthetic cards to the real station
code: ``place(card)`` puts the card's frame in front of the simulated camera and its
emulated chip in the simulated reader's field; ``remove()`` takes it away.
"""

from __future__ import annotations

import dataclasses
import random
from dataclasses import dataclass, field
from typing import Literal

from station.drivers.camera_sim import Scene
from station.ports import Frame
from station.sim import frames
from station.sim.citizens import SyntheticCitizen, generate
from station.sim.emulator import (
    NORMAL,
    EmulatedCard,
    EmulatorTransport,
    Misbehaviour,
    build_profile,
)
from station.sim.pki import TestPki, make_test_pki

CardKind = Literal[
    "good",  # a genuine 2021 card: QR readable, chip opens with the QR-derived key
    "smudged-qr",  # the printed QR cannot be decoded
    "foreign-qr",  # a QR code of another kind (a URL) on the card
    "card2024",  # 2024 card shown with its front up (QR on the back): chip only
    "qr-only",  # QR readable, no chip answers (chip broken or reader disabled)
    "cloned",  # QR fine, chip signed by an untrusted signer
    "mismatch",  # the chip belongs to another citizen than the printed QR
    "other-can",  # genuine, but the chip's CAN is not the last 6 ID digits: PACE fails, BAC opens
]
DEMO_MIX: tuple[CardKind, ...] = (
    "good",
    "good",
    "smudged-qr",
    "good",
    "foreign-qr",
    "good",
    "cloned",
    "good",
    "mismatch",
    "card2024",
)


@dataclass(frozen=True)
class SimCard:
    """One synthetic card as the camera and the reader see it."""

    kind: CardKind
    citizen: SyntheticCitizen
    frame: Frame
    chip: EmulatedCard | None = field(repr=False)


def full_chip(
    citizen: SyntheticCitizen,
    pki: TestPki,
    misbehaviour: Misbehaviour = NORMAL,
    *,
    can: str | None = None,
) -> EmulatedCard:
    """An emulated CCCD chip with everything a real one answers: BAC, PACE, Active and
    Chip Authentication, over the citizen's signed file set. ``can``: the chip's CAN when it
    is not the citizen's usual one (the last 6 digits of the ID)."""
    from station.sim.emulator import auth, pace

    profile = build_profile(citizen, pki=pki)
    if can is not None:
        profile = dataclasses.replace(profile, can=can)
    card = EmulatedCard(profile, misbehaviour)
    pace.install(card)
    auth.install(card)
    return card


class SimCounter:
    """The counter surface: one camera scene and one reader field."""

    def __init__(self, scene: Scene, field_: EmulatorTransport | None) -> None:
        self.scene = scene
        self.field = field_
        self.current: SimCard | None = None

    def place(self, card: SimCard) -> None:
        self.current = card
        if self.field is not None:
            if card.chip is not None:
                self.field.insert(card.chip)
            else:
                self.field.remove()
        self.scene.set(card.frame)

    def remove(self) -> None:
        self.current = None
        self.scene.clear()
        if self.field is not None:
            self.field.remove()


class CardFactory:
    """Makes synthetic cards of each kind, all signed by one test PKI (the demo's 'State')."""

    def __init__(self, seed: int, size: tuple[int, int] = (640, 480)) -> None:
        self.rng = random.Random(seed)
        self.size = size
        self.pki: TestPki = make_test_pki("p256", name="Demo")
        self._rogue: TestPki | None = None

    def _chip(
        self, citizen: SyntheticCitizen, pki: TestPki, can: str | None = None
    ) -> EmulatedCard:
        return full_chip(citizen, pki, can=can)

    def make(self, kind: CardKind) -> SimCard:
        citizen = generate(self.rng)
        frame_seed = self.rng.randrange(1 << 30)
        damage: frames.Damage | None = {
            "smudged-qr": "smudged",
            "foreign-qr": "url",
            "card2024": "card2024",
        }.get(kind)  # type: ignore[assignment]
        frame = frames.card_frame(
            citizen,
            self.size,
            module_px=self.rng.choice((4, 5)),
            angle=self.rng.uniform(-8, 8),
            noise=self.rng.uniform(0, 4),
            damage=damage,
            seed=frame_seed,
        )
        chip: EmulatedCard | None
        if kind == "qr-only":
            chip = None
        elif kind == "cloned":
            if self._rogue is None:
                self._rogue = make_test_pki("p256", name="Rogue")
            chip = self._chip(citizen, self._rogue)
        elif kind == "mismatch":
            chip = self._chip(generate(self.rng), self.pki)
        elif kind == "other-can":
            can = citizen.can
            while can == citizen.can:
                can = f"{self.rng.randrange(10**6):06d}"
            chip = self._chip(citizen, self.pki, can)
        else:
            chip = self._chip(citizen, self.pki)
        return SimCard(kind, citizen, frame, chip)
