"""How logs, the audit trail and the flow name a payload, document or record: a fingerprint.

``fingerprint(data)``: the first 8 bytes of the SHA-256 of the data, as 16 hex digits;
text is hashed as UTF-8. The same data always gives the same fingerprint, which is what
lets the flow tell "the same card, still lying there" from a new one, and the ward match
a station's audit line to its own. Use it for what nobody can recompute from a card:
records (their random id is inside), certificates, whole messages.

``keyed(data, key)``: the same shape, but an HMAC-SHA256 under a secret key. Bytes that
come from a citizen's card (the QR text, DG1, the SOD) are named in logs this way: with
a plain hash, whoever holds the card (or a photo of its QR) could hash it and find its
lines in a copied log. ``Pseudonym(data)`` carries such bytes into a log call; the
station's log handler (``station.runtime.logs``) formats it with the station's secret
log key; anywhere else it is keyed with a random key made for this process (stable
within the process, meaningless outside it).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

LENGTH = 8  # bytes of the digest kept
_PROCESS_KEY = secrets.token_bytes(32)  # fixed for the life of the process


def fingerprint(data: bytes | str) -> str:
    """16 hex digits naming ``data`` (bytes, or text as UTF-8)."""
    raw = data.encode("utf-8") if isinstance(data, str) else data
    return hashlib.sha256(raw).digest()[:LENGTH].hex()


def keyed(data: bytes | str, key: bytes) -> str:
    """16 hex digits naming ``data`` under ``key`` (HMAC-SHA256): a log pseudonym."""
    raw = data.encode("utf-8") if isinstance(data, str) else data
    return hmac.new(key, raw, hashlib.sha256).digest()[:LENGTH].hex()


class Pseudonym:
    """Personal-data-derived bytes in a log call's arguments: ``log.info("QR %s",
    Pseudonym(payload))``. Formats as ``keyed(data, key)`` (see the module doc)."""

    __slots__ = ("_data",)

    def __init__(self, data: bytes | str) -> None:
        self._data = data

    def with_key(self, key: bytes) -> str:
        return keyed(self._data, key)

    def __str__(self) -> str:
        return keyed(self._data, _PROCESS_KEY)

    def __repr__(self) -> str:
        return str(self)


__all__ = ["Pseudonym", "fingerprint", "keyed"]
