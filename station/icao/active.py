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
from station.icao.channel import ApduSender
from station.icao.errors import ChipError
from station.icao.keys import PublicKey

STEP = "AA failed in INTERNAL AUTHENTICATE"


class ActiveAuthError(ChipError):
    """The chip refused INTERNAL AUTHENTICATE."""


def challenge() -> bytes:
    """A fresh 8-byte challenge (RND.IFD)."""
    return secrets.token_bytes(8)


def response_length(key: PublicKey) -> int:
    """Ne for INTERNAL AUTHENTICATE: a protected RSA-2048 signature does not fit a short
    answer, so ask for extended length."""
    return 65536 if isinstance(key, rsa.RSAPublicKey) and key.key_size > 1024 else 256


class AaApduSender:
    def __init__(self, sender: ApduSender) -> None:
        self.sender = sender

    def internal_authenticate(self, challenge: bytes, ne: int) -> bytes:
        """The chip's signature over ``challenge``."""
        response = self.sender.send(CommandAPDU(0x00, 0x88, 0x00, 0x00, challenge, ne))
        if response.sw != 0x9000:
            raise ActiveAuthError(STEP, sw=response.sw)
        return response.data


@dataclass(frozen=True)
class AaResult:
    challenge: bytes
    signature: bytes = field(repr=False)


def authenticate(sender: ApduSender, key: PublicKey, *, nonce: bytes | None = None) -> AaResult:
    """INTERNAL AUTHENTICATE with a fresh challenge (or ``nonce``) for the DG15 key ``key``."""
    sent = nonce if nonce is not None else challenge()
    signature = AaApduSender(sender).internal_authenticate(sent, response_length(key))
    return AaResult(sent, signature)
