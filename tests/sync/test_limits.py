"""The bounds every message is held to before it is parsed (station.sync.limits), and the
station keeping to them when it sends."""

from __future__ import annotations

import json
import time

import pytest

from station import config
from station.sim.loopback import LoopbackWard
from station.sync.limits import (
    ENVELOPE_OVERHEAD,
    MAX_DEPTH,
    MAX_ITEM_BYTES,
    MAX_MESSAGE_BYTES,
    batches,
    depth,
    load_json,
)
from station.sync.outbox import Outbox
from station.sync.publisher import Publisher
from tests.support import wait_for
from tests.sync.support import make_records


def test_depth_counts_brackets_outside_strings_only() -> None:
    assert depth(b'{"a": [1, {"b": []}]}') == 4
    assert depth(b'["[[[[", "\\"[[[", {"k]": "}}}"}]') == 2  # escaped quote, brackets as text
    assert depth(b"123") == 0 and depth(b"") == 0
    inside = b'{"v":"' + b"[" * 100_000 + b'"}'
    assert load_json(inside, MAX_MESSAGE_BYTES) == {"v": "[" * 100_000}


@pytest.mark.parametrize(
    ("payload", "why"),
    [
        (b"[" * 200_000, "nested 200000 deep"),  # RecursionError in json.loads before
        (b"[" * (MAX_DEPTH + 1) + b"]" * (MAX_DEPTH + 1), f"more than {MAX_DEPTH}"),
        (b'{"n": ' + b"7" * 5000 + b"}", "number out of range"),  # int() refuses > 4300 digits
        (b'{"n": 1e999}', "number out of range"),  # inf
        (b'{"n": NaN}', "NaN or Infinity"),
        (b'{"n": -Infinity}', "NaN or Infinity"),
        (b'"' + b"x" * MAX_MESSAGE_BYTES + b'"', "more than 1048576"),
    ],
)
def test_what_is_refused_before_parsing(payload: bytes, why: str) -> None:
    start = time.perf_counter()
    with pytest.raises(ValueError, match=why):
        load_json(payload, MAX_MESSAGE_BYTES)
    assert time.perf_counter() - start < 5  # a scan, not a parse (generous: CI machines)


def test_numbers_and_words_in_strings_are_only_text() -> None:
    doc = {"a": "NaN Infinity 1e999 " + "9" * 40, "n": 2**53, "f": -1.5e30}
    assert load_json(json.dumps(doc).encode(), 4096) == doc
    with pytest.raises(ValueError):  # not UTF-8: UnicodeDecodeError is a ValueError
        load_json(b'["\xff"]', 4096)


def test_batches_keep_to_items_and_bytes_and_leave_out_what_never_fits() -> None:
    small, big, huge = b"x" * 100, b"y" * (MAX_ITEM_BYTES - 10), b"z" * (MAX_ITEM_BYTES + 1)
    assert batches([small] * 5, 2) == [[0, 1], [2, 3], [4]]
    items = [big, small, big, big, huge, big, small]
    groups = batches(items, 50)
    assert [i for g in groups for i in g] == [0, 1, 2, 3, 5, 6]  # the huge one in none
    for g in groups:
        assert ENVELOPE_OVERHEAD + sum(len(items[i]) + 1 for i in g) <= MAX_MESSAGE_BYTES


def test_a_record_too_large_to_send_is_set_aside_not_resent(
    ward: LoopbackWard, station_cfg: config.Config
) -> None:
    """A record over MAX_ITEM_BYTES (a huge unrecognised QR text) would be dropped by the
    broker and refused by the ward on every resend: the station keeps it aside as refused
    ("too large") and sends the others."""
    cfg = ward.attach(station_cfg)
    large, normal = make_records(2)
    large["qr_raw"] = "Q" * (MAX_ITEM_BYTES + 1)
    with Outbox.from_config(cfg) as outbox, Publisher.from_config(cfg, outbox):
        outbox.append(large)
        outbox.append(normal)
        wait_for(lambda: outbox.pending_count() == 0, 15, "the normal record delivered")
        assert outbox.refused() == {large["record_id"]: "too large"}
    with ward.db() as db:
        assert db.record_ids() == [normal["record_id"]]
