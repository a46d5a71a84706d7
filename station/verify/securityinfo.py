"""DG14 SecurityInfos: Chip Authentication protocols and keys, the AA signature algorithm."""

from __future__ import annotations

from dataclasses import dataclass

from asn1crypto import keys as akeys

from station.verify.asn1 import (
    CA_PROTOCOLS,
    ECDSA_PLAIN_HASHES,
    OID_AA,
    OID_PK_DH,
    OID_PK_ECDH,
    ActiveAuthenticationInfo,
    ChipAuthenticationInfo,
    ChipAuthenticationPublicKeyInfo,
    SecurityInfos,
    unwrap_tlv,
)


@dataclass(frozen=True)
class CaOption:
    """One usable Chip Authentication configuration of a chip."""

    protocol: str  # id-CA-* OID
    agreement: str  # "ecdh" | "dh"
    cipher: str  # "3des" | "aes"
    key_length: int  # session key bytes
    version: int
    key_id: int | None
    public_key: akeys.PublicKeyInfo


def _infos(dg14: bytes) -> list[tuple[str, bytes]]:
    try:
        body = unwrap_tlv(dg14, 0x6E)
        return [(info["protocol"].dotted, info.dump()) for info in SecurityInfos.load(body)]
    except (ValueError, TypeError) as exc:
        raise ValueError(f"DG14 malformed: {exc}") from exc


def aa_hash(dg14: bytes) -> str | None:
    """The hash DG14's ActiveAuthenticationInfo names (ecdsa-plain-<hash>), or None."""
    try:
        infos = _infos(dg14)
    except ValueError:
        return None
    for oid, der in infos:
        if oid == OID_AA:
            algorithm = ActiveAuthenticationInfo.load(der)["signature_algorithm"].dotted
            return ECDSA_PLAIN_HASHES.get(algorithm)
    return None


def ca_options(dg14: bytes) -> list[CaOption]:
    """Chip Authentication configurations (protocol info paired with its public key).

    A public key without a ChipAuthenticationInfo implies CA version 1 with 3DES
    (ICAO 9303-11 section 9.2.5). Raises ValueError when DG14 is malformed.
    """
    infos = _infos(dg14)
    protocols: list[tuple[str, int, int | None]] = []
    public: list[tuple[str, akeys.PublicKeyInfo, int | None]] = []
    for oid, der in infos:
        if oid in CA_PROTOCOLS:
            info = ChipAuthenticationInfo.load(der)
            protocols.append((oid, int(info["version"].native), info["key_id"].native))
        elif oid in (OID_PK_DH, OID_PK_ECDH):
            pk = ChipAuthenticationPublicKeyInfo.load(der)
            agreement = "dh" if oid == OID_PK_DH else "ecdh"
            public.append((agreement, pk["chip_authentication_public_key"], pk["key_id"].native))
    options = []
    for agreement, key, key_id in public:
        matching = [
            p
            for p in protocols
            if CA_PROTOCOLS[p[0]][0] == agreement and (p[2] == key_id or None in (p[2], key_id))
        ]
        if not matching:
            default = "0.4.0.127.0.7.2.2.3." + ("1.1" if agreement == "dh" else "2.1")
            matching = [(default, 1, key_id)]
        for oid, version, _ in matching:
            _, cipher, length = CA_PROTOCOLS[oid]
            options.append(CaOption(oid, agreement, cipher, length, version, key_id, key))
    return options
