"""Basic Access Control (ICAO 9303-11 section 4.3), split JMRTD-style into

- pure helpers (``mrz_information``, ``compute_key_seed``, ``derive_keys``,
  ``ifd_cryptogram``, ``session_from_card_response``) tested against Appendix D,
- the APDU sender (``BacApduSender``: GET CHALLENGE, EXTERNAL AUTHENTICATE),
- the protocol (``perform_bac``) returning a ``BacResult`` with a ready
  ``SecureMessaging`` session.
"""

from __future__ import annotations

import hashlib
import logging
import os
from dataclasses import dataclass
from typing import Protocol

from station.icao import crypto
from station.icao.apdu import CommandAPDU
from station.icao.channel import ApduSender
from station.icao.errors import AccessError
from station.icao.mrz import check_digit
from station.icao.sm import SecureMessaging

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class BacKey:
    """The MRZ data BAC keys come from. Dates are YYMMDD; expiry may be '<<<<<<'."""

    document_number: str
    date_of_birth: str
    date_of_expiry: str

    def mrz_information(self) -> str:
        return mrz_information(self.document_number, self.date_of_birth, self.date_of_expiry)

    @property
    def seed(self) -> bytes:
        return compute_key_seed(self.mrz_information())


def mrz_information(document_number: str, date_of_birth: str, date_of_expiry: str) -> str:
    docno = document_number.ljust(9, "<")
    return (
        docno
        + check_digit(docno)
        + date_of_birth
        + check_digit(date_of_birth)
        + date_of_expiry
        + check_digit(date_of_expiry)
    )


def compute_key_seed(mrz_info: str) -> bytes:
    return hashlib.sha1(mrz_info.encode("ascii")).digest()[:16]


def derive_keys(seed: bytes) -> tuple[bytes, bytes]:
    """(K_enc, K_mac) from a key seed."""
    return crypto.kdf(seed, crypto.ENC), crypto.kdf(seed, crypto.MAC)


def compute_ssc(rnd_icc: bytes, rnd_ifd: bytes) -> bytes:
    return rnd_icc[-4:] + rnd_ifd[-4:]


def ifd_cryptogram(
    k_enc: bytes, k_mac: bytes, rnd_icc: bytes, rnd_ifd: bytes, k_ifd: bytes
) -> bytes:
    """E.IFD || M.IFD, the EXTERNAL AUTHENTICATE data."""
    e_ifd = crypto.des3_cbc_encrypt(k_enc, rnd_ifd + rnd_icc + k_ifd)
    return e_ifd + crypto.retail_mac(k_mac, e_ifd)


@dataclass(frozen=True)
class BacResult:
    ks_enc: bytes
    ks_mac: bytes
    ssc: bytes

    def secure_messaging(self) -> SecureMessaging:
        return SecureMessaging.for_3des(self.ks_enc, self.ks_mac, self.ssc)


def session_from_card_response(
    k_enc: bytes, k_mac: bytes, response: bytes, rnd_icc: bytes, rnd_ifd: bytes, k_ifd: bytes
) -> BacResult:
    """Check the chip's EXTERNAL AUTHENTICATE answer and derive the session keys."""
    if len(response) != 40:
        raise AccessError("BAC failed in EXTERNAL AUTHENTICATE", f"answer of {len(response)} bytes")
    e_icc, m_icc = response[:32], response[32:]
    if crypto.retail_mac(k_mac, e_icc) != m_icc:
        raise AccessError("BAC failed in EXTERNAL AUTHENTICATE", "chip cryptogram MAC invalid")
    plain = crypto.des3_cbc_decrypt(k_enc, e_icc)
    if plain[:8] != rnd_icc or plain[8:16] != rnd_ifd:
        raise AccessError("BAC failed in EXTERNAL AUTHENTICATE", "chip did not return our nonces")
    k_icc = plain[16:32]
    seed = bytes(a ^ b for a, b in zip(k_ifd, k_icc, strict=True))
    ks_enc, ks_mac = derive_keys(seed)
    return BacResult(ks_enc, ks_mac, compute_ssc(rnd_icc, rnd_ifd))


class BacSender(Protocol):
    def get_challenge(self) -> bytes: ...

    def external_authenticate(self, data: bytes) -> bytes: ...


class BacApduSender:
    """GET CHALLENGE / EXTERNAL AUTHENTICATE over an ApduSender (plain channel)."""

    def __init__(self, sender: ApduSender) -> None:
        self.sender = sender

    def get_challenge(self) -> bytes:
        response = self.sender.send(CommandAPDU(0x00, 0x84, 0x00, 0x00, ne=8))
        if not response.ok or len(response.data) != 8:
            raise AccessError("BAC failed in GET CHALLENGE", sw=response.sw)
        return response.data

    def external_authenticate(self, data: bytes) -> bytes:
        response = self.sender.send(CommandAPDU(0x00, 0x82, 0x00, 0x00, data, ne=40))
        if not response.ok:
            raise AccessError("BAC failed in EXTERNAL AUTHENTICATE", sw=response.sw)
        return response.data


def perform_bac(
    sender: BacSender, key: BacKey, *, rnd_ifd: bytes | None = None, k_ifd: bytes | None = None
) -> BacResult:
    """Run BAC with ``key``; raises AccessError naming the step and status word."""
    k_enc, k_mac = derive_keys(key.seed)
    rnd_ifd = rnd_ifd if rnd_ifd is not None else os.urandom(8)
    k_ifd = k_ifd if k_ifd is not None else os.urandom(16)
    rnd_icc = sender.get_challenge()
    answer = sender.external_authenticate(ifd_cryptogram(k_enc, k_mac, rnd_icc, rnd_ifd, k_ifd))
    result = session_from_card_response(k_enc, k_mac, answer, rnd_icc, rnd_ifd, k_ifd)
    log.debug("BAC established")
    return result
