"""Active Authentication (ICAO 9303-11 section 6.1), the terminal's checks: the chip's answer
to INTERNAL AUTHENTICATE (sent by `station.icao.active`) must be a valid signature of the
challenge with the key of DG15.

RSA keys answer with an ISO/IEC 9796-2 digital signature scheme 1 signature (message
recovery; trailer BC = SHA-1, or a hash-id trailer xxCC); EC keys with a plain r||s
ECDSA signature over the challenge, hashed as DG14's ActiveAuthenticationInfo says.
"""

from __future__ import annotations

import hashlib

from cryptography.hazmat.primitives.asymmetric import rsa

from station.icao import keys
from station.verify.signature import SignatureSpec, plain_to_der, verify_signature

# ISO/IEC 10118-3 hash identifiers used in the xxCC trailer
TRAILER_HASHES = {0x33: "sha1", 0x34: "sha256", 0x35: "sha512", 0x36: "sha384", 0x38: "sha224"}
TRAILER_IDS = {name: ident for ident, name in TRAILER_HASHES.items()}


def check_response(
    key: keys.PublicKey, challenge: bytes, signature: bytes, aa_hash: str | None
) -> tuple[bool, str]:
    """(valid?, why) for the chip's signature over ``challenge``."""
    if isinstance(key, rsa.RSAPublicKey):
        return verify_iso9796_2(key, challenge, signature)
    if aa_hash is None:
        return False, "EC AA key but DG14 names no ActiveAuthenticationInfo signature algorithm"
    try:
        der = plain_to_der(signature)
    except ValueError as exc:
        return False, f"AA signature malformed: {exc}"
    ok = verify_signature(key, SignatureSpec("ecdsa", aa_hash), challenge, der)
    return ok, f"ECDSA-{aa_hash} " + ("valid" if ok else "signature invalid")


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
