"""What one MQTT message between a station and the ward may hold, checked before parsing.

The ward treats every message as hostile: before ``json.loads`` sees a payload, its size
is checked against the limit for its topic and its nesting depth is measured by a scan
that skips string literals (C-speed ``re`` and ``bytes.translate``, no recursion), and
its numbers are bounded by the same scan (no 4,300-digit integers, no ``NaN`` or
``Infinity``, nothing that overflows to infinity). Every failure is one ``ValueError``
saying why, so one ``except`` in the caller covers them all.

The station keeps to the same limits when it sends (:func:`batches`): the broker drops
what is larger (``message_size_limit`` in ``deploy/mosquitto/mosquitto.conf`` is
:data:`MAX_MESSAGE_BYTES`), and a record that could never fit is set aside at the station
instead of being resent forever.
"""

from __future__ import annotations

import json
import re
from array import array
from collections.abc import Sequence
from itertools import accumulate
from typing import Any

MAX_MESSAGE_BYTES = 1024 * 1024  # one records message (the broker's message_size_limit)
MAX_ITEMS = 500  # records in one message (mqtt.batch_records' upper bound)
MAX_ITEM_BYTES = 256 * 1024  # one signed record, its face image included
MAX_STATUS_BYTES = 4096  # one status or heartbeat message
MAX_DEPTH = 12  # nesting of a records message: envelope, items, item, record, its objects
ENVELOPE_OVERHEAD = 256  # bytes of an envelope around its items (version, station id)

_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_NOT_BRACKET = bytes(b for b in range(256) if b not in b"[]{}")
_STEP = bytes.maketrans(b"[]{}", b"\x01\xff\x01\xff")  # +1 opens, -1 (signed) closes
# Outside strings: 25 digits in a row (an int the format never needs; Python refuses
# past 4,300), a 3-digit exponent (the only way to overflow a float to infinity with at
# most 24 digits), or NaN/Infinity (not JSON, though Python reads them).
_BAD_NUMBER = re.compile(rb"[0-9]{25}|[eE][+-]?[0-9]{3}|NaN|Infinity")


def depth(payload: bytes) -> int:
    """How deeply ``payload``'s arrays and objects nest (brackets in strings ignored)."""
    return _depth(_STRING.sub(b"", payload))


def _depth(outside_strings: bytes) -> int:
    brackets = outside_strings.translate(None, _NOT_BRACKET)
    return max(accumulate(array("b", brackets.translate(_STEP))), default=0)


def load_json(payload: bytes, max_bytes: int, max_depth: int = MAX_DEPTH) -> Any:
    """``payload`` parsed, once its size, depth and numbers are within bounds; ValueError
    (UnicodeDecodeError and JSONDecodeError included) if not."""
    if len(payload) > max_bytes:
        raise ValueError(f"{len(payload)} bytes, more than {max_bytes}")
    outside = _STRING.sub(b"", payload)
    if (levels := _depth(outside)) > max_depth:
        raise ValueError(f"nested {levels} deep, more than {max_depth}")
    if _BAD_NUMBER.search(outside):
        raise ValueError("a number out of range, NaN or Infinity")
    try:
        return json.loads(payload)
    except RecursionError as exc:  # cannot happen within max_depth; kept as a backstop
        raise ValueError("nested too deep") from exc


def batches(
    items: Sequence[bytes], max_items: int, max_bytes: int = MAX_MESSAGE_BYTES
) -> list[list[int]]:
    """Indexes of ``items`` grouped into messages of at most ``max_items`` items and
    ``max_bytes`` bytes (envelope included), in order. An item too large for any
    message (over :data:`MAX_ITEM_BYTES`) is in no group: the caller sets it aside."""
    groups: list[list[int]] = []
    size = ENVELOPE_OVERHEAD
    for i, item in enumerate(items):
        if len(item) > MAX_ITEM_BYTES:
            continue
        if not groups or len(groups[-1]) >= max_items or size + len(item) + 1 > max_bytes:
            groups.append([])
            size = ENVELOPE_OVERHEAD
        groups[-1].append(i)
        size += len(item) + 1
    return groups


__all__ = [
    "MAX_DEPTH",
    "MAX_ITEMS",
    "MAX_ITEM_BYTES",
    "MAX_MESSAGE_BYTES",
    "MAX_STATUS_BYTES",
    "batches",
    "depth",
    "load_json",
]
