"""How logs, the audit trail and the flow name a payload, document or record: a fingerprint.

The first 8 bytes of the SHA-256 of the data, as 16 hex digits; text is hashed as UTF-8.
It never reveals the data; the same data always gives the same fingerprint, which is what
lets the flow tell "the same card, still lying there" from a new one.
"""

from __future__ import annotations

import hashlib

LENGTH = 8  # bytes of the digest kept


def fingerprint(data: bytes | str) -> str:
    """16 hex digits naming ``data`` (bytes, or text as UTF-8)."""
    raw = data.encode("utf-8") if isinstance(data, str) else data
    return hashlib.sha256(raw).digest()[:LENGTH].hex()


__all__ = ["fingerprint"]
