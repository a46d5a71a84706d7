"""Structure of the 12-digit personal identification number (số định danh cá nhân).

``PPP G YY NNNNNN`` (Thông tư 07/2016/TT-BCA):

- ``PPP``: statistics-office code of the province where the birth was registered
  (the 63 codes below; numbers keep their code after the 2025 province mergers);
- ``G``: sex and century of birth, ``2 * ((year - 1900) // 100) + (1 if female)``:
  0/1 = male/female born 1900-1999, 2/3 = 2000-2099, ... 8/9 = 2300-2399;
- ``YY``: last two digits of the birth year;
- ``NNNNNN``: random.

Pure helpers shared by QR parsing, the chip's key derivation and the synthetic citizens.
"""

from __future__ import annotations

from dataclasses import dataclass

MALE = "Nam"
FEMALE = "Nữ"

# Statistics-office (GSO) province codes used as the first three digits.
PROVINCE_CODES: dict[str, str] = {
    "001": "Hà Nội",
    "002": "Hà Giang",
    "004": "Cao Bằng",
    "006": "Bắc Kạn",
    "008": "Tuyên Quang",
    "010": "Lào Cai",
    "011": "Điện Biên",
    "012": "Lai Châu",
    "014": "Sơn La",
    "015": "Yên Bái",
    "017": "Hòa Bình",
    "019": "Thái Nguyên",
    "020": "Lạng Sơn",
    "022": "Quảng Ninh",
    "024": "Bắc Giang",
    "025": "Phú Thọ",
    "026": "Vĩnh Phúc",
    "027": "Bắc Ninh",
    "030": "Hải Dương",
    "031": "Hải Phòng",
    "033": "Hưng Yên",
    "034": "Thái Bình",
    "035": "Hà Nam",
    "036": "Nam Định",
    "037": "Ninh Bình",
    "038": "Thanh Hóa",
    "040": "Nghệ An",
    "042": "Hà Tĩnh",
    "044": "Quảng Bình",
    "045": "Quảng Trị",
    "046": "Thừa Thiên Huế",
    "048": "Đà Nẵng",
    "049": "Quảng Nam",
    "051": "Quảng Ngãi",
    "052": "Bình Định",
    "054": "Phú Yên",
    "056": "Khánh Hòa",
    "058": "Ninh Thuận",
    "060": "Bình Thuận",
    "062": "Kon Tum",
    "064": "Gia Lai",
    "066": "Đắk Lắk",
    "067": "Đắk Nông",
    "068": "Lâm Đồng",
    "070": "Bình Phước",
    "072": "Tây Ninh",
    "074": "Bình Dương",
    "075": "Đồng Nai",
    "077": "Bà Rịa - Vũng Tàu",
    "079": "Hồ Chí Minh",
    "080": "Long An",
    "082": "Tiền Giang",
    "083": "Bến Tre",
    "084": "Trà Vinh",
    "086": "Vĩnh Long",
    "087": "Đồng Tháp",
    "089": "An Giang",
    "091": "Kiên Giang",
    "092": "Cần Thơ",
    "093": "Hậu Giang",
    "094": "Sóc Trăng",
    "095": "Bạc Liêu",
    "096": "Cà Mau",
}

FIRST_CENTURY_YEAR = 1900
LAST_ENCODABLE_YEAR = 2399


@dataclass(frozen=True)
class IdStructure:
    """What a well-formed 12-digit ID says about its holder."""

    province_code: str
    province_name: str | None  # None when the code is not one of the 63 known codes
    sex: str  # "Nam" / "Nữ"
    birth_year: int
    serial: str


def is_id_number(text: str) -> bool:
    """True for exactly 12 ASCII digits."""
    return len(text) == 12 and text.isascii() and text.isdigit()


def sex_century_digit(sex: str, birth_year: int) -> str:
    """The ``G`` digit for a sex ("Nam"/"Nữ") and birth year in 1900-2399."""
    if not FIRST_CENTURY_YEAR <= birth_year <= LAST_ENCODABLE_YEAR:
        raise ValueError(f"birth year {birth_year} outside 1900-2399")
    if sex not in (MALE, FEMALE):
        raise ValueError(f"sex must be {MALE!r} or {FEMALE!r}")
    century_index = (birth_year - FIRST_CENTURY_YEAR) // 100
    return str(century_index * 2 + (1 if sex == FEMALE else 0))


def id_prefix(province_code: str, sex: str, birth_year: int) -> str:
    """The first six digits (``PPP G YY``) an ID must start with."""
    return f"{province_code}{sex_century_digit(sex, birth_year)}{birth_year % 100:02d}"


def split_id(id_number: str) -> IdStructure:
    """Decode a 12-digit ID; raises ValueError when it is not 12 ASCII digits."""
    if not is_id_number(id_number):
        raise ValueError("an ID number has exactly 12 digits")
    g = int(id_number[3])
    return IdStructure(
        province_code=id_number[:3],
        province_name=PROVINCE_CODES.get(id_number[:3]),
        sex=FEMALE if g % 2 else MALE,
        birth_year=FIRST_CENTURY_YEAR + 100 * (g // 2) + int(id_number[4:6]),
        serial=id_number[6:],
    )


def document_number(id_number: str) -> str:
    """The MRZ/BAC document number: the LAST 9 digits of the 12-digit ID."""
    return id_number[-9:]


def card_access_number(id_number: str) -> str:
    """The CAN used for PACE by Vietnamese readers: the LAST 6 digits of the ID."""
    return id_number[-6:]
