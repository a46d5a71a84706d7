"""Active Authentication (ICAO 9303-11 section 6.1), terminal side: the chip signs a fresh
challenge with the private key whose public half is in DG15.

Split like the other protocols into the algorithm (``challenge``, ``response_length``), an APDU
sender (``AaApduSender``: INTERNAL AUTHENTICATE) and a result (``AaResult``: the challenge and
the chip's signature). Checking the signature is verification's (`station.verify.active`)::

    result = authenticate(channel, read.aa_public_key)

A refusal raises ``ActiveAuthError`` naming the step and the status word; secure messaging and
transport errors pass through.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field

from cryptography.hazmat.primitives.asymmetric import rsa

from station.icao.apdu import CommandAPDU
from station.icao.channel import ApduSender, settle
from station.icao.errors import ChipError
from station.icao.keys import ExplicitEcKey, PublicKey

STEP = "AA failed in INTERNAL AUTHENTICATE"


class ActiveAuthError(ChipError):
    """The chip refused INTERNAL AUTHENTICATE."""


def challenge() -> bytes:
    """A fresh 8-byte challenge (RND.IFD)."""
    return secrets.token_bytes(8)


def response_length(key: PublicKey) -> int:
    """Ne for INTERNAL AUTHENTICATE: the signature's exact length (the modulus, or r || s),
    never Le = 00 (some chips answer it with no data under secure messaging); extended
    length when it is longer than 255 (RSA-2048)."""
    if isinstance(key, rsa.RSAPublicKey):
        return (key.key_size + 7) // 8
    if isinstance(key, ExplicitEcKey):
        return 2 * key.curve.size
    return 2 * ((key.curve.key_size + 7) // 8)


class AaApduSender:
    def __init__(self, sender: ApduSender) -> None:
        self.sender = sender

    def internal_authenticate(self, challenge: bytes, ne: int) -> bytes:
        """The chip's signature over ``challenge``."""
        command = CommandAPDU(0x00, 0x88, 0x00, 0x00, challenge, ne, extended=ne > 255)
        response = self.sender.send(command)
        if response.sw != 0x9000:
            raise ActiveAuthError(STEP, sw=response.sw)
        return response.data


@dataclass(frozen=True)
class AaResult:
    challenge: bytes
    signature: bytes = field(repr=False)


def authenticate(sender: ApduSender, key: PublicKey, *, nonce: bytes | None = None) -> AaResult:
    """INTERNAL AUTHENTICATE with a fresh challenge (or ``nonce``) for the DG15 key ``key``."""
    settle(sender)  # an earlier unprotected error may have put the session out of step
    sent = nonce if nonce is not None else challenge()
    signature = AaApduSender(sender).internal_authenticate(sent, response_length(key))
    return AaResult(sent, signature)
