"""Machine readable zone: check digits, TD1 (ID card, 3 x 30) and TD3 (passport, 2 x 44).

Parsing verifies every check digit; a failure is reported in ``Mrz.check_errors``
(names of the fields whose check digit failed) rather than raised, so a read can show
what it found. Malformed layouts raise ``ValueError``. The check digits are
``station.mrz.td1``'s (the one implementation, shared with the camera's MRZ path).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from station.mrz.td1 import char_value, check_digit

__all__ = [
    "Mrz",
    "char_value",
    "check_digit",
    "make_td1",
    "parse",
    "parse_td1",
    "parse_td3",
    "yymmdd",
]


def yymmdd(value: date) -> str:
    return value.strftime("%y%m%d")


@dataclass(frozen=True)
class Mrz:
    """Fields of a TD1 or TD3 MRZ (strings as in the MRZ, '<' fillers stripped)."""

    kind: str  # "TD1" | "TD3"
    document_code: str
    issuing_state: str
    document_number: str
    optional_data: str
    date_of_birth: str  # YYMMDD
    sex: str
    date_of_expiry: str  # YYMMDD, or '<<<<<<'-derived '' when absent
    nationality: str
    surname: str
    given_names: str
    optional_data_2: str
    check_errors: tuple[str, ...]

    @property
    def valid(self) -> bool:
        return not self.check_errors


def _name(field: str) -> tuple[str, str]:
    surname, _, given = field.partition("<<")
    return surname.replace("<", " ").strip(), given.replace("<", " ").strip()


def _verify(pairs: list[tuple[str, str, str]]) -> tuple[str, ...]:
    errors = []
    for name, value, digit in pairs:
        if digit == "<" and set(value) <= {"<"}:
            continue
        if not digit.isdigit() or check_digit(value) != digit:
            errors.append(name)
    return tuple(errors)


def parse_td1(text: str) -> Mrz:
    if len(text) != 90:
        raise ValueError(f"TD1 MRZ must be 90 characters, got {len(text)}")
    l1, l2, l3 = text[:30], text[30:60], text[60:]
    for ch in text:
        char_value(ch)
    docno, opt1 = l1[5:14], l1[15:30]
    doc_check = l1[14]
    if doc_check == "<" and opt1:
        # Long document number continues in the optional data (ICAO 9303-5 4.2.4).
        rest = opt1.split("<", 1)[0]
        docno, doc_check, opt1 = docno + rest[:-1], rest[-1:], opt1[len(rest) :]
    composite = l1[5:30] + l2[0:7] + l2[8:15] + l2[18:29]
    errors = _verify(
        [
            ("document_number", docno, doc_check),
            ("date_of_birth", l2[0:6], l2[6]),
            ("date_of_expiry", l2[8:14], l2[14]),
            ("composite", composite, l2[29]),
        ]
    )
    surname, given = _name(l3)
    return Mrz(
        "TD1", l1[0:2].rstrip("<"), l1[2:5], docno.rstrip("<"), opt1.strip("<"),
        l2[0:6], l2[7], l2[8:14].strip("<"), l2[15:18], surname, given,
        l2[18:29].strip("<"), errors,
    )  # fmt: skip


def parse_td3(text: str) -> Mrz:
    if len(text) != 88:
        raise ValueError(f"TD3 MRZ must be 88 characters, got {len(text)}")
    l1, l2 = text[:44], text[44:]
    for ch in text:
        char_value(ch)
    composite = l2[0:10] + l2[13:20] + l2[21:43]
    errors = _verify(
        [
            ("document_number", l2[0:9], l2[9]),
            ("date_of_birth", l2[13:19], l2[19]),
            ("date_of_expiry", l2[21:27], l2[27]),
            ("optional_data", l2[28:42], l2[42]),
            ("composite", composite, l2[43]),
        ]
    )
    surname, given = _name(l1[5:44])
    return Mrz(
        "TD3", l1[0:2].rstrip("<"), l1[2:5], l2[0:9].rstrip("<"), l2[28:42].strip("<"),
        l2[13:19], l2[20], l2[21:27].strip("<"), l2[10:13], surname, given, "", errors,
    )  # fmt: skip


def parse(text: str) -> Mrz:
    text = text.replace("\n", "").replace("\r", "")
    if len(text) == 90:
        return parse_td1(text)
    if len(text) == 88:
        return parse_td3(text)
    raise ValueError(f"MRZ of {len(text)} characters is neither TD1 (90) nor TD3 (88)")


def make_td1(
    *,
    document_number: str,
    optional_data: str,
    date_of_birth: str,
    sex: str,
    date_of_expiry: str,
    surname: str,
    given_names: str,
    state: str = "VNM",
    code: str = "ID",
) -> str:
    """Compose a TD1 MRZ (90 chars) with all check digits (used by the emulator)."""
    docno = document_number.ljust(9, "<")
    l1 = (code.ljust(2, "<") + state + docno + check_digit(docno) + optional_data.ljust(15, "<"))[
        :30
    ]
    expiry = date_of_expiry or "<<<<<<"
    expiry_check = check_digit(expiry) if date_of_expiry else "<"
    l2 = date_of_birth + check_digit(date_of_birth) + sex + expiry + expiry_check + state
    l2 = l2.ljust(29, "<")
    l2 += check_digit(l1[5:30] + l2[0:7] + l2[8:15] + l2[18:29])
    name = (surname.replace(" ", "<") + "<<" + given_names.replace(" ", "<")).ljust(30, "<")
    return l1 + l2 + name[:30]
