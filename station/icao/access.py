"""Opening the chip: key candidates from the QR identity, then PACE or BAC.

BAC candidates (``bac_candidates``): document number = the LAST 9 digits of the ID,
date of birth, and expiry dates in order: the legal expiry computed by
``station.qr.cardlaw`` ("qr-computed"), the other renewal milestones of both laws nearest
first ("qr-milestone"), then no-expiry encodings ("qr-no-expiry"). The candidate that
opened the chip is recorded as ``key_source``.

PACE is ``station.icao.pace``, offered by EF.CardAccess. ``order`` is "auto" (PACE then
BAC), "pace" or "bac". In "auto", BAC opens the chip when EF.CardAccess is absent or
malformed, or when PACE fails for any reason, a wrong password included: the
CAN (last 6 digits of the ID) is an assumption about CCCDs, while BAC's key comes from the
same QR data. A failed PACE leaves no secure channel and consumes no retry counter for a
CAN or MRZ password (only a PIN has one, and the station never uses a PIN), so BAC starts
from a clean state: secure messaging off, the eMRTD application selected again. There is
at most one fallback per read: BAC never leads back to PACE, and a session lost later is
re-opened with the protocol that opened it. The result's ``pace_fallback`` says that PACE
was tried and why it failed; "pace" never falls back.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Literal

from station.icao.apdu import CommandAPDU
from station.icao.bac import BacApduSender, BacKey, perform_bac
from station.icao.channel import CardChannel
from station.icao.errors import AccessError
from station.icao.mrz import yymmdd
from station.icao.pace import PaceError, PacePassword, establish
from station.icao.securityinfos import SecurityInfos
from station.icao.sm import SecureMessaging
from station.mrz.td1 import ParsedMrz
from station.qr import cardlaw
from station.qr.card2024 import QrClues
from station.qr.models import QrIdentity, QrResult

log = logging.getLogger(__name__)

EMRTD_AID = bytes.fromhex("A0000002471001")
NO_EXPIRY_ENCODINGS = ("<<<<<<", "999999", "991231", "000000")
AccessOrder = Literal["auto", "pace", "bac"]
WRONG_KEY = (0x6300, 0x6982)  # EXTERNAL AUTHENTICATE refusing the cryptogram (6982: some chips)
RESET_CURABLE = (0x6982, 0x6985)  # a chip that keeps an earlier session's state until reset
GET_CHALLENGE_STEP = "BAC failed in GET CHALLENGE"


@dataclass(frozen=True)
class KeyCandidate:
    key: BacKey
    source: str


@dataclass(frozen=True)
class AccessKeys:
    """What the station knows to open a chip: BAC candidates and/or a CAN."""

    bac: tuple[KeyCandidate, ...] = ()
    can: str | None = None
    can_source: str = "qr-can"

    @classmethod
    def from_qr(cls, identity: QrIdentity, *, expiry: date | None = None) -> AccessKeys:
        return cls(tuple(bac_candidates(identity, expiry=expiry)), identity.id_number[-6:])

    @classmethod
    def from_id(cls, id_number: str, birth: date, *, expiry: date | None = None) -> AccessKeys:
        """ID + date of birth without an issue date: the given expiry, else every
        renewal milestone (future ones first, nearest first), then no-expiry encodings."""
        docno, dob = id_number[-9:], yymmdd(birth)
        today = date.today()
        days = {cardlaw.birthday_at(birth, a) for a in (*cardlaw.AGES_2014, *cardlaw.AGES_2023)}
        ordered = sorted(days, key=lambda d: (d < today, abs((d - today).days)))
        texts = [(yymmdd(expiry), "given-expiry")] if expiry else []
        texts += [(yymmdd(d), "id-milestone") for d in ordered]
        texts += [(t, "id-no-expiry") for t in NO_EXPIRY_ENCODINGS]
        return cls(_unique(docno, dob, texts), id_number[-6:])

    @classmethod
    def from_mrz(
        cls, document_number: str, birth: str, expiry: str, *, source: str = "mrz-key"
    ) -> AccessKeys:
        """The one exact key of an MRZ (typed: "mrz-key"; read by the camera: "mrz-ocr"):
        BAC with it, and PACE with it as the MRZ password (no CAN)."""
        return cls((KeyCandidate(BacKey(document_number, birth, expiry), source),))

    @classmethod
    def from_clues(cls, clues: QrClues) -> AccessKeys:
        """Key candidates from a 2024 QR's recognised ID and birth date: the CAN = its last 6
        digits; BAC with the expiry the 2023 law gives (when the issue date was recognised),
        then every renewal age of the 2023 law (14, 25, 40, 60), future ones first, nearest
        first, then the no-expiry encodings."""
        docno, birth, dob = clues.id_number[-9:], yymmdd(clues.date_of_birth), clues.date_of_birth
        texts: list[tuple[str, str]] = []
        if clues.issue_date is not None:
            computed = cardlaw.legal_expiry(dob, clues.issue_date)
            if computed is not None:
                texts.append((yymmdd(computed), "qr2024-computed"))
            else:
                texts += [(t, "qr2024-computed") for t in NO_EXPIRY_ENCODINGS]
        today = date.today()
        days = {cardlaw.birthday_at(dob, age) for age in cardlaw.AGES_2023}
        texts += [
            (yymmdd(d), "qr2024-milestone")
            for d in sorted(days, key=lambda d: abs((d - today).days))
        ]
        texts += [(t, "qr2024-no-expiry") for t in NO_EXPIRY_ENCODINGS]
        return cls(_unique(docno, birth, texts), clues.id_number[-6:], "qr2024-can")

    def then(self, other: AccessKeys) -> AccessKeys:
        """These keys first, then ``other``'s BAC candidates (not twice); the CAN only when
        neither has an exact MRZ key (PACE then uses the MRZ password)."""
        seen = {c.key for c in self.bac}
        bac = self.bac + tuple(c for c in other.bac if c.key not in seen)
        if self.can is None and self.bac:
            return AccessKeys(bac)
        return AccessKeys(
            bac, self.can or other.can, self.can_source if self.can else other.can_source
        )

    @classmethod
    def for_card(
        cls, qr: QrResult | None, mrz: ParsedMrz | None, *, pace_password: str = "can"
    ) -> AccessKeys:
        """Every key what the camera saw gives, the exact ones first: the MRZ's, then the
        2021 QR's (CAN + renewal-age candidates) or a 2024 QR's clues. ``pace_password`` "mrz"
        drops the CAN (PACE with the first MRZ key). Empty when nothing gives a key."""
        keys = cls()
        if mrz is not None and mrz.ok:
            keys = cls.from_mrz(*mrz.access_key(), source="mrz-ocr")
        if qr is not None and qr.identity is not None:
            keys = keys.then(cls.from_qr(qr.identity)) if keys.bac else cls.from_qr(qr.identity)
        elif qr is not None and qr.clues is not None:
            clue_keys = cls.from_clues(qr.clues)
            keys = keys.then(clue_keys) if keys.bac else clue_keys
        if pace_password == "mrz":
            keys = AccessKeys(keys.bac)
        return keys


def _unique(docno: str, birth: str, texts: list[tuple[str, str]]) -> tuple[KeyCandidate, ...]:
    seen: set[str] = set()
    out = []
    for text, source in texts:
        if text and text not in seen:
            seen.add(text)
            out.append(KeyCandidate(BacKey(docno, birth, text), source))
    return tuple(out)


def bac_candidates(identity: QrIdentity, *, expiry: date | None = None) -> list[KeyCandidate]:
    docno, dob = identity.id_number[-9:], identity.date_of_birth
    birth = yymmdd(dob)
    out: list[KeyCandidate] = []
    seen: set[str] = set()

    def add(expiry_text: str, source: str) -> None:
        if expiry_text not in seen:
            seen.add(expiry_text)
            out.append(KeyCandidate(BacKey(docno, birth, expiry_text), source))

    if expiry is not None:
        add(yymmdd(expiry), "given-expiry")
    computed = cardlaw.legal_expiry(dob, identity.issue_date)
    if computed is not None:
        add(yymmdd(computed), "qr-computed")
    else:
        for text in NO_EXPIRY_ENCODINGS:
            add(text, "qr-computed")
    anchor = computed or identity.issue_date
    milestones = {cardlaw.birthday_at(dob, age) for age in (*cardlaw.AGES_2014, *cardlaw.AGES_2023)}
    for day in sorted(milestones, key=lambda d: (abs((d - anchor).days), d)):
        if day > identity.issue_date:
            add(yymmdd(day), "qr-milestone")
    for text in NO_EXPIRY_ENCODINGS:
        add(text, "qr-no-expiry")
    return out


@dataclass(frozen=True)
class PaceFallback:
    """PACE was tried first and failed, then BAC opened the chip."""

    tried: str  # "PACE-CAN" | "PACE-MRZ"
    reason: str  # the PaceError reason: "wrong-password", "refused", "unsupported", "failed"


@dataclass
class AccessResult:
    access: str  # "BAC" | "PACE-CAN" | "PACE-MRZ"
    key_source: str
    reopen: Callable[[], None] = field(repr=False)
    pace_fallback: PaceFallback | None = None


def select_application(channel: CardChannel) -> None:
    response = channel.send(CommandAPDU(0x00, 0xA4, 0x04, 0x0C, EMRTD_AID))
    if not response.ok:
        raise AccessError("selecting the eMRTD application", sw=response.sw)


def _pace_password(keys: AccessKeys) -> tuple[PacePassword, str] | None:
    """The PACE password and its key source: the CAN, else the first MRZ key."""
    if keys.can:
        return PacePassword.can(keys.can), keys.can_source
    if keys.bac:
        k = keys.bac[0].key
        password = PacePassword.from_mrz(k.document_number, k.date_of_birth, k.date_of_expiry)
        return password, keys.bac[0].source
    return None


def reset_card(channel: CardChannel) -> None:
    """Cold-reset the card: every session and selection is gone."""
    log.info("resetting the card (it keeps an earlier session's state)")
    channel.sm = None
    channel.transport.reset()


def try_pace(
    channel: CardChannel, keys: AccessKeys, card_access: bytes | None
) -> AccessResult | None:
    """PACE with the CAN (or the first MRZ key); None when PACE is not possible here (no
    EF.CardAccess, no password). A malformed EF.CardAccess raises CardAccessError."""
    if card_access is None:
        return None
    chosen = _pace_password(keys)
    if chosen is None:
        return None
    password, source = chosen
    info = SecurityInfos.parse(card_access)

    def run(again: bool = False) -> str:
        channel.sm = None
        try:
            result = establish(channel, password, info)
        except PaceError as exc:
            if not again or exc.reason != "refused":
                raise
            reset_card(channel)  # a new access attempt after an earlier session
            result = establish(channel, password, info)
        channel.sm = result.sm
        select_application(channel)
        return result.access

    access = run()
    return AccessResult(access, source, lambda: (run(again=True), None)[1])


def bac_session(channel: CardChannel, key: BacKey) -> SecureMessaging:
    """BAC with ``key``. A chip refusing GET CHALLENGE the way one that keeps an earlier
    session's state does is reset, and asked once more."""
    try:
        return perform_bac(BacApduSender(channel), key).secure_messaging()
    except AccessError as exc:
        if exc.step != GET_CHALLENGE_STEP or exc.sw not in RESET_CURABLE:
            raise
    reset_card(channel)
    select_application(channel)
    return perform_bac(BacApduSender(channel), key).secure_messaging()


def try_bac(channel: CardChannel, keys: AccessKeys) -> AccessResult:
    if not keys.bac:
        raise AccessError("BAC", "no key candidates")
    channel.sm = None
    select_application(channel)
    last: AccessError | None = None
    for attempt, candidate in enumerate(keys.bac):
        if attempt:
            select_application(channel)
        try:
            session = bac_session(channel, candidate.key)
        except AccessError as exc:
            if exc.step == GET_CHALLENGE_STEP or exc.sw not in (*WRONG_KEY, None):
                raise
            last = exc
            continue
        channel.sm = session
        log.info("BAC opened the chip with candidate %d (%s)", attempt + 1, candidate.source)

        def reopen(key: BacKey = candidate.key) -> None:
            channel.sm = None
            channel.sm = bac_session(channel, key)

        return AccessResult("BAC", candidate.source, reopen)
    assert last is not None
    raise AccessError(
        "BAC failed in EXTERNAL AUTHENTICATE",
        f"none of {len(keys.bac)} keys opened the chip",
        last.sw,
    )


def open_chip(
    channel: CardChannel,
    keys: AccessKeys,
    *,
    order: AccessOrder = "auto",
    card_access: bytes | None = None,
) -> AccessResult:
    """Run the access protocols in ``order``; raises AccessError naming step and SW."""
    if order == "bac":
        return try_bac(channel, keys)
    try:
        result = try_pace(channel, keys, card_access)
    except AccessError as exc:
        if order == "pace":
            raise
        return _bac_after_pace(channel, keys, exc)
    if result is not None:
        return result
    if order == "pace":
        raise AccessError("PACE", "not available (no EF.CardAccess or no PACE support)")
    return try_bac(channel, keys)


def _bac_after_pace(channel: CardChannel, keys: AccessKeys, failed: AccessError) -> AccessResult:
    """The one fallback of a read: BAC after a failed PACE ("auto" only).

    try_bac drops the (never completed) PACE session and selects the eMRTD application
    again before GET CHALLENGE, the state a chip expects BAC in."""
    reason = failed.reason if isinstance(failed, PaceError) else "failed"
    tried, password = ("PACE-CAN", "the CAN") if keys.can else ("PACE-MRZ", "the MRZ key")
    if reason == "wrong-password":
        log.warning("PACE with %s was refused by the chip (%s); trying BAC", password, failed)
    else:
        log.info("PACE failed (%s), falling back to BAC", failed)
    try:
        result = try_bac(channel, keys)
    except AccessError as exc:
        after = f"after {tried} failed ({reason})"
        raise AccessError(exc.step, _joined(exc.detail, after), exc.sw) from exc
    log.info("BAC opened the chip (%s failed: %s)", tried, reason)
    result.pace_fallback = PaceFallback(tried, reason)
    return result


def _joined(*parts: str) -> str:
    return "; ".join(p for p in parts if p)
