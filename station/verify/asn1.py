"""ASN.1 structures and object identifiers of ICAO 9303 / BSI TR-03110 used for verification.

Shared by the verifier (``station.verify``) and the test PKI (``station.sim.pki``):
the LDS security object inside EF.SOD, the SecurityInfos of DG14 (Chip and Active
Authentication) and the hash/protocol OIDs.
"""

from __future__ import annotations

from typing import Any, ClassVar, Final

from asn1crypto import algos, core, keys

OID_LDS_SECURITY_OBJECT: Final = "2.23.136.1.1.1"
OID_CSCA_MASTER_LIST: Final = "2.23.136.1.1.2"
OID_AA: Final = "2.23.136.1.1.5"

OID_PK_DH: Final = "0.4.0.127.0.7.2.2.1.1"
OID_PK_ECDH: Final = "0.4.0.127.0.7.2.2.1.2"
_CA_PREFIX: Final = "0.4.0.127.0.7.2.2.3"
# id-CA-<DH|ECDH>-<cipher>: (agreement, cipher, key length in bytes)
CA_PROTOCOLS: Final[dict[str, tuple[str, str, int]]] = {
    f"{_CA_PREFIX}.1.1": ("dh", "3des", 16),
    f"{_CA_PREFIX}.1.2": ("dh", "aes", 16),
    f"{_CA_PREFIX}.1.3": ("dh", "aes", 24),
    f"{_CA_PREFIX}.1.4": ("dh", "aes", 32),
    f"{_CA_PREFIX}.2.1": ("ecdh", "3des", 16),
    f"{_CA_PREFIX}.2.2": ("ecdh", "aes", 16),
    f"{_CA_PREFIX}.2.3": ("ecdh", "aes", 24),
    f"{_CA_PREFIX}.2.4": ("ecdh", "aes", 32),
}
OID_CA_ECDH_3DES: Final = f"{_CA_PREFIX}.2.1"
OID_CA_ECDH_AES128: Final = f"{_CA_PREFIX}.2.2"
OID_CA_DH_3DES: Final = f"{_CA_PREFIX}.1.1"
OID_CA_DH_AES128: Final = f"{_CA_PREFIX}.1.2"

# BSI TR-03111 ecdsa-plain-signatures (r || s), used by DG14's ActiveAuthenticationInfo.
_PLAIN = "0.4.0.127.0.7.1.1.4.1"
ECDSA_PLAIN_HASHES: Final[dict[str, str]] = {
    f"{_PLAIN}.1": "sha1",
    f"{_PLAIN}.2": "sha224",
    f"{_PLAIN}.3": "sha256",
    f"{_PLAIN}.4": "sha384",
    f"{_PLAIN}.5": "sha512",
}
ECDSA_PLAIN_OID: Final[dict[str, str]] = {v: k for k, v in ECDSA_PLAIN_HASHES.items()}

HASH_OIDS: Final[dict[str, str]] = {
    "1.3.14.3.2.26": "sha1",
    "2.16.840.1.101.3.4.2.4": "sha224",
    "2.16.840.1.101.3.4.2.1": "sha256",
    "2.16.840.1.101.3.4.2.2": "sha384",
    "2.16.840.1.101.3.4.2.3": "sha512",
}
HASH_NAMES: Final = tuple(HASH_OIDS.values())


class DataGroupHash(core.Sequence):  # type: ignore[misc]
    _fields: ClassVar[list[Any]] = [
        ("data_group_number", core.Integer),
        ("data_group_hash_value", core.OctetString),
    ]


class DataGroupHashes(core.SequenceOf):  # type: ignore[misc]
    _child_spec = DataGroupHash


class LdsVersionInfo(core.Sequence):  # type: ignore[misc]
    _fields: ClassVar[list[Any]] = [
        ("lds_version", core.PrintableString),
        ("unicode_version", core.PrintableString),
    ]


class LdsSecurityObject(core.Sequence):  # type: ignore[misc]
    _fields: ClassVar[list[Any]] = [
        ("version", core.Integer),
        ("hash_algorithm", algos.DigestAlgorithm),
        ("data_group_hash_values", DataGroupHashes),
        ("lds_version_info", LdsVersionInfo, {"optional": True}),
    ]


class SecurityInfo(core.Sequence):  # type: ignore[misc]
    """Generic SecurityInfo: protocol OID, required data, optional data (kept raw)."""

    _fields: ClassVar[list[Any]] = [
        ("protocol", core.ObjectIdentifier),
        ("required_data", core.Any),
        ("optional_data", core.Any, {"optional": True}),
    ]


class SecurityInfos(core.SetOf):  # type: ignore[misc]
    _child_spec = SecurityInfo


class ChipAuthenticationInfo(core.Sequence):  # type: ignore[misc]
    _fields: ClassVar[list[Any]] = [
        ("protocol", core.ObjectIdentifier),
        ("version", core.Integer),
        ("key_id", core.Integer, {"optional": True}),
    ]


class ChipAuthenticationPublicKeyInfo(core.Sequence):  # type: ignore[misc]
    _fields: ClassVar[list[Any]] = [
        ("protocol", core.ObjectIdentifier),
        ("chip_authentication_public_key", keys.PublicKeyInfo),
        ("key_id", core.Integer, {"optional": True}),
    ]


class ActiveAuthenticationInfo(core.Sequence):  # type: ignore[misc]
    _fields: ClassVar[list[Any]] = [
        ("protocol", core.ObjectIdentifier),
        ("version", core.Integer),
        ("signature_algorithm", core.ObjectIdentifier),
    ]


class CscaCertificates(core.SetOf):  # type: ignore[misc]
    _child_spec = core.Any


class CscaMasterList(core.Sequence):  # type: ignore[misc]
    _fields: ClassVar[list[Any]] = [
        ("version", core.Integer),
        ("cert_list", CscaCertificates),
    ]


def tlv(tag: int, value: bytes) -> bytes:
    """One BER-TLV with a one-byte tag and a definite DER length."""
    n = len(value)
    if n < 0x80:
        length = bytes([n])
    else:
        raw = n.to_bytes((n.bit_length() + 7) // 8, "big")
        length = bytes([0x80 | len(raw)]) + raw
    return bytes([tag]) + length + value


def unwrap_tlv(data: bytes, tag: int) -> bytes:
    """The value of one outer TLV with the given one-byte tag; ValueError if malformed."""
    if len(data) < 2 or data[0] != tag:
        raise ValueError(f"expected tag {tag:02X}, found {data[:1].hex() or 'nothing'}")
    first = data[1]
    if first < 0x80:
        start, length = 2, first
    else:
        count = first & 0x7F
        if count == 0 or count > 4 or len(data) < 2 + count:
            raise ValueError(f"bad length encoding in tag {tag:02X}")
        start, length = 2 + count, int.from_bytes(data[2 : 2 + count], "big")
    if start + length > len(data):
        raise ValueError(f"tag {tag:02X} claims {length} bytes, only {len(data) - start} present")
    return data[start : start + length]
