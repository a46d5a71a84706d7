"""Reading a CCCD chip: one entry point for the station.

    reader = ChipReader(transport)                 # any CardTransport
    result = reader.read(AccessKeys.from_qr(identity), progress=on_progress)
    record = with_chip(qr_record, result, store_sensitive=..., store_face=...)
    result.session                                 # the open SM session (AA / CA after)

What a read sends (every APDU costs ~10 ms of turnaround on the air): EF.CardAccess by
its short EF id (SELECT + READ BINARY when refused), the access protocol, EF.SOD first (its
LDSSecurityObject lists the groups the chip holds: EF.COM is read only when the SOD is not
wanted or its list does not parse), DG14 next and Chip Authentication right after it
(ICAO 9303-11 / BSI TR-03110's order; no probe read: the next file's answer proves CA's
keys, and if it does not, CA failed and the access session is opened again), the other
groups under CA's keys, and DG15 only when CA did not pass (AA is then needed). A CCCD
with the default privacy settings: 13 APDUs.

``progress`` receives a ``ReadProgress`` after every chunk. Errors are ``ChipError``
subclasses (``CardRemovedError`` / ``TransportError`` from the transport included)
whose message names the step, the file and the status word.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from station.fingerprint import Pseudonym
from station.icao import chipauth, lds
from station.icao.access import AccessKeys, AccessOrder, AccessResult, open_chip, reset_card
from station.icao.channel import CardChannel
from station.icao.errors import ChipError, FileReadError, LdsError, SecureMessagingError
from station.icao.files import FileReader, ReadStrategy
from station.icao.result import ChipAuthRun, ChipRead
from station.ports import TransportError

if TYPE_CHECKING:
    from station.icao.securityinfos import SecurityInfos
    from station.icao.sm import SecureMessaging
    from station.ports import CardTransport

log = logging.getLogger(__name__)

FILES: dict[str, tuple[int, int]] = {
    "EF.COM": (0x011E, 0x1E),
    "EF.SOD": (0x011D, 0x1D),
    "EF.CardAccess": (0x011C, 0x1C),
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
        dg15_if_needed: bool = True,
    ) -> ChipRead:
        """Open the chip and read ``files`` (those the chip's EF.SOD lists; EF.COM's list
        when the SOD is not read or does not parse). DG14 first, then Chip Authentication,
        then the rest under CA's session; ``dg15_if_needed``: DG15 (the Active Authentication
        key) only when CA did not pass (ICAO 9303-11: CA supersedes AA)."""
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
        plan = _Plan(reader, files, raw, unreadable, progress)
        listed = self._listed(plan)
        ca: ChipAuthRun | None = None
        pending: SecureMessaging | None = None  # CA's session, not proven yet
        dg14: SecurityInfos | None = None
        if "DG14" in listed:
            plan.read("DG14")
            ca, pending, dg14 = self._chip_auth(channel, raw)
        rest = [n for n in listed if n not in raw and n not in unreadable]
        deferred = dg15_if_needed and ca is not None and ca.ok and "DG15" in rest
        if deferred:
            rest.remove("DG15")  # read below only if CA turns out to have failed
        plan.total = plan.done + len(rest)
        for name in rest:
            if pending is not None:
                ca = self._confirm(plan, name, pending, ca)
                pending = None
            else:
                plan.read(name)
        if pending is not None:  # nothing left to read: CA's own probe proves the keys
            ca = self._probe(channel, pending, ca)
        if deferred and ca is not None and not ca.ok:
            plan.total += 1
            plan.read("DG15")  # CA failed: Active Authentication after all
        elif deferred and ca is not None:
            ca = dataclasses.replace(ca, aa_skipped=True)
        result = self._result(raw, unreadable, opened, started, ca, dg14)
        log.info(
            "chip %s read: %d files, %d APDUs, %d ms",
            Pseudonym(raw.get("DG1", b"")),
            len(raw),
            channel.apdus,
            result.read_ms,
        )
        return result

    def _card_access(self, channel: CardChannel, unreadable: dict[str, str]) -> bytes | None:
        """EF.CardAccess (READ BINARY by its short EF id, else SELECT + READ BINARY), or None:
        any refusal (6982, 6A82, 6986, 6A86, 6D00, a wrong length) means "no PACE
        information", and BAC opens the chip."""
        try:
            return FileReader(channel, self.strategy).read("EF.CardAccess", *FILES["EF.CardAccess"])
        except (FileReadError, LdsError) as exc:
            why = f"{exc.sw:04X}" if exc.sw is not None else exc.detail or str(exc)
            log.info("no EF.CardAccess (%s): no PACE information", why)
            unreadable["EF.CardAccess"] = why
            return None

    def _listed(self, plan: _Plan) -> list[str]:
        """The wanted files in reading order (DG14 first): those EF.SOD lists (read first);
        EF.COM's list when the SOD is not wanted, refused or does not parse; every wanted
        file when EF.COM does not parse either."""
        files = list(plan.files)
        if "EF.SOD" in files:
            sod = plan.read("EF.SOD")
            groups: tuple[int, ...] | None = None
            if sod is not None:
                try:
                    groups = lds.sod_groups(sod)
                except LdsError as exc:
                    log.warning("EF.SOD's group list unparseable (%s): EF.COM lists them", exc)
            if groups is not None:
                names = {f"DG{n}" for n in groups} | {"EF.COM"}
                return self._ordered(plan, files, names, "not listed in EF.SOD")
        com = plan.read("EF.COM", optional=False)
        assert com is not None
        try:
            names = set(lds.parse_com(com).data_groups) | {"EF.SOD", "EF.COM"}
        except LdsError as exc:
            log.warning("EF.COM unparseable (%s): reading every wanted file", exc)
            names = set(files)
        return self._ordered(plan, files, names, "not listed in EF.COM")

    def _ordered(self, plan: _Plan, files: list[str], names: set[str], why: str) -> list[str]:
        left = [n for n in files if n not in plan.raw and n not in plan.unreadable]
        plan.unreadable.update({n: why for n in left if n not in names})
        wanted = [n for n in left if n in names]
        return sorted(wanted, key=lambda n: n != "DG14")  # stable: DG14 first, then as asked

    def _chip_auth(
        self, channel: CardChannel, raw: dict[str, bytes]
    ) -> tuple[ChipAuthRun | None, SecureMessaging | None, SecurityInfos | None]:
        """Chip Authentication with DG14's first option, without its probe read: (the
        outcome so far, CA's session while its keys are not proven yet, DG14's parsed
        SecurityInfos). Not run (None, None, ...) without DG14 or a CA key in it:
        verification says why."""
        try:
            infos: SecurityInfos | None = lds.load("DG14", raw["DG14"]) if "DG14" in raw else None
        except LdsError:
            return None, None, None  # verification names the unparseable DG14
        options = infos.ca_options() if infos is not None else ()
        if not options:
            return None, None, infos
        try:
            result = chipauth.establish(channel, options[0], probe=False)
        except chipauth.ChipAuthError as exc:
            return ChipAuthRun(False, str(exc)), None, infos
        except TransportError:
            raise
        except ChipError as exc:  # the answer under the access session did not check
            channel.in_doubt = True  # re-open it before the next command
            return ChipAuthRun(False, f"CA failed: {exc}"), None, infos
        assert channel.sm is not None
        return ChipAuthRun(True, result.detail), channel.sm, infos

    def _confirm(
        self, plan: _Plan, name: str, session: SecureMessaging, ca: ChipAuthRun | None
    ) -> ChipAuthRun:
        """Read ``name``, the first file under CA's session: its answer's MAC proves that the
        chip derived CA's keys. If it does not, CA failed: the access session is opened again
        and the file read under it."""
        assert ca is not None
        try:
            plan.read(name)
        except SecureMessagingError as exc:
            if session.proven:
                raise
            return self._ca_failed(plan, name, f"CA failed: {exc.detail or exc}")
        if session.proven:
            return ca
        # the chip answered without CA's keys (an unprotected error, the session dropped)
        # and the file reader re-opened the access session: the file came under that one
        log.info("chip authentication failed: the file came after the session was re-opened")
        return ChipAuthRun(False, "CA failed: the chip's answer was not protected with CA's keys")

    def _ca_failed(self, plan: _Plan, name: str, detail: str) -> ChipAuthRun:
        log.info("chip authentication failed (%s): re-opening the access session", detail)
        channel = plan.reader.sender
        channel.in_doubt = True
        channel.settle()
        plan.read(name)
        return ChipAuthRun(False, detail)

    def _probe(
        self, channel: CardChannel, session: SecureMessaging, ca: ChipAuthRun | None
    ) -> ChipAuthRun:
        assert ca is not None
        try:
            chipauth.CaApduSender(channel).probe(channel.short_ef)
            if session.proven:
                return ca
            failed = ChipAuthRun(False, "CA failed: no answer under its keys")
        except chipauth.ChipAuthError as exc:
            failed = ChipAuthRun(False, str(exc))
        except TransportError:
            raise
        except ChipError as exc:
            failed = ChipAuthRun(False, f"CA failed: {exc}")
        channel.in_doubt = True  # the access session again, for what follows (AA)
        channel.settle()
        return failed

    def _result(
        self,
        raw: dict[str, bytes],
        unreadable: dict[str, str],
        opened: AccessResult,
        started: float,
        chip_auth: ChipAuthRun | None,
        dg14: SecurityInfos | None,
    ) -> ChipRead:
        ch = self.channel
        return ChipRead.from_files(
            raw, access=opened.access, key_source=opened.key_source,
            read_ms=int((time.monotonic() - started) * 1000), unreadable=unreadable,
            apdus=ch.apdus, bytes_in=ch.bytes_in, bytes_out=ch.bytes_out,
            pace_fallback=opened.pace_fallback, session=ch, chip_auth=chip_auth,
            parsed_dg14=dg14,
        )  # fmt: skip


class _Plan:
    """One read's files: what was asked, what came (``raw``), what the chip did not give
    (``unreadable``, with why), and the progress reports."""

    def __init__(
        self,
        reader: FileReader,
        files: Sequence[str],
        raw: dict[str, bytes],
        unreadable: dict[str, str],
        progress: Callable[[ReadProgress], None] | None,
    ) -> None:
        self.reader = reader
        self.files = tuple(files)
        self.raw = raw
        self.unreadable = unreadable
        self.progress = progress
        self.done = 0
        self.total = len(self.files)  # files to read, for the progress (set once listed)

    def read(self, name: str, *, optional: bool = True) -> bytes | None:
        """The file's bytes (kept in ``raw``); None when the chip refuses it (6982, 6A82:
        kept in ``unreadable``) and ``optional``."""
        index = self.done
        total = max(self.total, index + 1)

        def report(done: int, size: int) -> None:
            if self.progress is not None:
                self.progress(ReadProgress(name, done, size, index, total))

        try:
            data = self.reader.read(name, *FILES[name], progress=report)
        except FileReadError as exc:
            if not optional or exc.sw not in REFUSED:
                raise
            self.unreadable[name] = f"{exc.sw:04X}"
            return None
        finally:
            self.done += 1
        self.raw[name] = data
        return data
