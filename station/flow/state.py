"""The flow's state: settings from the config, station health, the current read."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from station.config import Config
from station.display.screens import Denied, ErrorKind, Face, Outcome, Person, SyncLink
from station.flow.events import Phase, StartTimer
from station.qr.models import QrResult

if TYPE_CHECKING:
    from station.icao.result import ChipRead
    from station.mrz.td1 import ParsedMrz
    from station.verify.verdict import Verification


@dataclass(frozen=True)
class Settings:
    chip: bool = True  # reader.enabled
    show_face: bool = False  # privacy.show_face
    result_s: float = 20.0  # ui.result_timeout_s
    read_s: float = 20.0  # reader.timeout_s
    verify_s: float = 10.0
    store_s: float = 10.0
    card_away_s: float = 10.0
    error_s: float = 6.0
    no_qr_s: float = 3.0
    mrz: bool = True  # camera.mrz: the MRZ is read from frames without a 2021 QR
    mrz_wait_s: float = 2.5  # camera.mrz_wait_s: after a QR that gives no key
    portal_url: str = ""  # ui.portal_url: the idle screen's lookup QR code

    @classmethod
    def from_config(cls, cfg: Config) -> Settings:
        return cls(
            chip=cfg.reader.enabled,
            show_face=cfg.privacy.show_face,
            result_s=cfg.ui.result_timeout_s,
            read_s=cfg.reader.timeout_s,
            mrz=cfg.camera.mrz,
            mrz_wait_s=cfg.camera.mrz_wait_s,
            portal_url=cfg.ui.portal_url,
        )


# ---- state --------------------------------------------------------------------------


@dataclass(frozen=True)
class Health:
    reader: bool = True
    camera: bool = True
    mrz: bool = True  # the MRZ process serves (False: it keeps dying; QR reads go on)
    clock: bool = True
    store_full: bool = False
    stopped: bool = False
    sync: SyncLink = SyncLink.CONNECTING
    pending: int = 0
    refused: int = 0
    stale_min: int = 0  # minutes the oldest record has waited, once past the alert age
    denied: Denied | None = None


@dataclass(frozen=True)
class Presentation:
    """What the camera read of one card: a QR result (``NO_QR`` for none), maybe an MRZ."""

    qr: QrResult
    mrz: ParsedMrz | None = None


@dataclass(frozen=True)
class Read:
    """One card's read in progress or on screen (cleared with it). ``marks``: fingerprints
    of what identified the card (its QR text, its MRZ's checked lines)."""

    marks: frozenset[str]
    qr: QrResult
    person: Person | None
    mrz: ParsedMrz | None = None
    chip: ChipRead | None = None
    face: Face | None = None
    outcome: Outcome | None = None
    verification: Verification | None = None
    error: ErrorKind | None = None  # shown instead of a result, after storing
    chip_failure: str | None = None  # why the chip was not verified (record warning code)
    fraction: float = 0.0
    bytes_read: int = 0  # over the whole read
    file: str = ""  # the file being read, when progress is reported per file
    file_bytes: int = 0  # bytes of ``file`` read so far
    attempts: int = 0


@dataclass(frozen=True)
class State:
    settings: Settings = field(default_factory=Settings)
    phase: Phase = Phase.IDLE
    health: Health = field(default_factory=Health)
    read: Read | None = None
    error: ErrorKind | None = None
    job: int = 0
    timer: StartTimer | None = None
    page: int = 0
    reveal: bool = False
    qr_visible: bool = False
    chip_present: bool = False
    held: frozenset[str] | None = None  # marks of the card still lying on the station
    queued: Presentation | None = None  # a new card seen while verifying/storing

    @property
    def card_here(self) -> bool:
        return self.qr_visible or self.chip_present
