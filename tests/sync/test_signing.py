"""Signed envelopes, station keys and the audit log."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from station.audit import AuditLog
from station.fingerprint import fingerprint
from station.sync.errors import SyncError
from station.sync.signing import (
    EnvelopeError,
    batch_payload,
    load_or_create_signing_key,
    open_envelope,
    parse_public_key,
    public_key_text,
    seal_envelope,
    seal_item,
)
from tests.sync.support import make_records


@pytest.fixture
def key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


def lookup_for(key: Ed25519PrivateKey) -> Any:
    return lambda station: key.public_key() if station == "station-1" else None


def test_batch_roundtrip(key: Ed25519PrivateKey) -> None:
    records = make_records(3)
    payload = batch_payload("station-1", [seal_item(r, key) for r in records])
    good, bad = open_envelope(payload, "station-1", lookup_for(key))
    assert [g.record for g in good] == records and bad == []


@pytest.mark.parametrize(
    ("mutate", "reason"),
    [
        (lambda item: item["record"].update(status="forged"), "forged"),
        (lambda item: item.update(sig=""), "unsigned"),
        (lambda item: item.pop("sig"), "unsigned"),
        (lambda item: item.update(sig="!!notbase64"), "forged"),
        (lambda item: item.update(record=[1]), "malformed"),
        (lambda item: item["record"].update(station_id="station-2"), "station mismatch"),
    ],
)
def test_a_bad_item_is_refused_alone(key: Ed25519PrivateKey, mutate: Any, reason: str) -> None:
    records = make_records(2)
    items = [json.loads(seal_item(r, key)) for r in records]
    mutate(items[0])
    payload = batch_payload("station-1", [json.dumps(i).encode() for i in items])
    good, bad = open_envelope(payload, "station-1", lookup_for(key))
    assert [g.record for g in good] == [records[1]]
    assert [b.reason for b in bad] == [reason]


@pytest.mark.parametrize(
    "payload",
    [b"", b"\xff\xfe", b"[]", b"null", b'{"v":1}', b'{"v":2,"items":[{}]}', b'{"v":1,"items":[]}'],
)
def test_malformed_messages(key: Ed25519PrivateKey, payload: bytes) -> None:
    with pytest.raises(EnvelopeError, match="malformed"):
        open_envelope(payload, "station-1", lookup_for(key))


def test_unknown_station_and_topic_mismatch(key: Ed25519PrivateKey) -> None:
    rec = make_records(1, station_id="station-9")[0]
    with pytest.raises(EnvelopeError, match="unknown station"):
        open_envelope(seal_envelope(rec, key), "station-9", lookup_for(key))
    with pytest.raises(EnvelopeError, match="station mismatch"):
        open_envelope(seal_envelope(rec, key), "station-1", lookup_for(key))


def test_station_key_pair_files(tmp_path: Path) -> None:
    key = load_or_create_signing_key(tmp_path / "k", tmp_path / "k.pub")
    assert stat.S_IMODE(os.stat(tmp_path / "k").st_mode) == 0o600
    again = load_or_create_signing_key(tmp_path / "k", tmp_path / "k.pub")
    text = (tmp_path / "k.pub").read_text().strip()
    assert text == public_key_text(again.public_key()) == public_key_text(key.public_key())
    assert public_key_text(parse_public_key(text)) == text
    for bad in ("abc", "", "00" * 31):
        with pytest.raises(SyncError):
            parse_public_key(bad)


def test_audit_log_lines_and_rotation(tmp_path: Path) -> None:
    log = AuditLog(tmp_path / "audit.log", max_bytes=2048, backups=2)
    for i in range(60):
        log.write("deleted", f"rec-{i}", fingerprint(str(i).encode()), "delivered")
    files = sorted(p.name for p in tmp_path.iterdir())
    assert files == ["audit.log", "audit.log.1", "audit.log.2"]
    last = log.read()[-1]
    assert last["record_id"] == "rec-59" and last["event"] == "deleted"
    assert set(last) == {"at", "event", "record_id", "fingerprint", "outcome"}
    assert all(p.stat().st_size <= 2048 for p in tmp_path.iterdir())


@pytest.mark.parametrize(
    ("source", "method"),
    [("qr", 2), ("qr+chip", 3), ("mrz", 1), ("qr+mrz", 2), ("mrz+chip", 3), ("qr+mrz+chip", 3)],
)
def test_every_source_a_station_writes_is_taken(
    key: Ed25519PrivateKey, source: str, method: int
) -> None:
    """A card read through its MRZ (2024 card, or a 2021 card back up) reaches the ward as
    any other record, and counts as read by the device (method 3 with its chip)."""
    from station.ward.summary import method_of

    (record,) = make_records(1)
    record = {**record, "source": source, "status": "ok" if "qr" in source else "no-qr"}
    good, bad = open_envelope(
        batch_payload("station-1", [seal_item(record, key)]), "station-1", lookup_for(key)
    )
    assert [g.record for g in good] == [record] and bad == []
    assert method_of(record) == method


def test_a_station_cannot_send_a_manual_entry(key: Ed25519PrivateKey) -> None:
    (record,) = make_records(1)
    record = {**record, "source": "manual", "method": 5}
    good, bad = open_envelope(
        batch_payload("station-1", [seal_item(record, key)]), "station-1", lookup_for(key)
    )
    assert good == [] and [b.reason for b in bad] == ["malformed"]
