"""The emulated chip's own keys and the data groups that publish them: the Active
Authentication key (RSA or EC, DG15) and the Chip Authentication key (ECDH or DH, DG14).

Keys travel as PKCS#8 DER in the card profile (it pickles into the vpcd bridge process); the
DH key, which ``cryptography`` does not serialise, is ``DhPrivateKey``. Everything here is
generated: no real key is involved.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from asn1crypto import core, keys
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from station.icao import ec as icao_ec
from station.icao.keys import DhPublicKey
from station.icao.securityinfos import (
    DH_PUBLIC_NUMBER,
    ECDSA_PLAIN_OID,
    ID_CA_DH_AES128,
    ID_CA_ECDH_AES128,
    ID_PK_DH,
    ID_PK_ECDH,
    ActiveAuthenticationInfo,
    ChipAuthenticationInfo,
    ChipAuthenticationPublicKeyInfo,
    Info,
)
from station.icao.tlv import tlv
from station.sim.pki import CURVES, PrivateKey

# -- Active Authentication (DG15) -------------------------------------------------------


def make_aa_key(kind: str = "rsa1024") -> PrivateKey:
    """An AA key: "rsa1024", "rsa2048" or a curve name of ``CURVES``."""
    if kind.startswith("rsa"):
        return rsa.generate_private_key(public_exponent=65537, key_size=int(kind[3:]))
    if kind in CURVES:
        return ec.generate_private_key(CURVES[kind])
    raise ValueError(f"unknown AA key kind {kind!r}")


def spki_der(public_key: rsa.RSAPublicKey | ec.EllipticCurvePublicKey | DhPublicKey) -> bytes:
    if isinstance(public_key, DhPublicKey):
        group = public_key.group
        domain = {"p": group.p, "g": group.g, "q": group.q}
        info = keys.PublicKeyInfo(
            {
                "algorithm": {"algorithm": "dh", "parameters": keys.DomainParameters(domain)},
                "public_key": core.Integer(public_key.y),
            }
        )
        return bytes(info.dump())
    return public_key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def encode_dg15(aa_public_key: rsa.RSAPublicKey | ec.EllipticCurvePublicKey) -> bytes:
    """DG15: tag 6F wrapping the AA key's SubjectPublicKeyInfo."""
    return tlv(0x6F, spki_der(aa_public_key))


# -- Chip Authentication (DG14) -------------------------------------------------------------


class _DhAlgorithm(core.Sequence):  # type: ignore[misc]
    _fields: ClassVar[list[Any]] = [
        ("algorithm", core.ObjectIdentifier),
        ("parameters", keys.DomainParameters),
    ]


class _DhPkcs8(core.Sequence):  # type: ignore[misc]
    _fields: ClassVar[list[Any]] = [
        ("version", core.Integer),
        ("algorithm", _DhAlgorithm),
        ("private_key", core.OctetString),
    ]


@dataclass(frozen=True)
class DhPrivateKey:
    """A chip's static DH key for Chip Authentication: x in the group (RFC 5114 here)."""

    group: icao_ec.ModpGroup
    x: int

    def public_key(self) -> DhPublicKey:
        return DhPublicKey(self.group, pow(self.group.g, self.x, self.group.p))

    def exchange(self, public: bytes) -> bytes:
        """The shared secret with the terminal's public value (|p| bytes); EcError (a
        ValueError) when the value is not in the subgroup."""
        return icao_ec.dh_shared_secret(self.group, self.x, public)

    def private_bytes(self, *_args: object) -> bytes:
        """PKCS#8 DER (whatever encoding arguments are given: mirrors ``cryptography``'s
        call shape so profile builders can serialise every key the same way)."""
        domain = {"p": self.group.p, "g": self.group.g, "q": self.group.q}
        info = _DhPkcs8(
            {
                "version": 0,
                "algorithm": {"algorithm": DH_PUBLIC_NUMBER, "parameters": domain},
                "private_key": core.Integer(self.x).dump(),
            }
        )
        return bytes(info.dump())


CaPrivateKey = ec.EllipticCurvePrivateKey | DhPrivateKey


def load_dh_pkcs8(der: bytes) -> DhPrivateKey:
    """A DH private key from PKCS#8 DER (as written by ``private_bytes``); ValueError if not."""
    try:
        info = _DhPkcs8.load(der, strict=True)
        if info["algorithm"]["algorithm"].dotted != DH_PUBLIC_NUMBER:
            raise ValueError("not a DH private key")
        params = info["algorithm"]["parameters"]
        x = int(core.Integer.load(info["private_key"].native).native)
        group = icao_ec.ModpGroup("dh", params["p"].native, params["g"].native, params["q"].native)
    except (TypeError, KeyError) as exc:
        raise ValueError(f"not a DH private key: {exc}") from exc
    return DhPrivateKey(group, x)


def make_ca_key(kind: str = "p256") -> CaPrivateKey:
    """A static CA key pair: a curve name of ``CURVES`` or "dh1024" (RFC 5114 1024-bit MODP
    group with a 160-bit subgroup, the standardized domain parameters 0)."""
    if kind in CURVES:
        return ec.generate_private_key(CURVES[kind])
    if kind == "dh1024":
        group = icao_ec.standard_domain(0)
        assert isinstance(group, icao_ec.ModpGroup)
        return DhPrivateKey(group, icao_ec.random_private(group.q))
    raise ValueError(f"unknown CA key kind {kind!r}")


def encode_dg14(
    ca_public_key: ec.EllipticCurvePublicKey | DhPublicKey | None,
    *,
    ca_protocol: str | None = None,
    key_id: int | None = None,
    aa_hash: str | None = None,
) -> bytes:
    """DG14 (tag 6E, SET OF SecurityInfo).

    With a CA key: ChipAuthenticationInfo (``ca_protocol``, default ECDH/DH with
    AES-128 per the key type) + ChipAuthenticationPublicKeyInfo. With ``aa_hash``:
    ActiveAuthenticationInfo naming ecdsa-plain-<hash> (for an EC AA key).
    """
    infos: list[Info] = []
    if ca_public_key is not None:
        is_dh = isinstance(ca_public_key, DhPublicKey)
        protocol = ca_protocol or (ID_CA_DH_AES128 if is_dh else ID_CA_ECDH_AES128)
        infos.append(ChipAuthenticationInfo(protocol, 1, key_id))
        pk_protocol = ID_PK_DH if is_dh else ID_PK_ECDH
        infos.append(ChipAuthenticationPublicKeyInfo(pk_protocol, spki_der(ca_public_key), key_id))
    if aa_hash is not None:
        infos.append(ActiveAuthenticationInfo(1, ECDSA_PLAIN_OID[aa_hash]))
    encoded = sorted(info.encode() for info in infos)  # DER SET OF: sorted encodings
    return tlv(0x6E, tlv(0x31, b"".join(encoded)))
