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
from station.sim import backs, frames
from station.sim.citizens import SyntheticCitizen, generate, mrz_lines
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
    "smudged-qr",  # the printed QR is seen but cannot be decoded
    "foreign-qr",  # a QR code of another kind (a URL) on the card
    "card2024",  # a 2024 card, back up (its QR and MRZ): the chip opens with the MRZ key
    "back2021",  # a 2021 card, back up (MRZ, no QR): the chip opens with the MRZ key
    "card2024-front",  # a 2024 card with its front up: a chip, but no QR or MRZ in view
    "qr-only",  # QR readable, no chip answers (chip broken)
    "untrusted",  # genuine-looking, signed by a signer no installed anchor vouches for
    "cloned",  # the signed data copied onto another chip: Active/Chip Authentication fail
    "stripped-clone",  # the signed files copied, DG14/DG15 (the chip's keys) left out
    "forged-signer",  # the SOD signed by a document signer the installed CSCA never signed
    "mismatch",  # the printed QR was altered (another name): it disagrees with the chip
    "locked",  # the chip refuses every key derived from the QR (CAN and BAC)
    "moved",  # lifted mid-read, then put back: the read resumes
    "other-can",  # genuine, but the chip's CAN is not the last 6 ID digits: PACE fails, BAC opens
]
MRZ_LOOK = backs.Look(angle_deg=2.0, keystone=0.01, blur=0.6, noise=2.0)
DEMO_MIX: tuple[CardKind, ...] = (
    "good",
    "smudged-qr",
    "mismatch",
    "untrusted",
    "cloned",
    "locked",
    "foreign-qr",
    "card2024-front",
    "card2024",
    "back2021",
    "qr-only",
    "moved",
    "other-can",
)


@dataclass(frozen=True)
class SimCard:
    """One synthetic card as the camera and the reader see it."""

    kind: CardKind
    citizen: SyntheticCitizen
    frame: Frame
    chip: EmulatedCard | None = field(repr=False)
    put_back: EmulatedCard | None = field(default=None, repr=False)  # "moved": the chip again
    full: Frame | None = field(default=None, repr=False)  # the view at full resolution


def full_chip(
    citizen: SyntheticCitizen,
    pki: TestPki,
    misbehaviour: Misbehaviour = NORMAL,
    *,
    can: str | None = None,
    cloned: bool = False,
    stripped: bool = False,
    forged_signer: bool = False,
) -> EmulatedCard:
    """An emulated CCCD chip with everything a real one answers: BAC, PACE, Active and
    Chip Authentication, over the citizen's signed file set. ``can``: the chip's CAN when it
    is not the citizen's usual one (the last 6 digits of the ID). ``cloned``: the signed
    files on a chip whose private keys are not the ones DG14/DG15 name. ``stripped`` /
    ``forged_signer``: the ``clone`` / ``forged_signer`` switches of
    ``station.sim.emulator.auth.tamper``."""
    from station.sim.emulator import auth, pace

    profile = build_profile(citizen, pki=pki)
    if can is not None:
        profile = dataclasses.replace(profile, can=can)
    if cloned:
        profile = auth.tamper(profile, wrong_aa_key=True, wrong_ca_key=True)
    if stripped or forged_signer:
        profile = auth.tamper(profile, clone=stripped, forged_signer=forged_signer)
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
        self.scene.set(card.frame, card.full)

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

    def _other_can(self, citizen: SyntheticCitizen) -> str:
        can = citizen.can
        while can == citizen.can:
            can = f"{self.rng.randrange(10**6):06d}"
        return can

    def _frame(self, printed: SyntheticCitizen, kind: CardKind) -> Frame:
        damage: frames.Damage | None = {
            "smudged-qr": "smudged",
            "foreign-qr": "url",
        }.get(kind)  # type: ignore[assignment]
        return frames.card_frame(
            printed,
            self.size,
            module_px=self.rng.choice((4, 5)),
            angle=self.rng.uniform(-8, 8),
            noise=self.rng.uniform(0, 4),
            damage=damage,
            seed=self.rng.randrange(1 << 30),
        )

    def _chip(self, kind: CardKind, citizen: SyntheticCitizen) -> EmulatedCard | None:
        if kind == "qr-only":
            return None
        if kind == "untrusted":
            if self._rogue is None:
                self._rogue = make_test_pki("p256", name="Rogue")
            return full_chip(citizen, self._rogue)
        if kind == "cloned":
            return full_chip(citizen, self.pki, cloned=True)
        if kind == "stripped-clone":
            return full_chip(citizen, self.pki, stripped=True)
        if kind == "forged-signer":
            return full_chip(citizen, self.pki, forged_signer=True)
        if kind == "locked":
            wrong = Misbehaviour(wrong_key=True)
            return full_chip(citizen, self.pki, wrong, can=self._other_can(citizen))
        if kind == "moved":
            return full_chip(citizen, self.pki, Misbehaviour(lost_after_bytes=1000))  # mid-read
        if kind == "other-can":
            return full_chip(citizen, self.pki, can=self._other_can(citizen))
        return full_chip(citizen, self.pki)

    def back(
        self,
        kind: CardKind,
        *,
        char_h: float | None = None,
        full_size: tuple[int, int] | None = None,
    ) -> SimCard:
        """A card lying back up ("card2024", "back2021"; "card2024-front": the other side):
        the MRZ (and a 2024 card's QR) under the camera, characters ``char_h`` px high
        (default: 15-17 px per 640 px of frame width). ``full_size``: the camera's full
        resolution too, the characters as much larger. A 2024 chip holds the MRZ's data and
        a CAN that is not the ID's last digits."""
        generation: backs.Generation = 2021 if kind == "back2021" else 2024
        citizen = generate(self.rng, generation=generation)
        seed = self.rng.randrange(1 << 30)
        height = char_h or self.rng.uniform(15.0, 17.0) * self.size[0] / 640

        def view(size: tuple[int, int], h: float) -> Frame:
            if kind == "card2024-front":
                return frames.card_frame(citizen, size, damage="no-qr", seed=seed)
            look = dataclasses.replace(MRZ_LOOK, angle_deg=random.Random(seed).uniform(-3, 3))
            payload = citizen.qr_payload_2024().encode() if generation == 2024 else None
            return backs.back_frame(mrz_lines(citizen), size, h, look=look, seed=seed,
                                    generation=generation, qr_payload=payload)  # fmt: skip

        full = view(full_size, height * full_size[0] / self.size[0]) if full_size else None
        can = self._other_can(citizen) if generation == 2024 else None
        chip = full_chip(citizen, self.pki, can=can)
        return SimCard(kind, citizen, view(self.size, height), chip, full=full)

    def make(self, kind: CardKind) -> SimCard:
        if kind in ("card2024", "back2021", "card2024-front"):
            return self.back(kind)
        citizen = generate(self.rng)
        printed = citizen
        if kind == "mismatch":  # same ID and birth date (the chip opens), another name
            printed = dataclasses.replace(citizen, full_name=generate(self.rng).full_name)
        chip = self._chip(kind, citizen)
        put_back = full_chip(citizen, self.pki) if kind == "moved" else None
        return SimCard(kind, printed, self._frame(printed, kind), chip, put_back)
