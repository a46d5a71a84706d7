"""Events the app feeds to ``station.flow.step`` and effects it executes (see the package doc)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING

from station.display.screens import Denied, Face, Outcome, Person, Screen, SyncLink
from station.ports import ButtonKind, Leds, Pattern
from station.qr.models import QrResult

if TYPE_CHECKING:
    from station.icao.result import ChipRead
    from station.mrz.td1 import ParsedMrz
    from station.verify.verdict import Verification


class Phase(StrEnum):
    IDLE = "idle"
    LOOKING = "looking"  # a QR that gives no key by itself: waiting for the MRZ
    READING = "reading"
    CARD_AWAY = "card-away"
    VERIFYING = "verifying"
    STORING = "storing"
    RESULT = "result"
    ERROR = "error"
    STOPPED = "stopped"


class ChipFailure(StrEnum):
    REMOVED = "removed"
    NO_CHIP = "no-chip"
    ACCESS_DENIED = "access-denied"
    ERROR = "error"
    READER_GONE = "reader-gone"


# ---- events -------------------------------------------------------------------------


@dataclass(frozen=True)
class QrSeen:
    now: float
    result: QrResult


@dataclass(frozen=True)
class MrzSeen:
    """A checked MRZ read alike in consecutive frames (``MrzTracker``), once per
    presentation; ``qr``: a QR code in the same frames that is not a 2021 CCCD's."""

    now: float
    mrz: ParsedMrz
    qr: QrResult | None = None


@dataclass(frozen=True)
class QrVisible:
    now: float
    visible: bool


@dataclass(frozen=True)
class QrUnreadable:
    now: float


@dataclass(frozen=True)
class CardPresent:
    now: float


@dataclass(frozen=True)
class CardGone:
    now: float


@dataclass(frozen=True)
class ChipProgress:
    """``bytes_read`` counts the whole read, or only ``file`` when a file name is given
    (``ReadProgress.file`` / ``.file_read``): the flow then adds the files up."""

    now: float
    job: int
    fraction: float
    bytes_read: int
    file: str = ""


@dataclass(frozen=True)
class ChipDone:
    """The chip of read ``job`` was read; the chip worker verifies it next (``Verified``
    with the same ``job``) while the card is still in the field."""

    now: float
    job: int
    chip: ChipRead
    person: Person | None = None  # station.display.outcome.person_from_chip(...)
    face: Face | None = None  # station.display.face.face_thumbnail(...), if shown


@dataclass(frozen=True)
class ChipFailed:
    """``reason``: for ``ERROR``, the record's warning code when it is not the generic
    ``chip_read_error`` (``chip_unparseable``: a data group could not be parsed)."""

    now: float
    job: int
    failure: ChipFailure
    reason: str = ""


@dataclass(frozen=True)
class Verified:
    now: float
    job: int
    outcome: Outcome | None  # None: verification could not run
    verification: Verification | None = None


@dataclass(frozen=True)
class StoreDone:
    now: float
    job: int


@dataclass(frozen=True)
class StoreFailed:
    now: float
    job: int
    full: bool


@dataclass(frozen=True)
class Button:
    now: float
    kind: ButtonKind


@dataclass(frozen=True)
class TimerFired:
    now: float
    name: str


@dataclass(frozen=True)
class ReaderState:
    now: float
    connected: bool


@dataclass(frozen=True)
class CameraState:
    now: float
    ok: bool


@dataclass(frozen=True)
class MrzState:
    """The MRZ process is serving (``ok``) or keeps dying (``station.runtime.vision``)."""

    now: float
    ok: bool


@dataclass(frozen=True)
class ClockState:
    now: float
    ok: bool


@dataclass(frozen=True)
class SyncState:
    now: float
    link: SyncLink
    pending: int
    refused: int = 0  # records the ward refused for good, kept until the admin requeues
    stale_min: int = 0  # minutes the oldest record has waited, once past store.alert_age_h
    denied: Denied | None = None  # the broker refuses our records (and who it takes us for)


@dataclass(frozen=True)
class StoreState:
    now: float
    full: bool


@dataclass(frozen=True)
class Stop:
    now: float


Event = (
    QrSeen | MrzSeen | QrVisible | QrUnreadable | CardPresent | CardGone | ChipProgress | ChipDone
    | ChipFailed | Verified | StoreDone | StoreFailed | Button | TimerFired | ReaderState
    | CameraState | MrzState | ClockState | SyncState | StoreState | Stop
)  # fmt: skip

# ---- effects ------------------------------------------------------------------------


@dataclass(frozen=True)
class ShowScreen:
    screen: Screen


@dataclass(frozen=True)
class Play:
    pattern: Pattern


@dataclass(frozen=True)
class SetLeds:
    leds: Leds


@dataclass(frozen=True)
class StartChipRead:
    job: int
    qr: QrResult  # station.qr.models.NO_QR when only the MRZ was read
    mrz: ParsedMrz | None = None


@dataclass(frozen=True)
class CancelChipRead:
    job: int


@dataclass(frozen=True)
class StoreRecord:
    """``chip_failure``: why the chip was not verified (``station.record.CHIP_NOT_VERIFIED``
    code), None when it was or when no chip read was due (the QR was not a CCCD's)."""

    job: int
    qr: QrResult
    chip: ChipRead | None
    verification: Verification | None
    chip_failure: str | None = None
    mrz: ParsedMrz | None = None


@dataclass(frozen=True)
class StartTimer:
    name: str
    at: float


Effect = ShowScreen | Play | SetLeds | StartChipRead | CancelChipRead | StoreRecord | StartTimer
