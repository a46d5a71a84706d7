"""Chip Authentication (ICAO 9303-11 section 6.2), terminal side: key agreement with the chip's
static DG14 key, new secure messaging keys, and a protected read proving the chip derived them.

Split like the access protocols into the algorithm (``ephemeral_agreement``, ``session_keys``,
``new_session``: shared with the card emulator), an APDU sender (``CaApduSender``) and a result
(``CaResult``). Entry point, run over the open session once DG14 is read (the chip reader
does, before the other groups: ICAO 9303-11 / BSI TR-03110's inspection order)::

    result = establish(channel, dg14.ca_options()[0])
    channel.sm                  # now CA's session (SSC 0)

3DES (CA version 1): MSE:Set KAT carrying the terminal's ephemeral public key.
AES: MSE:Set AT naming the protocol, then GENERAL AUTHENTICATE with the ephemeral key.
Either way the new session starts with SSC = 0 after the card's (old-key) answer, and
an answer under the new keys must come back with a valid MAC: by default a READ BINARY
of EF.COM's first bytes (``probe``). ``probe=False`` leaves that proof to the caller's
next protected command (the chip reader's next file: one APDU less); the session's
``proven`` flag (``SecureMessaging.proven``) then says whether it came.
A refusal raises ``ChipAuthError`` naming the step and the status word; secure messaging and
transport errors pass through (``SecureMessagingError``, ``TransportError``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Protocol

from cryptography.hazmat.primitives.asymmetric.ec import EllipticCurvePublicKey

from station.icao import crypto, ec, keys
from station.icao.apdu import CommandAPDU, ResponseAPDU
from station.icao.channel import ApduSender
from station.icao.curves import by_name
from station.icao.errors import ChipError
from station.icao.securityinfos import CaOption, oid_encode
from station.icao.sm import SecureMessaging
from station.icao.tlv import tlv

log = logging.getLogger(__name__)

PROBE = CommandAPDU(0x00, 0xB0, 0x80 | 0x1E, 0x00, b"", 4)  # READ BINARY EF.COM, 4 bytes
SELECT_COM = CommandAPDU(0x00, 0xA4, 0x02, 0x0C, b"\x01\x1e")
READ_4 = CommandAPDU(0x00, 0xB0, 0x00, 0x00, b"", 4)  # the selected file's first 4 bytes


class ChipAuthError(ChipError):
    """Chip Authentication did not complete: the card refused a step, or no key agreement."""


class SmChannel(Protocol):
    """A sender whose secure messaging session can be replaced (``CardChannel``)."""

    sm: SecureMessaging | None
    short_ef: bool  # READ BINARY by short EF id works on this card

    def send(self, cmd: CommandAPDU) -> ResponseAPDU: ...

    def settle(self) -> bool: ...


# --- the algorithm ----------------------------------------------------------------------------


def session_keys(shared: bytes, option: CaOption) -> tuple[bytes, bytes]:
    """(KS_enc, KS_mac) from the shared secret."""
    cipher = option.cipher
    return crypto.kdf(shared, crypto.ENC, cipher), crypto.kdf(shared, crypto.MAC, cipher)


def new_session(shared: bytes, option: CaOption) -> SecureMessaging:
    """The secure messaging session CA opens, SSC 0."""
    ks_enc, ks_mac = session_keys(shared, option)
    if option.cipher == "3DES":
        return SecureMessaging.for_3des(ks_enc, ks_mac, 0)
    return SecureMessaging.for_aes(ks_enc, ks_mac, 0)


def ephemeral_agreement(option: CaOption) -> tuple[bytes, bytes]:
    """(terminal's ephemeral public key as sent, shared secret) for ``option``'s chip key;
    ``keys.KeyLoadError`` / ``ec.EcError`` (both ValueErrors) when the key is unusable."""
    if option.agreement == "dh":
        chip_dh = keys.load_dh_spki(option.public_key)
        group = chip_dh.group
        private = ec.random_private(group.q)
        return ec.dh_public_key(group, private), ec.dh_shared_secret(group, private, chip_dh.y)
    chip = keys.load_spki(option.public_key)
    if isinstance(chip, keys.ExplicitEcKey):
        curve, point = chip.curve, chip.point
    elif isinstance(chip, EllipticCurvePublicKey):
        numbers = chip.public_numbers()
        curve, point = by_name(chip.curve.name), (numbers.x, numbers.y)
    else:
        raise keys.KeyLoadError(f"CA key {keys.key_description(chip)} not usable for ECDH")
    return ec.ecdh_ephemeral(curve, point)


# --- the APDU sender --------------------------------------------------------------------------


class CaApduSender:
    """MSE:Set KAT, MSE:Set AT, GENERAL AUTHENTICATE and the protected probe read."""

    def __init__(self, sender: ApduSender) -> None:
        self.sender = sender

    def _send(self, step: str, command: CommandAPDU) -> ResponseAPDU:
        response = self.sender.send(command)
        if response.sw != 0x9000:
            raise ChipAuthError(f"CA failed in {step}", sw=response.sw)
        return response

    def mse_set_kat(self, public: bytes, key_id: int | None) -> None:
        data = tlv(0x91, public) + _key_reference(key_id)
        self._send("MSE:Set KAT", CommandAPDU(0x00, 0x22, 0x41, 0xA6, data))

    def mse_set_at(self, protocol: str, key_id: int | None) -> None:
        data = tlv(0x80, oid_encode(protocol)) + _key_reference(key_id)
        self._send("MSE:Set AT", CommandAPDU(0x00, 0x22, 0x41, 0xA4, data))

    def general_authenticate(self, public: bytes) -> None:
        data = tlv(0x7C, tlv(0x80, public))  # the answer is 7C00: an explicit Le, never 00
        self._send("GENERAL AUTHENTICATE", CommandAPDU(0x00, 0x86, 0x00, 0x00, data, 255))

    def probe(self, short_ef: bool = True) -> None:
        """READ BINARY under the new session: its MAC proves the chip derived the keys. A card
        without READ BINARY by short EF id gets SELECT EF.COM + READ BINARY."""
        if not short_ef:
            self._send("protected SELECT", SELECT_COM)
            self._send("protected READ BINARY", READ_4)
            return
        self._send("protected READ BINARY", PROBE)


def _key_reference(key_id: int | None) -> bytes:
    if key_id is None:
        return b""
    return tlv(0x84, key_id.to_bytes(max(1, (key_id.bit_length() + 7) // 8), "big"))


# --- the result and the protocol run ----------------------------------------------------------


@dataclass(frozen=True)
class CaResult:
    option: CaOption

    @property
    def detail(self) -> str:
        return f"{self.option.agreement.upper()} with {self.option.cipher}: session established"


def establish(channel: SmChannel, option: CaOption, *, probe: bool = True) -> CaResult:
    """Run Chip Authentication with ``option`` and leave its session installed on ``channel``;
    ``probe=False``: without the protected probe read (the caller's next command proves it)."""
    try:
        public, shared = ephemeral_agreement(option)
    except ValueError as exc:
        raise ChipAuthError("CA key agreement impossible", str(exc)) from None
    channel.settle()  # an earlier unprotected error may have put the session out of step
    apdus = CaApduSender(channel)
    if option.cipher == "3DES":
        apdus.mse_set_kat(public, option.key_id)
    else:
        apdus.mse_set_at(option.protocol, option.key_id)
        apdus.general_authenticate(public)
    channel.sm = new_session(shared, option)
    result = CaResult(option)
    if not probe:
        log.info("chip authentication: keys agreed (%s), proof by the next answer", result.detail)
        return result
    apdus.probe(channel.short_ef)
    log.info("chip authentication: ok (%s)", result.detail)
    return result
