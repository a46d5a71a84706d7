"""Active Authentication (ICAO 9303-11 section 6.1): the chip signs a fresh challenge
with the private key whose public half is in DG15.

RSA keys answer with an ISO/IEC 9796-2 digital signature scheme 1 signature (message
recovery; trailer BC = SHA-1, or a hash-id trailer xxCC); EC keys with a plain r||s
ECDSA signature over the challenge, hashed as DG14's ActiveAuthenticationInfo says.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from station.icao.apdu import CommandAPDU
from station.icao.channel import ApduSender
from station.icao.errors import ChipError
from station.ports import TransportError
from station.verify import ecmath, keys
from station.verify.asn1 import unwrap_tlv
from station.verify.securityinfo import aa_hash
from station.verify.verdict import Auth

log = logging.getLogger(__name__)

# ISO/IEC 10118-3 hash identifiers used in the xxCC trailer
TRAILER_HASHES = {0x33: "sha1", 0x34: "sha256", 0x35: "sha512", 0x36: "sha384", 0x38: "sha224"}
TRAILER_IDS = {name: ident for ident, name in TRAILER_HASHES.items()}


@dataclass(frozen=True)
class AuthOutcome:
    status: Auth
    detail: str


def load_dg15(dg15: bytes) -> keys.PublicKey:
    """The AA public key of DG15 (tag 6F); ``keys.KeyLoadError`` when unusable."""
    try:
        spki = unwrap_tlv(dg15, 0x6F)
    except ValueError as exc:
        raise keys.KeyLoadError(f"DG15 malformed: {exc}") from exc
    return keys.load_spki(spki)


def active_authenticate(
    sender: ApduSender, dg15: bytes, dg14: bytes | None = None, *, challenge: bytes | None = None
) -> AuthOutcome:
    """Run INTERNAL AUTHENTICATE with a fresh 8-byte challenge and check the answer."""
    try:
        key = load_dg15(dg15)
    except keys.KeyLoadError as exc:
        return AuthOutcome(Auth.FAILED, str(exc))
    nonce = challenge if challenge is not None else secrets.token_bytes(8)
    # a protected RSA-2048 signature does not fit a short answer: ask for extended length
    ne = 65536 if isinstance(key, rsa.RSAPublicKey) and key.key_size > 1024 else 256
    try:
        response = sender.send(CommandAPDU(0x00, 0x88, 0x00, 0x00, nonce, ne))
    except (ChipError, TransportError) as exc:
        return AuthOutcome(Auth.FAILED, f"AA failed in INTERNAL AUTHENTICATE: {exc}")
    if response.sw != 0x9000:
        return AuthOutcome(Auth.FAILED, f"AA failed in INTERNAL AUTHENTICATE: {response.sw:04X}")
    ok, detail = check_response(key, nonce, response.data, dg14)
    log.info("active authentication: %s (%s)", "ok" if ok else "failed", keys.key_description(key))
    return AuthOutcome(Auth.OK if ok else Auth.FAILED, detail)


def check_response(
    key: keys.PublicKey, challenge: bytes, signature: bytes, dg14: bytes | None
) -> tuple[bool, str]:
    if isinstance(key, rsa.RSAPublicKey):
        return verify_iso9796_2(key, challenge, signature)
    hash_name = aa_hash(dg14) if dg14 else None
    if hash_name is None:
        return False, "EC AA key but DG14 names no ActiveAuthenticationInfo signature algorithm"
    try:
        der = keys.plain_to_der(signature)
    except ValueError as exc:
        return False, f"AA signature malformed: {exc}"
    if isinstance(key, keys.ExplicitEcKey):
        half = len(signature) // 2
        r, s = int.from_bytes(signature[:half], "big"), int.from_bytes(signature[half:], "big")
        ok = ecmath.verify(
            key.curve, (key.x, key.y), hashlib.new(hash_name, challenge).digest(), r, s
        )
        return ok, f"ECDSA-{hash_name} " + ("valid" if ok else "invalid")
    try:
        key.verify(der, challenge, ec.ECDSA(keys.HASHES[hash_name]()))
    except InvalidSignature:
        return False, f"ECDSA-{hash_name} signature invalid"
    return True, f"ECDSA-{hash_name} valid"


def verify_iso9796_2(key: rsa.RSAPublicKey, challenge: bytes, signature: bytes) -> tuple[bool, str]:
    """ISO/IEC 9796-2 scheme 1 with partial message recovery; M2 = the challenge."""
    numbers = key.public_numbers()
    size = (numbers.n.bit_length() + 7) // 8
    s = int.from_bytes(signature, "big")
    if not 0 < s < numbers.n:
        return False, "AA signature out of range"
    m = pow(s, numbers.e, numbers.n)
    if m & 0xF != 0xC:
        m = numbers.n - m  # the signer may send min(s, n - s)
    block = m.to_bytes(size, "big")
    if block[-1] == 0xBC:
        hash_name, trailer = "sha1", 1
    elif block[-1] == 0xCC and block[-2] in TRAILER_HASHES:
        hash_name, trailer = TRAILER_HASHES[block[-2]], 2
    else:
        return False, "AA signature has no ISO/IEC 9796-2 trailer"
    if block[0] & 0xC0 != 0x40:
        return False, "AA signature has a bad ISO/IEC 9796-2 header"
    hlen = hashlib.new(hash_name).digest_size
    body = block[: size - trailer]
    m1, digest = body[1:-hlen], body[-hlen:]
    if len(m1) < 1:
        return False, "AA signature too short for its hash"
    ok = hashlib.new(hash_name, m1 + challenge).digest() == digest
    return ok, f"RSA-{numbers.n.bit_length()} ISO 9796-2/{hash_name} " + (
        "valid" if ok else "invalid"
    )


def sign_iso9796_2(key: rsa.RSAPrivateKey, challenge: bytes, hash_name: str = "sha1") -> bytes:
    """The chip side (emulator): sign ``challenge`` with scheme 1, partial recovery."""
    numbers = key.private_numbers()
    n = numbers.public_numbers.n
    size = (n.bit_length() + 7) // 8
    hlen = hashlib.new(hash_name).digest_size
    trailer = b"\xbc" if hash_name == "sha1" else bytes((TRAILER_IDS[hash_name], 0xCC))
    m1 = secrets.token_bytes(size - hlen - len(trailer) - 1)
    block = b"\x6a" + m1 + hashlib.new(hash_name, m1 + challenge).digest() + trailer
    m = int.from_bytes(block, "big")
    # CRT: m^d mod n from the two half-size exponentiations
    p, q = numbers.p, numbers.q
    s_p, s_q = pow(m, numbers.dmp1, p), pow(m, numbers.dmq1, q)
    h = numbers.iqmp * (s_p - s_q) % p
    return (s_q + h * q).to_bytes(size, "big")
