"""The outbox: durable, encrypted, bounded, self-healing."""

from __future__ import annotations

import logging
import os
import stat
import threading
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from tinydb import TinyDB

from station.audit import AuditLog
from station.sync.errors import StoreError, StoreFull
from station.sync.outbox import Outbox
from station.sync.signing import batch_payload, open_envelope
from station.sync.storage import EncryptedAtomicStorage, StoreCorrupt, load_or_create_key
from tests.sync.support import STATION, make_records

SIGNING_KEY = Ed25519PrivateKey.generate()


def open_outbox(tmp_path: Path, **kw: object) -> Outbox:
    return Outbox(
        tmp_path / "outbox.db", key_file=tmp_path / "outbox.key", signing_key=SIGNING_KEY, **kw
    )  # type: ignore[arg-type]


def test_append_survives_reopen_in_order(tmp_path: Path) -> None:
    records = make_records(100)
    with open_outbox(tmp_path, segment_size=8) as ob:
        for r in records:
            ob.append(r)
        assert ob.pending_count() == 100
    with open_outbox(tmp_path, segment_size=8) as ob:
        assert ob.record_ids() == [r["record_id"] for r in records]
        assert ob.next_batch(3) == records[:3]
        skip = [r["record_id"] for r in records[:5]]
        assert ob.next_batch(2, exclude=skip) == records[5:7]
        payloads = ob.next_payloads(2)
        assert [rid for rid, _ in payloads] == [r["record_id"] for r in records[:2]]
        message = batch_payload(STATION, [item for _, item in payloads])
        good, _ = open_envelope(message, STATION, lambda s: SIGNING_KEY.public_key())
        assert [g.record for g in good] == records[:2]


def test_append_is_idempotent_by_record_id(tmp_path: Path) -> None:
    rec = make_records(1)[0]
    with open_outbox(tmp_path) as ob:
        ob.append(rec)
        ob.append(rec)
        assert ob.pending_count() == 1


def test_store_has_no_plaintext_personal_data(tmp_path: Path) -> None:
    records = make_records(40, seed=7)
    with open_outbox(tmp_path) as ob:
        for r in records:
            ob.append(r)
    blob = b"".join(p.read_bytes() for p in (tmp_path / "outbox.db").iterdir())
    assert blob, "store files exist"
    for r in records:
        c = r["citizen"]
        for value in (c["id_number"], c["full_name"], c["old_id_number"], r["record_id"]):
            assert value is None or value.encode() not in blob


def test_key_file_is_private_and_never_overwritten(tmp_path: Path) -> None:
    key = load_or_create_key(tmp_path / "k")
    assert stat.S_IMODE(os.stat(tmp_path / "k").st_mode) == 0o600
    assert load_or_create_key(tmp_path / "k") == key
    (tmp_path / "bad").write_bytes(b"short")
    with pytest.raises(StoreError, match="expected 32"):
        load_or_create_key(tmp_path / "bad")


def test_corrupt_segment_is_moved_aside_and_rest_loads(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    records = make_records(20)
    with open_outbox(tmp_path, segment_size=5) as ob:
        for r in records:
            ob.append(r)
    segs = sorted((tmp_path / "outbox.db").glob("seg-*.tdb"))
    data = bytearray(segs[1].read_bytes())
    data[-3] ^= 0xFF
    segs[1].write_bytes(bytes(data))
    with caplog.at_level(logging.ERROR), open_outbox(tmp_path, segment_size=5) as ob:
        assert ob.pending_count() == 15
        assert len(ob.quarantined) == 1 and ob.quarantined[0].exists()
        ob.append(make_records(1, seed=99)[0])  # still usable
    assert "UNREADABLE" in caplog.text


def test_wrong_key_starts_fresh_store_without_crash(tmp_path: Path) -> None:
    with open_outbox(tmp_path) as ob:
        ob.append(make_records(1)[0])
    (tmp_path / "outbox.key").unlink()
    with open_outbox(tmp_path) as ob:
        assert ob.pending_count() == 0
        assert len(ob.quarantined) == 1


def test_store_path_that_is_a_file_is_moved_aside(tmp_path: Path) -> None:
    (tmp_path / "outbox.db").write_text("[not a store]")
    with open_outbox(tmp_path) as ob:
        assert ob.pending_count() == 0 and ob.quarantined


def test_torn_temp_file_is_ignored(tmp_path: Path) -> None:
    rec = make_records(1)[0]
    with open_outbox(tmp_path) as ob:
        ob.append(rec)
    seg = next((tmp_path / "outbox.db").glob("seg-*.tdb"))
    (seg.parent / f".{seg.name}.tmp").write_bytes(b"CCCD-OUTBOX-1\n" + b"\x00" * 7)
    with open_outbox(tmp_path) as ob:
        assert ob.record_ids() == [rec["record_id"]]
    assert not list(seg.parent.glob(".*.tmp"))


def test_cap_refuses_new_records_and_keeps_old(tmp_path: Path) -> None:
    records = make_records(11)
    with open_outbox(tmp_path, max_records=10) as ob:
        for r in records[:10]:
            ob.append(r)
        with pytest.raises(StoreFull, match="max_records"):
            ob.append(records[10])
        assert ob.pending_count() == 10
        ob.mark_delivered([records[0]["record_id"]])
        ob.append(records[10])


def test_low_disk_refuses(tmp_path: Path) -> None:
    with open_outbox(tmp_path, min_free_mb=10**9) as ob:
        with pytest.raises(StoreFull, match="min_free_mb"):
            ob.append(make_records(1)[0])
        assert ob.pending_count() == 0


def test_delivered_records_are_deleted_with_audit_lines(tmp_path: Path) -> None:
    audit = AuditLog(tmp_path / "audit.log")
    records = make_records(30)
    with open_outbox(tmp_path, segment_size=8, audit=audit) as ob:
        for r in records:
            ob.append(r)
        ids = [r["record_id"] for r in records[:20]]
        assert ob.mark_delivered([*ids, "unknown-id"]) == 20
        assert ob.mark_delivered(ids) == 0
        assert ob.record_ids() == [r["record_id"] for r in records[20:]]
        assert ob.oldest_pending_age() is not None
    lines = audit.read()
    assert [line["record_id"] for line in lines] == ids
    assert all(line["event"] == "deleted" and len(line["fingerprint"]) == 16 for line in lines)
    text = (tmp_path / "audit.log").read_text()
    assert records[0]["citizen"]["full_name"] not in text
    assert records[0]["citizen"]["id_number"] not in text
    # fully delivered segments are gone from disk
    assert len(list((tmp_path / "outbox.db").glob("seg-*.tdb"))) == 2


def test_calls_from_many_threads_are_serialised(tmp_path: Path) -> None:
    records = make_records(80)
    with open_outbox(tmp_path, segment_size=8) as ob:
        threads = [
            threading.Thread(target=lambda rs=records[i::4]: [ob.append(r) for r in rs])
            for i in range(4)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert sorted(ob.record_ids()) == sorted(r["record_id"] for r in records)


def test_storage_is_a_tinydb_storage(tmp_path: Path) -> None:
    key = load_or_create_key(tmp_path / "k")
    db = TinyDB(tmp_path / "t.tdb", key=key, storage=EncryptedAtomicStorage)
    db.insert({"a": 1})
    assert TinyDB(tmp_path / "t.tdb", key=key, storage=EncryptedAtomicStorage).all() == [{"a": 1}]
    other = TinyDB(tmp_path / "t.tdb", key=b"\x00" * 32, storage=EncryptedAtomicStorage)
    with pytest.raises(StoreCorrupt):
        other.all()


def test_bad_records_are_refused_not_stored(tmp_path: Path) -> None:
    with open_outbox(tmp_path) as ob:
        with pytest.raises(StoreError, match="record_id"):
            ob.append({"station_id": STATION})
        with pytest.raises(StoreError, match="not JSON"):
            ob.append({"record_id": "x", "blob": b"\x00"})
        assert ob.pending_count() == 0


def test_closed_outbox_refuses(tmp_path: Path) -> None:
    ob = open_outbox(tmp_path)
    ob.close()
    with pytest.raises(StoreError, match="closed"):
        ob.append(make_records(1)[0])
