"""Finite-field Diffie-Hellman for Chip Authentication (DH variant), in plain integers.

``cryptography`` deprecates FFDH, and Chip Authentication only needs modular
exponentiation with the chip's domain parameters, so both sides use this module:
keys are (p, g, q, x), public keys are encoded as X9.42 ``dhpublicnumber``
SubjectPublicKeyInfo (BSI TR-03110), shared secrets are big-endian, |p| bytes.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any, ClassVar

from asn1crypto import core, keys

DH_OID = "1.2.840.10046.2.1"  # X9.42 dhpublicnumber


class _Algorithm(core.Sequence):  # type: ignore[misc]
    _fields: ClassVar[list[Any]] = [
        ("algorithm", core.ObjectIdentifier),
        ("parameters", keys.DomainParameters),
    ]


class _Pkcs8(core.Sequence):  # type: ignore[misc]
    _fields: ClassVar[list[Any]] = [
        ("version", core.Integer),
        ("algorithm", _Algorithm),
        ("private_key", core.OctetString),
    ]


@dataclass(frozen=True)
class DhParams:
    p: int
    g: int
    q: int | None = None

    @property
    def size(self) -> int:
        return (self.p.bit_length() + 7) // 8


@dataclass(frozen=True)
class DhPublicKey:
    params: DhParams
    y: int

    def spki(self) -> bytes:
        domain = {"p": self.params.p, "g": self.params.g, "q": self.params.q or 0}
        info = keys.PublicKeyInfo(
            {
                "algorithm": {"algorithm": "dh", "parameters": keys.DomainParameters(domain)},
                "public_key": core.Integer(self.y),
            }
        )
        return bytes(info.dump())

    def encoded(self) -> bytes:
        """The public value as |p| bytes, big-endian (as sent in MSE:Set KAT / GA)."""
        return self.y.to_bytes(self.params.size, "big")


@dataclass(frozen=True)
class DhPrivateKey:
    params: DhParams
    x: int

    def public_key(self) -> DhPublicKey:
        return DhPublicKey(self.params, pow(self.params.g, self.x, self.params.p))

    def private_bytes(self, *_args: object) -> bytes:
        """PKCS#8 DER (whatever encoding arguments are given: mirrors ``cryptography``'s
        call shape so profile builders can serialise every key the same way)."""
        domain = {"p": self.params.p, "g": self.params.g, "q": self.params.q or 0}
        info = _Pkcs8(
            {
                "version": 0,
                "algorithm": {"algorithm": DH_OID, "parameters": domain},
                "private_key": core.Integer(self.x).dump(),
            }
        )
        return bytes(info.dump())

    def exchange(self, peer: DhPublicKey | int) -> bytes:
        """Shared secret g^(xy) mod p, big-endian, |p| bytes; rejects degenerate values."""
        y = peer.y if isinstance(peer, DhPublicKey) else peer
        p = self.params.p
        if not 1 < y < p - 1:
            raise ValueError("DH public value out of range")
        if self.params.q and pow(y, self.params.q, p) != 1:
            raise ValueError("DH public value not in the prime-order subgroup")
        return pow(y, self.x, p).to_bytes(self.params.size, "big")


def generate(params: DhParams) -> DhPrivateKey:
    order = params.q or (params.p - 1)
    return DhPrivateKey(params, 2 + secrets.randbelow(order - 3))


def load_pkcs8(der: bytes) -> DhPrivateKey:
    """A DH private key from PKCS#8 DER (as written by ``private_bytes``)."""
    info = _Pkcs8.load(der)
    if info["algorithm"]["algorithm"].dotted != DH_OID:
        raise ValueError("not a DH private key")
    params = info["algorithm"]["parameters"]
    x = int(core.Integer.load(info["private_key"].native).native)
    q = params["q"].native
    return DhPrivateKey(DhParams(params["p"].native, params["g"].native, q or None), x)


def load_spki(der: bytes) -> DhPublicKey:
    """A DH public key from an X9.42 SubjectPublicKeyInfo; ValueError when it is none."""
    info = keys.PublicKeyInfo.load(der)
    if info["algorithm"]["algorithm"].native != "dh":
        raise ValueError("not a DH public key")
    return from_asn1(info)


def from_asn1(info: keys.PublicKeyInfo) -> DhPublicKey:
    params = info["algorithm"]["parameters"]
    q = params["q"].native
    y = info["public_key"].parsed.native
    return DhPublicKey(DhParams(params["p"].native, params["g"].native, q or None), int(y))
