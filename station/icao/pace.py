"""PACE v2 with Generic Mapping (ICAO 9303-11 section 4.4, BSI TR-03110-2/-3), terminal side.

Split JMRTD-style into the pure algorithm (password key, nonce, mapping, key agreement, session
keys, tokens: module functions and the two group classes, shared with the card emulator), an
APDU sender (`PaceApduSender`: MSE:Set AT and the four chained GENERAL AUTHENTICATE steps) and a
result (`PaceResult`, carrying a fresh `SecureMessaging`, SSC 0).

Entry point, called by the chip access step::

    result = establish(sender, PacePassword.can("123456"), SecurityInfos.parse(raw))
    sm = result.sm            # AES (or 3DES) secure messaging with the PACE session keys
    result.access             # "PACE-CAN" / "PACE-MRZ" for the record's chip.access

``sender`` is the chip area's `ApduSender` (``send(CommandAPDU) -> ResponseAPDU``, i.e. the
`CardChannel`) with no secure messaging session active; install ``result.sm`` on it
afterwards. Failures raise `PaceError` (an `AccessError`) whose ``reason`` tells the caller
what to do next:

- "unsupported": nothing usable offered, or the card rejects the parameters (try BAC);
- "refused": the card answers 6982/6985 to MSE:Set AT (fall back to BAC);
- "wrong-password": the card rejected our token in step 4 (the CAN / MRZ key is wrong);
- "failed": the card misbehaved (bad data, a wrong token T_IC from the card).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

from station.icao import bac, crypto, ec
from station.icao.apdu import CommandAPDU, ResponseAPDU
from station.icao.channel import ApduSender
from station.icao.errors import AccessError
from station.icao.securityinfos import PaceInfo, SecurityInfos, oid_encode
from station.icao.sm import SecureMessaging
from station.icao.tlv import TlvError, parse_one, tlv

log = logging.getLogger(__name__)

Reason = Literal["unsupported", "refused", "wrong-password", "failed"]
#: Returns a private key in [1, order-1] for a group of the given order (tests inject fixed keys).
KeySource = Callable[[int], int]

MRZ_REFERENCE, CAN_REFERENCE = 1, 2


class PaceError(AccessError):
    """PACE did not open the chip; ``reason`` says whether a fallback makes sense."""

    def __init__(self, step: str, detail: str = "", sw: int | None = None, *, reason: Reason):
        super().__init__(f"PACE failed in {step}", detail, sw)
        self.reason = reason


@dataclass(frozen=True)
class PacePassword:
    """The PACE password: the CAN digits, or the MRZ key (SHA-1 of the MRZ information)."""

    kind: Literal["CAN", "MRZ"]
    secret: bytes = field(repr=False)

    @classmethod
    def can(cls, can: str) -> PacePassword:
        if not can.isdigit() or not 6 <= len(can) <= 10:
            raise ValueError("a CAN is 6 to 10 digits")
        return cls("CAN", can.encode("ascii"))

    @classmethod
    def from_mrz(cls, document_number: str, birth_yymmdd: str, expiry_yymmdd: str) -> PacePassword:
        """Document number (padded with '<' to 9), DOB and expiry, each with its check digit."""
        info = bac.mrz_information(document_number.upper(), birth_yymmdd, expiry_yymmdd)
        return cls("MRZ", hashlib.sha1(info.encode("ascii")).digest())

    @property
    def reference(self) -> int:
        return CAN_REFERENCE if self.kind == "CAN" else MRZ_REFERENCE


# --- the pure algorithm ----------------------------------------------------------------------


def password_key(password: PacePassword, cipher: crypto.CipherName) -> bytes:
    """K_pi = KDF(f(pi), 3)."""
    return crypto.kdf(password.secret, crypto.PACE_PW, cipher)


def _block(cipher: crypto.CipherName) -> int:
    return 8 if cipher == "3DES" else 16


def decrypt_nonce(cipher: crypto.CipherName, k_pi: bytes, z: bytes) -> bytes:
    """s = D(K_pi, z), CBC with a zero IV."""
    if not z or len(z) % _block(cipher):
        raise ValueError(f"encrypted nonce of {len(z)} bytes")
    if cipher == "3DES":
        return crypto.des3_cbc_decrypt(k_pi, z)
    return crypto.aes_cbc_decrypt(k_pi, z)


def encrypt_nonce(cipher: crypto.CipherName, k_pi: bytes, s: bytes) -> bytes:
    """z = E(K_pi, s) (card side)."""
    if cipher == "3DES":
        return crypto.des3_cbc_encrypt(k_pi, s)
    return crypto.aes_cbc_encrypt(k_pi, s)


def session_keys(cipher: crypto.CipherName, secret: bytes) -> tuple[bytes, bytes]:
    """(KS_enc, KS_mac) from the shared secret."""
    return crypto.kdf(secret, crypto.ENC, cipher), crypto.kdf(secret, crypto.MAC, cipher)


Private = int | ec.EcKey  # a private scalar; on a curve, held as an EcKey when used again


def _scalar(private: Private) -> int:
    return private.k if isinstance(private, ec.EcKey) else private


@dataclass(frozen=True)
class EcGroup:
    """ECDH over a curve with a (possibly mapped) generator; public keys are 04||X||Y. The
    terminal's private keys are ``EcKey``s (``new_private``: one OpenSSL key each, used for
    every operation with it); plain integers work too (the card emulator keeps them)."""

    curve: ec.Curve
    generator: ec.Point
    public_tag = 0x86

    @property
    def order(self) -> int:
        return self.curve.n

    def new_private(self, keys: KeySource) -> Private:
        """A fresh private key: OpenSSL's own random key for the default source."""
        return ec.new_key(self.curve, None if keys is ec.random_private else keys(self.order))

    def public_key(self, private: Private) -> bytes:
        standard = self.generator == self.curve.generator
        if isinstance(private, ec.EcKey):
            point = private.public if standard else ec.key_multiply(private, self.generator)
            return ec.encode_point(self.curve, point)
        if standard:
            return ec.encode_point(self.curve, ec.multiply_generator(self.curve, private))
        return ec.encode_point(self.curve, ec.multiply(self.curve, private, self.generator))

    def check(self, public: bytes) -> None:
        ec.decode_point(self.curve, public)

    def mapped(self, nonce: bytes, private: Private, peer_public: bytes) -> EcGroup:
        """Generic Mapping: G~ = s*G + H, H = private * peer (ECDH over the static generator)."""
        peer = ec.decode_point(self.curve, peer_public)
        if isinstance(private, ec.EcKey):
            h = ec.key_multiply(private, peer)
        else:
            h = ec.multiply(self.curve, private, peer)
        s_g = ec.multiply_generator(self.curve, int.from_bytes(nonce, "big"))
        return EcGroup(self.curve, ec.point_add(self.curve, s_g, h))

    def shared_secret(self, private: Private, peer_public: bytes) -> bytes:
        peer = ec.decode_point(self.curve, peer_public)
        if isinstance(private, ec.EcKey):
            return ec.key_shared_x(private, peer)
        return ec.shared_x(self.curve, private, peer)


@dataclass(frozen=True)
class DhGroup:
    """DH in a prime-order subgroup of GF(p)* with a (possibly mapped) generator."""

    group: ec.ModpGroup
    generator: int
    public_tag = 0x84

    @property
    def order(self) -> int:
        return self.group.q

    def new_private(self, keys: KeySource) -> Private:
        return keys(self.order)

    def public_key(self, private: Private) -> bytes:
        return ec.dh_public_key(self.group, _scalar(private), self.generator)

    def check(self, public: bytes) -> None:
        ec.dh_decode(self.group, public)

    def mapped(self, nonce: bytes, private: Private, peer_public: bytes) -> DhGroup:
        """Generic Mapping: g~ = g^s * h, h = peer^private."""
        p = self.group.p
        h = pow(ec.dh_decode(self.group, peer_public), _scalar(private), p)
        g_mapped = pow(self.generator, int.from_bytes(nonce, "big"), p) * h % p
        if g_mapped == 1:
            raise ec.EcError(f"{self.group.name}: mapped generator is 1")
        return DhGroup(self.group, g_mapped)

    def shared_secret(self, private: Private, peer_public: bytes) -> bytes:
        return ec.dh_shared_secret(self.group, _scalar(private), peer_public)


Group = EcGroup | DhGroup


def standard_group(parameter_id: int) -> Group:
    return group_of(ec.standard_domain(parameter_id))


def group_of(domain: ec.Curve | ec.ModpGroup) -> Group:
    if isinstance(domain, ec.Curve):
        return EcGroup(domain, domain.generator)
    return DhGroup(domain, domain.g)


def public_key_data(protocol: str, group: Group, public: bytes) -> bytes:
    """The 7F49 public key data object the authentication tokens are computed over."""
    return tlv(0x7F49, tlv(0x06, oid_encode(protocol)) + tlv(group.public_tag, public))


def auth_token(
    cipher: crypto.CipherName, ks_mac: bytes, protocol: str, group: Group, public: bytes
) -> bytes:
    """T = MAC(KS_mac, 7F49{OID, peer's ephemeral public key}), 8 bytes."""
    data = public_key_data(protocol, group, public)
    if cipher == "3DES":
        return crypto.retail_mac(ks_mac, crypto.pad(data, 8), padded=True)
    return crypto.aes_cmac(ks_mac, data, 8)


# --- the APDU sender --------------------------------------------------------------------------


class PaceApduSender:
    """MSE:Set AT and GENERAL AUTHENTICATE (plain APDUs: no secure messaging yet)."""

    def __init__(self, sender: ApduSender) -> None:
        self.sender = sender

    def _send(self, command: CommandAPDU) -> ResponseAPDU:
        response = self.sender.send(command)
        data = response.data
        for _ in range(16):  # T=0 style: fetch the rest with GET RESPONSE (bounded)
            if response.sw >> 8 != 0x61:
                break
            response = self.sender.send(
                CommandAPDU(0x00, 0xC0, 0, 0, ne=(response.sw & 0xFF) or 256)
            )
            data += response.data
        return ResponseAPDU(data, response.sw)

    def mse_set_at(self, protocol: str, password_ref: int, parameter_id: int | None) -> None:
        body = tlv(0x80, oid_encode(protocol)) + tlv(0x83, bytes((password_ref,)))
        if parameter_id is not None:
            body += tlv(0x84, bytes((parameter_id,)))
        response = self._send(CommandAPDU(0x00, 0x22, 0xC1, 0xA4, body))
        if response.sw == 0x9000 or response.sw >> 4 == 0x63C:
            return
        reason: Reason = "refused" if response.sw in (0x6982, 0x6985) else "unsupported"
        raise PaceError("MSE:Set AT", "", response.sw, reason=reason)

    def general_authenticate(self, step: int, tag: int, value: bytes | None, last: bool) -> bytes:
        """Send 7C{tag value} (7C{} for step 1), return the value of the card's 7C{tag+1}."""
        name = f"GENERAL AUTHENTICATE step {step}"
        data = tlv(0x7C, tlv(tag, value) if value is not None else b"")
        # The card's key is as long as ours: big DH keys need extended length both ways.
        ne = 65536 if len(data) > 250 else 256
        response = self._send(CommandAPDU(0x00 if last else 0x10, 0x86, 0, 0, data, ne=ne))
        if response.sw != 0x9000:
            reason: Reason = "wrong-password" if last else "failed"
            raise PaceError(name, "", response.sw, reason=reason)
        expected = 0x80 if value is None else tag + 1
        try:
            outer = parse_one(response.data)
            if outer.tag != 0x7C:
                raise TlvError(f"tag {outer.tag:X} instead of 7C", 0)
            return outer.child(expected).value
        except TlvError as exc:
            raise PaceError(name, f"malformed response ({exc})", reason="failed") from None


# --- the result and the protocol run ----------------------------------------------------------


@dataclass(frozen=True)
class PaceResult:
    protocol: str
    parameter_id: int | None
    cipher: crypto.CipherName
    password_kind: Literal["CAN", "MRZ"]
    ks_enc: bytes = field(repr=False)
    ks_mac: bytes = field(repr=False)
    card_public_key: bytes = field(repr=False)  # chip's ephemeral key (ID_PICC for TA / CA)
    elapsed_ms: float

    @property
    def access(self) -> str:
        return f"PACE-{self.password_kind}"

    @property
    def sm(self) -> SecureMessaging:
        """A fresh secure-messaging session with the PACE keys, SSC 0."""
        if self.cipher == "3DES":
            return SecureMessaging.for_3des(self.ks_enc, self.ks_mac, 0)
        return SecureMessaging.for_aes(self.ks_enc, self.ks_mac, 0)


def establish(
    sender: ApduSender,
    password: PacePassword,
    card_access: SecurityInfos,
    *,
    keys: KeySource = ec.random_private,
) -> PaceResult:
    """Run PACE with the first variant the card offers that the station supports (ECDH first);
    when the card says a variant is unsupported at MSE:Set AT, the next one is tried."""
    offered = card_access.supported_pace()
    if not offered:
        reasons = "; ".join(str(card_access.unsupported_reason(i)) for i in card_access.pace_infos)
        raise PaceError(
            "EF.CardAccess",
            f"no supported PACE variant ({reasons or 'none'})",
            reason="unsupported",
        )
    apdus = PaceApduSender(sender)
    for index, info in enumerate(offered):
        try:
            return _run(apdus, info, card_access.domain(info), password, keys)
        except PaceError as exc:
            if (
                exc.reason != "unsupported"
                or exc.step != "PACE failed in MSE:Set AT"
                or index == len(offered) - 1
            ):
                raise
            log.info("PACE %s refused as unsupported, trying the next variant", info.protocol)
    raise AssertionError("unreachable")


def _run(
    apdus: PaceApduSender,
    info: PaceInfo,
    domain: ec.Curve | ec.ModpGroup,
    password: PacePassword,
    keys: KeySource,
) -> PaceResult:
    started = time.perf_counter()
    assert info.cipher is not None  # supported_pace() checked
    cipher, protocol = info.cipher, info.protocol
    group = group_of(domain)
    apdus.mse_set_at(protocol, password.reference, info.parameter_id)
    z = apdus.general_authenticate(1, 0x80, None, last=False)
    try:
        nonce = decrypt_nonce(cipher, password_key(password, cipher), z)
        map_private = group.new_private(keys)
        card_map_public = apdus.general_authenticate(
            2, 0x81, group.public_key(map_private), last=False
        )
        mapped = group.mapped(nonce, map_private, card_map_public)
        eph_private = mapped.new_private(keys)
        own_public = mapped.public_key(eph_private)
        card_public = apdus.general_authenticate(3, 0x83, own_public, last=False)
        if card_public == own_public:
            raise ec.EcError("the card echoed the terminal's ephemeral public key")
        ks_enc, ks_mac = session_keys(cipher, mapped.shared_secret(eph_private, card_public))
    except (ValueError, ec.EcError) as exc:
        raise PaceError("key agreement", str(exc), reason="failed") from None
    token = auth_token(cipher, ks_mac, protocol, mapped, card_public)
    card_token = apdus.general_authenticate(4, 0x85, token, last=True)
    if not hmac.compare_digest(
        card_token, auth_token(cipher, ks_mac, protocol, mapped, own_public)
    ):
        raise PaceError(
            "GENERAL AUTHENTICATE step 4", "the chip's token T_IC is wrong", reason="failed"
        )
    elapsed = (time.perf_counter() - started) * 1000
    log.info(
        "PACE-%s done: %s parameterId %s in %.1f ms",
        password.kind,
        protocol,
        info.parameter_id,
        elapsed,
    )
    return PaceResult(
        protocol, info.parameter_id, cipher, password.kind, ks_enc, ks_mac, card_public, elapsed
    )
