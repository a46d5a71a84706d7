"""One BER-TLV parser for every LDS structure. It never trusts a length.

Every length is checked against the bytes actually present; nesting depth is
bounded. Errors are ``TlvError(ValueError)`` naming the offset (relative to the
start of the outermost buffer passed in, plus ``base``).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

MAX_DEPTH = 32


class TlvError(ValueError):
    """Malformed BER-TLV; ``offset`` is where the problem was found."""

    def __init__(self, message: str, offset: int) -> None:
        super().__init__(f"{message} at offset {offset}")
        self.reason = message
        self.offset = offset


@dataclass(frozen=True)
class Tlv:
    tag: int
    value: bytes
    offset: int  # offset of the tag byte
    value_offset: int

    @property
    def constructed(self) -> bool:
        first = self.tag
        while first > 0xFF:
            first >>= 8
        return bool(first & 0x20)

    @property
    def end(self) -> int:
        return self.value_offset + len(self.value)

    def children(self) -> list[Tlv]:
        return parse_all(self.value, base=self.value_offset)

    def child(self, tag: int) -> Tlv:
        for item in self.children():
            if item.tag == tag:
                return item
        raise TlvError(f"tag {tag:X} missing inside {self.tag:X}", self.value_offset)

    def find(self, tag: int) -> Tlv | None:
        for item in self.children():
            if item.tag == tag:
                return item
        return None


def read_tag(data: bytes, pos: int, base: int = 0) -> tuple[int, int]:
    """(tag, position after the tag)."""
    if pos >= len(data):
        raise TlvError("tag expected, data ended", base + pos)
    first = data[pos]
    tag = first
    pos += 1
    if first & 0x1F == 0x1F:
        for count in range(3):
            if pos >= len(data):
                raise TlvError("multi-byte tag truncated", base + pos)
            byte = data[pos]
            tag = (tag << 8) | byte
            pos += 1
            if not byte & 0x80:
                break
            if count == 2:
                raise TlvError("tag longer than 4 bytes", base + pos)
    return tag, pos


def read_length(data: bytes, pos: int, base: int = 0) -> tuple[int, int]:
    """(length, position after the length field)."""
    if pos >= len(data):
        raise TlvError("length expected, data ended", base + pos)
    first = data[pos]
    pos += 1
    if first < 0x80:
        return first, pos
    count = first & 0x7F
    if count == 0:
        raise TlvError("indefinite length not allowed", base + pos - 1)
    if count > 4:
        raise TlvError(f"length field of {count} bytes", base + pos - 1)
    if pos + count > len(data):
        raise TlvError("length field truncated", base + pos)
    return int.from_bytes(data[pos : pos + count], "big"), pos + count


def parse_one(data: bytes, pos: int = 0, base: int = 0) -> Tlv:
    """Parse the TLV starting at ``pos``; its value must fit inside ``data``."""
    tag, p = read_tag(data, pos, base)
    length, p = read_length(data, p, base)
    if p + length > len(data):
        raise TlvError(
            f"tag {tag:X} declares {length} bytes, only {len(data) - p} present", base + pos
        )
    return Tlv(tag, bytes(data[p : p + length]), base + pos, base + p)


def header_length(data: bytes) -> tuple[int, int]:
    """From the first bytes of a file: (header size, total size). For reading files
    whose length is not known yet; raises TlvError if ``data`` is too short."""
    _, p = read_tag(data, 0)
    length, p = read_length(data, p)
    return p, p + length


def iter_tlv(data: bytes, base: int = 0) -> Iterator[Tlv]:
    pos = 0
    while pos < len(data):
        item = parse_one(data, pos, base)
        yield item
        pos = item.end - base


def parse_all(data: bytes, base: int = 0) -> list[Tlv]:
    return list(iter_tlv(data, base))


def walk(data: bytes, depth: int = 0, base: int = 0) -> Iterator[Tlv]:
    """Every TLV, depth first, descending into constructed ones (bounded depth)."""
    if depth > MAX_DEPTH:
        raise TlvError("nesting too deep", base)
    for item in iter_tlv(data, base):
        yield item
        if item.constructed:
            yield from walk(item.value, depth + 1, item.value_offset)


def encode_length(length: int) -> bytes:
    if length < 0x80:
        return bytes((length,))
    raw = length.to_bytes((length.bit_length() + 7) // 8, "big")
    return bytes((0x80 | len(raw),)) + raw


def encode_tag(tag: int) -> bytes:
    return tag.to_bytes(max(1, (tag.bit_length() + 7) // 8), "big")


def tlv(tag: int, value: bytes) -> bytes:
    """Encode one TLV."""
    return encode_tag(tag) + encode_length(len(value)) + value
