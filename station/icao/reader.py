"""Reading a CCCD chip: one entry point for the station.

    reader = ChipReader(transport)                 # any CardTransport
    result = reader.read(AccessKeys.from_qr(identity), progress=on_progress)
    record = with_chip(qr_record, result, store_sensitive=..., store_face=...)
    result.session                                 # the open SM session (AA / CA after)

``progress`` receives a ``ReadProgress`` after every chunk. Errors are ``ChipError``
subclasses (``CardRemovedError`` / ``TransportError`` from the transport included)
whose message names the step, the file and the status word.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from station.fingerprint import Pseudonym
from station.icao import lds
from station.icao.access import AccessKeys, AccessOrder, AccessResult, open_chip, reset_card
from station.icao.channel import CardChannel
from station.icao.errors import FileReadError, LdsError
from station.icao.files import FileReader, ReadStrategy
from station.icao.result import ChipRead

if TYPE_CHECKING:
    from station.ports import CardTransport

log = logging.getLogger(__name__)

FILES: dict[str, tuple[int, int | None]] = {
    "EF.COM": (0x011E, 0x1E),
    "EF.SOD": (0x011D, 0x1D),
    "EF.CardAccess": (0x011C, None),
} | {f"DG{n}": (0x0100 + n, n) for n in range(1, 17)}
DEFAULT_FILES = ("DG1", "DG2", "DG13", "DG14", "DG15", "EF.SOD")
FACE_FILES = ("DG2",)
REFUSED = (0x6982, 0x6A82)


def wanted_files(*, face: bool) -> tuple[str, ...]:
    """What a read fetches: everything the record and the verdict use; the face (DG2, ~18 KB:
    80% of the bytes) only when it is stored or shown (Decree 13: no biometrics without
    need). Passive Authentication covers the groups read; the record lists them."""
    return tuple(n for n in DEFAULT_FILES if face or n not in FACE_FILES)


@dataclass(frozen=True)
class ReadProgress:
    file: str
    file_read: int
    file_total: int
    files_done: int
    files_total: int

    @property
    def fraction(self) -> float:
        if not self.files_total:
            return 0.0
        part = self.file_read / self.file_total if self.file_total else 0.0
        return min(1.0, (self.files_done + part) / self.files_total)


def file_names(spec: str) -> tuple[str, ...]:
    """ "DG1,DG13,SOD" -> ("DG1", "DG13", "EF.SOD"); ValueError for unknown names."""
    out = []
    for item in (s.strip().upper() for s in spec.split(",") if s.strip()):
        name = {"SOD": "EF.SOD", "EF.SOD": "EF.SOD", "COM": "EF.COM", "EF.COM": "EF.COM"}.get(
            item, item
        )
        if name not in FILES or name == "EF.CardAccess":
            raise ValueError(f"unknown file {item!r}")
        out.append(name)
    return tuple(out)


class ChipReader:
    """Reads chips through one transport. It remembers whether it left a session open on the
    card (``card_changed()`` forgets it): a card that keeps its session state until reset is
    reset before the next access attempt."""

    def __init__(
        self,
        transport: CardTransport,
        *,
        strategy: ReadStrategy | None = None,
        order: AccessOrder = "auto",
        timeout_s: float | None = None,
    ) -> None:
        self.transport = transport
        self.timeout_s = timeout_s
        self.strategy = strategy or ReadStrategy()
        self.order: AccessOrder = order
        self.channel = CardChannel(transport)
        self.needs_reset = False

    def card_changed(self) -> None:
        """The card in the field is another one (or none): no earlier session on it."""
        self.needs_reset = False

    def read(
        self,
        keys: AccessKeys,
        *,
        files: Sequence[str] = DEFAULT_FILES,
        progress: Callable[[ReadProgress], None] | None = None,
    ) -> ChipRead:
        started = time.monotonic()
        self.channel = channel = CardChannel(self.transport)
        if self.timeout_s is not None:
            channel.deadline = started + self.timeout_s
        if self.needs_reset:
            reset_card(channel)  # a new access attempt after an earlier session
        raw: dict[str, bytes] = {}
        unreadable: dict[str, str] = {}
        card_access = self._card_access(channel, unreadable)
        if card_access is not None:
            raw["EF.CardAccess"] = card_access
        opened = open_chip(channel, keys, order=self.order, card_access=card_access)
        self.needs_reset = True
        reader = FileReader(channel, self.strategy, opened.reopen)
        wanted = self._listed(reader, files, raw, unreadable)
        for index, name in enumerate(wanted):

            def report(done: int, total: int, name: str = name, index: int = index) -> None:
                if progress is not None:
                    progress(ReadProgress(name, done, total, index, len(wanted)))

            data = self._optional(reader, name, unreadable, report)
            if data is not None:
                raw[name] = data
        result = self._result(raw, unreadable, opened, started)
        log.info(
            "chip %s read: %d files, %d APDUs, %d ms",
            Pseudonym(raw.get("DG1", b"")),
            len(raw),
            channel.apdus,
            result.read_ms,
        )
        return result

    def _card_access(self, channel: CardChannel, unreadable: dict[str, str]) -> bytes | None:
        """EF.CardAccess, or None: any refusal (6982, 6A82, 6986, 6A86, 6D00, a wrong length)
        means "no PACE information", and BAC opens the chip."""
        try:
            return FileReader(channel, self.strategy).read("EF.CardAccess", *FILES["EF.CardAccess"])
        except (FileReadError, LdsError) as exc:
            why = f"{exc.sw:04X}" if exc.sw is not None else exc.detail or str(exc)
            log.info("no EF.CardAccess (%s): no PACE information", why)
            unreadable["EF.CardAccess"] = why
            return None

    def _listed(
        self,
        reader: FileReader,
        files: Sequence[str],
        raw: dict[str, bytes],
        unreadable: dict[str, str],
    ) -> list[str]:
        """The wanted files EF.COM lists (all of them when EF.COM is malformed)."""
        com = reader.read("EF.COM", *FILES["EF.COM"])
        raw["EF.COM"] = com
        try:
            listed = set(lds.parse_com(com).data_groups) | {"EF.SOD"}
        except LdsError as exc:
            log.warning("EF.COM unparseable (%s): reading every wanted file", exc)
            return list(files)
        wanted = [n for n in files if n in listed]
        unreadable.update({n: "not listed in EF.COM" for n in files if n not in wanted})
        return wanted

    def _optional(
        self,
        reader: FileReader,
        name: str,
        unreadable: dict[str, str],
        progress: Callable[[int, int], None] | None = None,
    ) -> bytes | None:
        try:
            return reader.read(name, *FILES[name], progress=progress)
        except FileReadError as exc:
            if exc.sw not in REFUSED:
                raise
            unreadable[name] = f"{exc.sw:04X}"
            return None

    def _result(
        self,
        raw: dict[str, bytes],
        unreadable: dict[str, str],
        opened: AccessResult,
        started: float,
    ) -> ChipRead:
        ch = self.channel
        return ChipRead.from_files(
            raw, access=opened.access, key_source=opened.key_source,
            read_ms=int((time.monotonic() - started) * 1000), unreadable=unreadable,
            apdus=ch.apdus, bytes_in=ch.bytes_in, bytes_out=ch.bytes_out,
            pace_fallback=opened.pace_fallback, session=ch,
        )  # fmt: skip
