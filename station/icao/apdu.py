"""ISO 7816-4 command and response APDUs, short and extended length.

``CommandAPDU.encode()`` picks the short form when data and Ne fit (Nc <= 255,
Ne <= 256) and the extended form otherwise, or when ``extended=True`` is asked for.
``ne`` is the expected response length (None = no Le field, 256/65536 = "all").
"""

from __future__ import annotations

from dataclasses import dataclass, field

SW_NAMES: dict[int, str] = {
    0x9000: "success",
    0x6282: "end of file reached before Le bytes",
    0x6300: "verification failed",
    0x6581: "memory failure",
    0x6700: "wrong length",
    0x6882: "secure messaging not supported",
    0x6883: "last command of the chain expected",
    0x6982: "security status not satisfied",
    0x6983: "authentication method blocked",
    0x6984: "reference data not usable",
    0x6985: "conditions of use not satisfied",
    0x6986: "command not allowed (no current EF)",
    0x6987: "expected secure messaging data objects missing",
    0x6988: "incorrect secure messaging data objects",
    0x6A80: "incorrect parameters in the data field",
    0x6A82: "file or application not found",
    0x6A86: "incorrect parameters P1-P2",
    0x6A88: "referenced data not found",
    0x6B00: "wrong parameters (offset outside the EF)",
    0x6D00: "instruction not supported",
    0x6E00: "class not supported",
    0x6F00: "no precise diagnosis",
}


def sw_name(sw: int) -> str:
    """A short English description of a status word."""
    if sw in SW_NAMES:
        return SW_NAMES[sw]
    high, low = sw >> 8, sw & 0xFF
    if high == 0x61:
        return f"{low} more bytes available"
    if high == 0x6C:
        return f"wrong Le, exact length is {low}"
    if high == 0x63 and low & 0xF0 == 0xC0:
        return f"verification failed, {low & 0x0F} tries left"
    return "unknown status"


def sw_text(sw: int) -> str:
    """``"6982 (security status not satisfied)"``."""
    return f"{sw:04X} ({sw_name(sw)})"


@dataclass(frozen=True)
class CommandAPDU:
    cla: int
    ins: int
    p1: int
    p2: int
    data: bytes = b""
    ne: int | None = None
    extended: bool = field(default=False, compare=False)

    def __post_init__(self) -> None:
        for name in ("cla", "ins", "p1", "p2"):
            value = getattr(self, name)
            if not 0 <= value <= 0xFF:
                raise ValueError(f"APDU {name} out of range: {value}")
        if len(self.data) > 65535:
            raise ValueError("APDU data longer than 65535 bytes")
        if self.ne is not None and not 0 < self.ne <= 65536:
            raise ValueError(f"APDU Ne out of range: {self.ne}")

    @property
    def is_extended(self) -> bool:
        return self.extended or len(self.data) > 255 or (self.ne is not None and self.ne > 256)

    def encode(self) -> bytes:
        header = bytes((self.cla, self.ins, self.p1, self.p2))
        nc = len(self.data)
        if not self.is_extended:
            lc = bytes((nc,)) if nc else b""
            le = bytes((self.ne & 0xFF,)) if self.ne is not None else b""
            return header + lc + self.data + le
        body = b""
        if nc:
            body = b"\x00" + nc.to_bytes(2, "big") + self.data
        if self.ne is not None:
            le = (self.ne & 0xFFFF).to_bytes(2, "big")
            body += le if nc else b"\x00" + le
        return header + body

    def with_ne(self, ne: int | None) -> CommandAPDU:
        return CommandAPDU(self.cla, self.ins, self.p1, self.p2, self.data, ne, self.extended)

    @classmethod
    def decode(cls, raw: bytes) -> CommandAPDU:
        """Parse an encoded command (used by the card emulator); raises ValueError."""
        if len(raw) < 4:
            raise ValueError("APDU shorter than 4 bytes")
        cla, ins, p1, p2 = raw[:4]
        body = raw[4:]
        if not body:
            return cls(cla, ins, p1, p2)
        if len(body) == 1:
            return cls(cla, ins, p1, p2, b"", body[0] or 256)
        if body[0] != 0:
            nc = body[0]
            if len(body) == 1 + nc:
                return cls(cla, ins, p1, p2, bytes(body[1:]))
            if len(body) == 2 + nc:
                return cls(cla, ins, p1, p2, bytes(body[1 : 1 + nc]), body[-1] or 256)
            raise ValueError("short APDU length mismatch")
        return cls._decode_extended(cla, ins, p1, p2, body)

    @classmethod
    def _decode_extended(cls, cla: int, ins: int, p1: int, p2: int, body: bytes) -> CommandAPDU:
        if len(body) == 3:
            return cls(cla, ins, p1, p2, b"", int.from_bytes(body[1:3], "big") or 65536, True)
        if len(body) < 3:
            raise ValueError("extended APDU truncated")
        nc = int.from_bytes(body[1:3], "big")
        rest = body[3:]
        if nc == 0:
            raise ValueError("extended APDU with Lc = 0")
        if len(rest) == nc:
            return cls(cla, ins, p1, p2, bytes(rest), None, True)
        if len(rest) == nc + 2:
            return cls(
                cla, ins, p1, p2, bytes(rest[:nc]), int.from_bytes(rest[nc:], "big") or 65536, True
            )
        raise ValueError("extended APDU length mismatch")


@dataclass(frozen=True)
class ResponseAPDU:
    data: bytes
    sw: int

    @classmethod
    def parse(cls, raw: bytes) -> ResponseAPDU:
        if len(raw) < 2:
            raise ValueError(f"response shorter than 2 bytes ({len(raw)})")
        return cls(bytes(raw[:-2]), int.from_bytes(raw[-2:], "big"))

    @property
    def ok(self) -> bool:
        return self.sw == 0x9000

    def encode(self) -> bytes:
        return self.data + self.sw.to_bytes(2, "big")

    @property
    def sw_text(self) -> str:
        return sw_text(self.sw)


def status(sw: int, data: bytes = b"") -> ResponseAPDU:
    return ResponseAPDU(data, sw)
