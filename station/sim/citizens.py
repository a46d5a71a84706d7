"""Synthetic citizens: every name and number here is made up by a seeded generator.

Used by the demo, the card emulator and the tests. Nothing in the repository is a
real person's data.
"""

from __future__ import annotations

import random
import unicodedata
from dataclasses import dataclass, replace
from datetime import date, timedelta

from station.icao import mrz
from station.qr.cardlaw import legal_expiry
from station.qr.idnumber import id_prefix

SURNAMES = (
    "Nguyễn",
    "Trần",
    "Lê",
    "Phạm",
    "Hoàng",
    "Huỳnh",
    "Phan",
    "Vũ",
    "Võ",
    "Đặng",
    "Bùi",
    "Đỗ",
    "Hồ",
    "Ngô",
    "Dương",
    "Lý",
)
MIDDLE_MALE = ("Văn", "Hữu", "Đức", "Công", "Quang", "Minh", "Thành", "Xuân")
MIDDLE_FEMALE = ("Thị", "Ngọc", "Thu", "Thanh", "Mỹ", "Kim", "Diệu", "Phương")
GIVEN_MALE = (
    "An",
    "Bình",
    "Cường",
    "Dũng",
    "Hùng",
    "Khánh",
    "Long",
    "Nam",
    "Phúc",
    "Quốc",
    "Sơn",
    "Thắng",
    "Tuấn",
    "Việt",
    "Hưng",
    "Đạt",
)
GIVEN_FEMALE = (
    "Anh",
    "Chi",
    "Dung",
    "Giang",
    "Hà",
    "Hương",
    "Lan",
    "Linh",
    "Mai",
    "Ngân",
    "Nhung",
    "Oanh",
    "Quỳnh",
    "Thảo",
    "Trang",
    "Yến",
)
# (statistics-office code, name) for a few provinces.
PROVINCES = (
    ("001", "Thành phố Hà Nội"),
    ("031", "Thành phố Hải Phòng"),
    ("048", "Thành phố Đà Nẵng"),
    ("079", "Thành phố Hồ Chí Minh"),
    ("092", "Thành phố Cần Thơ"),
    ("038", "Tỉnh Thanh Hóa"),
    ("040", "Tỉnh Nghệ An"),
    ("046", "Tỉnh Thừa Thiên Huế"),
    ("066", "Tỉnh Đắk Lắk"),
    ("075", "Tỉnh Đồng Nai"),
)
STREETS = (
    "Lê Lợi",
    "Trần Hưng Đạo",
    "Nguyễn Huệ",
    "Hai Bà Trưng",
    "Lý Thường Kiệt",
    "Điện Biên Phủ",
    "Võ Thị Sáu",
    "Phạm Ngũ Lão",
)
WARDS = (
    "Phường Bến Nghé",
    "Phường Hàng Bạc",
    "Phường Thạch Thang",
    "Xã Ẩm Hạ",
    "Phường Quỳnh Lôi",
    "Thị trấn Đông Anh",
    "Phường Ỷ La",
)
DISTRICTS = ("Quận 1", "Quận Hoàn Kiếm", "Quận Hải Châu", "Huyện Đông Anh", "Quận Ninh Kiều")
ETHNICITIES = ("Kinh", "Tày", "Thái", "Mường", "Khmer", "Hoa", "Nùng", "Ê Đê")
RELIGIONS = ("Không", "Phật giáo", "Công giáo", "Cao Đài", "Tin Lành")
MARKS = (
    "Nốt ruồi C:2cm dưới sau đuôi mắt trái",
    "Sẹo chấm C:1cm trên trước cằm",
    "Nốt ruồi C:3cm trên mép phải",
)


@dataclass(frozen=True)
class SyntheticCitizen:
    """Everything a 2021 CCCD carries about its holder (QR and chip fields)."""

    id_number: str
    old_id_number: str | None
    full_name: str
    date_of_birth: date
    sex: str  # "Nam" / "Nữ"
    place_of_residence: str | None
    issue_date: date
    expiry_date: date | None
    nationality: str
    ethnicity: str
    religion: str
    place_of_origin: str
    identifying_marks: str
    father_name: str
    mother_name: str
    spouse_name: str | None

    def qr_payload(self) -> str:
        """The 7-field QR text printed on a 2021 card."""
        return "|".join(
            (
                self.id_number,
                self.old_id_number or "",
                self.full_name,
                self.date_of_birth.strftime("%d%m%Y"),
                self.sex,
                self.place_of_residence or "",
                self.issue_date.strftime("%d%m%Y"),
            )
        )

    def qr_payload_2024(self) -> str:
        """A QR text for the back of a 2024 card. Its real shape is not public: this one
        follows the press summaries of Thông tư 16/2024 (ID, name, birth, sex, residence,
        issue date, old ID, parents), '|'-separated, 9 fields, so a 2021 parser refuses it
        while the ID and the birth date can still be recognised in it."""
        return "|".join(
            (
                self.id_number,
                self.full_name,
                self.date_of_birth.strftime("%d%m%Y"),
                self.sex,
                self.place_of_residence or "",
                self.issue_date.strftime("%d%m%Y"),
                self.old_id_number or "",
                self.father_name,
                self.mother_name,
            )
        )

    @property
    def can(self) -> str:
        """Card access number used for PACE: the last 6 digits of the ID."""
        return self.id_number[-6:]

    @property
    def document_number(self) -> str:
        """The MRZ/BAC document number: the last 9 digits of the ID."""
        return self.id_number[-9:]


def ascii_mrz(text: str) -> str:
    """A name as the MRZ writes it: no diacritics, Đ -> D, upper case, '<' for the rest."""
    plain = unicodedata.normalize("NFD", text.replace("Đ", "D").replace("đ", "d"))
    kept = "".join(c for c in plain if not unicodedata.combining(c)).upper()
    return "".join(c if "A" <= c <= "Z" else "<" for c in kept)


def mrz_lines(citizen: SyntheticCitizen) -> tuple[str, str, str]:
    """The card's TD1 MRZ (printed on the back of both generations, and the chip's DG1):
    document number = last 9 digits of the ID, the ID and its check digit in the optional
    data, six fillers for a card without expiry (shared/domain/cccd.md)."""
    parts = citizen.full_name.split()
    text = mrz.make_td1(
        document_number=citizen.document_number,
        optional_data=citizen.id_number + "<<" + mrz.check_digit(citizen.id_number),
        date_of_birth=mrz.yymmdd(citizen.date_of_birth),
        sex="F" if citizen.sex == "Nữ" else "M",
        date_of_expiry="" if citizen.expiry_date is None else mrz.yymmdd(citizen.expiry_date),
        surname=ascii_mrz(parts[0]),
        given_names=ascii_mrz(" ".join(parts[1:])),
    )
    return text[:30], text[30:60], text[60:]


def make_id_number(rng: random.Random, province: str, sex: str, dob: date) -> str:
    """A 12-digit ID with the right structure: PPP G YY + 6 random digits."""
    return f"{id_prefix(province, sex, dob.year)}{rng.randrange(10**6):06d}"


def _name(rng: random.Random, sex: str) -> str:
    middle = MIDDLE_FEMALE if sex == "Nữ" else MIDDLE_MALE
    given = GIVEN_FEMALE if sex == "Nữ" else GIVEN_MALE
    parts = [rng.choice(SURNAMES), rng.choice(middle)]
    if rng.random() < 0.3:
        parts.append(rng.choice(middle))
    parts.append(rng.choice(given))
    return " ".join(parts)


def _address(rng: random.Random) -> str:
    _, province = rng.choice(PROVINCES)
    return (
        f"Số {rng.randint(1, 300)} Đường {rng.choice(STREETS)}, {rng.choice(WARDS)}, "
        f"{rng.choice(DISTRICTS)}, {province}"
    )


def generate(
    rng: random.Random, *, today: date | None = None, generation: int = 2021
) -> SyntheticCitizen:
    """A plausible synthetic citizen with a card of ``generation`` issued by ``today``.

    A 2021 card is issued between 2021-01-01 and 2024-06-30 (the 2021 card's era); like a
    real one it may have expired by law at ``today`` (the QR parser then warns). A 2024 card
    (thẻ căn cước) is issued from 2024-07-01 and expires by the 2023 law (ages 14, 25, 40, 60).
    """
    today = today or date.today()
    if generation == 2024:
        citizen = generate(rng, today=today)
        start = date(2024, 7, 1)
        issue = start + timedelta(days=rng.randrange(max(1, (today - start).days)))
        issue = max(issue, citizen.date_of_birth + timedelta(days=1))
        return replace(
            citizen, issue_date=issue, expiry_date=legal_expiry(citizen.date_of_birth, issue)
        )
    sex = rng.choice(("Nam", "Nữ"))
    dob = date(1940, 1, 1) + timedelta(
        days=rng.randrange((date(2006, 12, 31) - date(1940, 1, 1)).days)
    )
    province, _ = rng.choice(PROVINCES)
    earliest_issue = max(
        date(2021, 1, 1),
        dob.replace(year=dob.year + 14)
        if not (dob.month == 2 and dob.day == 29)
        else date(dob.year + 14, 3, 1),
    )
    latest_issue = min(date(2024, 6, 30), today)
    issue = earliest_issue + timedelta(
        days=rng.randrange(max(1, (latest_issue - earliest_issue).days))
    )
    old_id = f"{rng.randrange(10**9):09d}" if rng.random() < 0.6 else None
    married = (today.year - dob.year) > 25 and rng.random() < 0.6
    return SyntheticCitizen(
        id_number=make_id_number(rng, province, sex, dob),
        old_id_number=old_id,
        full_name=_name(rng, sex),
        date_of_birth=dob,
        sex=sex,
        place_of_residence=_address(rng) if rng.random() < 0.95 else None,
        issue_date=issue,
        expiry_date=legal_expiry(dob, issue),
        nationality="Việt Nam",
        ethnicity=rng.choice(ETHNICITIES),
        religion=rng.choice(RELIGIONS),
        place_of_origin=f"{rng.choice(WARDS)}, {rng.choice(DISTRICTS)}, {rng.choice(PROVINCES)[1]}",
        identifying_marks=rng.choice(MARKS),
        father_name=_name(rng, "Nam"),
        mother_name=_name(rng, "Nữ"),
        spouse_name=_name(rng, "Nam" if sex == "Nữ" else "Nữ") if married else None,
    )


def generate_many(seed: int, count: int, *, today: date | None = None) -> list[SyntheticCitizen]:
    rng = random.Random(seed)
    return [generate(rng, today=today) for _ in range(count)]


# Vietnamese vowels and the five tone marks (huyền, sắc, hỏi, ngã, nặng) as combining marks.
VOWELS = "aăâeêioôơuưy"
TONES = ("", "\u0300", "\u0301", "\u0309", "\u0303", "\u0323")


def vietnamese_letters() -> str:
    """Every Vietnamese letter with a diacritic (all vowel/tone forms and đ), lower + upper."""
    lower = "".join(unicodedata.normalize("NFC", v + t) for v in VOWELS for t in TONES) + "đ"
    return lower + lower.upper()


def long_address(rng: random.Random) -> str:
    """A long residence (~250 characters, ~450 UTF-8 bytes) using every Vietnamese letter."""
    letters = vietnamese_letters()
    words = [letters[i : i + 5] for i in range(0, len(letters), 5)]
    rng.shuffle(words)
    hamlets = ", ".join(" ".join(words[i : i + 6]) for i in range(0, len(words), 6))
    number = f"Số {rng.randint(1, 999)}/{rng.randint(1, 99)} Ngõ {rng.randint(1, 300)}"
    return f"{number}, {hamlets}, {_address(rng)}"


def with_empty_old_id(citizen: SyntheticCitizen) -> SyntheticCitizen:
    return replace(citizen, old_id_number=None)


def with_old_id_12(citizen: SyntheticCitizen, rng: random.Random) -> SyntheticCitizen:
    """An old ID that is itself 12 digits (seen on real cards)."""
    return replace(citizen, old_id_number=f"{rng.randrange(10**12):012d}")


def with_empty_address(citizen: SyntheticCitizen) -> SyntheticCitizen:
    return replace(citizen, place_of_residence=None)


def with_long_address(citizen: SyntheticCitizen, rng: random.Random) -> SyntheticCitizen:
    return replace(citizen, place_of_residence=long_address(rng))


def with_upper_case_name(citizen: SyntheticCitizen) -> SyntheticCitizen:
    return replace(citizen, full_name=citizen.full_name.upper())


def variants(seed: int, *, today: date | None = None) -> dict[str, SyntheticCitizen]:
    """Named QR payload variants for tests: each a valid card with one unusual trait."""
    rng = random.Random(seed)
    base = generate_many(seed, 6, today=today)
    return {
        "plain": base[0],
        "empty_old_id": with_empty_old_id(base[1]),
        "old_id_12": with_old_id_12(base[2], rng),
        "empty_address": with_empty_address(base[3]),
        "long_address": with_long_address(base[4], rng),
        "upper_case_name": with_upper_case_name(base[5]),
        "everything": with_upper_case_name(with_long_address(with_empty_old_id(base[0]), rng)),
    }


__all__ = [
    "SyntheticCitizen",
    "ascii_mrz",
    "generate",
    "generate_many",
    "long_address",
    "make_id_number",
    "mrz_lines",
    "replace",
    "variants",
    "vietnamese_letters",
    "with_empty_address",
    "with_empty_old_id",
    "with_long_address",
    "with_old_id_12",
    "with_upper_case_name",
]
