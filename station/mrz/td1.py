"""TD1 machine readable zones (ICAO 9303 part 5: 3 lines of 30) as read from a card: check
digits, the layouts, conservative correction, parsing.

Check digits (ICAO 9303-3 4.9): weights 7, 3, 1 repeating; '0'-'9' = 0-9, 'A'-'Z' = 10-35,
'<' = 0; the sum modulo 10. This is the station's one implementation (``station.icao.mrz``
uses it).

Layouts are per-position character classes (``Layout.classes``):

- ``VN``, both Vietnamese card generations (shared/domain/cccd.md)::

      IDVNM<document number 9><chk><ID 12><<<chk of the ID>
      <birth YYMMDD><chk><sex><expiry YYMMDD><chk>VNM<<<<<<<<<<<<composite chk>
      <SURNAME><<<GIVEN<NAMES, '<' padded>

  The document number must be the last 9 digits of the ID, and the ID's sex/century digit
  and birth year must agree with the sex and the birth date (Thông tư 07/2016/TT-BCA). An
  expiry of six fillers (check '<') is a card without expiry.
- ``ICAO``: any TD1 document (the ICAO 9303 specimens).

A read is usable (``ParsedMrz.ok``) only when every check digit passes and the layout of the
two checked lines holds. The name line has no check digit: its fields are a reading only
(``name_unverified``), never the truth; the station takes the name from the chip.

Correction (``correct_line``) changes a character only where the position admits a single
class of characters (digits, letters, the filler) and the character read is a known
look-alike from another class (O/0, I/1, S/5, B/8, Z/2, G/6, '<' read as K ...). Nothing is
searched to make a check digit pass: each check digit lets a random wrong field through
1 time in 10.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

CHARSET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789<"  # the classifier's class order
DIGITS = "0123456789"
LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
FILLER = "<"
LINE_LENGTH = 30
WEIGHTS = (7, 3, 1)

# Position classes (lower case); an upper-case letter in a layout is a literal.
CLASSES = {
    "d": DIGITS,  # digits only
    "e": DIGITS + FILLER,  # a date or check digit that may be all fillers (no expiry)
    "f": FILLER,  # filler only
    "s": "MF<",  # sex
    "n": LETTERS + FILLER,  # names, state codes
    "x": LETTERS + DIGITS + FILLER,  # document numbers and optional data of other documents
}

# Look-alikes: character read -> character meant, by the class of the position.
TO_DIGIT = {"O": "0", "Q": "0", "D": "0", "U": "0", "I": "1", "L": "1", "T": "1", "Z": "2",
            "S": "5", "B": "8", "G": "6", "A": "4"}  # fmt: skip
TO_LETTER = {"0": "O", "1": "I", "2": "Z", "5": "S", "8": "B", "6": "G", "4": "A"}
TO_FILLER = frozenset("KCEXLSR46")  # how a generic OCR model reads '<'
TO_LITERAL = {"I": frozenset("1LTJ"), "D": frozenset("0OQ"), "V": frozenset("YU"),
              "N": frozenset("H"), "M": frozenset("H")}  # fmt: skip


def char_value(ch: str) -> int:
    if ch.isdigit() and ch.isascii():
        return ord(ch) - ord("0")
    if "A" <= ch <= "Z":
        return ord(ch) - ord("A") + 10
    if ch == FILLER:
        return 0
    raise ValueError(f"character {ch!r} not allowed in an MRZ")


def check_digit(field: str) -> str:
    """The ICAO 9303 check digit of ``field``; ValueError for a character outside the MRZ set."""
    return str(sum(char_value(c) * WEIGHTS[i % 3] for i, c in enumerate(field)) % 10)


@dataclass(frozen=True)
class Layout:
    name: str
    classes: tuple[str, str, str]

    def allowed(self, line: int, position: int) -> str:
        cls = self.classes[line][position]
        return CLASSES.get(cls, cls)


VN = Layout(
    "VN",
    (
        "IDVNM" + "d" * 9 + "d" + "d" * 12 + "ff" + "d",
        "d" * 6 + "d" + "s" + "e" * 6 + "e" + "VNM" + "f" * 11 + "d",
        "n" * 30,
    ),
)
ICAO = Layout(
    "ICAO",
    (
        "n" * 5 + "x" * 9 + "e" + "x" * 15,
        "d" * 6 + "d" + "s" + "e" * 6 + "e" + "n" * 3 + "x" * 11 + "d",
        "n" * 30,
    ),
)
LAYOUTS = {VN.name: VN, ICAO.name: ICAO}


def correct_line(line: str, classes: str) -> tuple[str, int]:
    """``line`` with look-alikes replaced where the position's class decides; and how many
    characters changed. Unknown characters stay (the parse then reports them)."""
    out: list[str] = []
    changes = 0
    for ch, cls in zip(line, classes, strict=False):
        fixed = ch
        if ch not in CLASSES.get(cls, cls):
            if cls == "d" or cls == "e":
                fixed = TO_DIGIT.get(ch, ch)
            elif cls == "n":
                fixed = TO_LETTER.get(ch, ch)
            elif cls == "f" and ch in TO_FILLER:
                fixed = FILLER
            elif cls.isupper() and ch in TO_LITERAL.get(cls, ()):
                fixed = cls
        changes += fixed != ch
        out.append(fixed)
    return "".join(out) + line[len(classes) :], changes


_NAME_RE = re.compile(r"[A-Z]+(<[A-Z]+)*(<<[A-Z]+(<[A-Z]+)*)?<*")
# A Vietnamese syllable without diacritics: onset, 1-3 vowels, optional final consonant.
_SYLLABLE = re.compile(
    r"(NGH|NG|GH|GI|KH|NH|PH|QU|TH|TR|CH|[BCDGHKLMNPRSTVX])?[AEIOUY]{1,3}(NG|NH|CH|[CMNPT])?"
)


def name_plausible(line3: str) -> bool:
    """Every word of the name line is a plausible Vietnamese syllable. A heuristic, not a
    rule: names of some minorities and foreigners fail it (the chip has the name anyway)."""
    words = [w for w in line3.split(FILLER) if w]
    return bool(words) and all(_SYLLABLE.fullmatch(w) for w in words)


def _yymmdd_ok(text: str) -> bool:
    if len(text) != 6 or not text.isdigit():
        return False
    month, day = int(text[2:4]), int(text[4:])
    days = (31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)
    return 1 <= month <= 12 and 1 <= day <= days[month - 1]


def _check_pairs(layout: Layout, l1: str, l2: str) -> list[tuple[str, str, str]]:
    """(name, field, check character) for every check digit of the layout."""
    pairs = [("document_number", l1[5:14], l1[14])]
    if layout is VN:
        pairs.append(("id_number", l1[15:27], l1[29]))
    pairs += [
        ("date_of_birth", l2[0:6], l2[6]),
        ("date_of_expiry", l2[8:14], l2[14]),
        ("composite", l1[5:30] + l2[0:7] + l2[8:15] + l2[18:29], l2[29]),
    ]
    return pairs


def _check(field: str, digit: str) -> bool:
    if digit == FILLER:  # an absent field (no expiry) carries a filler as its check
        return set(field) == {FILLER}
    try:
        return digit.isdigit() and check_digit(field) == digit
    except ValueError:
        return False


def _character_problems(layout: Layout, lines: Sequence[str]) -> list[str]:
    problems = []
    for index, (line, classes) in enumerate(zip(lines, layout.classes, strict=False)):
        for position, ch in enumerate(line):
            if ch not in CLASSES.get(classes[position], classes[position]):
                allowed = layout.allowed(index, position)
                problems.append(
                    f"line {index + 1} position {position + 1}: {ch!r} not in {allowed}"
                )
    return problems


def _vn_problems(l1: str, l2: str) -> list[str]:
    """The Vietnamese rules beyond the check digits (only on well-formed lines)."""
    problems = []
    if l1[5:14] != l1[18:27]:
        problems.append("document number is not the last 9 digits of the ID")
    if not _yymmdd_ok(l2[0:6]):
        problems.append("date of birth is not a date")
    if l2[8:14] != FILLER * 6 and not _yymmdd_ok(l2[8:14]):
        problems.append("expiry is not a date")
    sex_digit, year = int(l1[18]), l1[19:21]
    if l2[7] in "MF" and (sex_digit % 2 == 1) != (l2[7] == "F"):
        problems.append("the ID's sex digit disagrees with the sex")
    if year != l2[0:2]:
        problems.append("the ID's birth year disagrees with the date of birth")
    return problems


@dataclass(frozen=True)
class ParsedMrz:
    """A TD1 MRZ checked against a layout; ``ok`` = usable as an access key."""

    lines: tuple[str, str, str]
    layout: str  # "VN" | "ICAO"
    checks: tuple[tuple[str, bool], ...]
    problems: tuple[str, ...]
    corrections: int = 0

    @property
    def ok(self) -> bool:
        return bool(self.checks) and all(p for _, p in self.checks) and not self.problems

    @property
    def failures(self) -> tuple[str, ...]:
        """Every problem and every failed check digit (English, no MRZ data)."""
        failed = [f"{name} check digit" for name, passed in self.checks if not passed]
        return (*self.problems, *failed) or (() if self.ok else ("not read",))

    @property
    def reason(self) -> str:
        """'' when ok, else the first failure."""
        return "" if self.ok else self.failures[0]

    @property
    def document_number(self) -> str:
        return self.lines[0][5:14].rstrip(FILLER)

    @property
    def id_number(self) -> str | None:
        """The 12-digit ID of a Vietnamese card (None for other documents)."""
        return self.lines[0][15:27] if self.layout == VN.name else None

    @property
    def date_of_birth(self) -> str:
        return self.lines[1][0:6]

    @property
    def sex(self) -> str:
        return self.lines[1][7]

    @property
    def date_of_expiry(self) -> str:
        """YYMMDD, or '' for a card without expiry."""
        return self.lines[1][8:14].strip(FILLER)

    @property
    def nationality(self) -> str:
        return self.lines[1][15:18].strip(FILLER)

    @property
    def name_unverified(self) -> tuple[str, str]:
        """(surname, given names) as read: no check digit covers them."""
        surname, _, given = self.lines[2].partition("<<")
        return surname.replace(FILLER, " ").strip(), given.replace(FILLER, " ").strip()

    @property
    def name_plausible(self) -> bool:
        return bool(_NAME_RE.fullmatch(self.lines[2])) and name_plausible(self.lines[2])

    def access_key(self) -> tuple[str, str, str]:
        """(document number, birth YYMMDD, expiry YYMMDD or fillers) for BAC / PACE-MRZ."""
        line1, line2 = self.lines[0], self.lines[1]
        return line1[5:14], line2[0:6], line2[8:14]

    def birth_date(self) -> date | None:
        """The birth date; a Vietnamese ID gives the century (else the nearest past one)."""
        text = self.date_of_birth
        if not _yymmdd_ok(text):
            return None
        yy, month, day = int(text[:2]), int(text[2:4]), int(text[4:])
        if self.id_number is not None and self.id_number.isdigit():
            year = 1900 + 100 * (int(self.id_number[3]) // 2) + yy
        else:
            year = 2000 + yy if 2000 + yy <= date.today().year else 1900 + yy
        try:
            return date(year, month, day)
        except ValueError:
            return None

    def expiry_date(self) -> date | None:
        text = self.date_of_expiry
        if not _yymmdd_ok(text):
            return None
        try:
            return date(2000 + int(text[:2]), int(text[2:4]), int(text[4:]))
        except ValueError:
            return None

    def to_json(self) -> dict[str, Any]:
        """Lines, checks and fields (the name marked unverified), for ``station scan-mrz``."""
        surname, given = self.name_unverified
        return {
            "lines": list(self.lines),
            "layout": self.layout,
            "ok": self.ok,
            "reason": self.reason,
            "checks": dict(self.checks),
            "problems": list(self.problems),
            "corrections": self.corrections,
            "fields": {
                "document_code": self.lines[0][0:2].strip(FILLER),
                "issuing_state": self.lines[0][2:5].strip(FILLER),
                "document_number": self.document_number,
                "id_number": self.id_number,
                "date_of_birth": self.date_of_birth,
                "sex": self.sex,
                "date_of_expiry": self.date_of_expiry or None,
                "nationality": self.nationality,
                "name_unverified": {"surname": surname, "given_names": given},
            },
        }


def layout_for_head(head: str) -> Layout:
    """VN when the first five characters read IDVNM, allowing ONE known look-alike of a
    literal (O or Q for D, L for I, ...: a thin or blurred glyph); else ICAO. Two or more
    look-alikes are another document's header, read with the generic layout (and a
    Vietnamese card misread that badly fails its checks there)."""
    fixed, changes = correct_line(head[:5], VN.classes[0][:5])
    return VN if fixed == "IDVNM" and changes <= 1 else ICAO


def _layout_for(line1: str) -> Layout:
    return layout_for_head(line1[:5])


def parse_lines(
    lines: Sequence[str], layout: Layout | None = None, *, correct: bool = True
) -> ParsedMrz:
    """Check three lines against ``layout`` (default: VN when line 1 starts with IDVNM, else
    ICAO), after correcting look-alikes unless ``correct`` is False. Never raises."""
    if len(lines) != 3:
        return ParsedMrz(("", "", ""), "ICAO", (), (f"{len(lines)} lines, a TD1 MRZ has 3",))
    raw = [line.strip().replace(" ", "").upper() for line in lines]
    chosen = layout or _layout_for(raw[0])
    changes = 0
    if correct:
        fixed = [correct_line(line, cls) for line, cls in zip(raw, chosen.classes, strict=True)]
        raw, changes = [f[0] for f in fixed], sum(f[1] for f in fixed)
    l1, l2, l3 = raw
    lengths = [f"line {i + 1} has {len(x)} characters" for i, x in enumerate(raw) if len(x) != 30]
    if lengths:
        return ParsedMrz((l1, l2, l3), chosen.name, (), tuple(lengths), changes)
    problems = _character_problems(chosen, (l1, l2))
    checks = tuple((name, _check(field, d)) for name, field, d in _check_pairs(chosen, l1, l2))
    if chosen is VN and not problems:
        problems = _vn_problems(l1, l2)
    return ParsedMrz((l1, l2, l3), chosen.name, checks, tuple(problems), changes)


def split_text(text: str) -> list[str]:
    """'L1|L2|L3', three lines, or 90 characters in a row -> the lines."""
    parts = [p.strip() for p in re.split(r"[|\r\n]+", text.strip()) if p.strip()]
    if len(parts) == 1 and len(parts[0]) == 3 * LINE_LENGTH:
        row = parts[0]
        return [row[i : i + LINE_LENGTH] for i in range(0, len(row), LINE_LENGTH)]
    return parts


def parse_text(text: str, *, correct: bool = False) -> ParsedMrz:
    """A typed MRZ ("L1|L2|L3"): checked as is unless ``correct``."""
    return parse_lines(split_text(text), correct=correct)
