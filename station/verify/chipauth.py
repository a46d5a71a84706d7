"""Chip Authentication (ICAO 9303-11 section 6.2): key agreement with the chip's static
DG14 key, new secure messaging keys, and a protected read proving the chip derived them.

3DES (CA version 1): MSE:Set KAT carrying the terminal's ephemeral public key.
AES: MSE:Set AT naming the protocol, then GENERAL AUTHENTICATE with the ephemeral key.
Either way the new session starts with SSC = 0 after the card's (old-key) answer, and
a READ BINARY of EF.COM's first bytes under the new keys must come back with a valid MAC.
"""

from __future__ import annotations

import logging
import secrets
from typing import Protocol

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from station.icao import crypto
from station.icao.apdu import CommandAPDU, ResponseAPDU
from station.icao.errors import ChipError
from station.icao.sm import SecureMessaging
from station.ports import TransportError
from station.verify import dh, ecmath, keys
from station.verify.active import AuthOutcome
from station.verify.asn1 import tlv
from station.verify.securityinfo import CaOption, ca_options
from station.verify.verdict import Auth

log = logging.getLogger(__name__)

PROBE = CommandAPDU(0x00, 0xB0, 0x80 | 0x1E, 0x00, b"", 4)  # READ BINARY EF.COM, 4 bytes


class SmChannel(Protocol):
    """A sender whose secure messaging session can be replaced (``CardChannel``)."""

    sm: SecureMessaging | None

    def send(self, cmd: CommandAPDU) -> ResponseAPDU: ...


_CIPHERS: dict[tuple[str, int], crypto.CipherName] = {
    ("3des", 16): "3DES",
    ("aes", 16): "AES-128",
    ("aes", 24): "AES-192",
    ("aes", 32): "AES-256",
}


def session_keys(shared: bytes, option: CaOption) -> tuple[bytes, bytes]:
    cipher = _CIPHERS[(option.cipher, option.key_length)]
    return crypto.kdf(shared, 1, cipher), crypto.kdf(shared, 2, cipher)


def new_session(shared: bytes, option: CaOption) -> SecureMessaging:
    ks_enc, ks_mac = session_keys(shared, option)
    if option.cipher == "3des":
        return SecureMessaging.for_3des(ks_enc, ks_mac, 0)
    return SecureMessaging.for_aes(ks_enc, ks_mac, 0)


def ephemeral_agreement(option: CaOption) -> tuple[bytes, bytes]:
    """(terminal's ephemeral public key as sent, shared secret) for ``option``'s chip key."""
    if option.agreement == "dh":
        chip_dh = dh.from_asn1(option.public_key)
        mine = dh.generate(chip_dh.params)
        return mine.public_key().encoded(), mine.exchange(chip_dh)
    chip = keys.load_spki(option.public_key.dump())
    if isinstance(chip, keys.ExplicitEcKey):
        return _integer_ecdh(chip)
    if not isinstance(chip, ec.EllipticCurvePublicKey):
        raise keys.KeyLoadError(f"CA key {keys.key_description(chip)} not usable for ECDH")
    ephemeral = ec.generate_private_key(chip.curve)
    shared = ephemeral.exchange(ec.ECDH(), chip)
    point = ephemeral.public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    return point, shared


def _integer_ecdh(chip: keys.ExplicitEcKey) -> tuple[bytes, bytes]:
    """ECDH on a curve ``cryptography`` lacks (e.g. brainpoolP224r1), in plain integers."""
    curve = chip.curve
    d = 1 + secrets.randbelow(curve.n - 1)
    mine = ecmath.multiply(curve, d, (curve.gx, curve.gy))
    shared = ecmath.multiply(curve, d, (chip.x, chip.y))
    if mine is None or shared is None:
        raise ValueError("degenerate ECDH result")
    size = curve.size
    point = b"\x04" + mine[0].to_bytes(size, "big") + mine[1].to_bytes(size, "big")
    return point, shared[0].to_bytes(size, "big")


def _oid_value(dotted: str) -> bytes:
    from asn1crypto import core

    return bytes(core.ObjectIdentifier(dotted).contents)


def _commands(option: CaOption, public: bytes) -> list[tuple[str, CommandAPDU]]:
    key_ref = b"" if option.key_id is None else tlv(0x84, _int_bytes(option.key_id))
    if option.cipher == "3des":
        return [("MSE:Set KAT", CommandAPDU(0x00, 0x22, 0x41, 0xA6, tlv(0x91, public) + key_ref))]
    return [
        (
            "MSE:Set AT",
            CommandAPDU(0x00, 0x22, 0x41, 0xA4, tlv(0x80, _oid_value(option.protocol)) + key_ref),
        ),
        (
            "GENERAL AUTHENTICATE",
            CommandAPDU(0x00, 0x86, 0x00, 0x00, tlv(0x7C, tlv(0x80, public)), 256),
        ),
    ]


def _int_bytes(value: int) -> bytes:
    return value.to_bytes(max(1, (value.bit_length() + 7) // 8), "big")


def chip_authenticate(channel: SmChannel, dg14: bytes) -> AuthOutcome:
    """Run Chip Authentication with the first usable DG14 option; install its session."""
    try:
        options = ca_options(dg14)
    except ValueError as exc:
        return AuthOutcome(Auth.FAILED, str(exc))
    if not options:
        return AuthOutcome(Auth.NOT_SUPPORTED, "DG14 holds no Chip Authentication public key")
    option = options[0]
    try:
        public, shared = ephemeral_agreement(option)
    except (keys.KeyLoadError, ValueError) as exc:
        return AuthOutcome(Auth.FAILED, f"CA key agreement impossible: {exc}")
    try:
        for step, command in _commands(option, public):
            response = channel.send(command)
            if response.sw != 0x9000:
                return AuthOutcome(Auth.FAILED, f"CA failed in {step}: {response.sw:04X}")
        channel.sm = new_session(shared, option)
        probe = channel.send(PROBE)
    except (ChipError, TransportError) as exc:
        return AuthOutcome(Auth.FAILED, f"CA failed: {exc}")
    if probe.sw != 0x9000:
        return AuthOutcome(Auth.FAILED, f"CA failed in protected READ BINARY: {probe.sw:04X}")
    cipher = _CIPHERS[(option.cipher, option.key_length)]
    detail = f"{option.agreement.upper()} with {cipher}: session established"
    log.info("chip authentication: ok (%s)", detail)
    return AuthOutcome(Auth.OK, detail)
