"""ASN.1 structures and object identifiers of ICAO 9303 used for Passive Authentication and
master lists.

Shared by the verifier (``station.verify``) and the test PKI (``station.sim.pki``): the LDS
security object inside EF.SOD, the CSCA master list and the hash OIDs. The SecurityInfos of
EF.CardAccess and DG14 are `station.icao.securityinfos`.
"""

from __future__ import annotations

from typing import Any, ClassVar, Final

from asn1crypto import algos, core

OID_LDS_SECURITY_OBJECT: Final = "2.23.136.1.1.1"
OID_CSCA_MASTER_LIST: Final = "2.23.136.1.1.2"

HASH_OIDS: Final[dict[str, str]] = {
    "1.3.14.3.2.26": "sha1",
    "2.16.840.1.101.3.4.2.4": "sha224",
    "2.16.840.1.101.3.4.2.1": "sha256",
    "2.16.840.1.101.3.4.2.2": "sha384",
    "2.16.840.1.101.3.4.2.3": "sha512",
}
HASH_NAMES: Final = tuple(HASH_OIDS.values())


def same_name(a: Any, b: Any) -> bool:
    """Two X.509 Names are the same: byte for byte (the usual case, and cheap), else by
    asn1crypto's comparison (RFC 5280 string preparation, ~0.2 ms a pair)."""
    return bool(a.dump() == b.dump() or a == b)


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


class CscaCertificates(core.SetOf):  # type: ignore[misc]
    _child_spec = core.Any


class CscaMasterList(core.Sequence):  # type: ignore[misc]
    _fields: ClassVar[list[Any]] = [
        ("version", core.Integer),
        ("cert_list", CscaCertificates),
    ]
