"""Secure messaging (ICAO 9303-11 section 9.8): a wrapper that knows nothing of the
transport.

Terminal side::

    sm = SecureMessaging.for_3des(ks_enc, ks_mac, ssc)   # after BAC (SSC 8 bytes)
    sm = SecureMessaging.for_aes(ks_enc, ks_mac, ssc=0)   # after PACE / CA with AES
    protected = sm.wrap(CommandAPDU(...))                  # -> CommandAPDU (CLA | 0x0C)
    plain = sm.unwrap(ResponseAPDU.parse(raw))             # MAC checked, data decrypted

The two variants differ only in block size (8 / 16), the IV (zero for 3DES,
E(KS_enc, SSC) for AES), the MAC (retail MAC / AES-CMAC truncated to 8 bytes) and the
SSC length (8 / 16 bytes). The SSC is incremented before each command and each
response. Odd INS (B1) carries data in DO85 (not padded-indicator-prefixed), even INS
in DO87. A response with an error status and no data may come unprotected (ICAO
allows it): ``unwrap`` returns it as-is, but never accepts 9000 without a valid MAC.

The card emulator uses the mirror pair ``unwrap_command`` / ``wrap_response``.
"""

from __future__ import annotations

from dataclasses import dataclass

from station.icao import crypto
from station.icao.apdu import CommandAPDU, ResponseAPDU
from station.icao.errors import SecureMessagingError
from station.icao.tlv import Tlv, TlvError, parse_all, tlv


@dataclass(frozen=True)
class SmCipher:
    name: crypto.CipherName
    block: int

    def encrypt(self, key: bytes, ssc: bytes, data: bytes) -> bytes:
        if self.name == "3DES":
            return crypto.des3_cbc_encrypt(key, data)
        return crypto.aes_cbc_encrypt(key, data, crypto.aes_ecb_encrypt(key, ssc))

    def decrypt(self, key: bytes, ssc: bytes, data: bytes) -> bytes:
        if self.name == "3DES":
            return crypto.des3_cbc_decrypt(key, data)
        return crypto.aes_cbc_decrypt(key, data, crypto.aes_ecb_encrypt(key, ssc))

    def mac(self, key: bytes, data: bytes) -> bytes:
        padded = crypto.pad(data, self.block)
        if self.name == "3DES":
            return crypto.retail_mac(key, padded, padded=True)
        return crypto.aes_cmac(key, padded, 8)


DES3 = SmCipher("3DES", 8)


class SecureMessaging:
    """Stateful SM session (the SSC). Not thread-safe; one per card session."""

    def __init__(self, cipher: SmCipher, ks_enc: bytes, ks_mac: bytes, ssc: int) -> None:
        self.cipher = cipher
        self.ks_enc = ks_enc
        self.ks_mac = ks_mac
        self.ssc = ssc
        self.proven = False  # an answer came back with a valid MAC under these keys

    @classmethod
    def for_3des(cls, ks_enc: bytes, ks_mac: bytes, ssc: bytes | int) -> SecureMessaging:
        value = int.from_bytes(ssc, "big") if isinstance(ssc, bytes) else ssc
        return cls(DES3, ks_enc, ks_mac, value)

    @classmethod
    def for_aes(cls, ks_enc: bytes, ks_mac: bytes, ssc: bytes | int = 0) -> SecureMessaging:
        names = {16: "AES-128", 24: "AES-192", 32: "AES-256"}
        if len(ks_enc) not in names:
            raise ValueError(f"AES key of {len(ks_enc)} bytes")
        value = int.from_bytes(ssc, "big") if isinstance(ssc, bytes) else ssc
        return cls(SmCipher(names[len(ks_enc)], 16), ks_enc, ks_mac, value)  # type: ignore[arg-type]

    def copy(self) -> SecureMessaging:
        return SecureMessaging(self.cipher, self.ks_enc, self.ks_mac, self.ssc)

    @property
    def ssc_bytes(self) -> bytes:
        return (self.ssc % (1 << (8 * self.cipher.block))).to_bytes(self.cipher.block, "big")

    def _next(self) -> bytes:
        self.ssc += 1
        return self.ssc_bytes

    # ---- terminal side -------------------------------------------------------------
    def wrap(self, cmd: CommandAPDU) -> CommandAPDU:
        ssc = self._next()
        header = bytes((cmd.cla | 0x0C, cmd.ins, cmd.p1, cmd.p2))
        body = self._data_object(cmd.ins, ssc, cmd.data)
        if cmd.ne is not None:
            long_le = cmd.is_extended
            body += tlv(
                0x97, (cmd.ne % 65536).to_bytes(2, "big") if long_le else bytes((cmd.ne % 256,))
            )
        mac = self.cipher.mac(self.ks_mac, ssc + crypto.pad(header, self.cipher.block) + body)
        body += tlv(0x8E, mac)
        extended = cmd.is_extended or len(body) > 255 or self._answer_length(cmd.ne) > 256
        return CommandAPDU(
            header[0], cmd.ins, cmd.p1, cmd.p2, body, 65536 if extended else 256, extended
        )

    def _answer_length(self, ne: int | None) -> int:
        """The longest protected answer to a command asking for ``ne`` bytes: DO87 (padded,
        with its indicator byte), DO99 and DO8E. Above 256 the outer Le must be extended."""
        if not ne:
            return 14
        value = 1 + (ne // self.cipher.block + 1) * self.cipher.block
        return 1 + (1 if value < 128 else 1 + (value.bit_length() + 7) // 8) + value + 14

    def _data_object(self, ins: int, ssc: bytes, data: bytes) -> bytes:
        if not data:
            return b""
        enc = self.cipher.encrypt(self.ks_enc, ssc, crypto.pad(data, self.cipher.block))
        return tlv(0x85, enc) if ins & 1 else tlv(0x87, b"\x01" + enc)

    def unwrap(self, response: ResponseAPDU) -> ResponseAPDU:
        ssc = self._next()
        if not response.data:
            if response.sw in (0x9000,) or response.sw >> 8 in (0x62, 0x63):
                raise SecureMessagingError("secure messaging", "response without MAC", response.sw)
            return response  # unprotected error status: allowed by ICAO 9303-11
        try:
            objects = {item.tag: item for item in parse_all(response.data)}
        except TlvError as exc:
            raise SecureMessagingError("secure messaging", f"malformed response ({exc})") from None
        if 0x8E not in objects:
            raise SecureMessagingError("secure messaging", "response without DO8E", response.sw)
        covered = b"".join(
            response.data[item.offset : item.end] for tag, item in objects.items() if tag != 0x8E
        )
        expected = self.cipher.mac(self.ks_mac, ssc + covered)
        if objects[0x8E].value != expected:
            raise SecureMessagingError("secure messaging", "response MAC invalid", response.sw)
        self.proven = True
        sw = response.sw
        if 0x99 in objects:
            if len(objects[0x99].value) != 2:
                raise SecureMessagingError("secure messaging", "DO99 not 2 bytes")
            sw = int.from_bytes(objects[0x99].value, "big")
        data = self._decrypt_object(objects, ssc)
        return ResponseAPDU(data, sw)

    def _decrypt_object(self, objects: dict[int, Tlv], ssc: bytes) -> bytes:
        item = objects.get(0x87) or objects.get(0x85)
        if item is None:
            return b""
        cipher_text = item.value
        if item.tag == 0x87:
            if not cipher_text or cipher_text[0] != 0x01:
                raise SecureMessagingError("secure messaging", "DO87 without padding indicator 01")
            cipher_text = cipher_text[1:]
        if not cipher_text or len(cipher_text) % self.cipher.block:
            raise SecureMessagingError("secure messaging", "encrypted data not block aligned")
        try:
            return crypto.unpad(self.cipher.decrypt(self.ks_enc, ssc, cipher_text))
        except ValueError:
            raise SecureMessagingError(
                "secure messaging", "bad padding in decrypted data"
            ) from None

    # ---- card side (emulator) ------------------------------------------------------
    def unwrap_command(self, cmd: CommandAPDU) -> CommandAPDU:
        """Check and decrypt a protected command; raises SecureMessagingError."""
        ssc = self._next()
        if cmd.cla & 0x0C != 0x0C:
            raise SecureMessagingError("secure messaging", "command not protected")
        try:
            objects = {item.tag: item for item in parse_all(cmd.data)}
        except TlvError as exc:
            raise SecureMessagingError("secure messaging", f"malformed command ({exc})") from None
        if 0x8E not in objects:
            raise SecureMessagingError("secure messaging", "command without DO8E")
        header = bytes((cmd.cla, cmd.ins, cmd.p1, cmd.p2))
        covered = b"".join(
            cmd.data[item.offset : item.end] for tag, item in objects.items() if tag != 0x8E
        )
        mac = self.cipher.mac(self.ks_mac, ssc + crypto.pad(header, self.cipher.block) + covered)
        if objects[0x8E].value != mac:
            raise SecureMessagingError("secure messaging", "command MAC invalid")
        data = self._decrypt_object(objects, ssc)
        ne: int | None = None
        if 0x97 in objects:
            raw = objects[0x97].value
            ne = int.from_bytes(raw, "big") or (256 if len(raw) == 1 else 65536)
        extended = 0x97 in objects and len(objects[0x97].value) == 2
        return CommandAPDU(cmd.cla & ~0x0C & 0xFF, cmd.ins, cmd.p1, cmd.p2, data, ne, extended)

    def wrap_response(self, response: ResponseAPDU, ins: int = 0xB0) -> ResponseAPDU:
        ssc = self._next()
        body = b""
        if response.data:
            enc = self.cipher.encrypt(
                self.ks_enc, ssc, crypto.pad(response.data, self.cipher.block)
            )
            body = tlv(0x85, enc) if ins & 1 else tlv(0x87, b"\x01" + enc)
        body += tlv(0x99, response.sw.to_bytes(2, "big"))
        body += tlv(0x8E, self.cipher.mac(self.ks_mac, ssc + body))
        return ResponseAPDU(body, response.sw)
