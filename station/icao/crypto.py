"""Symmetric primitives of ICAO 9303-11: 3DES-CBC, retail MAC, AES, AES-CMAC, KDF.

3DES uses ``cryptography``'s decrepit TripleDES with 24-byte keys (two-key keys
are expanded as K1 K2 K1). Padding is ISO/IEC 9797-1 method 2 (0x80 then zeros).
"""

from __future__ import annotations

import hashlib
from typing import Literal

from cryptography.hazmat.decrepit.ciphers.algorithms import TripleDES
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.cmac import CMAC

CipherName = Literal["3DES", "AES-128", "AES-192", "AES-256"]
KEY_LENGTHS: dict[str, int] = {"3DES": 16, "AES-128": 16, "AES-192": 24, "AES-256": 32}
ZERO8 = bytes(8)
ZERO16 = bytes(16)

ENC, MAC, PACE_PW = 1, 2, 3


def pad(data: bytes, block: int = 8) -> bytes:
    """ISO/IEC 9797-1 padding method 2."""
    padded = data + b"\x80"
    return padded + bytes(-len(padded) % block)


def unpad(data: bytes) -> bytes:
    """Remove method-2 padding; ValueError if absent."""
    stripped = data.rstrip(b"\x00")
    if not stripped or stripped[-1] != 0x80:
        raise ValueError("bad ISO 9797-1 padding")
    return stripped[:-1]


def _des3_key(key: bytes) -> bytes:
    if len(key) == 16:
        return key + key[:8]
    if len(key) == 8:
        return key * 3
    if len(key) == 24:
        return key
    raise ValueError(f"3DES key of {len(key)} bytes")


def des3_cbc_encrypt(key: bytes, data: bytes, iv: bytes = ZERO8) -> bytes:
    enc = Cipher(TripleDES(_des3_key(key)), modes.CBC(iv)).encryptor()
    return enc.update(data) + enc.finalize()


def des3_cbc_decrypt(key: bytes, data: bytes, iv: bytes = ZERO8) -> bytes:
    dec = Cipher(TripleDES(_des3_key(key)), modes.CBC(iv)).decryptor()
    return dec.update(data) + dec.finalize()


def _des_cbc_encrypt(key8: bytes, data: bytes) -> bytes:
    return des3_cbc_encrypt(key8 * 3, data)


def retail_mac(key: bytes, data: bytes, *, padded: bool = False) -> bytes:
    """ISO/IEC 9797-1 MAC algorithm 3 (DES CBC with final 3DES), 8 bytes."""
    msg = data if padded else pad(data)
    ka, kb = key[:8], key[8:16]
    chained = _des_cbc_encrypt(ka, msg)[-8:]
    dec = Cipher(TripleDES(kb * 3), modes.ECB()).decryptor()
    step = dec.update(chained) + dec.finalize()
    enc = Cipher(TripleDES(ka * 3), modes.ECB()).encryptor()
    return enc.update(step) + enc.finalize()


def aes_cbc_encrypt(key: bytes, data: bytes, iv: bytes = ZERO16) -> bytes:
    enc = Cipher(algorithms.AES(key), modes.CBC(iv)).encryptor()
    return enc.update(data) + enc.finalize()


def aes_cbc_decrypt(key: bytes, data: bytes, iv: bytes = ZERO16) -> bytes:
    dec = Cipher(algorithms.AES(key), modes.CBC(iv)).decryptor()
    return dec.update(data) + dec.finalize()


def aes_ecb_encrypt(key: bytes, block: bytes) -> bytes:
    enc = Cipher(algorithms.AES(key), modes.ECB()).encryptor()
    return enc.update(block) + enc.finalize()


def aes_cmac(key: bytes, data: bytes, length: int = 8) -> bytes:
    mac = CMAC(algorithms.AES(key))
    mac.update(data)
    return mac.finalize()[:length]


def adjust_parity(key: bytes) -> bytes:
    """Set each byte's least significant bit so the byte has odd parity (DES keys)."""
    out = bytearray()
    for byte in key:
        high = byte & 0xFE
        out.append(high | (0 if bin(high).count("1") % 2 else 1))
    return bytes(out)


def kdf(shared: bytes, counter: int, cipher: CipherName = "3DES") -> bytes:
    """ICAO 9303-11 section 9.7.1 key derivation: counter 1 = ENC, 2 = MAC, 3 = PACE pw."""
    material = shared + counter.to_bytes(4, "big")
    if cipher == "3DES":
        return adjust_parity(hashlib.sha1(material).digest()[:16])
    if cipher == "AES-128":
        return hashlib.sha1(material).digest()[:16]
    if cipher == "AES-192":
        return hashlib.sha256(material).digest()[:24]
    if cipher == "AES-256":
        return hashlib.sha256(material).digest()
    raise ValueError(f"unknown cipher {cipher}")
