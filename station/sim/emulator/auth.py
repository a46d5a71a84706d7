"""Card side of Active and Chip Authentication for the emulated CCCD chip.

``install(card)`` registers the handlers: INTERNAL AUTHENTICATE (88) signs the
terminal's challenge with the chip's AA key (RSA: ISO/IEC 9796-2 scheme 1, ``sign_iso9796_2``;
EC: plain r||s ECDSA hashed as DG14's ActiveAuthenticationInfo says); MSE:Set KAT (22 41 A6),
MSE:Set AT for CA (22 41 A4 with an id-CA OID) and GENERAL AUTHENTICATE (86) agree on
new session keys with the chip's static CA key and switch the session after answering.

``tamper(profile, ...)`` makes the failure cases: a flipped byte in a data group (the
SOD does not match it), an AA or CA private key that does not match DG15 / DG14, a clone
(the signed files copied, DG14/DG15 left out: ``forgery.clone``) and a forged document
signer (``forgery.forge_signer``). The other SOD-signer cases come from
``station.sim.pki.make_test_pki(expired=..., revoked=...)`` or an untrusted chain; the
QR-disagreement case from building the card for another citizen.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from dataclasses import replace

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from station.icao import ec as icao_ec
from station.icao import lds
from station.icao.apdu import CommandAPDU, ResponseAPDU, status
from station.icao.chipauth import new_session
from station.icao.securityinfos import CA_PROTOCOLS, CaOption, SecurityInfos, oid_decode
from station.icao.tlv import TlvError, parse_all, parse_one
from station.sim.emulator.card import EmulatedCard
from station.sim.emulator.files import DG_FIDS, CardProfile
from station.sim.emulator.keys import DhPrivateKey, load_dh_pkcs8, make_aa_key
from station.verify.active import TRAILER_IDS
from station.verify.signature import HASHES

log = logging.getLogger(__name__)


def install(card: EmulatedCard) -> None:
    """Register AA and CA handlers on ``card`` (in front of existing ones)."""
    card.register(0x88, internal_authenticate)
    card.register(0x22, mse_chip_authentication)
    card.register(0x86, general_authenticate_ca)


def _private_key(der: bytes | None) -> object | None:
    if der is None:
        return None
    try:
        return load_dh_pkcs8(der)
    except ValueError:
        return serialization.load_der_private_key(der, password=None)


def _dg(card: EmulatedCard, number: int) -> bytes | None:
    return card.profile.files.get(DG_FIDS[number])


def internal_authenticate(card: EmulatedCard, cmd: CommandAPDU) -> ResponseAPDU | None:
    if cmd.p1 != 0x00 or cmd.p2 != 0x00:
        return status(0x6A86)
    if not card.authenticated:
        return status(0x6982)
    key = _private_key(card.profile.keys.get("aa"))
    if key is None:
        return status(0x6D00)
    if len(cmd.data) != 8:
        return status(0x6700)
    if isinstance(key, rsa.RSAPrivateKey):
        hash_name = "sha1" if key.key_size <= 1024 else "sha256"
        return ResponseAPDU(sign_iso9796_2(key, cmd.data, hash_name), 0x9000)
    if isinstance(key, ec.EllipticCurvePrivateKey):
        infos = _security_infos(card)
        hash_name = (infos.aa_hash if infos else None) or "sha256"
        der = key.sign(cmd.data, ec.ECDSA(HASHES[hash_name]()))
        r, s = decode_dss_signature(der)
        size = (key.curve.key_size + 7) // 8
        return ResponseAPDU(r.to_bytes(size, "big") + s.to_bytes(size, "big"), 0x9000)
    return status(0x6985)


def _security_infos(card: EmulatedCard) -> SecurityInfos | None:
    dg14 = _dg(card, 14)
    return lds.parse_dg14(dg14) if dg14 is not None else None


def _card_option(card: EmulatedCard, protocol: str | None) -> CaOption | None:
    infos = _security_infos(card)
    if infos is None:
        return None
    for option in infos.ca_options():
        if protocol is None or option.protocol == protocol:
            return option
    return None


def _agree(card: EmulatedCard, option: CaOption, public: bytes) -> bytes | None:
    key = _private_key(card.profile.keys.get("ca"))
    try:
        if isinstance(key, DhPrivateKey) and option.agreement == "dh":
            return key.exchange(public)
        if isinstance(key, ec.EllipticCurvePrivateKey) and option.agreement == "ecdh":
            peer = ec.EllipticCurvePublicKey.from_encoded_point(key.curve, public)
            return key.exchange(ec.ECDH(), peer)
    except ValueError:
        return None
    return None


def mse_chip_authentication(card: EmulatedCard, cmd: CommandAPDU) -> ResponseAPDU | None:
    """MSE:Set KAT (41 A6, CA 3DES) or MSE:Set AT naming an id-CA protocol (41 A4)."""
    if cmd.p1 != 0x41 or cmd.p2 not in (0xA4, 0xA6):
        return None
    try:
        objects = {t.tag: t.value for t in parse_all(cmd.data)}
    except TlvError:
        return status(0x6A80)
    if cmd.p2 == 0xA4:
        oid = _decode_oid(objects.get(0x80, b""))
        if oid not in CA_PROTOCOLS:
            return None  # PACE's MSE:Set AT (P1 C1) or another protocol
        if _card_option(card, oid) is None:
            return status(0x6A80)
        card.state["ca_protocol"] = oid
        return status(0x9000)
    option = _card_option(card, None)
    if option is None or option.cipher != "3DES" or 0x91 not in objects:
        return status(0x6A80)
    return _finish(card, option, objects[0x91], b"")


def general_authenticate_ca(card: EmulatedCard, cmd: CommandAPDU) -> ResponseAPDU | None:
    protocol = card.state.get("ca_protocol")
    if protocol is None:
        return None  # not a Chip Authentication in progress (PACE's GA)
    del card.state["ca_protocol"]
    option = _card_option(card, protocol)
    try:
        outer = parse_one(cmd.data)
        public = {t.tag: t.value for t in outer.children()}.get(0x80)
    except TlvError:
        return status(0x6A80)
    if option is None or outer.tag != 0x7C or public is None:
        return status(0x6A80)
    return _finish(card, option, public, bytes.fromhex("7C00"))


def _finish(card: EmulatedCard, option: CaOption, public: bytes, answer: bytes) -> ResponseAPDU:
    shared = _agree(card, option, public)
    if shared is None:
        return status(0x6A80)
    card.set_session(new_session(shared, option), after_response=True)
    log.debug("emulated chip: CA session keys switched (%s)", option.protocol)
    return ResponseAPDU(answer, 0x9000)


def _decode_oid(value: bytes) -> str:
    try:
        return oid_decode(value)
    except ValueError:
        return ""


def tamper(
    profile: CardProfile,
    *,
    flip_dg: int | None = None,
    wrong_aa_key: bool = False,
    wrong_ca_key: bool = False,
    clone: bool = False,
    forged_signer: bool = False,
) -> CardProfile:
    """A copy of ``profile`` with one or more faults (see module doc)."""
    from station.sim.emulator import forgery

    if forged_signer:
        profile = forgery.forge_signer(profile)
    if clone:
        profile = forgery.clone(profile)
    files = dict(profile.files)
    key_set = dict(profile.keys)
    if flip_dg is not None:
        data = bytearray(files[DG_FIDS[flip_dg]])
        data[len(data) * 2 // 3] ^= 0x01  # inside the value, structure intact
        files[DG_FIDS[flip_dg]] = bytes(data)
    if wrong_aa_key:
        key_set["aa"] = _same_kind(key_set["aa"])
    if wrong_ca_key:
        key_set["ca"] = _same_kind(key_set["ca"])
    return replace(profile, files=files, keys=key_set)


def _same_kind(der: bytes) -> bytes:
    """A fresh private key of the same type and size as ``der`` (PKCS#8)."""
    key = _private_key(der)
    if isinstance(key, DhPrivateKey):
        return replace(key, x=icao_ec.random_private(key.group.q)).private_bytes()
    if isinstance(key, rsa.RSAPrivateKey):
        fresh: object = make_aa_key(f"rsa{key.key_size}")
    elif isinstance(key, ec.EllipticCurvePrivateKey):
        fresh = ec.generate_private_key(key.curve)
    else:
        raise TypeError("unsupported key type")
    der_out: bytes = fresh.private_bytes(  # type: ignore[attr-defined]
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return der_out


def sign_iso9796_2(key: rsa.RSAPrivateKey, challenge: bytes, hash_name: str = "sha1") -> bytes:
    """The chip's AA answer with an RSA key: ISO/IEC 9796-2 scheme 1, partial recovery."""
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
