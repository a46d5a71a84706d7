"""What one chip read gave: the raw files, the parsed parts and the record's chip fields.

``ChipRead.from_files`` is the one way from raw files to a read, for the reader and for a
saved dump alike: DG1, DG2 and DG13 are parsed there. A group that cannot be parsed does not
cost the others: what parsed is kept, the group's raw bytes stay in ``files`` (Passive
Authentication hashes them all) and ``unparsed`` names it with the reason; the identity
comes from DG13, else DG1. A DG2 whose structure parses but whose face image is refused or
does not decode (``FaceImageError``: hostile or damaged) only means no face, and is not
named. DG14's SecurityInfos and DG15's key, which only verification uses, are parsed on
first use and kept (``security_infos``, ``aa_public_key``), so that a malformed one fails
Chip or Active Authentication, not the read; ``parse_problems()`` lists every group that
did not parse, those two included.
"""

from __future__ import annotations

import base64
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from functools import cached_property
from typing import TYPE_CHECKING, Any

from station.icao import keys, lds
from station.icao.errors import FaceImageError
from station.icao.mrz import Mrz
from station.icao.securityinfos import SecurityInfos

if TYPE_CHECKING:
    from station.icao.access import PaceFallback
    from station.icao.channel import CardChannel

log = logging.getLogger(__name__)

FILE_ORDER = ("EF.CardAccess", "EF.COM", "DG1", "DG2", "DG3", "DG13", "DG14", "DG15", "EF.SOD")


def _file_rank(name: str) -> int:
    return FILE_ORDER.index(name) if name in FILE_ORDER else 99


def _parsed(files: Mapping[str, bytes], name: str, unparsed: dict[str, str]) -> Any:
    """``lds.load(name, ...)``, or None (the reason in ``unparsed``) when it is malformed."""
    if name not in files:
        return None
    try:
        return lds.load(name, files[name])
    except FaceImageError as exc:  # a hostile or damaged image costs the face, not the read
        log.warning("no face from %s: %s", name, exc)
        return None
    except ValueError as exc:  # LdsError names the file and the byte
        unparsed[name] = str(exc)
        return None


@dataclass(frozen=True)
class ChipAuthRun:
    """Chip Authentication as the reader ran it during the read (right after DG14):
    ``ok`` when the chip's answers under the agreed keys came back with a valid MAC;
    ``detail`` says with what, or why not (English, no personal data). ``aa_skipped``: DG15
    was not read because CA passed (Active Authentication not needed)."""

    ok: bool
    detail: str
    aa_skipped: bool = False


@dataclass(frozen=True)
class ChipRead:
    """What one placement of a card gave. ``files`` holds raw bytes by name ("DG1",
    "EF.SOD", ...); ``unreadable`` the files the chip refused, with their status word.
    ``access`` is the protocol that opened the chip; ``pace_fallback`` is set when PACE was
    tried first and failed (e.g. the card's CAN is not the QR-derived one) and BAC opened it."""

    files: Mapping[str, bytes]
    mrz: Mrz | None
    dg13: lds.Dg13 | None
    face: lds.FaceImage | None
    access: str
    key_source: str
    read_ms: int
    unreadable: Mapping[str, str] = field(default_factory=dict)
    apdus: int = 0
    bytes_in: int = 0
    bytes_out: int = 0
    pace_fallback: PaceFallback | None = None
    unparsed: Mapping[str, str] = field(default_factory=dict)  # DG1/DG2/DG13 -> why
    # Chip Authentication run by the reader (None: not run, e.g. no DG14 or a saved dump).
    chip_auth: ChipAuthRun | None = None
    # DG14's SecurityInfos as the reader parsed them for Chip Authentication (not again)
    parsed_dg14: SecurityInfos | None = field(default=None, compare=False, repr=False)
    # The open secure-messaging session the files were read under, for Active and Chip
    # Authentication right after the read; None for a saved dump (offline verification).
    session: CardChannel | None = field(default=None, compare=False, repr=False)

    @classmethod
    def from_files(
        cls,
        files: Mapping[str, bytes],
        *,
        access: str,
        key_source: str,
        read_ms: int = 0,
        unreadable: Mapping[str, str] | None = None,
        apdus: int = 0,
        bytes_in: int = 0,
        bytes_out: int = 0,
        pace_fallback: PaceFallback | None = None,
        session: CardChannel | None = None,
        chip_auth: ChipAuthRun | None = None,
        parsed_dg14: SecurityInfos | None = None,
    ) -> ChipRead:
        """The read of these raw files (by name, "DG1", "EF.SOD", ...): DG1, DG2 and DG13
        parsed; one that is malformed is named in ``unparsed`` (file, byte, why); DG2's
        face only when its image is usable (else no face)."""
        unparsed: dict[str, str] = {}
        faces = _parsed(files, "DG2", unparsed) or []
        return cls(
            files=files, mrz=_parsed(files, "DG1", unparsed), dg13=_parsed(files, "DG13", unparsed),
            face=faces[0] if faces else None, access=access, key_source=key_source,
            read_ms=read_ms, unreadable=unreadable or {}, apdus=apdus, bytes_in=bytes_in,
            bytes_out=bytes_out, pace_fallback=pace_fallback, unparsed=unparsed, session=session,
            chip_auth=chip_auth, parsed_dg14=parsed_dg14,
        )  # fmt: skip

    def parse_problems(self) -> dict[str, str]:
        """Every group read that did not parse, and why (DG14 and DG15 parsed here if not yet)."""
        problems = dict(self.unparsed)
        for name, attribute in (("DG14", "security_infos"), ("DG15", "aa_public_key")):
            if name in self.files:
                try:
                    getattr(self, attribute)
                except ValueError as exc:  # LdsError, KeyLoadError
                    problems[name] = str(exc)
        return {n: problems[n] for n in sorted(problems, key=_file_rank)}

    @cached_property
    def security_infos(self) -> SecurityInfos | None:
        """DG14's SecurityInfos (Chip Authentication, the AA signature algorithm); None
        without DG14. Raises LdsError when DG14 is malformed."""
        if "DG14" not in self.files:
            return None
        if self.parsed_dg14 is not None:
            return self.parsed_dg14
        infos: SecurityInfos = lds.load("DG14", self.files["DG14"])
        return infos

    @cached_property
    def aa_public_key(self) -> keys.PublicKey | None:
        """DG15's Active Authentication key; None without DG15. Raises LdsError or
        KeyLoadError (both ValueErrors) when DG15 is malformed or its key unusable."""
        if "DG15" not in self.files:
            return None
        return keys.load_spki(lds.load("DG15", self.files["DG15"]).value)

    def _dg13_date(self, index: int) -> str | None:
        if self.dg13 is None:
            return None
        parsed = lds.parse_dmy(self.dg13.text(index))
        return parsed.isoformat() if parsed else None

    def _mrz_date(self, yymmdd: str | None, future: bool) -> str | None:
        if not yymmdd or not yymmdd.isdigit() or len(yymmdd) != 6:
            return None
        yy, mm, dd = int(yymmdd[:2]), int(yymmdd[2:4]), int(yymmdd[4:])
        century = 2000 if future or yy <= date.today().year % 100 else 1900
        try:
            return date(century + yy, mm, dd).isoformat()
        except ValueError:
            return None

    def expiry_date(self) -> str | None:
        """YYYY-MM-DD, or None for no expiry (DG13 field 12 first, then the MRZ)."""
        if self.dg13 is not None and self.dg13.text(12):
            return self._dg13_date(12)
        return self._mrz_date(self.mrz.date_of_expiry if self.mrz else None, True)

    @cached_property
    def citizen(self) -> dict[str, Any]:
        """The record's ``citizen`` fields from the chip (QR names plus the chip's own),
        worked out once per read."""
        d = self.dg13
        out: dict[str, Any] = {}
        if d is not None:
            father, mother = d.parents()
            out.update(
                id_number=d.text(1), full_name=d.text(2), date_of_birth=self._dg13_date(3),
                sex=d.text(4), nationality=d.text(5), ethnicity=d.text(6), religion=d.text(7),
                place_of_origin=d.text(8), place_of_residence=d.text(9),
                identifying_marks=d.text(10), issue_date=self._dg13_date(11),
                father_name=father, mother_name=mother, spouse_name=d.text(14),
                old_id_number=d.text(15),
            )  # fmt: skip
        elif self.mrz is not None:
            id12 = self.mrz.optional_data[:12]
            if len(id12) == 12 and id12.isdigit():
                out["id_number"] = id12
            out.update(
                date_of_birth=self._mrz_date(self.mrz.date_of_birth, False),
                sex={"M": "Nam", "F": "Nữ"}.get(self.mrz.sex),
            )
        out["expiry_date"] = self.expiry_date()
        return out

    def chip_json(self, *, store_face: bool = False) -> dict[str, Any]:
        """The record's ``chip`` object."""
        names = sorted(self.files, key=_file_rank)
        out: dict[str, Any] = {
            "files": names,
            "access": self.access,
            "key_source": self.key_source,
            "read_ms": self.read_ms,
        }
        if self.pace_fallback is not None:
            fallback = self.pace_fallback
            out["pace_fallback"] = {"tried": fallback.tried, "reason": fallback.reason}
        if self.unreadable:
            out["unreadable"] = dict(self.unreadable)
        if self.mrz is not None and self.mrz.check_errors:
            out["mrz_check_errors"] = list(self.mrz.check_errors)
        problems = self.parse_problems()
        if problems:
            out["unparsed"] = problems
        if self.dg13 is not None and self.dg13.unknown_fields():
            out["dg13_raw"] = self.dg13.unknown_fields()
        if store_face and self.face is not None:
            out["face"] = {
                "format": self.face.format,
                "data_b64": base64.b64encode(self.face.data).decode("ascii"),
            }
        return out
