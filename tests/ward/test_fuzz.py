"""Fuzzing the ward receiver's message handler with 100,000 generated messages.

``WardReceiver.handle_batch`` (what the receiver runs after every network step) is
called in process, against a real SQLite ward database, with 200 batches of 500
messages (``BATCHES`` x ``PER_BATCH``). Hypothesis draws each batch's random generator
(so a failure is reported with what reproduces it); from it, cheap generators build each
message: valid signed records (one to three per envelope), replays, records signed but
shaped wrong (texts over the limit, NUL, a station passing its record off as a manual
entry, a deep object, a huge number, an unknown level, a record id that is no UUID),
records changed after signing, bit flips, truncations and insertions into valid
payloads, random JSON, random bytes, other stations (unknown, revoked, mismatched) and
junk status and heartbeat messages. Every rejection is logged through the redacting
log handler, so formatting hostile strings is fuzzed too.

After every batch: the handler raised nothing; the database holds exactly the valid
records sent so far (nothing else, none missing); the stations table still holds the
keys it was given; every valid record was acked. About 50 s on one core (marked slow; it
runs in ``./setup.sh test``). The same on a real PostgreSQL with 10,000 messages.
"""

from __future__ import annotations

import base64
import io
import json
import logging
import random
import string
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from station.record import SCHEMA, canonical_bytes
from station.runtime.logs import HumanFormatter, RedactFilter
from station.sync.link import LinkSettings
from station.sync.signing import batch_payload, public_key_text, seal_item
from station.ward.db import WardDB
from station.ward.receiver import WardReceiver

BATCHES = 200
PER_BATCH = 500
STATION, REVOKED, UNKNOWN = "station-f", "station-r", "station-u"
TEXT = string.ascii_letters + string.digits + ' -.,/|"\\\n\t{}[]:' + "ăâđêôơưĐạảấầẩẫậ" + "\u2028"


class Fakes:
    """What the handler publishes (acks and refusals), collected instead of sent."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, bytes]] = []

    def publish(self, topic: str, payload: bytes, qos: int = 1, retain: bool = False) -> bool:
        self.sent.append((topic, payload))
        return True


class Generator:
    """Builds one batch of messages from a seeded ``random.Random``; remembers which
    records are valid (the only ones the database may hold)."""

    def __init__(self, key: Ed25519PrivateKey, revoked_key: Ed25519PrivateKey) -> None:
        self.key = key
        self.revoked_key = revoked_key
        self.unknown_key = Ed25519PrivateKey.generate()  # a station never enrolled
        self.valid: dict[str, bytes] = {}  # record_id -> canonical bytes
        self.sent_valid: list[bytes] = []  # whole valid payloads, for replays and mutations
        self.ids = 0  # record ids are unique whatever the random generator gives

    def record_id(self) -> str:
        self.ids += 1
        return str(uuid.UUID(int=self.ids, version=4))

    def text(self, rnd: random.Random, n: int = 12) -> str:
        return "".join(rnd.choices(TEXT, k=rnd.randint(0, n)))

    def record(self, rnd: random.Random, station: str = STATION) -> dict[str, Any]:
        return {
            "schema": SCHEMA,
            "record_id": self.record_id(),
            "station_id": station,
            "read_at": "2026-12-01T10:00:00+07:00",
            "clock_synced": rnd.choice([True, False, None]),
            "source": rnd.choice(["qr", "qr+chip"]),
            "status": rnd.choice(["ok", "invalid", "unrecognised", "no-qr"]),
            "citizen": rnd.choice([None, {
                "id_number": "".join(rnd.choice(string.digits) for _ in range(12)),
                "full_name": self.text(rnd, 30), "sex": rnd.choice(["Nam", "Nữ"]),
                "place_of_residence": rnd.choice([None, self.text(rnd, 60)]),
            }]),
            "warnings": [{"code": self.text(rnd), "message": self.text(rnd)}],
            "errors": [],
            "verification": {"level": rnd.choice(["verified", "failed", "qr-only"]),
                             "mismatches": [self.text(rnd)], "n": rnd.randint(-9, 9)},
        }  # fmt: skip

    def valid_message(self, rnd: random.Random) -> bytes:
        records = [self.record(rnd) for _ in range(rnd.randint(1, 3))]
        for r in records:
            self.valid[r["record_id"]] = canonical_bytes(r)
        payload = batch_payload(STATION, [seal_item(r, self.key) for r in records])
        self.sent_valid.append(payload)
        return payload

    def misshapen(self, rnd: random.Random) -> bytes:
        """A record the station really signed, but one the format does not allow."""
        r = self.record(rnd)
        r["citizen"] = citizen = r["citizen"] or {}
        damage = rnd.choice([
            lambda: citizen.update(full_name="N" * 8193), lambda: r.update(qr_raw="a\x00b"),
            lambda: r.update(source="manual", method=5), lambda: r.update(status="ok!"),
            lambda: r.update(chip={"a": {"b": {"c": {"d": {"e": {"f": {"g": 1}}}}}}}),
            lambda: r.update(n=2**60), lambda: r.update(record_id=self.text(rnd)),
            lambda: r.update(verification={"level": "manual"}), lambda: r.pop("warnings"),
            lambda: r.update(citizen=["x"]), lambda: r.update(schema="cccd-station/record/9"),
            lambda: r.update(citizen={"id_number": "1" * 33}), lambda: r.update(chip=[]),
        ])  # fmt: skip
        damage()
        return batch_payload(STATION, [seal_item(r, self.key)])

    def changed_after_signing(self, rnd: random.Random) -> bytes:
        r = self.record(rnd)
        item = json.loads(seal_item(r, self.key))
        item["record"]["status"] = "invalid" if r["status"] != "invalid" else "ok"
        return batch_payload(STATION, [json.dumps(item).encode()])

    def mutated(self, rnd: random.Random) -> bytes:
        data = bytearray(rnd.choice(self.sent_valid))
        for _ in range(rnd.randint(1, 4)):
            at = rnd.randrange(len(data) + 1)
            how = rnd.randrange(4)
            if how == 0 and data:
                data[min(at, len(data) - 1)] ^= 1 << rnd.randrange(8)
            elif how == 1:
                del data[at:]
            elif how == 2:
                data[at:at] = rnd.choice([b"[", b"{", b'"', b"\\", b"\\ud800", b"]", b"1e999"])
            else:
                data[at:at] = bytes(data[rnd.randrange(len(data) + 1) :][:50])
        return bytes(data)

    def junk(self, rnd: random.Random, depth: int = 0) -> Any:
        kind = rnd.randrange(7 if depth < 4 else 4)
        if kind == 0:
            return self.text(rnd)
        if kind == 1:
            return rnd.choice([None, True, 0, -1.5, 2**70, ""])
        if kind == 2:
            return base64.b64encode(rnd.randbytes(rnd.randint(0, 64))).decode()
        if kind == 3:
            return str(uuid.UUID(int=rnd.getrandbits(128)))
        if kind == 4:
            return [self.junk(rnd, depth + 1) for _ in range(rnd.randint(0, 4))]
        keys = ["v", "station_id", "items", "record", "sig", "record_id", "citizen", "x"]
        return {rnd.choice(keys): self.junk(rnd, depth + 1) for _ in range(rnd.randint(0, 5))}

    def batch(self, rnd: random.Random, size: int) -> list[tuple[str, bytes]]:
        """``size`` messages; replays and mutations are of this batch's own valid ones (so
        what is drawn depends on the seed alone, never on earlier batches)."""
        self.sent_valid = [self.valid_message(rnd)]
        return [("cccd/" + STATION + "/records", self.sent_valid[0])] + [
            self.message(rnd) for _ in range(size - 1)
        ]

    def message(self, rnd: random.Random) -> tuple[str, bytes]:
        topic = f"cccd/{STATION}/records"
        kind = rnd.randrange(100)
        if kind < 6:
            return topic, self.valid_message(rnd)
        if kind < 8:
            return topic, rnd.choice(self.sent_valid)  # a replay: acked again, stored once
        if kind < 16:
            return topic, self.misshapen(rnd)
        if kind < 19:
            return topic, self.changed_after_signing(rnd)
        if kind < 39:
            return topic, self.mutated(rnd)
        if kind < 69:
            envelope = {"v": 1, "station_id": STATION, "items": [self.junk(rnd)]}
            return topic, json.dumps(rnd.choice([envelope, self.junk(rnd)])).encode()
        if kind < 85:
            return topic, rnd.randbytes(rnd.randint(0, 300))
        if kind < 90:
            other = rnd.choice([REVOKED, UNKNOWN])
            key = self.revoked_key if other == REVOKED else self.unknown_key
            payload = batch_payload(other, [seal_item(self.record(rnd, other), key)])
            return f"cccd/{rnd.choice([other, STATION])}/records", payload
        if kind < 97:
            kind_of = rnd.choice(["status", "heartbeat"])
            body = rnd.choice([json.dumps(self.junk(rnd)).encode(), self.mutated(rnd), b""])
            return f"cccd/{rnd.choice([STATION, REVOKED, UNKNOWN])}/{kind_of}", body
        return rnd.choice(["cccd/a/b/records", "cccd//records", "x", "cccd/+/records"]), b"{}"


@contextmanager
def handler(target: str) -> Iterator[tuple[WardReceiver, WardDB, Generator]]:
    """A receiver (never connected) on the ward database ``target``, its stations."""
    key, revoked = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()
    db = WardDB(target)
    db.enroll(STATION, public_key_text(key.public_key()))
    db.enroll(REVOKED, public_key_text(revoked.public_key()))
    db.revoke(REVOKED)
    settings_ = LinkSettings(host="127.0.0.1", port=1, client_id="fuzz")
    # its own ack key: the default for a PostgreSQL URL is a file in the working folder
    receiver = WardReceiver(settings_, target, ack_key=Ed25519PrivateKey.generate())
    # every rejection formatted as the service's log would (a hostile string must not
    # break it), then dropped: 70,000 warnings would only fill pytest's capture
    log = logging.getLogger("station.ward.receiver")  # ours alone: not pytest's capture too
    out = logging.StreamHandler(io.StringIO())
    out.setFormatter(HumanFormatter())
    out.addFilter(RedactFilter())
    log.addHandler(out)
    log.propagate = False
    try:
        yield receiver, db, Generator(key, revoked)
    finally:
        log.removeHandler(out)
        log.propagate = True
        db.close()


def fuzz(target: str, batches: int) -> None:
    """``batches`` batches of :data:`PER_BATCH` generated messages through the handler,
    the database checked after each."""
    with handler(target) as (receiver, db, gen):
        link = Fakes()
        keys = [(s["station_id"], db.station_key(s["station_id"])) for s in db.stations()]
        done = 0
        seq = 0

        @settings(
            max_examples=batches, deadline=None, database=None, derandomize=True,
            suppress_health_check=list(HealthCheck), phases=[Phase.generate],
        )  # fmt: skip
        @given(st.integers(0, 2**64 - 1))
        def one_batch(seed: int) -> None:
            nonlocal done, seq
            done += 1
            receiver.handle_batch(db, link, gen.batch(random.Random(seed), PER_BATCH))
            for row in db.since(seq, limit=PER_BATCH * 5):  # what this batch stored
                assert canonical_bytes(row.record) == gen.valid[row.record_id]
                seq = row.seq
            assert db.count() == len(gen.valid)  # and nothing valid left out

        one_batch()
        assert done == batches
        assert sorted(db.record_ids()) == sorted(gen.valid)
        assert [(s, db.station_key(s)) for s, _ in keys] == keys
        acked = {i for _, p in link.sent for i in json.loads(p)["ack"]}
        assert acked >= gen.valid.keys()
        assert receiver.stats.stored == len(gen.valid) and receiver.stats.errors == 0


@pytest.mark.slow
def test_100000_generated_messages(tmp_path: Path) -> None:
    fuzz(str(tmp_path / "ward.sqlite"), BATCHES)


@pytest.mark.postgres
def test_10000_generated_messages_on_postgresql(pg_url: str) -> None:
    """PostgreSQL is stricter than SQLite (no NUL in text, INTEGER bounds): a tenth of
    the messages, to show that nothing that passes the checks fails its transaction."""
    fuzz(pg_url, BATCHES // 10)
