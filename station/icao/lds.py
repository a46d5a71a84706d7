"""LDS file parsing (ICAO 9303-10) through one entry point: ``load(name, data)``.

Every failure is an ``LdsError(file, offset, detail)``; nothing else escapes (the
parsers are fuzzed). DG14 gives its SecurityInfos (`station.icao.securityinfos`); of DG15
and EF.SOD only the outer TLV is checked here (their contents, a public key and a CMS
signature, are verification's). ``sod_groups`` lists the data groups an EF.SOD hashes (its
LDSSecurityObject's dataGroupHashValues), which is what the chip reader reads by: nothing
of the signature is checked there.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from datetime import date
from typing import Any

from station.icao import mrz as mrz_mod
from station.icao.errors import FaceImageError, LdsError
from station.icao.securityinfos import SecurityInfos
from station.icao.tlv import Tlv, TlvError, parse_one, walk

OUTER_TAGS = {
    "EF.COM": 0x60, "DG1": 0x61, "DG2": 0x75, "DG3": 0x63, "DG11": 0x6B, "DG12": 0x6C,
    "DG13": 0x6D, "DG14": 0x6E, "DG15": 0x6F, "EF.SOD": 0x77,
}  # fmt: skip
TAG_TO_NAME = {tag: name for name, tag in OUTER_TAGS.items()}
STRING_TAGS = (0x0C, 0x13, 0x16, 0x1E, 0x14)
MAX_FACE_PIXELS = 4096 * 4096
JP2_SIGNATURE = bytes.fromhex("0000000C6A5020200D0A870A")
J2K_CODESTREAM = bytes.fromhex("FF4FFF51")


@dataclass(frozen=True)
class ComFile:
    lds_version: str
    unicode_version: str
    data_groups: tuple[str, ...]  # names, e.g. ("DG1", "DG2", "DG13")


@dataclass(frozen=True)
class FaceImage:
    format: str  # "jpeg" | "jpeg2000"
    data: bytes
    width: int
    height: int


@dataclass(frozen=True)
class Dg13:
    """DG13 by field index: decoded texts per field (empty tuple = present but empty);
    ``raw`` keeps each field's undecoded bytes (hex in JSON) for unknown/odd values."""

    texts: dict[int, tuple[str, ...]]
    raw: dict[int, bytes]

    def text(self, index: int) -> str | None:
        values = [v for v in self.texts.get(index, ()) if v.strip()]
        return values[0] if values else None

    def parents(self) -> tuple[str | None, str | None]:
        values = [v for v in self.texts.get(13, ()) if v.strip()]
        return (values[0] if values else None, values[1] if len(values) > 1 else None)

    def unknown_fields(self) -> dict[str, str]:
        return {str(n): raw.hex() for n, raw in self.raw.items() if n not in self.texts or n > 15}


def _outer(name: str, data: bytes) -> Tlv:
    item = parse_one(data)
    expected = OUTER_TAGS.get(name)
    if expected is not None and item.tag != expected:
        raise LdsError(name, 0, f"outer tag {item.tag:X}, expected {expected:X}")
    if item.end != len(data):
        raise LdsError(name, item.end, f"{len(data) - item.end} bytes after the outer TLV")
    return item


def parse_com(data: bytes) -> ComFile:
    outer = _outer("EF.COM", data)
    version = outer.find(0x5F01)
    unicode_version = outer.find(0x5F36)
    tags = outer.child(0x5C).value
    names = tuple(TAG_TO_NAME.get(t, f"tag-{t:02X}") for t in tags)
    return ComFile(
        version.value.decode("ascii", "replace") if version else "",
        unicode_version.value.decode("ascii", "replace") if unicode_version else "",
        names,
    )


def parse_dg1(data: bytes) -> mrz_mod.Mrz:
    outer = _outer("DG1", data)
    field = outer.child(0x5F1F)
    try:
        return mrz_mod.parse(field.value.decode("ascii"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise LdsError("DG1", field.value_offset, f"MRZ: {exc}") from None


def _image_start(record: bytes) -> tuple[int, str]:
    """Locate the image inside an ISO 19794-5 record (header parsed when sane)."""
    if record[:4] == b"FAC\x00" and len(record) >= 14 + 20 + 12:
        features = int.from_bytes(record[18 + 4 : 18 + 6], "big") if len(record) > 24 else 0
        start = 14 + 20 + 8 * features + 12
        image_type = record[start - 11] if start - 11 < len(record) else 0xFF
        if start < len(record):
            return start, "jpeg2000" if image_type == 1 else "jpeg"
    for marker, kind in (
        (b"\xff\xd8\xff", "jpeg"),
        (JP2_SIGNATURE, "jpeg2000"),
        (J2K_CODESTREAM, "jpeg2000"),
    ):
        at = record.find(marker)
        if at >= 0:
            return at, kind
    raise ValueError("no JPEG or JPEG 2000 image in the biometric data block")


FACE_FORMATS = {"JPEG": "jpeg", "JPEG2000": "jpeg2000"}


def open_face(data: bytes, fit: tuple[int, int] = (64, 64)) -> Any:
    """A face image (PIL, decoded) at the smallest scale that still covers ``fit``.

    Only Pillow's JPEG and JPEG 2000 decoders ever see the bytes (a PNG, a GIF or a
    PostScript file in DG2 is refused by its header, not decoded); the pixel size is read
    from the header and checked against ``MAX_FACE_PIXELS`` before anything is decoded;
    JPEG is decoded through its DCT scaling (``draft``), JPEG 2000 at a reduced resolution
    level, so a thumbnail never costs a full-size bitmap. The original size is
    ``img.info["face_size"]``. Raises ValueError for a refused image; callers must also
    expect any other exception from the decoders (``DecompressionBombError`` included)
    and treat it as "no face".
    """
    from PIL import Image

    img: Any = Image.open(io.BytesIO(data), formats=list(FACE_FORMATS))
    try:
        width, height = img.size
        if width <= 0 or height <= 0 or width * height > MAX_FACE_PIXELS:
            raise ValueError(f"face image of {width}x{height} pixels")
        img.info["face_size"] = (width, height)
        if img.format == "JPEG":
            img.draft("L", fit)
        else:  # JPEG 2000: halve the resolution while the result still covers ``fit``
            level = 0
            while (width >> (level + 1)) >= fit[0] and (height >> (level + 1)) >= fit[1]:
                level += 1
            img.reduce = min(level, 5)
        img.load()
        return img
    except BaseException:
        img.close()
        raise


def _decode_image(data: bytes) -> tuple[str, int, int]:
    """(format, width, height) of a face image that decodes (checked at a small scale)."""
    with open_face(data) as img:
        width, height = img.info["face_size"]
        return FACE_FORMATS[str(img.format)], int(width), int(height)


def parse_dg2(data: bytes) -> list[FaceImage]:
    outer = _outer("DG2", data)
    faces: list[FaceImage] = []
    for item in walk(outer.value, base=outer.value_offset):
        if item.tag not in (0x5F2E, 0x7F2E):
            continue
        try:
            start, _ = _image_start(item.value)
            image = item.value[start:]
            fmt, width, height = _decode_image(image)
        except Exception as exc:  # Pillow raises many types on bad data
            raise FaceImageError("DG2", item.value_offset, f"face image: {exc}") from None
        faces.append(FaceImage(fmt, image, width, height))
    if not faces:
        raise LdsError("DG2", outer.value_offset, "no biometric data block (5F2E/7F2E)")
    return faces


def _strings(value: bytes, base: int) -> tuple[str, ...]:
    out: list[str] = []
    for item in walk(value, base=base):
        if item.tag in STRING_TAGS:
            encoding = "utf-16-be" if item.tag == 0x1E else "utf-8"
            out.append(item.value.decode(encoding, "replace"))
    return tuple(out)


def parse_dg13(data: bytes) -> Dg13:
    outer = _outer("DG13", data)
    texts: dict[int, tuple[str, ...]] = {}
    raw: dict[int, bytes] = {}
    for item in walk(outer.value, base=outer.value_offset):
        if item.tag != 0x30:
            continue
        children = item.children()
        if len(children) < 1 or children[0].tag != 0x02 or len(children[0].value) != 1:
            continue
        index = children[0].value[0]
        if index == 1 and len(children) > 1 and children[1].tag == 0x06:
            continue  # the header SEQUENCE { INTEGER 1, OID, SET }
        if index in raw:
            continue  # first occurrence wins (nested sequences repeat the walk)
        rest = b"".join(
            item.value[c.offset - item.value_offset : c.end - item.value_offset]
            for c in children[1:]
        )
        raw[index] = rest
        texts[index] = _strings(rest, children[1].offset if len(children) > 1 else item.end)
    if not raw:
        raise LdsError("DG13", outer.value_offset, "no numbered fields")
    return Dg13(texts, raw)


def parse_dg14(data: bytes) -> SecurityInfos:
    outer = _outer("DG14", data)
    return SecurityInfos.parse(outer.value, "DG14", base=outer.value_offset)


def sod_groups(data: bytes) -> tuple[int, ...]:
    """The data group numbers EF.SOD hashes, in its order: 77 { ContentInfo { OID,
    [0] { SignedData { version, digestAlgorithms, encapContentInfo { OID, [0] { OCTET
    STRING { LDSSecurityObject { version, hashAlgorithm, dataGroupHashValues }}}}, ...}}}}.
    Raises LdsError naming the offset when the structure is not that (DER, as ICAO 9303-10
    requires)."""
    try:
        info = _outer("EF.SOD", data).child(0x30)
        signed = info.child(0xA0).child(0x30).children()
        if len(signed) < 3 or signed[2].tag != 0x30:
            raise LdsError("EF.SOD", info.value_offset, "no encapContentInfo in SignedData")
        content = signed[2].child(0xA0).child(0x04)
        lso = parse_one(content.value, base=content.value_offset)
        fields = lso.children()
        if lso.tag != 0x30 or len(fields) < 3 or fields[2].tag != 0x30:
            raise LdsError("EF.SOD", lso.offset, "not an LDSSecurityObject")
        numbers = []
        for item in fields[2].children():
            number = item.child(0x02).value
            if item.tag != 0x30 or len(number) != 1 or not 1 <= number[0] <= 16:
                raise LdsError("EF.SOD", item.offset, "bad DataGroupHash")
            numbers.append(number[0])
    except TlvError as exc:
        raise LdsError("EF.SOD", exc.offset, exc.reason) from None
    if len(set(numbers)) != len(numbers):
        raise LdsError("EF.SOD", fields[2].offset, "a data group hashed twice")
    return tuple(numbers)


def parse_dmy(text: str | None) -> date | None:
    """``dd/mm/yyyy`` (also with - or .) -> date; None when it is not a date."""
    if not text:
        return None
    match = re.fullmatch(r"\s*(\d{1,2})[/.-](\d{1,2})[/.-](\d{4})\s*", text)
    if not match:
        return None
    try:
        return date(int(match[3]), int(match[2]), int(match[1]))
    except ValueError:
        return None


def load(name: str, data: bytes) -> Any:
    """Parse one LDS file by name. Returns ComFile / Mrz / list[FaceImage] / Dg13 /
    SecurityInfos (DG14), or the outer Tlv for DG15, EF.SOD and others. Raises only
    LdsError."""
    try:
        if name == "EF.COM":
            return parse_com(data)
        if name == "DG1":
            return parse_dg1(data)
        if name == "DG2":
            return parse_dg2(data)
        if name == "DG13":
            return parse_dg13(data)
        if name == "DG14":
            return parse_dg14(data)
        return _outer(name, data)
    except LdsError:
        raise
    except TlvError as exc:
        raise LdsError(name, exc.offset, exc.reason) from None
    except (ValueError, IndexError, RecursionError) as exc:
        raise LdsError(name, 0, str(exc)) from None
