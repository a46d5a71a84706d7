"""The file set of an emulated CCCD chip, built from a ``SyntheticCitizen``.

``build_profile(citizen, ...)`` returns a ``CardProfile``: the raw files by file id
(EF.COM, DG1, DG2, DG13, DG14, DG15, EF.SOD, EF.CardAccess), the MRZ key data the
chip answers BAC with, the CAN, and the chip's private keys (PKCS#8 DER, so the
profile pickles into the vpcd bridge process). The SOD is signed with
``station.sim.pki`` (pass ``pki`` to choose the chain; a P-256 one is made otherwise).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Literal

from cryptography.hazmat.primitives import serialization

from station.icao import mrz
from station.icao.tlv import tlv
from station.sim.citizens import SyntheticCitizen, mrz_lines
from station.sim.emulator.face import face_jpeg, face_jpeg2000

FID_COM, FID_SOD, FID_CARD_ACCESS = 0x011E, 0x011D, 0x011C
DG_FIDS = {n: 0x0100 + n for n in range(1, 17)}
DG_TAGS = {1: 0x61, 2: 0x75, 3: 0x63, 13: 0x6D, 14: 0x6E, 15: 0x6F}
DG13_OID = bytes.fromhex("0606" + "28D316010008")  # 1.0.10646.1.0.8
NO_EXPIRY_TEXT = "Không thời hạn"
# PACEInfo: id-PACE-ECDH-GM-AES-CBC-CMAC-128, version 2, brainpoolP256r1 (13)
PACE_INFO_BP256 = bytes.fromhex("3012060A04007F0007020204020202010202010D")
NO_EXPIRY_MRZ = "<<<<<<"

ParentShape = Literal["separate", "nested"]
FaceFormat = Literal["jpeg", "jpeg2000"]


@dataclass(frozen=True)
class CardProfile:
    """Everything the emulated chip knows. ``files`` maps file id -> raw bytes."""

    files: dict[int, bytes]
    document_number: str
    date_of_birth: str  # YYMMDD
    date_of_expiry: str  # YYMMDD or "<<<<<<"
    can: str
    keys: dict[str, bytes] = field(default_factory=dict)  # "aa", "ca": PKCS#8 DER

    def dg(self, number: int) -> bytes:
        return self.files[DG_FIDS[number]]


def expiry_yymmdd(citizen: SyntheticCitizen) -> str:
    return mrz.yymmdd(citizen.expiry_date) if citizen.expiry_date else NO_EXPIRY_MRZ


def td1_text(citizen: SyntheticCitizen) -> str:
    return "".join(mrz_lines(citizen))


def ef_com(dgs: list[int]) -> bytes:
    tags = bytes(DG_TAGS[n] for n in dgs)
    return tlv(0x60, tlv(0x5F01, b"0107") + tlv(0x5F36, b"040000") + tlv(0x5C, tags))


def dg1(citizen: SyntheticCitizen) -> bytes:
    return tlv(0x61, tlv(0x5F1F, td1_text(citizen).encode("ascii")))


def face_record(image: bytes, jpeg2000: bool) -> bytes:
    """ISO/IEC 19794-5 facial record: general header, facial info, image info, image."""
    image_info = bytes((1, 1 if jpeg2000 else 0)) + (300).to_bytes(2, "big")
    image_info += (400).to_bytes(2, "big") + bytes((1, 2)) + bytes(4)
    facial_info = bytes(2) + bytes((0, 0, 0)) + bytes(3) + bytes(2) + bytes(6)
    block = facial_info + image_info + image
    block = (len(block) + 4).to_bytes(4, "big") + block
    header = b"FAC\x00010\x00" + (14 + len(block)).to_bytes(4, "big") + (1).to_bytes(2, "big")
    return header + block


def dg2(image: bytes, jpeg2000: bool) -> bytes:
    bht = tlv(0x80, b"\x01\x01") + tlv(0x81, b"\x02") + tlv(0x87, b"\x01\x01")
    bht += tlv(0x88, b"\x00\x08")
    template = tlv(0x7F60, tlv(0xA1, bht) + tlv(0x5F2E, face_record(image, jpeg2000)))
    return tlv(0x75, tlv(0x7F61, tlv(0x02, b"\x01") + template))


def _field(n: int, content: bytes) -> bytes:
    return tlv(0x30, tlv(0x02, bytes((n,))) + content)


def _text(value: str) -> bytes:
    return tlv(0x0C, value.encode("utf-8"))


def _dmy(value: date) -> str:
    return value.strftime("%d/%m/%Y")


def dg13(citizen: SyntheticCitizen, parents: ParentShape = "separate") -> bytes:
    expiry = _dmy(citizen.expiry_date) if citizen.expiry_date else NO_EXPIRY_TEXT
    texts = [
        citizen.id_number, citizen.full_name, _dmy(citizen.date_of_birth), citizen.sex,
        citizen.nationality, citizen.ethnicity, citizen.religion, citizen.place_of_origin,
        citizen.place_of_residence or "", citizen.identifying_marks,
        _dmy(citizen.issue_date), expiry,
    ]  # fmt: skip
    fields = [_field(i + 1, _text(value)) for i, value in enumerate(texts)]
    father, mother = _text(citizen.father_name), _text(citizen.mother_name)
    if parents == "separate":
        fields.append(_field(13, tlv(0x30, father) + tlv(0x30, mother)))
    else:
        fields.append(_field(13, tlv(0x30, father + mother)))
    spouse = _text(citizen.spouse_name) if citizen.spouse_name else b""
    fields.append(_field(14, spouse if spouse else tlv(0x30, b"")))
    fields.append(_field(15, _text(citizen.old_id_number or "")))
    fields.append(_field(16, tlv(0x13, citizen.id_number[-8:].encode() * 2)))
    body = tlv(0x02, b"\x01") + DG13_OID + tlv(0x31, b"".join(fields))
    return tlv(0x6D, tlv(0x30, body))


def _pkcs8(key: object) -> bytes:
    private_bytes = getattr(key, "private_bytes", None)
    if private_bytes is None:
        raise TypeError("key cannot be serialised")
    der: bytes = private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return der


def build_profile(
    citizen: SyntheticCitizen,
    *,
    pki: object | None = None,
    face: FaceFormat = "jpeg",
    parents: ParentShape = "separate",
    pace: bool = True,
    aa_kind: str = "p256",
    ca_kind: str = "p256",
    face_image: bytes | None = None,
    malformed: tuple[int, ...] = (),
) -> CardProfile:
    """The full CCCD file set for ``citizen`` with a signed SOD (see module doc).
    ``face_image``: these image bytes in DG2 instead of a drawn portrait (hostile images:
    ``station.sim.emulator.face.bomb_png``), signed like any other DG2. ``malformed``: data
    groups replaced by bytes that do not parse (their outer tag, then a truncated inner
    object), signed as they are: the chip's own data, hashes intact."""
    from station.sim import pki as pki_mod
    from station.sim.emulator import keys as chip_keys

    seed = citizen.id_number
    image = face_jpeg2000(seed) if face == "jpeg2000" else face_jpeg(seed)
    image = face_image if face_image is not None else image
    aa_key = chip_keys.make_aa_key(aa_kind)
    ca_key = chip_keys.make_ca_key(ca_kind)
    groups = {
        1: dg1(citizen),
        2: dg2(image, face == "jpeg2000"),
        13: dg13(citizen, parents),
        14: chip_keys.encode_dg14(
            ca_key.public_key(), aa_hash="sha256" if aa_kind != "rsa1024" else None
        ),
        15: chip_keys.encode_dg15(aa_key.public_key()),
    }
    for number in malformed:
        groups[number] = tlv(DG_TAGS[number], bytes.fromhex("7F610A0201010203"))
    chain = pki if pki is not None else pki_mod.make_test_pki("p256")
    sod = pki_mod.build_sod(pki_mod.dg_hashes_of(groups), chain)  # type: ignore[arg-type]
    files = {DG_FIDS[n]: data for n, data in groups.items()}
    files[FID_COM] = ef_com([1, 2, 3, 13, 14, 15])
    files[FID_SOD] = sod
    if pace:
        files[FID_CARD_ACCESS] = tlv(0x31, PACE_INFO_BP256)
    keys = {"aa": _pkcs8(aa_key)}
    if hasattr(ca_key, "private_bytes"):
        keys["ca"] = _pkcs8(ca_key)
    return CardProfile(
        files=files,
        document_number=citizen.document_number,
        date_of_birth=mrz.yymmdd(citizen.date_of_birth),
        date_of_expiry=expiry_yymmdd(citizen),
        can=citizen.can,
        keys=keys,
    )
