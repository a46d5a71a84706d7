"""Parse and validate the QR payload of a 2021 CCCD (see shared/domain/cccd.md).

One line, 7 fields separated by ``|`` (empty fields kept)::

    ID12 | OLD_ID | FULL_NAME | DOB ddMMyyyy | SEX | RESIDENCE | ISSUE ddMMyyyy

Outcomes (``QrResult.status``):

- ``unrecognised``: the text does not have the CCCD shape, i.e. it is not exactly 7 fields
  whose first field is 12 ASCII digits (a 2024 card's QR, a URL, a truncated read...).
  ``raw_text`` keeps the text; ``identity`` is None; ``clues`` holds an ID and birth date
  recognised in it when that is unambiguous (``station.qr.card2024``).
- ``invalid``: the CCCD shape, but a value is wrong. Errors: malformed or impossible dates,
  a future birth date, an issue date before birth or in the future, bad old ID, sex or name,
  damaged text (U+FFFD from a bad UTF-8 decode, control characters), a name or residence
  that starts like a spreadsheet formula (``=``, ``+``, ``-``, ``@``, tab or CR:
  ``formula_prefix``; no real name or address does, a forged QR may, to run in the
  officer's spreadsheet). ``identity`` is set only when every field could be read (errors
  are between fields, e.g. issue before birth), so the officer can see what the card
  claims; it is None otherwise, and always None when the text is damaged or starts like a
  formula (never show U+FFFD as a name, never store a formula as one).
- ``ok``: every field valid. Warnings (``ok`` stays ``ok``): the ID's province, sex or
  birth year disagree with the card, issue before age 14 or outside the 2021-card era,
  card expired by law, unusual characters in a name.

``parse_payload`` never raises. ``Finding.code`` is a stable English identifier,
``Finding.message`` Vietnamese for the officer; neither contains personal data.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from datetime import date

from station.qr import idnumber
from station.qr.card2024 import find_clues
from station.qr.cardlaw import birthday_at, legal_expiry
from station.qr.models import Finding, QrIdentity, QrResult, QrStatus

log = logging.getLogger(__name__)

FIELD_COUNT = 7
REPLACEMENT = "\ufffd"
CHIP_CARDS_FROM = date(2021, 1, 1)  # first chip CCCDs
NEW_LAW_FROM = date(2024, 7, 1)  # 2024 "thẻ căn cước" replaced the 2021 card
MIN_CARD_AGE = 14  # Luật CCCD 2014, art. 19

_OLD_ID_RE = re.compile(r"[0-9]{9}|[0-9]{12}")
_NAME_EXTRA = frozenset(" '-.")
_CONTROL_RE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")  # Cc except \t \n \r
# What makes a spreadsheet cell a formula (OWASP CSV injection), before or after trimming.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
NAME_FIELD, RESIDENCE_FIELD = 2, 5

MESSAGES: dict[str, str] = {
    "unrecognised_payload": "Mã QR không phải mã của thẻ CCCD gắn chip (mẫu 2021).",
    "damaged_text": "Dữ liệu mã QR bị hỏng (ký tự không đọc được). Hãy quét lại.",
    "control_characters": "Dữ liệu mã QR chứa ký tự điều khiển không hợp lệ.",
    "formula_prefix": "Họ tên hoặc nơi thường trú bắt đầu bằng ký tự lạ (=, +, -, @): mã QR giả?",
    "old_id_format": "Số CMND cũ không hợp lệ (phải có 9 hoặc 12 chữ số).",
    "name_missing": "Thiếu họ và tên.",
    "name_unusual_characters": "Họ và tên có ký tự bất thường, hãy đối chiếu với thẻ.",
    "dob_format": "Ngày sinh không đúng định dạng ngàythángnăm (8 chữ số).",
    "dob_impossible": "Ngày sinh không tồn tại.",
    "dob_future": "Ngày sinh ở tương lai.",
    "dob_before_1900": "Ngày sinh trước năm 1900, hãy đối chiếu với thẻ.",
    "sex_invalid": "Giới tính không hợp lệ (phải là Nam hoặc Nữ).",
    "issue_date_format": "Ngày cấp không đúng định dạng ngàythángnăm (8 chữ số).",
    "issue_date_impossible": "Ngày cấp không tồn tại.",
    "issue_date_future": "Ngày cấp ở tương lai.",
    "issue_before_birth": "Ngày cấp trước ngày sinh.",
    "issue_under_14": "Thẻ được cấp khi chưa đủ 14 tuổi, hãy đối chiếu với thẻ.",
    "issue_before_chip_cards": "Ngày cấp trước năm 2021 (trước khi có thẻ gắn chip).",
    "issue_after_2024_law": "Ngày cấp từ 01/07/2024: thẻ mẫu 2021 không còn được cấp.",
    "card_expired": "Thẻ đã hết hạn theo quy định, công dân cần làm thủ tục đổi thẻ.",
    "id_province_unknown": "Mã tỉnh trong số định danh không thuộc 63 mã tỉnh, thành phố.",
    "id_sex_mismatch": "Số định danh không khớp với giới tính trên thẻ.",
    "id_birth_year_mismatch": "Số định danh không khớp với năm sinh trên thẻ.",
    "parser_failure": "Lỗi nội bộ khi đọc mã QR. Hãy quét lại.",
    "qr_unreadable": "Thấy mã QR nhưng không đọc được (mờ, bẩn hoặc bị che).",
}


# One immutable Finding per code, made once: a parse hands out these (no per-call objects).
_FINDINGS: dict[str, Finding] = {code: Finding(code, text) for code, text in MESSAGES.items()}


def finding(code: str) -> Finding:
    """The Finding for ``code`` with its Vietnamese message."""
    return _FINDINGS[code]


# A QR code in view that does not decode (no payload, the error says so).
UNREADABLE_QR = QrResult(QrStatus.NO_QR, None, "", errors=(finding("qr_unreadable"),))


class _Check:
    """Findings collected while checking one payload (local to one parse call)."""

    __slots__ = ("errors", "warnings")

    def __init__(self) -> None:
        self.errors: list[Finding] = []
        self.warnings: list[Finding] = []

    def error(self, code: str) -> None:
        self.errors.append(_FINDINGS[code])

    def warn(self, code: str) -> None:
        self.warnings.append(_FINDINGS[code])


# The start of a UTF-8 multi-byte sequence: bytes that fail UTF-8 yet contain one are damaged
# UTF-8, not ISO-8859-1 text (whose letters are hardly ever followed by 0x80-0xBF: C1
# controls and symbols).
_UTF8_SEQUENCE = re.compile(rb"[\xc2-\xf4][\x80-\xbf]")


def decode_text(data: bytes | bytearray | memoryview | str) -> str:
    """The payload as text. Bytes (no ECI designator, see ``station.qr.decoder``): UTF-8
    when they are valid UTF-8; else ISO-8859-1, the QR standard's default for byte mode
    ("Hoàng Minh Quân" fits it), unless they contain UTF-8 sequences: then it is damaged
    UTF-8, decoded with U+FFFD (an error, never shown as a name)."""
    if isinstance(data, str):
        return data
    if not isinstance(data, bytes | bytearray | memoryview):
        raise TypeError(f"QR payload must be bytes or str, not {type(data).__name__}")
    raw = bytes(data)
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        if _UTF8_SEQUENCE.search(raw):
            return raw.decode("utf-8", errors="replace")
        return raw.decode("latin-1")


def split_fields(text: str) -> list[str]:
    """NFC-normalise, drop a BOM and surrounding whitespace, split on ``|`` keeping empties."""
    return [part.strip() for part in _raw_parts(text)]


def _raw_parts(text: str) -> list[str]:
    """The NFC text without a leading BOM, split on ``|``, each part untrimmed (trimming
    each part also trims the whole text: ``|`` is not whitespace)."""
    return unicodedata.normalize("NFC", text).lstrip("\ufeff").split("|")


def looks_like_cccd(fields: list[str]) -> bool:
    """The 2021 CCCD shape: exactly 7 fields, the first 12 ASCII digits."""
    return len(fields) == FIELD_COUNT and idnumber.is_id_number(fields[0])


def parse_payload(
    data: bytes | bytearray | memoryview | str, *, today: date | None = None
) -> QrResult:
    """Parse and validate one QR payload; never raises (see the module docstring)."""
    raw_text = ""
    try:
        raw_text = decode_text(data)
        return _parse(raw_text, today or date.today())
    except Exception as exc:  # defensive: bad input must never crash the station
        # Type only: an exception message could quote the payload (personal data).
        log.error("QR payload parser failed: %s", type(exc).__name__)
        return QrResult(QrStatus.UNRECOGNISED, None, raw_text, errors=(finding("parser_failure"),))


def _parse(raw_text: str, today: date) -> QrResult:
    parts = _raw_parts(raw_text)
    fields = [part.strip() for part in parts]
    damaged = REPLACEMENT in raw_text
    if not looks_like_cccd(fields):
        errors = [finding("unrecognised_payload")]
        if damaged:
            errors.append(finding("damaged_text"))
        clues = None if damaged else find_clues(unicodedata.normalize("NFC", raw_text), today)
        return QrResult(QrStatus.UNRECOGNISED, None, raw_text, errors=tuple(errors), clues=clues)
    check = _Check()
    if damaged:
        check.error("damaged_text")
    if _CONTROL_RE.search(raw_text):
        check.error("control_characters")
    if _formula_in(parts):
        check.error("formula_prefix")
    identity = _identity(fields, check, today)
    if identity is not None and not check.errors:
        _cross_check(identity, check, today)
    status = QrStatus.INVALID if check.errors else QrStatus.OK
    if damaged or any(e.code in _UNSHOWABLE for e in check.errors):
        identity = None
    return QrResult(status, identity, raw_text, tuple(check.warnings), tuple(check.errors))


_UNSHOWABLE = frozenset({"control_characters", "formula_prefix"})


def starts_like_formula(raw_text: str) -> bool:
    """True when the name or the residence field starts with a formula character, in the
    raw field (a leading tab or CR) or once trimmed (``=``, ``+``, ``-``, ``@``)."""
    return _formula_in(_raw_parts(raw_text))


def _formula_in(parts: list[str]) -> bool:
    for index in (NAME_FIELD, RESIDENCE_FIELD):
        if index >= len(parts):
            continue
        raw = parts[index].lstrip(" ")
        trimmed = parts[index].strip()
        if raw.startswith(FORMULA_START) or trimmed.startswith(FORMULA_START):
            return True
    return False


def _identity(fields: list[str], check: _Check, today: date) -> QrIdentity | None:
    """Read each field; None when one cannot be read. Adds field and date errors."""
    id_number, old_id, name, dob_text, sex_text, residence, issue_text = fields
    old_ok, old = _old_id(old_id, check)
    full_name = _name(name, check)
    dob = _date(dob_text, "dob", check)
    sex = _sex(sex_text, check)
    issue = _date(issue_text, "issue_date", check)
    if dob is not None:
        if dob > today:
            check.error("dob_future")
        elif dob.year < idnumber.FIRST_CENTURY_YEAR:
            check.warn("dob_before_1900")
    if issue is not None:
        if issue > today:
            check.error("issue_date_future")
        if dob is not None and issue < dob:
            check.error("issue_before_birth")
    if not old_ok or full_name is None or dob is None or sex is None or issue is None:
        return None
    return QrIdentity(
        id_number=id_number,
        old_id_number=old,
        full_name=full_name,
        date_of_birth=dob,
        sex=sex,
        place_of_residence=_collapse(residence) or None,
        issue_date=issue,
    )


def _cross_check(identity: QrIdentity, check: _Check, today: date) -> None:
    """Warnings about a readable, consistent identity: ID structure, age, card era."""
    structure = idnumber.split_id(identity.id_number)
    dob, issue = identity.date_of_birth, identity.issue_date
    if structure.province_name is None:
        check.warn("id_province_unknown")
    if structure.sex != identity.sex:
        check.warn("id_sex_mismatch")
    if structure.birth_year != dob.year:
        check.warn("id_birth_year_mismatch")
    if issue < birthday_at(dob, MIN_CARD_AGE):
        check.warn("issue_under_14")
    if issue < CHIP_CARDS_FROM:
        check.warn("issue_before_chip_cards")
    elif issue >= NEW_LAW_FROM:
        check.warn("issue_after_2024_law")
    expiry = legal_expiry(dob, issue)
    if expiry is not None and expiry <= today:
        check.warn("card_expired")


def _old_id(text: str, check: _Check) -> tuple[bool, str | None]:
    """(readable, value): value None when absent; (False, None) plus an error when bad."""
    if text == "":
        return True, None
    if _OLD_ID_RE.fullmatch(text):
        return True, text
    check.error("old_id_format")
    return False, None


def _name(text: str, check: _Check) -> str | None:
    name = _collapse(text)
    letters = name.translate(_NAME_EXTRA_DROP)
    if letters.isalpha():  # the usual name: letters and the allowed extras only
        return name
    if not any(ch.isalpha() for ch in name):
        check.error("name_missing")
        return None
    if not all(ch.isalpha() or _name_char(ch) for ch in name):
        check.warn("name_unusual_characters")
    return name


# _NAME_EXTRA and U+FFFD deleted: what is left of a usual name is all letters.
_NAME_EXTRA_DROP = dict.fromkeys(map(ord, "".join(_NAME_EXTRA) + REPLACEMENT))


def _name_char(ch: str) -> bool:
    # U+FFFD is reported once, as damaged_text, not again as an unusual name character.
    return ch in _NAME_EXTRA or ch == REPLACEMENT or unicodedata.category(ch)[0] in ("L", "M")


_SEXES = {value.casefold(): value for value in (idnumber.MALE, idnumber.FEMALE)}


def _sex(text: str, check: _Check) -> str | None:
    value = _SEXES.get(text.casefold())
    if value is not None:
        return value
    check.error("sex_invalid")
    return None


def _date(text: str, what: str, check: _Check) -> date | None:
    """``ddMMyyyy`` -> date; adds ``<what>_format`` / ``<what>_impossible`` errors."""
    if not (len(text) == 8 and text.isascii() and text.isdigit()):  # [0-9]{8}
        check.error(f"{what}_format")
        return None
    try:
        return date(int(text[4:]), int(text[2:4]), int(text[:2]))
    except ValueError:
        check.error(f"{what}_impossible")
        return None


def _collapse(text: str) -> str:
    """Trim and collapse runs of whitespace to one space."""
    return " ".join(text.split())
